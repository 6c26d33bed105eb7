package app.fieldcore.ui

import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.text.input.KeyboardType
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.JobDetail
import app.fieldcore.ffi.JobKind
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory

/**
 * Collecting the goods at the logistics point [domain: pickup]: photograph them, count the pieces
 * and look at the outer packaging. The count field starts empty and no packaging state is
 * preselected: both are what the technician saw. A wrong count or damaged packaging is not
 * handled here: the core raises the exception from the pickup record (with the pickup photos),
 * and it shows in the exceptions list.
 */
@Composable
internal fun PickupSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    if (j.kind != JobKind.DELIVERY_INSTALL) return
    val canRecord = ActionKind.PICKUP_RECORDED in next
    val canPhoto = PhotoCategory.PICKUP in j.photoCategories
    val pickupPhotos = j.photos.count { it.category == PhotoCategory.PICKUP }
    if (j.pickup == null && !canRecord && !canPhoto) return

    SectionTitle(strings.pickup)
    j.expectedPieces?.let { Text(strings.expectedPieces(it.toInt())) }
    j.pickup?.let { p ->
        Text(
            strings.pickedUp(p.pieces.toInt(), strings.packaging(p.packaging), p.at.formatLocal()),
            Modifier.testTag(Tags.PICKUP_RECORDED),
        )
    }
    Text(strings.photoCount(pickupPhotos), Modifier.testTag(Tags.PICKUP_PHOTOS), style = MaterialTheme.typography.bodySmall)
    if (canPhoto) PhotoButton(strings.pickupPhoto, PhotoCategory.PICKUP, actions)
    if (canRecord) PickupForm(strings, actions)
}

@Composable
private fun PickupForm(strings: Strings, actions: JobActions) {
    var pieces by rememberSaveable { mutableStateOf("") }
    var packaging by rememberSaveable { mutableStateOf<Packaging?>(null) }
    var note by rememberSaveable { mutableStateOf("") }
    OutlinedTextField(
        pieces, { typed -> pieces = typed.filter(Char::isDigit).take(5) },
        Modifier.fillMaxWidth().testTag(Tags.PICKUP_PIECES),
        label = { Text(strings.piecesCounted) }, singleLine = true,
        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Number),
    )
    Text(strings.packaging, style = MaterialTheme.typography.labelLarge)
    RadioChoices(Packaging.entries, packaging, { packaging = it }, strings::packaging, Tags::packaging)
    NoteField(note, { note = it }, strings.note, Tags.PICKUP_NOTE)
    val count = pieces.toIntOrNull()
    val chosen = packaging
    ActionButton(strings.recordPickup, Tags.PICKUP_SUBMIT, actions, enabled = count != null && chosen != null) {
        if (count != null && chosen != null) {
            actions.record(onRecorded = { pieces = ""; packaging = null; note = "" }) {
                recordPickup(actions.jobId, count, chosen, note.trim())
            }
        }
    }
}
