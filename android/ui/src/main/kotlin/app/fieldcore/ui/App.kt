package app.fieldcore.ui

import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import app.fieldcore.FieldCoreClient
import app.fieldcore.ffi.Authorization

/**
 * The technician's app: enrolment until the device is enrolled (and again once the server has
 * revoked it), then the job list and one job at a time. The platform shell (an Activity, a desktop
 * window) opens [client] and provides [platform] and [strings]; everything else is here. A shell
 * with a system Back passes [navigation] and sends Back to it.
 */
@Composable
fun App(
    client: FieldCoreClient,
    platform: Platform,
    strings: Strings,
    navigation: AppNavigation = rememberAppNavigation(),
) {
    MaterialTheme {
        Surface(Modifier.fillMaxSize()) {
            AppContent(client, platform, strings, navigation)
        }
    }
}

@Composable
private fun AppContent(client: FieldCoreClient, platform: Platform, strings: Strings, navigation: AppNavigation) {
    // The core's answer, kept across restarts and updated the moment a sync meets a revocation:
    // a revoked phone enrols again, its recorded work still in the outbox.
    val authorization by client.authorization.collectAsState()
    var knownServerUrl by remember { mutableStateOf<String?>(null) }
    LaunchedEffect(client) { knownServerUrl = client.status().serverUrl }

    when (authorization) {
        Authorization.NOT_ENROLLED, Authorization.REVOKED -> EnrolmentScreen(
            client = client,
            strings = strings,
            knownServerUrl = knownServerUrl,
            revoked = authorization == Authorization.REVOKED,
            onEnrolled = { platform.requestSync() },
        )
        Authorization.ENROLLED -> when (val jobId = navigation.openJobId) {
            null -> JobListScreen(client, strings, onOpen = navigation::open)
            else -> JobScreen(client, platform, strings, jobId, onBack = { navigation.back() })
        }
    }
}
