package app.fieldcore.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
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
import app.fieldcore.ffi.JobDetail
import app.fieldcore.ffi.PhotoCategory

/**
 * Finishing on site [domain: completion]: work done, completion photos and the signed receipt,
 * the customer's own signature, the confirmation code (asked for only now), then completion. What
 * the core still needs before completion is listed in its own words (`completionMissing`).
 */
@Composable
internal fun CompletionSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    if (j.checkedInAt == null) return
    SectionTitle(strings.workDone)
    if (ActionKind.WORK_MARKED_DONE in next) {
        var note by rememberSaveable { mutableStateOf("") }
        NoteField(note, { note = it }, strings.note, Tags.WORK_NOTE)
        ActionButton(strings.markWorkDone, Tags.WORK_DONE, actions) {
            actions.record(onRecorded = { note = "" }) { markWorkDone(actions.jobId, note.trim()) }
        }
    }

    SectionTitle(strings.evidence)
    val onSite = j.photos.count { it.category == PhotoCategory.COMPLETION || it.category == PhotoCategory.RECEIPT }
    Text(strings.photoCount(onSite), Modifier.testTag(Tags.PHOTO_COUNT))
    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
        // The cameras the core accepts now: on site, completion and receipt.
        if (PhotoCategory.COMPLETION in j.photoCategories) PhotoButton(strings.completionPhoto, PhotoCategory.COMPLETION, actions)
        if (PhotoCategory.RECEIPT in j.photoCategories) PhotoButton(strings.receiptPhoto, PhotoCategory.RECEIPT, actions)
    }
    if (j.signatureCaptured) {
        Text(strings.signatureCaptured, Modifier.testTag(Tags.SIGNATURE_CAPTURED))
    } else if (ActionKind.SIGNATURE_CAPTURED in next) {
        SignaturePad(strings, enabled = !actions.busy) { w, h, strokes ->
            actions.record { captureSignature(actions.jobId, w, h, strokes) }
        }
    }

    if (j.codeEntered) Text(strings.codeEntered, Modifier.testTag(Tags.CODE_ENTERED))
    if (ActionKind.CONFIRMATION_CODE_ENTERED in next) {
        var code by rememberSaveable { mutableStateOf("") }
        OutlinedTextField(
            code, { code = it.trim() }, Modifier.fillMaxWidth().testTag(Tags.CODE_INPUT),
            label = { Text(strings.confirmationCode) }, singleLine = true,
        )
        ActionButton(strings.enterCode, Tags.CODE_SUBMIT, actions, enabled = code.isNotEmpty()) {
            actions.record(onRecorded = { code = "" }) { enterConfirmationCode(actions.jobId, code) }
        }
    }

    if (j.completedAt == null && j.completionMissing.isNotEmpty()) {
        Text(strings.stillMissing, style = MaterialTheme.typography.labelLarge)
        Text(j.completionMissing.joinToString("\n") { "• ${it.message}" }, Modifier.testTag(Tags.MISSING))
    }
    j.completedAt?.let { Text(strings.completedAt(it.formatLocal()), Modifier.testTag(Tags.COMPLETED)) }
    if (ActionKind.JOB_COMPLETED in next) {
        ActionButton(strings.complete, Tags.COMPLETE, actions) { actions.record { complete(actions.jobId) } }
    }
    if (ActionKind.CHECKED_OUT in next) {
        OutlinedButton({ actions.record { checkOut(actions.jobId) } }, Modifier.testTag(Tags.CHECK_OUT), enabled = !actions.busy) {
            Text(strings.checkOut)
        }
    }
}
