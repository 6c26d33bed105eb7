package app.fieldcore.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.unit.dp
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreError
import kotlinx.coroutines.launch

/**
 * Enrol the phone with the one-time code the desk gave the technician. The server address is
 * prefilled only with the one the core already knows (from its configuration or an earlier
 * enrolment); the device name is the technician's to choose.
 */
@Composable
fun EnrolmentScreen(
    client: FieldCoreClient,
    strings: Strings,
    knownServerUrl: String?,
    revoked: Boolean,
    onEnrolled: () -> Unit,
) {
    val scope = rememberCoroutineScope()
    var serverUrl by rememberSaveable(knownServerUrl) { mutableStateOf(knownServerUrl.orEmpty()) }
    var code by rememberSaveable { mutableStateOf("") }
    var deviceName by rememberSaveable { mutableStateOf("") }
    var error by rememberSaveable { mutableStateOf<String?>(null) }
    var busy by rememberSaveable { mutableStateOf(false) }

    Column(
        Modifier.fillMaxWidth().padding(16.dp).verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        Text(strings.enrolTitle, style = MaterialTheme.typography.headlineSmall)
        if (revoked) Text(strings.enrolRevoked, Modifier.testTag(Tags.ENROL_REVOKED), color = MaterialTheme.colorScheme.error)
        OutlinedTextField(
            serverUrl, { serverUrl = it }, Modifier.fillMaxWidth().testTag(Tags.ENROL_SERVER),
            label = { Text(strings.enrolServerUrl) }, singleLine = true,
        )
        OutlinedTextField(
            code, { code = it }, Modifier.fillMaxWidth().testTag(Tags.ENROL_CODE),
            label = { Text(strings.enrolCode) }, singleLine = true,
        )
        OutlinedTextField(
            deviceName, { deviceName = it }, Modifier.fillMaxWidth().testTag(Tags.ENROL_NAME),
            label = { Text(strings.enrolDeviceName) }, singleLine = true,
        )
        error?.let { Text(it, Modifier.testTag(Tags.ENROL_ERROR), color = MaterialTheme.colorScheme.error) }
        Button(
            onClick = {
                busy = true
                scope.launch {
                    try {
                        client.enroll(serverUrl.trim(), code.trim(), deviceName.trim())
                        error = null
                        onEnrolled()
                    } catch (e: FieldCoreError) {
                        error = e.message
                    } finally {
                        busy = false
                    }
                }
            },
            modifier = Modifier.testTag(Tags.ENROL_SUBMIT),
            enabled = !busy && serverUrl.isNotBlank() && code.isNotBlank() && deviceName.isNotBlank(),
        ) { Text(strings.enrolSubmit) }
    }
}
