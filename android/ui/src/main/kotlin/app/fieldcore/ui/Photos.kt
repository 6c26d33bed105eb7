package app.fieldcore.ui

import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import app.fieldcore.ffi.PhotoCategory

/**
 * Take a photo with the platform's camera and store it as evidence of [category] on the job, with
 * where it was taken when the platform knows. Backing out of the camera records nothing.
 */
internal fun JobActions.takePhoto(category: PhotoCategory, onStored: (photoId: String) -> Unit = {}) =
    run(onRecorded = {}) {
        val file = platform.takePhoto(jobId, category) ?: return@run false
        onStored(capturePhoto(jobId, category, file, platform.currentLocation()).photoId)
        true
    }

@Composable
internal fun PhotoButton(text: String, category: PhotoCategory, actions: JobActions) {
    OutlinedButton({ actions.takePhoto(category) }, Modifier.testTag(Tags.photo(category)), enabled = !actions.busy) {
        Text(text)
    }
}
