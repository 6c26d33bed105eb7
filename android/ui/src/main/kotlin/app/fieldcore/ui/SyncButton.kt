package app.fieldcore.ui

import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreError
import app.fieldcore.SyncStatus
import kotlinx.coroutines.launch

/**
 * Sync now, in the foreground, because the technician asked and is watching the status line.
 * The client runs one sync at a time, so this never races the platform's background sync; a
 * failure needs no handling here: the status line shows it, and App reacts to a revoked device.
 */
@Composable
fun SyncButton(client: FieldCoreClient, strings: Strings, modifier: Modifier = Modifier) {
    val scope = rememberCoroutineScope()
    val status by client.syncStatus.collectAsState()
    OutlinedButton(
        onClick = {
            scope.launch {
                try {
                    client.sync()
                } catch (_: FieldCoreError) {
                    // shown by SyncStatusLine from client.syncStatus
                }
            }
        },
        modifier = modifier.testTag(Tags.SYNC),
        enabled = status !is SyncStatus.Running,
    ) { Text(strings.sync) }
}
