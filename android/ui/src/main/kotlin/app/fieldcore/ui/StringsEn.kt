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

/** English labels. */
internal object EnStrings : Strings {
    override val enrolTitle = "Enrol this phone"
    override val enrolServerUrl = "Server address"
    override val enrolCode = "Enrolment code from the desk"
    override val enrolDeviceName = "Name of this phone"
    override val enrolSubmit = "Enrol"
    override val enrolRevoked = "The server no longer accepts this phone. Ask the desk for a new code and enrol again."

    override val jobsTitle = "My jobs"
    override val filterToday = "Today"
    override val filterAll = "All"
    override val noJobs = "No jobs"
    override val reassignedAway = "Reassigned to someone else"
    override fun scheduleConflict(other: String, at: String, shortByMinutes: Long) =
        "Too close to $other at $at: $shortByMinutes min short of a visit plus travel"
    override val noAppointment = "No appointment yet"
    override val sync = "Sync"

    override val syncIdle = "Not synced since the app started"
    override val syncStarting = "Syncing…"
    override fun syncPushing(sent: Int, pending: Long) = "Sending: $sent sent, $pending to go"
    override fun syncPulling(received: Int) = "Receiving: $received"
    override fun syncUploading(number: Int, count: Int, percent: Int) =
        "Uploading photo $number of $count: $percent% of all photos"
    override fun syncFinished(at: String, sent: Int, received: Int, photos: Int, rejected: Int) =
        "Synced at $at: $sent sent, $received received, $photos photos uploaded" +
            if (rejected > 0) ", $rejected refused by the server" else ""
    override fun syncFailed(at: String, message: String, eventsSent: Int, photosUploaded: Int, photosWaiting: Int) =
        "Sync stopped at $at: $message. Got through: $eventsSent actions, $photosUploaded photos; " +
            "$photosWaiting photos wait for the next sync"
    override fun syncCancelled(at: String) = "Sync stopped at $at; nothing was lost"

    override val back = "Back"
    override val order = "Order"
    override val status = "Status"
    override val appointment = "Appointment"
    override val reassignedAwayNotice = "The desk gave this job to another technician. Nothing more can be done on it here."
    override val timers = "Time limits"
    override fun timerRemaining(duration: String) = "$duration left"
    override fun timerOverdue(duration: String) = "overdue by $duration"
    override val timerMet = "met"
    override val timerBreached = "breached"
    override val timerExempted = "exempted"
    override val accept = "Accept job"

    override val calls = "Calls to the customer"
    override val callOutcome = "Outcome"
    override val note = "Note"
    override val logCall = "Log call"

    override val appointmentBook = "Book the visit"
    override val book = "Book"
    override val reschedule = "Reschedule"
    override val rescheduleReason = "Reason"
    override val customerConsented = "The customer agreed to the new time"
    override val rescheduleSubmit = "Reschedule"

    override val date = "Date"
    override val time = "Time"
    override val dateHint = "YYYY-MM-DD"
    override val timeHint = "HH:MM"
    override val invalidDateTime = "Enter a date as YYYY-MM-DD and a time as HH:MM"

    override val goodsArrival = "Goods at the logistics point"
    override val goodsArrivedAt = "When the goods arrived"
    override val goodsArrivedSubmit = "Goods arrived"
    override fun goodsArrivedOn(at: String) = "Goods arrived $at"

    override val pickup = "Pickup"
    override fun expectedPieces(n: Int) = "Expected pieces: $n"
    override val piecesCounted = "Pieces counted"
    override val packaging = "Outer packaging"
    override val recordPickup = "Record pickup"
    override fun pickedUp(pieces: Int, packaging: String, at: String) = "Picked up $pieces pieces, packaging $packaging, $at"
    override val pickupPhoto = "Photograph the goods"

    override val checkIn = "Check in"
    override fun checkedInAt(at: String) = "Checked in $at"

    override val checklist = "Conduct checklist"
    override val yes = "Yes"
    override val no = "No"
    override val required = "required"

    override val workDone = "Work"
    override val markWorkDone = "Work done"

    override val evidence = "Evidence"
    override fun photoCount(n: Int) = "$n photos"
    override val completionPhoto = "Completion photo"
    override val receiptPhoto = "Photo of the signed receipt"
    override val exceptionPhoto = "Photograph what is wrong"

    override val signature = "Customer's signature (the customer signs, never the technician)"
    override val signatureClear = "Clear"
    override val signatureSave = "Save signature"
    override val signatureCaptured = "Signed by the customer"

    override val confirmationCode = "Customer's confirmation code"
    override val enterCode = "Enter code"
    override val codeEntered = "Confirmation code entered"

    override val stillMissing = "Still needed before completion"
    override val complete = "Complete job"
    override fun completedAt(at: String) = "Completed $at"
    override val checkOut = "Check out"

