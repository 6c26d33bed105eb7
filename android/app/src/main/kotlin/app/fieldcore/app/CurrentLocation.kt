package app.fieldcore.app

import android.Manifest
import android.annotation.SuppressLint
import android.content.pm.PackageManager
import android.location.Location
import android.location.LocationListener
import android.location.LocationManager
import android.os.Build
import android.os.Bundle
import android.os.CancellationSignal
import android.os.Looper
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.core.content.ContextCompat
import app.fieldcore.ffi.GeoPoint
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import kotlin.coroutines.resume

/**
 * One current position for check-in and photos, or null (permission refused, location off,
 * no fix in time). Uses the platform's LocationManager rather than Google Play services'
 * FusedLocationProviderClient: the app must work on phones without Google services (common
 * among the zh-CN fleet), and a single fix needs nothing more. Android 12+ lets the
 * technician grant only an approximate location; that is accepted as it is.
 *
 * Create it in `Activity.onCreate` (it registers a permission launcher).
 */
class CurrentLocation(private val activity: ComponentActivity) {
    private val oneAtATime = Mutex()
    private var permissionAnswer: CompletableDeferred<Map<String, Boolean>>? = null

    private val permissions = activity.registerForActivityResult(ActivityResultContracts.RequestMultiplePermissions()) {
        permissionAnswer?.complete(it)
    }

    suspend fun current(): GeoPoint? = withContext(Dispatchers.Main.immediate) {
        oneAtATime.withLock {
            if (!locationAllowed()) return@withLock null
            val manager = activity.getSystemService(LocationManager::class.java) ?: return@withLock null
            val provider = provider(manager) ?: return@withLock null
            // getCurrentLocation gives up by itself after about 30 s; the older path does not.
            val fix = withTimeoutOrNull(FIX_TIMEOUT_MS) { fix(manager, provider) }
            fix?.let { GeoPoint(it.latitude, it.longitude, if (it.hasAccuracy()) it.accuracy.toDouble() else null) }
        }
    }

    private fun granted(permission: String) =
        ContextCompat.checkSelfPermission(activity, permission) == PackageManager.PERMISSION_GRANTED

    /** Fine and coarse asked together, as Android 12+ requires for the approximate choice. */
    private suspend fun locationAllowed(): Boolean {
        if (granted(FINE) || granted(COARSE)) return true
        val answer = CompletableDeferred<Map<String, Boolean>>()
        permissionAnswer = answer
        return try {
            permissions.launch(arrayOf(FINE, COARSE))
            answer.await().values.any { it }
        } finally {
            permissionAnswer = null
        }
    }

    private fun provider(manager: LocationManager): String? = when {
        Build.VERSION.SDK_INT >= Build.VERSION_CODES.S &&
            manager.hasProvider(LocationManager.FUSED_PROVIDER) &&
            manager.isProviderEnabled(LocationManager.FUSED_PROVIDER) -> LocationManager.FUSED_PROVIDER
        granted(FINE) && manager.isProviderEnabled(LocationManager.GPS_PROVIDER) -> LocationManager.GPS_PROVIDER
        manager.isProviderEnabled(LocationManager.NETWORK_PROVIDER) -> LocationManager.NETWORK_PROVIDER
        else -> null
    }

    @SuppressLint("MissingPermission") // checked in locationAllowed()
    private suspend fun fix(manager: LocationManager, provider: String): Location? =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            suspendCancellableCoroutine { cont ->
                val signal = CancellationSignal()
                cont.invokeOnCancellation { signal.cancel() }
                manager.getCurrentLocation(provider, signal, ContextCompat.getMainExecutor(activity)) { location ->
                    if (cont.isActive) cont.resume(location)
                }
            }
        } else {
            singleUpdate(manager, provider)
        }

    /** Android 8-10: one update through the API that getCurrentLocation replaced in Android 11. */
    @SuppressLint("MissingPermission")
    @Suppress("DEPRECATION", "OVERRIDE_DEPRECATION")
    private suspend fun singleUpdate(manager: LocationManager, provider: String): Location? =
        suspendCancellableCoroutine { cont ->
            // Every method is implemented: before Android 11 they have no default bodies.
            val listener = object : LocationListener {
                override fun onLocationChanged(location: Location) {
                    if (cont.isActive) cont.resume(location)
                }

                override fun onProviderDisabled(provider: String) {
                    if (cont.isActive) cont.resume(null)
                }

                override fun onProviderEnabled(provider: String) = Unit

                override fun onStatusChanged(provider: String?, status: Int, extras: Bundle?) = Unit
            }
            cont.invokeOnCancellation { manager.removeUpdates(listener) }
            manager.requestSingleUpdate(provider, listener, Looper.getMainLooper())
        }

    private companion object {
        const val FINE = Manifest.permission.ACCESS_FINE_LOCATION
        const val COARSE = Manifest.permission.ACCESS_COARSE_LOCATION
        const val FIX_TIMEOUT_MS = 30_000L
    }
}
