package app.fieldcore.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Card
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.unit.dp
import app.fieldcore.FieldCoreClient
import app.fieldcore.ffi.JobSummary
import java.time.LocalDate

/**
 * My jobs in appointment order (the core's order), today's or all, with sync. A job the desk gave
 * to someone else stays listed, marked, so the technician knows why it went quiet.
 */
@Composable
fun JobListScreen(client: FieldCoreClient, strings: Strings, onOpen: (jobId: String) -> Unit) {
    var todayOnly by rememberSaveable { mutableStateOf(false) }
    // "Today" is the phone's date when the filter is chosen; the core matches it to appointments.
    val day = if (todayOnly) LocalDate.now() else null
    val jobs by remember(client, day) { client.watchJobs(day = day) }.collectAsState(initial = null)

    Column(Modifier.fillMaxSize().padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(strings.jobsTitle, Modifier.weight(1f), style = MaterialTheme.typography.headlineSmall)
            SyncButton(client, strings)
        }
        SyncStatusLine(client, strings)
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            FilterChip(todayOnly, { todayOnly = true }, { Text(strings.filterToday) }, Modifier.testTag(Tags.LIST_TODAY))
            FilterChip(!todayOnly, { todayOnly = false }, { Text(strings.filterAll) }, Modifier.testTag(Tags.LIST_ALL))
        }
        val list = jobs
        when {
            list == null -> Unit
            list.isEmpty() -> Text(strings.noJobs, Modifier.testTag(Tags.LIST_EMPTY))
            else -> LazyColumn(Modifier.fillMaxWidth().testTag(Tags.LIST), verticalArrangement = Arrangement.spacedBy(8.dp)) {
                items(list, key = { it.jobId }) { job -> JobRow(job, strings) { onOpen(job.jobId) } }
            }
        }
    }
}

@Composable
private fun JobRow(job: JobSummary, strings: Strings, onClick: () -> Unit) {
    Card(Modifier.fillMaxWidth().clickable(onClick = onClick).testTag(Tags.jobRow(job.jobId))) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(2.dp)) {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Text(job.customerName, Modifier.weight(1f), style = MaterialTheme.typography.titleMedium)
                Text(strings.jobStatus(job.status), style = MaterialTheme.typography.labelLarge)
            }
            // The number the desk and the customer use, else the id's short form on this phone.
            Text(
                "${job.number ?: job.shortId} · ${strings.jobKind(job.kind)} · ${job.address}",
                style = MaterialTheme.typography.bodyMedium,
            )
            Text(
                job.appointmentAt?.formatLocal() ?: strings.noAppointment,
                style = MaterialTheme.typography.bodySmall,
            )
            job.scheduleConflicts.forEachIndexed { i, c ->
                Text(
                    strings.scheduleConflict(c.otherNumber ?: c.otherJobId.takeLast(6), c.otherAt.formatLocal(), c.shortByMinutes),
                    Modifier.testTag(Tags.jobRowConflict(job.jobId, i)),
                    color = MaterialTheme.colorScheme.error,
                    style = MaterialTheme.typography.bodySmall,
                )
            }
            if (job.reassignedAway) {
                Text(
                    strings.reassignedAway,
                    Modifier.testTag(Tags.jobRowReassigned(job.jobId)),
                    color = MaterialTheme.colorScheme.error,
                )
            }
        }
    }
}
