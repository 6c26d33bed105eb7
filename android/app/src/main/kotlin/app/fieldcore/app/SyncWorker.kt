package app.fieldcore.app

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import app.fieldcore.FieldCoreError
import java.util.concurrent.TimeUnit

/**
 * Syncs when the network is there: WorkManager holds the work until the CONNECTED constraint
 * is met, so a sync runs as soon as the network returns. The core decides everything else
 * (what to push, retries inside one sync); this only maps the outcome to WorkManager's.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result = try {
        val core = applicationContext.fieldCore()
        core.sync()
        // Storage is tidied only after a sync went through; a failure here is not the sync's.
        runCatching { core.housekeeping() }
        Result.success()
    } catch (e: FieldCoreError) {
        when {
            e.isTransient -> Result.retry()
            else -> Result.failure() // not enrolled / unauthorized: the UI asks to enrol
        }
    }

    companion object {
        private val online = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        /** A periodic sync, and one right away when the network is (or comes) back. */
        fun schedule(context: Context) {
            val wm = WorkManager.getInstance(context)
            wm.enqueueUniquePeriodicWork(
                "fieldcore-sync-periodic",
                ExistingPeriodicWorkPolicy.KEEP,
                PeriodicWorkRequestBuilder<SyncWorker>(15, TimeUnit.MINUTES).setConstraints(online).build(),
            )
            syncSoon(context)
        }

        /** After an action: sync as soon as there is a network. */
        fun syncSoon(context: Context) {
            WorkManager.getInstance(context).enqueueUniqueWork(
                "fieldcore-sync-now",
                ExistingWorkPolicy.REPLACE,
                OneTimeWorkRequestBuilder<SyncWorker>()
                    .setConstraints(online)
                    .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                    .build(),
            )
        }
    }
}
