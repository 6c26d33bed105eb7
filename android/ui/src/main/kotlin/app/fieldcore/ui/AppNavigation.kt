package app.fieldcore.ui

import androidx.compose.runtime.Composable
import androidx.compose.runtime.Stable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.Saver
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue

/**
 * Where the technician is in the app: the job list, or one job. Hoisted out of [App] so the
 * platform's own back gesture (Android's system Back, handled in the shell with the platform's
 * back handler) goes where the on-screen Back goes, and saved so the open job survives
 * process death.
 */
@Stable
class AppNavigation internal constructor(openJobId: String?) {
    var openJobId: String? by mutableStateOf(openJobId)
        private set

    /** Whether Back leads somewhere inside the app (else the platform leaves it). */
    val canGoBack: Boolean get() = openJobId != null

    fun open(jobId: String) {
        openJobId = jobId
    }

    /** One step back; false when already at the job list. */
    fun back(): Boolean {
        if (openJobId == null) return false
        openJobId = null
        return true
    }

    internal companion object {
        val saver: Saver<AppNavigation, String> = Saver(save = { it.openJobId ?: "" }, restore = { AppNavigation(it.ifEmpty { null }) })
    }
}

@Composable
fun rememberAppNavigation(): AppNavigation = rememberSaveable(saver = AppNavigation.saver) { AppNavigation(null) }
