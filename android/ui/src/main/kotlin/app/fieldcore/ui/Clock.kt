package app.fieldcore.ui

import androidx.compose.runtime.Composable
import androidx.compose.runtime.State
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.remember
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.flowOn
import java.time.Instant

/**
 * The time now, updated every second, for live timers. Ticks on a background dispatcher: the
 * composition only receives, so a UI test's clock is never kept busy by the ticker.
 */
@Composable
internal fun rememberNow(): State<Instant> {
    val ticks = remember {
        flow {
            while (true) {
                emit(Instant.now())
                delay(1000L - System.currentTimeMillis() % 1000L)
            }
        }.flowOn(Dispatchers.Default)
    }
    return ticks.collectAsState(initial = Instant.now())
}
