package app.fieldcore.ui

import androidx.compose.runtime.Composable
import androidx.compose.runtime.Stable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import app.fieldcore.FieldCoreClient
import app.fieldcore.FieldCoreError
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.launch

/**
 * How the job screen records what the technician did: one action at a time, through the client;
 * a refusal shows the core's own message (already in the technician's language) and nothing
 * else happens. After each recorded action the job is read again and a sync is asked for.
 */
@Stable
class JobActions internal constructor(
    val client: FieldCoreClient,
    val platform: Platform,
    val jobId: String,
    private val scope: CoroutineScope,
) {
    /** The last refusal or failure, for the technician; cleared by the next success. */
    var message by mutableStateOf<String?>(null)
        private set

    /** An action is on its way: buttons wait, so a double tap does not record twice. */
    var busy by mutableStateOf(false)
        private set

    /**
     * Run [action]; on success call [onRecorded] (forms clear their fields there). [action] may
     * return false to say the technician backed out (no photo taken): nothing is recorded then.
     */
    fun run(onRecorded: () -> Unit = {}, action: suspend FieldCoreClient.() -> Boolean) {
        if (busy) return
        busy = true
        scope.launch {
            try {
                if (client.action()) {
                    message = null
                    onRecorded()
                    platform.requestSync()
                }
            } catch (e: FieldCoreError) {
                message = e.message
            } finally {
                busy = false
            }
        }
    }

    /** Run [action], which always records when it does not throw. */
    fun record(onRecorded: () -> Unit = {}, action: suspend FieldCoreClient.() -> Unit) =
        run(onRecorded) { action(); true }
}

@Composable
fun rememberJobActions(client: FieldCoreClient, platform: Platform, jobId: String): JobActions {
    val scope = rememberCoroutineScope()
    return remember(client, platform, jobId) { JobActions(client, platform, jobId, scope) }
}
