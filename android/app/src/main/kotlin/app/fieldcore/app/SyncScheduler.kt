package app.fieldcore.app

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequest
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.OutOfQuotaPolicy
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkInfo
import androidx.work.WorkManager
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import java.util.concurrent.TimeUnit

/**
 * Puts [SyncWorker] runs in WorkManager's hands. A running sync is never replaced (REPLACE
 * would cancel it mid-upload); a request made while one runs gets exactly one follow-up run,
 * and requests made while that follow-up waits share it. Whether and when to retry after a
 * failure is the core's rule, applied in [SyncWorker].
 */
class SyncScheduler(context: Context, private val scope: CoroutineScope) {
    private val workManager = WorkManager.getInstance(context.applicationContext)
    private val enqueueing = Mutex()

    /** A sync about every 15 minutes (WorkManager's minimum) while there is a network. */
    fun schedulePeriodic() {
        workManager.enqueueUniquePeriodicWork(
            PERIODIC,
            ExistingPeriodicWorkPolicy.KEEP,
            PeriodicWorkRequestBuilder<SyncWorker>(15, TimeUnit.MINUTES).setConstraints(online).build(),
        )
    }

    /**
     * A sync soon: after an action, a photo, an enrolment. Nothing waiting: enqueue one (it runs
     * at once, or after the sync running now: APPEND_OR_REPLACE). One already waiting: it will
     * carry this request's changes too, so nothing is added.
     */
    fun requestSync() {
        scope.launch {
            enqueueing.withLock {
                val infos = withContext(Dispatchers.IO) { workManager.getWorkInfosForUniqueWork(SOON).get() }
                val waiting = infos.any { it.state == WorkInfo.State.ENQUEUED || it.state == WorkInfo.State.BLOCKED }
                if (!waiting) workManager.enqueueUniqueWork(SOON, ExistingWorkPolicy.APPEND_OR_REPLACE, soonRequest())
            }
        }
    }

    private fun soonRequest(): OneTimeWorkRequest =
        OneTimeWorkRequestBuilder<SyncWorker>()
            .setConstraints(online)
            // The technician just did something: run now while quota allows (on Android 11 and
            // lower WorkManager runs it as a foreground service, see SyncWorker.getForegroundInfo).
            .setExpedited(OutOfQuotaPolicy.RUN_AS_NON_EXPEDITED_WORK_REQUEST)
            // Only the spacing of retries; whether to retry at all is the core's answer.
            .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
            .build()

    private companion object {
        const val PERIODIC = "fieldcore-sync-periodic"
        const val SOON = "fieldcore-sync-soon"
        val online = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()
    }
}
