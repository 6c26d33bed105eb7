package app.fieldcore.ui

import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.ExceptionDecision
import app.fieldcore.ffi.ExceptionKind
import app.fieldcore.ffi.ExemptionReason
import app.fieldcore.ffi.JobKind
import app.fieldcore.ffi.JobStatus
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory
import app.fieldcore.ffi.TimerKind
import java.util.Locale

/**
 * Every label the screens show. The core's own texts (refusals, what is missing, checklist items,
 * exception labels) already come in the configured language and are shown as they are; these are
 * only the app's words around them. An interface, so a missing translation does not compile.
 */
interface Strings {
    // enrolment
    val enrolTitle: String
    val enrolServerUrl: String
    val enrolCode: String
    val enrolDeviceName: String
    val enrolSubmit: String
    val enrolRevoked: String

    // job list
    val jobsTitle: String
    val filterToday: String
    val filterAll: String
    val noJobs: String
    val reassignedAway: String
    /** Another of my visits too close to this one (a visit plus travel, from the desk's policy). */
    fun scheduleConflict(other: String, at: String, shortByMinutes: Long): String
    val noAppointment: String
    val sync: String

    // sync status line
    val syncIdle: String
    val syncStarting: String
    fun syncPushing(sent: Int, pending: Long): String
    fun syncPulling(received: Int): String
    fun syncUploading(number: Int, count: Int, percent: Int): String
    fun syncFinished(at: String, sent: Int, received: Int, photos: Int, rejected: Int): String
    fun syncFailed(at: String, message: String, eventsSent: Int, photosUploaded: Int, photosWaiting: Int): String
    fun syncCancelled(at: String): String

    // job screen
    val back: String
    val order: String
    val status: String
    val appointment: String
    val reassignedAwayNotice: String
    val timers: String
    fun timerRemaining(duration: String): String
    fun timerOverdue(duration: String): String
    val timerMet: String
    val timerBreached: String
    val timerExempted: String
    val accept: String

    val calls: String
    val callOutcome: String
    val note: String
    val logCall: String

    val appointmentBook: String
    val book: String
    val reschedule: String
    val rescheduleReason: String
    val customerConsented: String
    val rescheduleSubmit: String

    val date: String
    val time: String
    val dateHint: String
    val timeHint: String
    val invalidDateTime: String

    val goodsArrival: String
    val goodsArrivedAt: String
    val goodsArrivedSubmit: String
    fun goodsArrivedOn(at: String): String

    val pickup: String
    fun expectedPieces(n: Int): String
    val piecesCounted: String
    val packaging: String
    val recordPickup: String
    fun pickedUp(pieces: Int, packaging: String, at: String): String
    val pickupPhoto: String

    val checkIn: String
    fun checkedInAt(at: String): String

    val checklist: String
    val yes: String
    val no: String
    val required: String

    val workDone: String
    val markWorkDone: String

    val evidence: String
    fun photoCount(n: Int): String
    val completionPhoto: String
    val receiptPhoto: String
    val exceptionPhoto: String

    val signature: String
    val signatureClear: String
    val signatureSave: String
    val signatureCaptured: String

    val confirmationCode: String
    val enterCode: String
    val codeEntered: String

    val stillMissing: String
    val complete: String
    fun completedAt(at: String): String
    val checkOut: String

    val exceptions: String
    val raiseException: String
    val exceptionKind: String
    val raise: String
    val exceptionOpen: String
    val holdsJob: String

    val claimExemption: String
    val exemptionReason: String
    val claim: String
    val exemptionPending: String
    val exemptionGranted: String
    val exemptionRefused: String

    val conflicts: String
    val rejectedByServer: String

    // the core's enums, by name
    fun jobStatus(status: JobStatus): String
    fun jobKind(kind: JobKind): String
    fun callOutcome(outcome: CallOutcome): String
    fun packaging(packaging: Packaging): String
    fun exceptionKind(kind: ExceptionKind): String
    fun exceptionDecision(decision: ExceptionDecision): String
    fun exemptionReason(reason: ExemptionReason): String
    fun timerKind(kind: TimerKind): String
    fun photoCategory(category: PhotoCategory): String

    companion object {
        val en: Strings = EnStrings
        val zhCN: Strings = ZhCnStrings

        /** Chinese for any `zh` locale (the core speaks zh-CN), English otherwise. */
        fun forLocale(locale: Locale): Strings = if (locale.language == "zh") zhCN else en
    }
}