    override val exceptions = "Exceptions"
    override val raiseException = "Raise an exception"
    override val exceptionKind = "What happened"
    override val raise = "Raise"
    override val exceptionOpen = "waiting for the desk"
    override val holdsJob = "holds the job"

    override val claimExemption = "Claim an exemption"
    override val exemptionReason = "Cause"
    override val claim = "Claim"
    override val exemptionPending = "exemption claimed, waiting for the desk"
    override val exemptionGranted = "exemption granted"
    override val exemptionRefused = "exemption refused"

    override val conflicts = "Not accepted by the server"
    override val rejectedByServer = "refused"

    override fun jobStatus(status: JobStatus) = when (status) {
        JobStatus.UNASSIGNED -> "Unassigned"
        JobStatus.ASSIGNED -> "New"
        JobStatus.ACCEPTED -> "Accepted"
        JobStatus.GOODS_ARRIVED -> "Goods arrived"
        JobStatus.PICKED_UP -> "Picked up"
        JobStatus.SCHEDULED -> "Booked"
        JobStatus.ON_SITE -> "On site"
        JobStatus.WORK_DONE -> "Work done"
        JobStatus.COMPLETED -> "Completed"
        JobStatus.BLOCKED -> "Blocked"
        JobStatus.CANCELLED -> "Cancelled"
    }

    override fun jobKind(kind: JobKind) = when (kind) {
        JobKind.INSTALL -> "Install"
        JobKind.DELIVERY_INSTALL -> "Deliver and install"
        JobKind.REPAIR -> "Repair"
    }

    override fun callOutcome(outcome: CallOutcome) = when (outcome) {
        CallOutcome.REACHED -> "Reached"
        CallOutcome.NO_ANSWER -> "No answer"
        CallOutcome.BUSY -> "Busy"
        CallOutcome.UNREACHABLE -> "Unreachable"
        CallOutcome.WRONG_NUMBER -> "Wrong number"
    }

    override fun packaging(packaging: Packaging) = when (packaging) {
        Packaging.INTACT -> "Intact"
        Packaging.DAMAGED -> "Damaged"
    }

    override fun exceptionKind(kind: ExceptionKind) = when (kind) {
        ExceptionKind.PICKUP_DAMAGED -> "Goods damaged at pickup"
        ExceptionKind.PICKUP_COUNT_MISMATCH -> "Wrong piece count at pickup"
        ExceptionKind.GOODS_MISMATCH_ORDER -> "Goods do not match the order"
        ExceptionKind.EXTRA_FEE_NEEDED -> "Extra fee needed"
        ExceptionKind.CUSTOMER_ABSENT -> "Customer absent"
        ExceptionKind.RESCHEDULE_REQUESTED -> "Customer asks to reschedule"
        ExceptionKind.LATE_ARRIVAL -> "Arriving late"
        ExceptionKind.DAMAGE_CAUSED -> "Damage caused on site"
        ExceptionKind.DISPUTE -> "Dispute"
        ExceptionKind.CONDUCT_VIOLATION -> "Conduct"
        ExceptionKind.COMPLETION_CODE_UNAVAILABLE -> "Confirmation code unavailable"
    }

    override fun exceptionDecision(decision: ExceptionDecision) = when (decision) {
        ExceptionDecision.PROCEED -> "desk: proceed"
        ExceptionDecision.STOP -> "desk: stop"
    }

    override fun exemptionReason(reason: ExemptionReason) = when (reason) {
        ExemptionReason.WEATHER -> "Weather"
        ExemptionReason.CUSTOMER -> "The customer"
        ExemptionReason.CODE_UNAVAILABLE -> "Confirmation code unavailable"
        ExemptionReason.OTHER -> "Other"
    }

    override fun timerKind(kind: TimerKind) = when (kind) {
        TimerKind.DISPATCH -> "Dispatch"
        TimerKind.FIRST_CONTACT -> "First call to the customer"
        TimerKind.ARRIVAL_WINDOW -> "Arrival window"
        TimerKind.COMPLETION -> "Completion"
        TimerKind.REPAIR_RESPONSE -> "Repair response"
        TimerKind.REPAIR_ON_SITE -> "Repair on site"
        TimerKind.RETURN_VISIT -> "Return visit"
        TimerKind.COMPLAINT_ANSWER -> "Complaint answer"
        TimerKind.COMPLAINT_RESULT -> "Complaint result"
    }

    override fun photoCategory(category: PhotoCategory) = when (category) {
        PhotoCategory.PICKUP -> "pickup"
        PhotoCategory.COMPLETION -> "completion"
        PhotoCategory.RECEIPT -> "receipt"
        PhotoCategory.EXCEPTION -> "exception"
        PhotoCategory.SIGNATURE -> "signature"
    }
}
