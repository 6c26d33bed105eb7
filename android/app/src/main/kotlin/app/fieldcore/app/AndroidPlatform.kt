package app.fieldcore.app

import android.util.Log
import android.widget.Toast
import androidx.activity.ComponentActivity
import app.fieldcore.FieldCoreError
import app.fieldcore.ffi.GeoPoint
import app.fieldcore.ffi.PhotoCategory
import app.fieldcore.ui.Platform
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.launch
import java.io.File

/**
 * What the shared screens (`app.fieldcore.ui`) need from Android: the camera, a position, a
 * sync soon. Platform glue only: what a photo or a position is used for is decided by the
 * screens and the core.
 *
 * Create it in `Activity.onCreate`: its parts register Activity Result launchers.
 */
class AndroidPlatform(activity: ComponentActivity) : Platform {
    private val app = activity.fieldApp
    private val pending = PendingCaptureStore(activity)
    private val camera = CameraCapture(activity, pending, ::recordOrphan)
    private val location = CurrentLocation(activity)

    /**
     * A photo finished after Android killed the app while the camera was open is still recorded
     * on [jobId] (see [recordOrphan]).
     */
    override suspend fun takePhoto(jobId: String, category: PhotoCategory): File? = camera.take(jobId, category)

    override suspend fun currentLocation(): GeoPoint? = location.current()

    override fun requestSync() = app.sync.requestSync()

    /**
     * A camera result with nobody waiting: the activity or the process was recreated while the
     * camera app was in front. The photo is handed to the core here, once the store is open,
     * on the job it was taken for. A refusal is shown in the core's words.
     */
    private fun recordOrphan(capture: PendingCapture, saved: Boolean) {
        pending.clear()
        val context = app.applicationContext
        val jobId = capture.jobId
        if (!saved || !capture.file.exists() || capture.file.length() == 0L) {
            capture.file.delete() // the camera's file carries GPS and device metadata
            return
        }
        // Out of camera/ (which the next capture clears) before the core gets it.
        val file = File(context.filesDir, "camera-recovered").apply { mkdirs() }.resolve(capture.file.name)
        if (!capture.file.renameTo(file)) {
            capture.file.delete()
            toast(context.getString(R.string.photo_not_attached))
            return
        }
        app.appScope.launch {
            val message = try {
                val client = app.core.awaitClient()
                if (client == null) {
                    context.getString(R.string.photo_not_attached)
                } else {
                    client.capturePhoto(jobId, capture.category, file, location = null)
                    requestSync()
                    context.getString(R.string.photo_recorded_after_restart)
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: FieldCoreError) {
                e.message ?: context.getString(R.string.photo_not_attached)
            } catch (e: Exception) {
                Log.e("FieldCorePhoto", "recording a recovered photo failed", e)
                context.getString(R.string.photo_not_attached)
            } finally {
                file.delete() // gone already when the core stored it (deleteOriginalPhotos)
            }
            toast(message)
        }
    }

    private fun toast(message: String) =
        Toast.makeText(app.applicationContext, message, Toast.LENGTH_LONG).show()
}
