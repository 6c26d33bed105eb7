package app.fieldcore.app

import android.content.Context
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreConfig
import app.fieldcore.FieldCoreError
import app.fieldcore.Language
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import java.io.File
import java.util.Locale

/** Where opening the process's one [FieldCoreClient] stands. */
sealed interface CoreState {
    data object Opening : CoreState

    data class Open(val client: FieldCoreClient) : CoreState

    /**
     * The store could not be opened (damaged or newer database, no space, native library
     * missing). [message] is for the technician; [cause] is kept for support.
     */
    data class Failed(val message: String, val cause: Throwable) : CoreState
}

/**
 * Opens the one [FieldCoreClient] of the process, off the main thread (`FieldCoreClient.open`
 * runs on its IO dispatcher), and keeps the outcome for the activity and the sync worker.
 * A failed open is shown with a retry rather than crashing the app: the technician's recorded
 * work is in that store, so "try again" is worth more than a crash loop.
 */
class CoreHolder(private val context: Context, private val scope: CoroutineScope) {
    private val _state = MutableStateFlow<CoreState>(CoreState.Opening)
    val state: StateFlow<CoreState> = _state.asStateFlow()

    private var opening: Job? = null

    /** Start opening, unless the store is open or opening already. Call on the main thread. */
    fun open() {
        if (_state.value is CoreState.Open || opening?.isActive == true) return
        _state.value = CoreState.Opening
        opening = scope.launch {
            _state.value = try {
                CoreState.Open(FieldCoreClient.open(config()))
            } catch (e: CancellationException) {
                throw e
            } catch (e: FieldCoreError.Internal) {
                // A panic in the core: its text is for support, not the technician.
                CoreState.Failed(context.getString(R.string.open_failed_unexpected), e)
            } catch (e: FieldCoreError) {
                CoreState.Failed(e.message ?: e.toString(), e)
            } catch (e: Exception) {
                // uniffi's InternalException (a panic in the core) and anything unexpected.
                CoreState.Failed(context.getString(R.string.open_failed_unexpected), e)
            } catch (e: LinkageError) {
                // UnsatisfiedLinkError / ExceptionInInitializerError: the .so or JNA did not load.
                CoreState.Failed(context.getString(R.string.open_failed_unexpected), e)
            }
        }
    }

    /** The client once opening is over; null if it failed (the worker then gives up this run). */
    suspend fun awaitClient(): FieldCoreClient? =
        (state.first { it !is CoreState.Opening } as? CoreState.Open)?.client

    private fun config(): FieldCoreConfig {
        // The device's own language picks the core's (refusals, checklist texts, labels);
        // which languages exist and how a locale maps to one is the core's rule.
        val locale: Locale = context.resources.configuration.locales[0]
        return FieldCoreConfig(
            // Where earlier versions put them. Neither leaves the phone through Android backup:
            // the manifest turns backup and device transfer off (device token, customers' data).
            databaseFile = File(context.noBackupFilesDir, "fieldcore/fieldcore.db"),
            photoDir = File(context.filesDir, "photos"),
            serverUrl = BuildConfig.SERVER_URL,
            language = Language.forLocale(locale),
        )
    }
}
