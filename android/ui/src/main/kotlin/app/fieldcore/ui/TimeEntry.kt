package app.fieldcore.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.Stable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.listSaver
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import java.time.Instant
import java.time.LocalDate
import java.time.LocalTime
import java.time.ZoneId
import java.time.ZonedDateTime
import java.time.format.DateTimeFormatter
import java.time.format.DateTimeParseException
import java.time.format.ResolverStyle

/**
 * A date and a time the technician types (the phone's zone). Both start empty: a visit time, an
 * arrival time is a fact the technician states, never one the app proposes.
 */
@Stable
class TimeEntryState(date: String = "", time: String = "") {
    var date by mutableStateOf(date)
    var time by mutableStateOf(time)

    /** Both fields filled and valid: the instant they name in [zone]; otherwise null. */
    fun instant(zone: ZoneId = ZoneId.systemDefault()): Instant? {
        val d = parseDate(date) ?: return null
        val t = parseTime(time) ?: return null
        return ZonedDateTime.of(d, t, zone).toInstant()
    }

    /** Something was typed that does not read as a date or a time. */
    val invalid: Boolean
        get() = (date.isNotBlank() && parseDate(date) == null) || (time.isNotBlank() && parseTime(time) == null)

    fun clear() {
        date = ""
        time = ""
    }

    companion object {
        val Saver = listSaver<TimeEntryState, String>({ listOf(it.date, it.time) }, { TimeEntryState(it[0], it[1]) })

        private val dateFormat = DateTimeFormatter.ofPattern("uuuu-M-d").withResolverStyle(ResolverStyle.STRICT)
        private val timeFormat = DateTimeFormatter.ofPattern("H:mm").withResolverStyle(ResolverStyle.STRICT)

        internal fun parseDate(text: String): LocalDate? =
            try { LocalDate.parse(text.trim(), dateFormat) } catch (_: DateTimeParseException) { null }

        internal fun parseTime(text: String): LocalTime? =
            try { LocalTime.parse(text.trim(), timeFormat) } catch (_: DateTimeParseException) { null }
    }
}

/** A [TimeEntryState] that survives process death (the technician may be typing when the phone rings). */
@Composable
fun rememberTimeEntryState(): TimeEntryState = rememberSaveable(saver = TimeEntryState.Saver) { TimeEntryState() }

/** Date and time fields under [label]; the fields are tagged `Tags.date(tag)` and `Tags.time(tag)`. */
@Composable
fun TimeEntry(state: TimeEntryState, label: String, strings: Strings, tag: String, modifier: Modifier = Modifier) {
    Column(modifier, verticalArrangement = Arrangement.spacedBy(4.dp)) {
        Text(label, style = MaterialTheme.typography.labelLarge)
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            OutlinedTextField(
                state.date, { state.date = it }, Modifier.weight(1f).testTag(Tags.date(tag)),
                label = { Text(strings.date) }, placeholder = { Text(strings.dateHint) }, singleLine = true,
                isError = state.date.isNotBlank() && TimeEntryState.parseDate(state.date) == null,
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Number),
            )
            OutlinedTextField(
                state.time, { state.time = it }, Modifier.weight(1f).testTag(Tags.time(tag)),
                label = { Text(strings.time) }, placeholder = { Text(strings.timeHint) }, singleLine = true,
                isError = state.time.isNotBlank() && TimeEntryState.parseTime(state.time) == null,
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Number),
            )
        }
        if (state.invalid) Text(strings.invalidDateTime, color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodySmall)
    }
}
