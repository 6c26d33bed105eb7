package app.fieldcore.ui.desktop

import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreError
import app.fieldcore.ffi.GeoPoint
import app.fieldcore.ffi.PhotoCategory
import app.fieldcore.ui.Platform
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.swing.Swing
import kotlinx.coroutines.withContext
import java.awt.FileDialog
import java.awt.Frame
import java.io.File
import java.nio.file.Files

/**
 * The desktop build's platform, for trying the screens on a computer: the "camera" is a file
 * chooser (a copy of the chosen JPEG is handed over, since the core deletes the original), there
 * is no location, and a sync request runs a sync right away.
 */
class DesktopPlatform(private val client: FieldCoreClient, private val scope: CoroutineScope) : Platform {
    override suspend fun takePhoto(jobId: String, category: PhotoCategory): File? = withContext(Dispatchers.Swing) {
        val dialog = FileDialog(null as Frame?, "Photo: ${category.name.lowercase()}", FileDialog.LOAD)
        dialog.isVisible = true
        val name = dialog.file ?: return@withContext null
        val chosen = File(dialog.directory, name)
        val copy = Files.createTempFile("fieldcore-camera", ".jpg").toFile()
        chosen.copyTo(copy, overwrite = true)
    }

    override suspend fun currentLocation(): GeoPoint? = null

    override fun requestSync() {
        scope.launch {
            try {
                client.sync()
            } catch (_: FieldCoreError) {
                // the status line shows it
            }
        }
    }
}
