package app.fieldcore.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import app.fieldcore.ffi.JobDetail
import app.fieldcore.ffi.PushState

/**
 * What the technician recorded that the server did not take as it was: refused, or kept aside as
 * a conflict for the desk. Shown with the server's note, so nothing disappears silently.
 */
@Composable
internal fun ConflictsSection(j: JobDetail, strings: Strings) {
    val entries = j.timeline.filter { it.conflict != null || it.pushState == PushState.REJECTED }
    if (entries.isEmpty()) return
    SectionTitle(strings.conflicts)
    Column(Modifier.testTag(Tags.CONFLICTS)) {
        entries.forEach { e ->
            val why = listOfNotNull(e.conflict, e.pushNote).distinct().joinToString(" — ")
            val state = if (e.pushState == PushState.REJECTED) " (${strings.rejectedByServer})" else ""
            Text("${e.at.formatLocal()} ${e.kind.name.lowercase()}$state: $why", color = MaterialTheme.colorScheme.error)
        }
    }
}
