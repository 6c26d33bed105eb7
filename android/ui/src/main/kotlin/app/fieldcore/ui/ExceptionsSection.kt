package app.fieldcore.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.unit.dp
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.ExceptionKind
import app.fieldcore.ffi.JobDetail
import app.fieldcore.ffi.PhotoCategory

/**
 * The job's exceptions (the technician's and those the core raised itself, e.g. from a damaged
 * or short pickup) with the desk's decision, and the form to raise one: the kind is chosen, never
 * preselected, and the note says what happened.
 */
@Composable
internal fun ExceptionsSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    val canRaise = ActionKind.EXCEPTION_RAISED in next
    if (j.exceptions.isEmpty() && !canRaise) return
    SectionTitle(strings.exceptions)
    Column(Modifier.testTag(Tags.EXCEPTIONS), verticalArrangement = Arrangement.spacedBy(4.dp)) {
        j.exceptions.forEach { e ->
            val decision = e.decision?.let { d -> strings.exceptionDecision(d) + (e.decisionNote?.let { ": $it" } ?: "") }
                ?: strings.exceptionOpen
            val holds = if (e.holdsJob && e.decision == null) " · ${strings.holdsJob}" else ""
            Column(Modifier.testTag(Tags.exception(e.kind))) {
                Text("${e.label} — ${e.raisedAt.formatLocal()}$holds", color = MaterialTheme.colorScheme.error)
                if (e.note.isNotBlank()) Text(e.note, style = MaterialTheme.typography.bodySmall)
                Text(decision, style = MaterialTheme.typography.bodySmall)
            }
        }
    }
    if (canRaise) RaiseException(j, strings, actions)
}

/**
 * The form: the kind, what happened, and photos of it (exception photos, attached to this
 * exception as evidence for the ordering party).
 */
@Composable
private fun RaiseException(j: JobDetail, strings: Strings, actions: JobActions) {
    var open by rememberSaveable { mutableStateOf(false) }
    var kind by rememberSaveable { mutableStateOf<ExceptionKind?>(null) }
    var note by rememberSaveable { mutableStateOf("") }
    // Comma-separated: a plain String survives process death on every platform's saver.
    var photoIdList by rememberSaveable { mutableStateOf("") }
    val photoIds = photoIdList.split(',').filter { it.isNotEmpty() }
    if (!open) {
        OutlinedButton({ open = true }, Modifier.testTag(Tags.EXCEPTION_OPEN)) { Text(strings.raiseException) }
        return
    }
    Text(strings.exceptionKind, style = MaterialTheme.typography.labelLarge)
    RadioChoices(ExceptionKind.entries, kind, { kind = it }, strings::exceptionKind, Tags::exceptionKind)
    NoteField(note, { note = it }, strings.note, Tags.EXCEPTION_NOTE)
    Text(strings.photoCount(photoIds.size), Modifier.testTag(Tags.EXCEPTION_PHOTOS), style = MaterialTheme.typography.bodySmall)
    if (PhotoCategory.EXCEPTION in j.photoCategories) {
        OutlinedButton(
            { actions.takePhoto(PhotoCategory.EXCEPTION) { id -> photoIdList = (photoIds + id).joinToString(",") } },
            Modifier.testTag(Tags.photo(PhotoCategory.EXCEPTION)),
            enabled = !actions.busy,
        ) { Text(strings.exceptionPhoto) }
    }
    val chosen = kind
    ActionButton(strings.raise, Tags.EXCEPTION_SUBMIT, actions, enabled = chosen != null) {
        if (chosen != null) {
            actions.record(onRecorded = { open = false; kind = null; note = ""; photoIdList = "" }) {
                raiseException(actions.jobId, chosen, note.trim(), photoIds)
            }
        }
    }
}
