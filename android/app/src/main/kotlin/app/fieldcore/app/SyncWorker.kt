package app.fieldcore.app

import android.content.Context
import android.util.Log
import androidx.work.CoroutineWorker
import androidx.work.ForegroundInfo
import androidx.work.WorkerParameters
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreError
import kotlinx.coroutines.CancellationException

/**
 * One background sync. WorkManager runs it when the network is there (CONNECTED constraint),
 * stops it when the system says so, and retries it when this worker returns `retry`; the core
 * decides everything else: what to push, retries inside the sync, and (through
 * `FieldCoreClient.retryDelay`) whether a failed sync is worth retrying at all.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {

    override suspend fun doWork(): Result {
        // Opening failed (shown on screen with a retry): nothing to sync this run.
        val client = applicationContext.fieldApp.core.awaitClient() ?: return Result.failure()
        return try {
            keepAliveForUploads(client)
            client.syncUntilStopped()
            tidy(client)
            Result.success()
        } catch (e: CancellationException) {
            throw e
        } catch (e: FieldCoreError) {
            afterFailure(e)
        } catch (e: Exception) {
            // Anything the library did not map: a bug, not something a retry fixes.
            Log.e(TAG, "sync failed unexpectedly", e)
            Result.failure()
        }
    }

    /**
     * The core's answer, not a rule of ours: a delay means "worth retrying" (WorkManager's
     * backoff spaces the retries), none means the technician must act (enrol again, free space)
     * and the next run waits for them. A worker stopped by the system is rescheduled by
     * WorkManager whatever it returns.
     */
    private fun afterFailure(error: FieldCoreError): Result {
        if (isStopped) return Result.retry()
        // This sync's own failure (the shared status may show a foreground sync by now).
        val failure = error.syncFailure ?: return Result.failure()
        // runAttemptCount is 0 on the first run; the core counts failures from 1.
        val delay = FieldCoreClient.retryDelay(failure, runAttemptCount + 1)
        return if (delay == null) Result.failure() else Result.retry()
    }

    /**
     * Runs the sync. When WorkManager stops this worker (constraints lost, quota, the dataSync
     * time limit) the coroutine is cancelled; the core's blocking sync is interrupted through
     * `cancelSync` and ends at its next step with nothing lost. (`FieldCoreClient.sync` also
     * interrupts on cancellation; saying it here keeps the worker's contract visible.)
     */
    private suspend fun FieldCoreClient.syncUntilStopped() {
        try {
            sync()
        } catch (e: CancellationException) {
            cancelSync()
            throw e
        }
    }

    /**
     * Photo uploads can outlast the ordinary 10-minute window: with photos waiting, ask to run
     * as a dataSync foreground service. Android 12+ refuses that from the background (the
     * exception is caught): the upload then runs as ordinary work and the core's resumable
     * upload picks up where it stopped next time.
     */
    private suspend fun keepAliveForUploads(client: FieldCoreClient) {
        val photos = try {
            client.status().photosAwaitingUpload
        } catch (e: FieldCoreError) {
            return // the sync itself will meet (and report) the same trouble
        }
        if (photos == 0uL) return
        try {
            setForeground(getForegroundInfo())
        } catch (e: IllegalStateException) {
            Log.i(TAG, "foreground service not allowed now; syncing as ordinary work", e)
        }
    }

    /** Storage is tidied only after a sync went through; a failure here is not the sync's. */
    private suspend fun tidy(client: FieldCoreClient) {
        try {
            client.housekeeping()
        } catch (e: FieldCoreError) {
            Log.w(TAG, "housekeeping failed", e)
        }
    }

    /** Used by WorkManager for expedited work on Android 11 and lower, and by [keepAliveForUploads]. */
    override suspend fun getForegroundInfo(): ForegroundInfo = SyncNotification.foregroundInfo(applicationContext)

    private companion object {
        const val TAG = "FieldCoreSync"
    }
}
