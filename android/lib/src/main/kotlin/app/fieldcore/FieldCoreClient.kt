package app.fieldcore

import app.fieldcore.ffi.Authorization
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.CapturedPhoto
import app.fieldcore.ffi.CapturedSignature
import app.fieldcore.ffi.CoreConfig
import app.fieldcore.ffi.CoreException
import app.fieldcore.ffi.CoreStatus
import app.fieldcore.ffi.Enrollment
import app.fieldcore.ffi.ExceptionKind
import app.fieldcore.ffi.ExemptionReason
import app.fieldcore.ffi.FieldCore
import app.fieldcore.ffi.GeoPoint
import app.fieldcore.ffi.HousekeepingReport
import app.fieldcore.ffi.InternalException
import app.fieldcore.ffi.JobDetail
import app.fieldcore.ffi.JobStatus
import app.fieldcore.ffi.JobSummary
import app.fieldcore.ffi.JobWatcher
import app.fieldcore.ffi.JobsWatcher
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory
import app.fieldcore.ffi.RecordedEvent
import app.fieldcore.ffi.SignaturePoint
import app.fieldcore.ffi.SignatureStroke
import app.fieldcore.ffi.SyncFailure
import app.fieldcore.ffi.SyncObserver
import app.fieldcore.ffi.SyncReport
import app.fieldcore.ffi.SyncState
import app.fieldcore.ffi.TimerKind
import app.fieldcore.ffi.languageForLocale
import app.fieldcore.ffi.retryDelaySecs
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.withContext
import java.io.File
import java.time.Duration
import java.time.Instant
import java.time.LocalDate
import java.util.Locale

/** The language refusals, checklist texts and labels come in. */
enum class Language(val tag: String) {
    EN("en"),
    ZH_CN("zh-CN"),
    ;

    companion object {
        /** The language for the device's locale, by the core's rule (any Chinese reads zh-CN). */
        fun forLocale(locale: Locale): Language {
            val tag = languageForLocale(locale.toLanguageTag())
            return entries.firstOrNull { it.tag == tag } ?: EN
        }
    }
}

/** How to open the core: files in the app's private storage. */
data class FieldCoreConfig(
    val databaseFile: File,
    val photoDir: File? = null,
    val serverUrl: String? = null,
    val language: Language = Language.EN,
    /** Delete the camera's file once the photo is stored (it carries GPS and device metadata). */
    val deleteOriginalPhotos: Boolean = true,
)

/** A pen stroke as the signature pad drew it: (x, y, millis since the signature began). */
data class PenSample(val x: Float, val y: Float, val tMillis: Int)

/**
 * Where background sync stands, for the status line. `Running` carries the latest progress.
 */
sealed interface SyncStatus {
    data object Idle : SyncStatus
    data class Running(val stage: Stage) : SyncStatus
    data class Finished(val report: SyncReport, val at: Instant) : SyncStatus

    /** [failure] says why (kind, HTTP status, Retry-After) and whether waiting may help. */
    data class Failed(val failure: SyncFailure, val at: Instant) : SyncStatus

    /** Stopped by [FieldCoreClient.cancelSync] (or the caller's cancellation); nothing lost. */
    data class Cancelled(val at: Instant) : SyncStatus

    sealed interface Stage {
        data object Starting : Stage
        data class Pushing(val sent: Int, val pending: Long) : Stage
        data class Pulling(val received: Int) : Stage
        /**
         * Photo [number] of [count] (of job [jobId], category [category]): [sentBytes] of its
         * [totalBytes] have left the phone, [syncSentBytes] of [syncTotalBytes] over the whole
         * sync. Counted as bytes leave, never going back.
         */
        data class Uploading(
            val photoId: String,
            val jobId: String,
            val category: String,
            val number: Int,
            val count: Int,
            val sentBytes: Long,
            val totalBytes: Long,
            val syncSentBytes: Long,
            val syncTotalBytes: Long,
        ) : Stage {
            /** How far the sync's photos are, 0 to 1. */
            val fraction: Float
                get() = if (syncTotalBytes == 0L) 1f else syncSentBytes.toFloat() / syncTotalBytes
        }
    }
}

