package app.fieldcore.app

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.ListItem
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Button
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreError
import app.fieldcore.SyncStatus
import app.fieldcore.ffi.CoreStatus
import app.fieldcore.ffi.JobSummary
import kotlinx.coroutines.launch

/** My jobs in appointment order, the sync line, and enrolment for a new device. */
@Composable
fun JobListScreen(onOpen: (String) -> Unit) {
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var client by remember { mutableStateOf<FieldCoreClient?>(null) }
    var status by remember { mutableStateOf<CoreStatus?>(null) }
    var jobs by remember { mutableStateOf(emptyList<JobSummary>()) }
    var error by remember { mutableStateOf<String?>(null) }
    LaunchedEffect(Unit) {
        val c = context.fieldCore()
        client = c
        status = c.status()
        jobs = c.jobs()
    }
    val sync = client?.syncStatus?.collectAsState()
    LaunchedEffect(sync?.value) {
        client?.let { status = it.status(); jobs = it.jobs() }
    }
    Column(Modifier.padding(16.dp)) {
        Text(
            when (val s = sync?.value) {
                is SyncStatus.Running -> "Syncing… ${s.stage}"
                is SyncStatus.Failed -> "Not synced: ${s.error.message}"
                is SyncStatus.Finished, SyncStatus.Idle, null ->
                    "${status?.outboxLen ?: 0u} to send, ${status?.photosAwaitingUpload ?: 0u} photos to upload"
            },
        )
        if (status?.enrolled == false) {
            var code by remember { mutableStateOf("") }
            OutlinedTextField(code, { code = it }, label = { Text("Enrolment code from the desk") })
            Button(onClick = {
                scope.launch {
                    try {
                        val c = client ?: return@launch
                        c.enroll(BuildConfig.SERVER_URL, code, android.os.Build.MODEL)
                        c.sync()
                        status = c.status()
                        jobs = c.jobs()
                    } catch (e: FieldCoreError) {
                        error = e.message
                    }
                }
            }) { Text("Enrol") }
        }
        error?.let { Text(it) }
        LazyColumn {
            items(jobs, key = { it.jobId }) { job ->
                ListItem(
                    headlineContent = { Text(job.customerName) },
                    supportingContent = { Text("${job.address}\n${job.kind} · ${job.status}") },
                    trailingContent = { job.appointmentAt?.let { Text(formatTime(it)) } },
                    modifier = Modifier.clickable { onOpen(job.jobId) },
                )
            }
        }
    }
}

fun formatTime(t: java.time.Instant): String =
    java.time.format.DateTimeFormatter.ofPattern("MM-dd HH:mm").withZone(java.time.ZoneId.systemDefault()).format(t)
