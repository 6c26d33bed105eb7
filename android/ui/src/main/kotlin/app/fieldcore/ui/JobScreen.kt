package app.fieldcore.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.unit.dp
import app.fieldcore.FieldCoreClient
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.JobDetail

/**
 * One job. What may be done next is the core's `nextActions`: a control appears only for an
 * action listed there, and none at all once the desk has given the job to someone else. Every
 * fact shown comes from the core; every fact recorded is one the technician entered.
 */
@Composable
fun JobScreen(client: FieldCoreClient, platform: Platform, strings: Strings, jobId: String, onBack: () -> Unit) {
    val job by remember(client, jobId) { client.watchJob(jobId) }.collectAsState(initial = null)
    val actions = rememberJobActions(client, platform, jobId)

    Column(
        Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp).testTag(Tags.JOB_SCREEN),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            TextButton(onBack, Modifier.testTag(Tags.JOB_BACK)) { Text(strings.back) }
            Row(Modifier.weight(1f)) {}
            SyncButton(client, strings)
        }
        SyncStatusLine(client, strings)
        val j = job ?: return@Column
        // Reassigned away: the record stays readable, nothing more is done here.
        val next: Set<ActionKind> = if (j.reassignedAway) emptySet() else j.nextActions.toSet()

        OrderSection(j, strings)
        if (j.reassignedAway) {
            Text(strings.reassignedAwayNotice, Modifier.testTag(Tags.JOB_REASSIGNED), color = MaterialTheme.colorScheme.error)
        }
        actions.message?.let {
            Text(it, Modifier.testTag(Tags.JOB_MESSAGE), color = MaterialTheme.colorScheme.error)
        }
        ConflictsSection(j, strings)
        TimersSection(j, next, strings, actions)
        ExceptionsSection(j, next, strings, actions)

        if (ActionKind.JOB_ACCEPTED in next) {
            ActionButton(strings.accept, Tags.ACCEPT, actions) { actions.record { accept(jobId) } }
        }
        CallsSection(j, next, strings, actions)
        GoodsArrivalSection(j, next, strings, actions)
        PickupSection(j, next, strings, actions)
        AppointmentSection(j, next, strings, actions)
        CheckInSection(j, next, strings, actions)
        ChecklistSection(j, next, strings, actions)
        CompletionSection(j, next, strings, actions)
    }
}

@Composable
private fun OrderSection(j: JobDetail, strings: Strings) {
    Text(j.customerName, style = MaterialTheme.typography.headlineSmall)
    Text(
        "${j.number ?: j.shortId} · ${strings.jobKind(j.kind)} · ${j.orderingParty}",
        style = MaterialTheme.typography.labelLarge,
    )
    Text("${strings.status}: ${strings.jobStatus(j.status)}", Modifier.testTag(Tags.JOB_STATUS))
    Text(j.address)
    Text(j.phone)
    Text("${strings.order}: ${j.productModel} — ${j.work}")
    j.appointmentAt?.let { Text("${strings.appointment}: ${it.formatLocal()}", Modifier.testTag(Tags.APPOINTMENT)) }
    j.scheduleConflicts.forEachIndexed { i, c ->
        Text(
            strings.scheduleConflict(c.otherNumber ?: c.otherJobId.takeLast(6), c.otherAt.formatLocal(), c.shortByMinutes),
            Modifier.testTag(Tags.jobConflict(i)),
            color = MaterialTheme.colorScheme.error,
        )
    }
}
