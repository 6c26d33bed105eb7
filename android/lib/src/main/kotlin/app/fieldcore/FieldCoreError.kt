package app.fieldcore

import app.fieldcore.ffi.CoreException
import app.fieldcore.ffi.SyncFailure

/**
 * Why a call into the core did not happen, by what the app can do about it. [message] is always
 * meant for the technician (refusals in the configured language).
 */
sealed class FieldCoreError(message: String, cause: Throwable? = null) : Exception(message, cause) {
    /**
     * On an error thrown by [FieldCoreClient.sync]: the typed failure of that very sync (kind,
     * HTTP status, Retry-After, transient), for the caller's scheduler. Null elsewhere.
     */
    var syncFailure: SyncFailure? = null
        internal set

    /** A rule said no. Switch on [rule] (stable code, e.g. `not_checked_in`); show [message]. */
    class Refused(val rule: String, message: String, val missing: List<String>, cause: Throwable? = null) :
        FieldCoreError(message, cause)

    /** Enrol the device (a code from the desk). */
    class NotEnrolled(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** The server no longer accepts this device: enrol again. */
    class Unauthorized(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** The enrolment code was not accepted: ask the desk for a new one. */
    class EnrolmentRefused(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** No connection: nothing is lost; sync again when the network is back. */
    class Network(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** The server answered with an error; `status` 0 when its answer was not understood. */
    class Server(val status: Int, message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** Take the photo (or the signature) again. */
    class InvalidPhoto(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** Free some space on the phone, then try again. */
    class StorageFull(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** The local database or files failed: report to support. */
    class Storage(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** The app passed something malformed (a bug in the app, not the technician's doing). */
    class InvalidInput(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /** The sync was cancelled ([FieldCoreClient.cancelSync]); nothing is lost. */
    class Cancelled(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)

    /**
     * A failure inside the bindings themselves (a panic in the core, a library mismatch): a bug
     * to report, caught here so the app shows it instead of crashing.
     */
    class Internal(message: String, cause: Throwable? = null) : FieldCoreError(message, cause)
}

/** The one mapping from the generated exceptions to [FieldCoreError]. */
internal fun CoreException.toFieldCoreError(): FieldCoreError = when (this) {
    is CoreException.Refused -> FieldCoreError.Refused(rule, detail, missing, this)
    is CoreException.NotEnrolled -> FieldCoreError.NotEnrolled(detail, this)
    is CoreException.Unauthorized -> FieldCoreError.Unauthorized(detail, this)
    is CoreException.EnrolmentRefused -> FieldCoreError.EnrolmentRefused(detail, this)
    is CoreException.Network -> FieldCoreError.Network(detail, this)
    is CoreException.Server -> FieldCoreError.Server(status.toInt(), detail, this)
    is CoreException.InvalidPhoto -> FieldCoreError.InvalidPhoto(detail, this)
    is CoreException.StorageFull -> FieldCoreError.StorageFull(detail, this)
    is CoreException.Storage -> FieldCoreError.Storage(detail, this)
    is CoreException.InvalidInput -> FieldCoreError.InvalidInput(detail, this)
    is CoreException.Cancelled -> FieldCoreError.Cancelled(detail, this)
}
