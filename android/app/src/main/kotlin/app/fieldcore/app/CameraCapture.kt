package app.fieldcore.app

import android.Manifest
import android.content.ActivityNotFoundException
import android.content.pm.PackageManager
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.core.content.ContextCompat
import androidx.core.content.FileProvider
import app.fieldcore.ffi.PhotoCategory
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import java.io.File
import java.util.UUID

/**
 * The system camera app (ACTION_IMAGE_CAPTURE through `TakePicture`) behind a suspend call.
 *
 * - The app declares CAMERA, so the intent needs that permission granted: it is asked for
 *   (`RequestPermission`) right before the first photo.
 * - The camera writes into `files/camera/` through this app's FileProvider; the core stores a
 *   cleaned copy and deletes that file.
 * - The launchers are registered when the activity is created, as the Activity Result API
 *   requires, so a result that arrives after the activity (or the whole process) was
 *   recreated is still delivered. With nobody left waiting for it, the [PendingCapture] saved
 *   before the camera opened goes to [onOrphanResult], which records it.
 *
 * Create it in `Activity.onCreate`, before the activity is started.
 */
class CameraCapture(
    private val activity: ComponentActivity,
    private val pending: PendingCaptureStore,
    private val onOrphanResult: (capture: PendingCapture, saved: Boolean) -> Unit,
) {
    private val oneAtATime = Mutex()
    private var permissionAnswer: CompletableDeferred<Boolean>? = null
    private var pictureAnswer: CompletableDeferred<Boolean>? = null

    private val permission = activity.registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        permissionAnswer?.complete(granted)
    }

    private val picture = activity.registerForActivityResult(ActivityResultContracts.TakePicture()) { saved ->
        val waiting = pictureAnswer
        if (waiting != null) {
            waiting.complete(saved)
        } else {
            // Nobody waits: the activity or the process was recreated while the camera was open.
            pending.load()?.let { onOrphanResult(it, saved) }
        }
    }

    /**
     * Take one photo of [category] for [jobId]; the file written,
     * or null if the technician backed out, refused the permission or has no camera app.
     */
    suspend fun take(jobId: String, category: PhotoCategory): File? = withContext(Dispatchers.Main.immediate) {
        oneAtATime.withLock {
            if (!cameraAllowed()) return@withLock null
            val file = newFile()
            pending.save(PendingCapture(jobId, category, file))
            val answer = CompletableDeferred<Boolean>()
            pictureAnswer = answer
            val saved = try {
                picture.launch(FileProvider.getUriForFile(activity, "${activity.packageName}.camera", file))
                answer.await()
            } catch (e: ActivityNotFoundException) {
                false
            } finally {
                // Also when the caller is cancelled while the camera is open: the result then
                // takes the orphan path above, with the pending capture still saved.
                pictureAnswer = null
            }
            pending.clear()
            if (saved && file.length() > 0) {
                file
            } else {
                file.delete()
                null
            }
        }
    }

    private suspend fun cameraAllowed(): Boolean {
        if (ContextCompat.checkSelfPermission(activity, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            return true
        }
        val answer = CompletableDeferred<Boolean>()
        permissionAnswer = answer
        return try {
            permission.launch(Manifest.permission.CAMERA)
            answer.await()
        } finally {
            permissionAnswer = null
        }
    }

    /** A fresh file for the camera; leftovers of captures that never came back are removed. */
    private fun newFile(): File {
        val dir = File(activity.filesDir, "camera").apply { mkdirs() }
        dir.listFiles()?.forEach { it.delete() }
        return File(dir, "${UUID.randomUUID()}.jpg")
    }
}
