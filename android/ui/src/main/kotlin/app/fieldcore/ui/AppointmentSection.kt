package app.fieldcore.ui

import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.selection.toggleable
import androidx.compose.material3.Checkbox
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.semantics.Role
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.JobDetail

/**
 * Booking the visit at the time agreed with the customer, and moving it. Moving it needs the
 * customer's consent [domain: appointment], stated by the technician with a box that starts
 * unticked and passed on as ticked: the core refuses a move without it (its message is shown),
 * the app never assumes it.
 */
@Composable
internal fun AppointmentSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    if (ActionKind.APPOINTMENT_BOOKED in next) BookVisit(strings, actions)
    if (ActionKind.APPOINTMENT_RESCHEDULED in next) Reschedule(strings, actions)
}

@Composable
private fun BookVisit(strings: Strings, actions: JobActions) {
    val at = rememberTimeEntryState()
    var note by rememberSaveable { mutableStateOf("") }
    SectionTitle(strings.appointmentBook)
    TimeEntry(at, strings.appointment, strings, Tags.BOOK)
    NoteField(note, { note = it }, strings.note, Tags.BOOK_NOTE)
    val instant = at.instant()
    ActionButton(strings.book, Tags.BOOK_SUBMIT, actions, enabled = instant != null) {
        if (instant != null) {
            actions.record(onRecorded = { at.clear(); note = "" }) { bookAppointment(actions.jobId, instant, note.trim()) }
        }
    }
}

@Composable
private fun Reschedule(strings: Strings, actions: JobActions) {
    val at = rememberTimeEntryState()
    var reason by rememberSaveable { mutableStateOf("") }
    var consented by rememberSaveable { mutableStateOf(false) }
    SectionTitle(strings.reschedule)
    TimeEntry(at, strings.appointment, strings, Tags.RESCHEDULE)
    NoteField(reason, { reason = it }, strings.rescheduleReason, Tags.RESCHEDULE_REASON)
    Row(
        Modifier.toggleable(consented, role = Role.Checkbox, onValueChange = { consented = it }).testTag(Tags.RESCHEDULE_CONSENT),
        verticalAlignment = Alignment.CenterVertically,
    ) {
        Checkbox(consented, onCheckedChange = null)
        Text(strings.customerConsented)
    }
    val instant = at.instant()
    ActionButton(strings.rescheduleSubmit, Tags.RESCHEDULE_SUBMIT, actions, enabled = instant != null) {
        if (instant != null) {
            actions.record(onRecorded = { at.clear(); reason = ""; consented = false }) {
                reschedule(actions.jobId, instant, reason.trim(), customerConsented = consented)
            }
        }
    }
}
