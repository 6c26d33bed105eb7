package app.fieldcore.ui

import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import app.fieldcore.FieldCoreClient
import app.fieldcore.SyncStatus

/** One line saying where sync stands, from the core's own sync observer. */
@Composable
fun SyncStatusLine(client: FieldCoreClient, strings: Strings, modifier: Modifier = Modifier) {
    val status by client.syncStatus.collectAsState()
    val text = when (val s = status) {
        SyncStatus.Idle -> strings.syncIdle
        is SyncStatus.Running -> when (val stage = s.stage) {
            SyncStatus.Stage.Starting -> strings.syncStarting
            is SyncStatus.Stage.Pushing -> strings.syncPushing(stage.sent, stage.pending)
            is SyncStatus.Stage.Pulling -> strings.syncPulling(stage.received)
            is SyncStatus.Stage.Uploading ->
                strings.syncUploading(stage.number, stage.count, (stage.fraction * 100).toInt())
        }
        is SyncStatus.Finished -> strings.syncFinished(
            s.at.formatLocal(),
            s.report.eventsSent.toInt(),
            s.report.eventsReceived.toInt(),
            s.report.photosUploaded.toInt(),
            s.report.rejected.toInt(),
        )
        is SyncStatus.Failed -> strings.syncFailed(
            s.at.formatLocal(),
            s.failure.detail,
            s.failure.report.eventsSent.toInt(),
            s.failure.report.photosUploaded.toInt(),
            s.failure.report.photosWaiting.toInt(),
        )
        is SyncStatus.Cancelled -> strings.syncCancelled(s.at.formatLocal())
    }
    Text(
        text,
        modifier.testTag(Tags.SYNC_STATUS),
        style = MaterialTheme.typography.bodySmall,
        color = if (status is SyncStatus.Failed) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.onSurfaceVariant,
    )
}
