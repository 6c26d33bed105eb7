package app.fieldcore.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.JobDetail

/** Every call attempt to the customer is logged with its outcome [domain: logistics arrival, appointment]. */
@Composable
internal fun CallsSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    val canLog = ActionKind.CUSTOMER_CALL_LOGGED in next
    if (j.calls.isEmpty() && !canLog) return
    SectionTitle(strings.calls)
    Column(Modifier.testTag(Tags.CALLS)) {
        j.calls.forEach { c ->
            Text(
                "${c.at.formatLocal()} ${strings.callOutcome(c.outcome)}" + if (c.note.isNotBlank()) " — ${c.note}" else "",
                style = MaterialTheme.typography.bodySmall,
            )
        }
    }
    if (!canLog) return
    var outcome by rememberSaveable { mutableStateOf<CallOutcome?>(null) }
    var note by rememberSaveable { mutableStateOf("") }
    Text(strings.callOutcome, style = MaterialTheme.typography.labelLarge)
    RadioChoices(CallOutcome.entries, outcome, { outcome = it }, strings::callOutcome, Tags::callOutcome)
    NoteField(note, { note = it }, strings.note, Tags.CALL_NOTE)
    val chosen = outcome
    ActionButton(strings.logCall, Tags.CALL_LOG, actions, enabled = chosen != null) {
        if (chosen != null) {
            actions.record(onRecorded = { outcome = null; note = "" }) { logCall(actions.jobId, chosen, note.trim()) }
        }
    }
}
