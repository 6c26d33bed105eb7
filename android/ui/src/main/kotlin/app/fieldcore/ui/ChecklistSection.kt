package app.fieldcore.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.unit.dp
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.ChecklistEntry
import app.fieldcore.ffi.JobDetail

/**
 * The conduct checklist, item by item in the core's order and language, answered yes or no. An
 * unanswered item shows neither; a "no" on a required item becomes a conduct exception in the core.
 */
@Composable
internal fun ChecklistSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    if (j.checklist.isEmpty() || j.checkedInAt == null) return
    val canAnswer = ActionKind.CHECKLIST_ANSWERED in next
    SectionTitle(strings.checklist)
    j.checklist.forEach { item -> ChecklistItem(item, canAnswer, strings, actions) }
}

@Composable
private fun ChecklistItem(item: ChecklistEntry, canAnswer: Boolean, strings: Strings, actions: JobActions) {
    Column(verticalArrangement = Arrangement.spacedBy(2.dp)) {
        Text(item.text + if (item.required) " (${strings.required})" else "", style = MaterialTheme.typography.bodyMedium)
        if (!canAnswer) {
            item.answer?.let { Text(if (it) strings.yes else strings.no, style = MaterialTheme.typography.labelLarge) }
            return@Column
        }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            FilterChip(
                selected = item.answer == true,
                onClick = { actions.record { answerChecklist(actions.jobId, item.itemId, true) } },
                label = { Text(strings.yes) },
                modifier = Modifier.testTag(Tags.checklistYes(item.itemId)),
                enabled = !actions.busy,
            )
            FilterChip(
                selected = item.answer == false,
                onClick = { actions.record { answerChecklist(actions.jobId, item.itemId, false) } },
                label = { Text(strings.no) },
                modifier = Modifier.testTag(Tags.checklistNo(item.itemId)),
                enabled = !actions.busy,
            )
        }
    }
}
