package app.fieldcore.ui.desktop

import androidx.compose.ui.unit.dp
import androidx.compose.ui.window.Window
import androidx.compose.ui.window.application
import androidx.compose.ui.window.rememberWindowState
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreConfig
import app.fieldcore.Language
import app.fieldcore.ui.App
import app.fieldcore.ui.Strings
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.runBlocking
import java.io.File
import java.util.Locale

/**
 * The technician's app in a desktop window, against a real server:
 *
 *     mvn -f android/ui/pom.xml compile exec:java -Dfieldcore.server.url=http://127.0.0.1:8080
 *
 * System properties: `fieldcore.server.url` (prefills enrolment), `fieldcore.data.dir` (the
 * device's store; default ~/.fieldcore-desktop), `jna.library.path` (libfieldcore_ffi, set by the pom).
 */
fun main() {
    val dataDir = File(System.getProperty("fieldcore.data.dir") ?: "${System.getProperty("user.home")}/.fieldcore-desktop")
    val locale = Locale.getDefault()
    val client = runBlocking {
        FieldCoreClient.open(
            FieldCoreConfig(
                databaseFile = File(dataDir, "fieldcore.db"),
                photoDir = File(dataDir, "photos"),
                serverUrl = System.getProperty("fieldcore.server.url")?.takeIf { it.isNotBlank() },
                language = if (locale.language == "zh") Language.ZH_CN else Language.EN,
            ),
        )
    }
    val platform = DesktopPlatform(client, CoroutineScope(SupervisorJob()))
    application {
        Window(
            onCloseRequest = { client.close(); exitApplication() },
            title = "fieldcore",
            state = rememberWindowState(width = 480.dp, height = 900.dp),
        ) {
            App(client, platform, Strings.forLocale(locale))
        }
    }
}
