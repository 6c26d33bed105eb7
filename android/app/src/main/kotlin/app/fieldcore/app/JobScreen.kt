package app.fieldcore.app

import android.net.Uri
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Checkbox
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.core.content.FileProvider
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreError
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.JobDetail
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory
import kotlinx.coroutines.launch
import java.io.File
import java.time.Duration
import java.time.Instant

/**
 * One job: the order, SLA timers, what may be done next (from the core), calls, pickup,
 * check-in, checklist, photos per category, signature, code, completion. Buttons appear only for
 * the actions the core lists in `nextActions`; a refusal shows the core's own message.
 */
@Composable
fun JobScreen(jobId: String) {
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var client by remember { mutableStateOf<FieldCoreClient?>(null) }
    var job by remember { mutableStateOf<JobDetail?>(null) }
    var message by remember { mutableStateOf<String?>(null) }

    suspend fun reload() { job = client?.job(jobId) }
    fun act(block: suspend FieldCoreClient.() -> Unit) {
        scope.launch {
            val c = client ?: return@launch
            try {
                c.block()
                message = null
                SyncWorker.syncSoon(context)
            } catch (e: FieldCoreError) {
                message = e.message // already in the technician's language
            }
            reload()
        }
    }

    // Camera: the picture goes to a cache file; the core stores a cleaned copy and deletes it.
    var pending by remember { mutableStateOf<Pair<PhotoCategory, File>?>(null) }
    val camera = rememberLauncherForActivityResult(ActivityResultContracts.TakePicture()) { ok ->
        val (category, file) = pending ?: return@rememberLauncherForActivityResult
        if (ok) act { capturePhoto(jobId, category, file, location = null) }
    }
    fun takePhoto(category: PhotoCategory) {
        val file = File(context.cacheDir, "camera/${System.currentTimeMillis()}.jpg").apply { parentFile?.mkdirs() }
        pending = category to file
        val uri: Uri = FileProvider.getUriForFile(context, "${context.packageName}.camera", file)
        camera.launch(uri)
    }

    LaunchedEffect(jobId) {
        client = context.fieldCore()
        reload()
    }
    val j = job ?: return
    val next = j.nextActions.toSet()

    Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState())) {
        Text("${j.customerName} · ${j.phone}")
        Text(j.address)
        Text("${j.productModel}: ${j.work}")
        Text("Status: ${j.status}")
        message?.let { Text(it) }
        HorizontalDivider()

        Text("Timers")
        j.timers.forEach { t ->
            val mins = t.remainingSecs / 60
            Text("${t.kind}: " + when {
                t.breached -> "breached" + if (t.exempted) " (exempted)" else ""
                t.stoppedAt != null -> "met"
                else -> "$mins min left"
            })
        }
        HorizontalDivider()

        if (ActionKind.JOB_ACCEPTED in next) Button({ act { accept(jobId) } }) { Text("Accept") }

        Text("Calls")
        j.calls.forEach { Text("${formatTime(it.at)} ${it.outcome} ${it.note}") }
        if (ActionKind.CUSTOMER_CALL_LOGGED in next) Row {
            CallOutcome.entries.forEach { o -> OutlinedButton({ act { logCall(jobId, o) } }) { Text(o.name) } }
        }
        if (ActionKind.LOGISTICS_ARRIVED in next) Button({ act { goodsArrived(jobId, Instant.now()) } }) { Text("Goods arrived") }
        if (ActionKind.APPOINTMENT_BOOKED in next) Button({
            act { bookAppointment(jobId, Instant.now().plus(Duration.ofHours(2))) }
        }) { Text("Book in 2 h") }
        if (ActionKind.APPOINTMENT_RESCHEDULED in next) OutlinedButton({
            act { reschedule(jobId, Instant.now().plus(Duration.ofDays(1)), "customer asked", customerConsented = true) }
        }) { Text("Reschedule to tomorrow") }

        if (ActionKind.PICKUP_RECORDED in next || ActionKind.PHOTO_CAPTURED in next) {
            Text("Pickup")
            OutlinedButton({ takePhoto(PhotoCategory.PICKUP) }) { Text("Photograph the goods") }
            Button({ act { recordPickup(jobId, j.expectedPieces?.toInt() ?: 1, Packaging.INTACT) } }) { Text("Picked up, intact") }
        }
        j.pickup?.let { Text("Picked up ${it.pieces} pieces, ${it.packaging}") }

        if (ActionKind.CHECKED_IN in next) Button({ act { checkIn(jobId) } }) { Text("Check in") }

        if (j.checkedInAt != null) {
            Text("Checklist")
            j.checklist.forEach { item ->
                Row {
                    Checkbox(item.answer == true, { yes -> act { answerChecklist(jobId, item.itemId, yes) } })
                    Text(item.text + if (item.required) " *" else "")
                }
            }
        }
        if (ActionKind.WORK_MARKED_DONE in next) Button({ act { markWorkDone(jobId) } }) { Text("Work done") }

        if (j.workDoneAt != null) {
            Text("Evidence: ${j.photos.size} photos")
            Row {
                OutlinedButton({ takePhoto(PhotoCategory.COMPLETION) }) { Text("Completion photo") }
                OutlinedButton({ takePhoto(PhotoCategory.RECEIPT) }) { Text("Receipt photo") }
            }
            if (!j.signatureCaptured) SignaturePad { w, h, strokes -> act { captureSignature(jobId, w, h, strokes) } }
            if (ActionKind.CONFIRMATION_CODE_ENTERED in next) {
                var code by remember { mutableStateOf("") }
                OutlinedTextField(code, { code = it }, label = { Text("Customer's confirmation code") })
                Button({ act { enterConfirmationCode(jobId, code) } }) { Text("Enter code") }
            }
        }
        j.completionMissing.forEach { Text("• ${it.message}") }
        if (ActionKind.JOB_COMPLETED in next) {
            Button({ act { complete(jobId) } }, Modifier.fillMaxWidth(), enabled = j.completionMissing.isEmpty()) { Text("Complete") }
        }
        if (ActionKind.CHECKED_OUT in next) OutlinedButton({ act { checkOut(jobId) } }) { Text("Check out") }
        HorizontalDivider()
        Text("Timeline")
        j.timeline.forEach { Text("${formatTime(it.at)} ${it.kind} ${it.pushState}${it.pushNote?.let { n -> " — $n" } ?: ""}") }
    }
}
