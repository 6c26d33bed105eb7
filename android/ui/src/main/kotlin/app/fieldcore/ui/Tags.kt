package app.fieldcore.ui

import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.ExceptionKind
import app.fieldcore.ffi.ExemptionReason
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory
import app.fieldcore.ffi.TimerKind

/** The test tags of every control, one place for the screens and the UI tests (desktop and Android). */
object Tags {
    const val ENROL_SERVER = "enrol.server"
    const val ENROL_CODE = "enrol.code"
    const val ENROL_NAME = "enrol.name"
    const val ENROL_SUBMIT = "enrol.submit"
    const val ENROL_ERROR = "enrol.error"
    const val ENROL_REVOKED = "enrol.revoked"

    const val LIST = "jobs.list"
    const val LIST_TODAY = "jobs.filter.today"
    const val LIST_ALL = "jobs.filter.all"
    const val LIST_EMPTY = "jobs.empty"
    const val SYNC = "sync.button"
    const val SYNC_STATUS = "sync.status"
    fun jobRow(jobId: String) = "jobs.row.$jobId"
    fun jobRowReassigned(jobId: String) = "jobs.row.$jobId.reassigned"
    fun jobRowConflict(jobId: String, index: Int) = "jobs.row.$jobId.conflict.$index"

    const val JOB_SCREEN = "job.screen"
    const val JOB_BACK = "job.back"
    const val JOB_STATUS = "job.status"
    fun jobConflict(index: Int) = "job.conflict.$index"
    const val JOB_MESSAGE = "job.message"
    const val JOB_REASSIGNED = "job.reassigned"
    const val JOB_ACTIONS = "job.actions"
    fun timer(kind: TimerKind) = "timer.${kind.name}"
    fun exemptionReason(kind: TimerKind, reason: ExemptionReason) = "timer.${kind.name}.reason.${reason.name}"
    fun exemptionNote(kind: TimerKind) = "timer.${kind.name}.note"
    fun exemptionClaim(kind: TimerKind) = "timer.${kind.name}.claim"

    const val ACCEPT = "action.accept"

    fun callOutcome(outcome: CallOutcome) = "call.outcome.${outcome.name}"
    const val CALL_NOTE = "call.note"
    const val CALL_LOG = "call.log"
    const val CALLS = "calls.list"

    const val BOOK = "book"
    const val BOOK_NOTE = "book.note"
    const val BOOK_SUBMIT = "book.submit"
    const val RESCHEDULE = "reschedule"
    const val RESCHEDULE_REASON = "reschedule.reason"
    const val RESCHEDULE_CONSENT = "reschedule.consent"
    const val RESCHEDULE_SUBMIT = "reschedule.submit"
    const val APPOINTMENT = "job.appointment"

    /** A [TimeEntry]'s fields, under the tag its caller gives it. */
    fun date(prefix: String) = "$prefix.date"
    fun time(prefix: String) = "$prefix.time"

    const val GOODS = "goods"
    const val GOODS_SUBMIT = "goods.submit"
    const val GOODS_ARRIVED = "goods.arrived"

    const val PICKUP_PHOTO = "pickup.photo"
    const val PICKUP_PHOTOS = "pickup.photos"
    const val PICKUP_PIECES = "pickup.pieces"
    fun packaging(p: Packaging) = "pickup.packaging.${p.name}"
    const val PICKUP_NOTE = "pickup.note"
    const val PICKUP_SUBMIT = "pickup.submit"
    const val PICKUP_RECORDED = "pickup.recorded"

    const val CHECK_IN = "checkin.submit"
    const val CHECKED_IN = "checkin.done"

    fun checklistYes(itemId: String) = "checklist.$itemId.yes"
    fun checklistNo(itemId: String) = "checklist.$itemId.no"

    const val WORK_NOTE = "work.note"
    const val WORK_DONE = "work.done"

    fun photo(category: PhotoCategory) = "photo.${category.name}"
    const val PHOTO_COUNT = "photos.count"

    const val SIGNATURE_PAD = "signature.pad"
    const val SIGNATURE_CLEAR = "signature.clear"
    const val SIGNATURE_SAVE = "signature.save"
    const val SIGNATURE_CAPTURED = "signature.captured"

    const val CODE_INPUT = "code.input"
    const val CODE_SUBMIT = "code.submit"
    const val CODE_ENTERED = "code.entered"

    const val MISSING = "complete.missing"
    const val COMPLETE = "complete.submit"
    const val COMPLETED = "complete.done"
    const val CHECK_OUT = "checkout.submit"

    const val EXCEPTIONS = "exceptions.list"
    fun exception(kind: ExceptionKind) = "exceptions.item.${kind.name}"
    fun exceptionKind(kind: ExceptionKind) = "exception.kind.${kind.name}"
    const val EXCEPTION_OPEN = "exception.open"
    const val EXCEPTION_NOTE = "exception.note"
    const val EXCEPTION_PHOTOS = "exception.photos"
    const val EXCEPTION_SUBMIT = "exception.submit"

    const val CONFLICTS = "conflicts.list"
}
