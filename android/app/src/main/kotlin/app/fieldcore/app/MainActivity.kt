package app.fieldcore.app

import android.Manifest
import android.content.pm.PackageManager
import android.os.Build
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.BackHandler
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.safeDrawingPadding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.fieldcore.ui.App
import app.fieldcore.ui.Strings
import app.fieldcore.ui.rememberAppNavigation

/**
 * The one activity: the shared screens (`app.fieldcore.ui.App`) once the core is open, a
 * progress or a recoverable error screen until then. The store is opened by [FieldApp] off
 * the main thread; this only shows where that stands.
 */
class MainActivity : ComponentActivity() {
    private val notifications = registerForActivityResult(ActivityResultContracts.RequestPermission()) {
        // Either way the sync runs; without it the upload notification shows only in the
        // Task Manager (Android 13+).
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        enableEdgeToEdge()
        super.onCreate(savedInstanceState)
        // Registers its launchers now, before the activity starts (Activity Result API rule),
        // so results that arrive after a recreation are delivered.
        val platform = AndroidPlatform(this)
        val strings = Strings.forLocale(resources.configuration.locales[0])
        val core = fieldApp.core
        setContent {
            MaterialTheme {
                val state by core.state.collectAsStateWithLifecycle()
                when (val s = state) {
                    CoreState.Opening -> OpeningScreen()
                    is CoreState.Failed -> OpenFailedScreen(s.message, onRetry = core::open)
                    // Edge-to-edge (enableEdgeToEdge, enforced at targetSdk 35): the shared
                    // screens do not pad the system bars, the IME or cutouts themselves.
                    is CoreState.Open -> Surface(Modifier.fillMaxSize()) {
                        val navigation = rememberAppNavigation()
                        // System Back goes where the on-screen Back goes; at the list it leaves.
                        BackHandler(enabled = navigation.canGoBack) { navigation.back() }
                        Box(Modifier.safeDrawingPadding()) { App(s.client, platform, strings, navigation) }
                    }
                }
            }
        }
        if (savedInstanceState == null) askForNotifications()
    }

    /** Android 13+: the long-upload notification needs POST_NOTIFICATIONS. */
    private fun askForNotifications() {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.TIRAMISU) return
        val permission = Manifest.permission.POST_NOTIFICATIONS
        if (ContextCompat.checkSelfPermission(this, permission) == PackageManager.PERMISSION_GRANTED) return
        notifications.launch(permission)
    }
}