/**
 * The app core for Kotlin: every call is a `suspend` function run on [io] (the core blocks on
 * disk and network), every failure a [FieldCoreError]. Decisions stay in the core: this class
 * only moves calls off the main thread and turns results into Kotlin types.
 *
 * One instance per process; close it when the process no longer needs it.
 */
class FieldCoreClient private constructor(
    private val core: FieldCore,
    private val io: CoroutineDispatcher,
) : AutoCloseable {

    private val _syncStatus = MutableStateFlow<SyncStatus>(SyncStatus.Idle)

    /** The latest sync state, fed by the core's `SyncObserver`. */
    val syncStatus: StateFlow<SyncStatus> = _syncStatus.asStateFlow()

    /** Stops the core's running and waiting syncs; usable from any thread. */
    private val interrupt = core.syncInterruptHandle()

    companion object {
        /**
         * How long a background scheduler waits before syncing again after [failure], the
         * [attempt]-th failure in a row (1 = first): the core's one retry rule. Null: do not
         * retry on a timer, the technician must act (enrol again, free space).
         */
        fun retryDelay(failure: SyncFailure, attempt: Int): Duration? =
            retryDelaySecs(failure, attempt.coerceAtLeast(0).toUInt())?.let { Duration.ofSeconds(it.toLong()) }

        /** Open (or create) the device's store. */
        suspend fun open(
            config: FieldCoreConfig,
            io: CoroutineDispatcher = Dispatchers.IO,
        ): FieldCoreClient = withContext(io) {
            val ffi = CoreConfig(
                databasePath = config.databaseFile.absolutePath,
                photoDir = config.photoDir?.absolutePath,
                serverUrl = config.serverUrl,
                language = config.language.tag,
                deleteOriginalPhotos = config.deleteOriginalPhotos,
            )
            FieldCoreClient(mapped { FieldCore(ffi) }, io).apply { refreshAuthorization() }
        }
    }

    private suspend fun <T> call(block: FieldCore.() -> T): T = withContext(io) { mapped { core.block() } }

    val deviceId: String get() = core.deviceId()

    suspend fun status(): CoreStatus = call { status() }

    suspend fun enroll(serverUrl: String, code: String, deviceName: String): Enrollment =
        call { enroll(serverUrl, code, deviceName) }.also { refreshAuthorization() }

    private val _authorization = MutableStateFlow(Authorization.NOT_ENROLLED)

    /**
     * Whether the server takes this device's syncs, as the core last heard (kept across
     * restarts): the app shows enrolment unless [Authorization.ENROLLED]. Read when the client
     * opens, after an enrolment and after every sync, so a revocation shows the moment a sync
     * meets it.
     */
    val authorization: StateFlow<Authorization> = _authorization.asStateFlow()

    /** The core's own answer: no rule about which failure means what is kept here. */
    private fun refreshAuthorization() {
        _authorization.value = mapped { core.status() }.authorization
    }

    /** My jobs in appointment order; empty [statuses] means all. */
    suspend fun jobs(statuses: List<JobStatus> = emptyList(), day: LocalDate? = null): List<JobSummary> =
        call { jobs(statuses, day?.toString()) }

    /** The job screen's data, or null if this device does not know the job. */
    suspend fun job(jobId: String): JobDetail? = call { job(jobId) }

    /**
     * My jobs as they change: the list now, then again after every change that alters it (an
     * action here, a photo, a pull page from the desk). Only the latest value is kept for a slow
     * collector. Collecting registers a watch in the core; cancelling the collection ends it.
     */
    fun watchJobs(statuses: List<JobStatus> = emptyList(), day: LocalDate? = null): Flow<List<JobSummary>> =
        callbackFlow {
            val watcher = object : JobsWatcher {
                override fun onJobs(jobs: List<JobSummary>) {
                    trySend(jobs)
                }
            }
            val handle = mapped { core.watchJobs(statuses, day?.toString(), watcher) }
            awaitClose { handle.cancel(); handle.close() }
        }.buffer(Channel.CONFLATED)

    /** One job as it changes (the desk's changes too, once pulled); null while unknown here. */
    fun watchJob(jobId: String): Flow<JobDetail?> =
        callbackFlow {
            val watcher = object : JobWatcher {
                override fun onJob(job: JobDetail?) {
                    trySend(job)
                }
            }
            val handle = mapped { core.watchJob(jobId, watcher) }
            awaitClose { handle.cancel(); handle.close() }
        }.buffer(Channel.CONFLATED)

    // ---- the technician's actions: recorded durably offline, or FieldCoreError.Refused ----

    suspend fun accept(jobId: String): RecordedEvent = call { accept(jobId) }

    suspend fun logCall(jobId: String, outcome: CallOutcome, note: String = ""): RecordedEvent =
        call { logCall(jobId, outcome, note) }

    suspend fun goodsArrived(jobId: String, arrivedAt: Instant, note: String = ""): RecordedEvent =
        call { goodsArrived(jobId, arrivedAt, note) }

    suspend fun recordPickup(jobId: String, pieces: Int, packaging: Packaging, note: String = ""): RecordedEvent =
        call { recordPickup(jobId, pieces.toUInt(), packaging, note) }

    suspend fun raiseException(
        jobId: String,
        kind: ExceptionKind,
        note: String,
        photoIds: List<String> = emptyList(),
    ): RecordedEvent = call { raiseException(jobId, kind, note, photoIds) }

    suspend fun bookAppointment(jobId: String, at: Instant, note: String = ""): RecordedEvent =
        call { bookAppointment(jobId, at, note) }

    suspend fun reschedule(jobId: String, at: Instant, reason: String, customerConsented: Boolean): RecordedEvent =
        call { reschedule(jobId, at, reason, customerConsented) }

    suspend fun checkIn(jobId: String, location: GeoPoint? = null): RecordedEvent = call { checkIn(jobId, location) }

    suspend fun answerChecklist(jobId: String, itemId: String, answer: Boolean, note: String = ""): RecordedEvent =
        call { answerChecklist(jobId, itemId, answer, note) }

    suspend fun markWorkDone(jobId: String, note: String = ""): RecordedEvent = call { markWorkDone(jobId, note) }

    suspend fun enterConfirmationCode(jobId: String, code: String): RecordedEvent =
        call { enterConfirmationCode(jobId, code) }

    suspend fun complete(jobId: String, note: String = ""): RecordedEvent = call { complete(jobId, note) }

    suspend fun claimExemption(jobId: String, timer: TimerKind, reason: ExemptionReason, note: String): RecordedEvent =
        call { claimExemption(jobId, timer, reason, note) }

    suspend fun checkOut(jobId: String): RecordedEvent = call { checkOut(jobId) }

    // ---- evidence ----

    /** Store the camera's file as evidence on the job (decoded with limits, upright, hashed). */
    suspend fun capturePhoto(jobId: String, category: PhotoCategory, file: File, location: GeoPoint? = null): CapturedPhoto =
        call { capturePhoto(jobId, category, file.absolutePath, location) }

    /** The customer's own signature, as drawn on a [width] x [height] pad. */
    suspend fun captureSignature(jobId: String, width: Int, height: Int, strokes: List<List<PenSample>>): CapturedSignature =
        call {
            captureSignature(
                jobId,
                width.toUInt(),
                height.toUInt(),
                strokes.map { s -> SignatureStroke(s.map { SignaturePoint(it.x, it.y, it.tMillis.toUInt()) }) },
            )
        }

    // ---- housekeeping ----

    /**
     * Frees storage without losing evidence: the files of photos the server has held for
     * [pruneUploadedAfterDays] days (null keeps them), and what captures killed mid-way left
     * behind. Records and hashes stay. Run it from the background job after a sync.
     */
    suspend fun housekeeping(pruneUploadedAfterDays: Int? = 30): HousekeepingReport {
        require(pruneUploadedAfterDays == null || pruneUploadedAfterDays >= 0) { "days must not be negative" }
        return call { housekeeping(pruneUploadedAfterDays?.toUInt()) }
    }

    // ---- sync ----

    /**
     * Push, pull, upload, on [io] (a thread is blocked for the whole sync, retries included).
     * The core runs one at a time: a call during a sync waits for one more sync after it, shared
     * by all such calls. Progress goes to [syncStatus]. Cancelling the calling coroutine stops
     * the core's sync at its next step (as [cancelSync] does) and waits for it to stop; what was
     * done before is kept.
     */
    suspend fun sync(): SyncReport = coroutineScope {
        // The outcome as a value: the core's `Cancelled` after our own cancellation must not
        // fail the caller's scope in place of the CancellationException.
        // This call's own observer keeps its failure: the shared status may already show
        // another caller's sync by the time this one throws.
        val mine = CallObserver(observer)
        val running = async(io) {
            runCatching { mapped { core.sync(mine) } }
                .onFailure { e -> if (e is FieldCoreError) e.syncFailure = mine.failure }
                .also { runCatching { refreshAuthorization() } }
        }
        try {
            running.await().getOrThrow()
        } catch (e: CancellationException) {
            interrupt.interrupt()
            throw e
        }
    }

    /** Stop the running sync and any waiting for it ([sync] throws [FieldCoreError.Cancelled]). */
    fun cancelSync() = interrupt.interrupt()

    /** Forwards to [shared] and remembers the failure this call heard. */
    private class CallObserver(private val shared: SyncObserver) : SyncObserver {
        @Volatile var failure: SyncFailure? = null

        override fun onState(state: SyncState) {
            if (state is SyncState.Failed) failure = state.failure
            shared.onState(state)
        }
    }

    private val observer = object : SyncObserver {
        override fun onState(state: SyncState) {
            _syncStatus.value = when (state) {
                is SyncState.Started -> SyncStatus.Running(SyncStatus.Stage.Starting)
                is SyncState.Pushing ->
                    SyncStatus.Running(SyncStatus.Stage.Pushing(state.sent.toInt(), state.pending.toLong()))
                is SyncState.Pulling -> SyncStatus.Running(SyncStatus.Stage.Pulling(state.received.toInt()))
                is SyncState.Uploading -> SyncStatus.Running(
                    SyncStatus.Stage.Uploading(
                        photoId = state.photoId,
                        jobId = state.jobId,
                        category = state.category,
                        number = state.number.toInt(),
                        count = state.count.toInt(),
                        sentBytes = state.sent.toLong(),
                        totalBytes = state.total.toLong(),
                        syncSentBytes = state.syncSent.toLong(),
                        syncTotalBytes = state.syncTotal.toLong(),
                    ),
                )
                is SyncState.Finished -> SyncStatus.Finished(state.report, Instant.now())
                is SyncState.Failed -> SyncStatus.Failed(state.failure, Instant.now())
                is SyncState.Cancelled -> SyncStatus.Cancelled(Instant.now())
            }
        }
    }

    override fun close() {
        interrupt.close()
        core.close()
    }
}

/** Every call into the bindings: the core's errors as [FieldCoreError], its internal ones too. */
private inline fun <T> mapped(block: () -> T): T =
    try {
        block()
    } catch (e: CoreException) {
        throw e.toFieldCoreError()
    } catch (e: InternalException) {
        throw FieldCoreError.Internal(e.message ?: "internal error in the core", e)
    }
