package app.fieldcore.app

import android.content.Context
import androidx.core.content.edit
import app.fieldcore.ffi.PhotoCategory
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.io.File

/**
 * A photo being taken by the camera app: which job, which category, which file
 * the camera writes. Written before the camera opens, so that if Android kills this process
 * while the camera is in front, the result delivered to the recreated activity still finds
 * what it belongs to and the photo is recorded rather than lost.
 */
data class PendingCapture(val jobId: String, val category: PhotoCategory, val file: File)

/** The one pending capture, in the app's private SharedPreferences. */
class PendingCaptureStore(context: Context) {
    private val prefs = context.applicationContext.getSharedPreferences("fieldcore.pending_capture", Context.MODE_PRIVATE)

    /** Durable before it returns (commit, off the main thread): the camera opens right after. */
    suspend fun save(capture: PendingCapture) = withContext(Dispatchers.IO) {
        prefs.edit(commit = true) {
            putString(JOB, capture.jobId)
            putString(CATEGORY, capture.category.name)
            putString(FILE, capture.file.path)
        }
    }

    fun load(): PendingCapture? {
        val category = prefs.getString(CATEGORY, null)?.let { name ->
            PhotoCategory.entries.firstOrNull { it.name == name }
        } ?: return null
        val file = prefs.getString(FILE, null) ?: return null
        val job = prefs.getString(JOB, null) ?: return null
        return PendingCapture(job, category, File(file))
    }

    fun clear() = prefs.edit { clear() }

    private companion object {
        const val JOB = "job"
        const val CATEGORY = "category"
        const val FILE = "file"
    }
}
