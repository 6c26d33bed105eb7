package app.fieldcore.ui

import app.fieldcore.ffi.GeoPoint
import app.fieldcore.ffi.PhotoCategory

/** What only the platform can do. The shared screens call it; they never decide for the technician. */
interface Platform {
    /**
     * Take a photo of [category] for job [jobId]; the file written, or null if the technician
     * backed out. The job travels with the request so a platform whose camera outlives the app's
     * process (Android) can still record a capture finished after the app was killed.
     */
    suspend fun takePhoto(jobId: String, category: PhotoCategory): java.io.File?
    /** The current location, or null (permission denied, no fix). */
    suspend fun currentLocation(): GeoPoint?
    /** Ask for a sync soon (Android: unique work that never replaces a running sync). */
    fun requestSync()
}
