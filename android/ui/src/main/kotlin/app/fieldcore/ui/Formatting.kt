package app.fieldcore.ui

import java.time.Duration
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter

/** Times as the technician reads them: local date and minute, in the phone's zone. */
private val localDateTime: DateTimeFormatter = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")

internal fun Instant.formatLocal(zone: ZoneId = ZoneId.systemDefault()): String = localDateTime.format(atZone(zone))

/** A length of time as `2 h 05 min`, `4 min 09 s` or `12 s` (no sign). */
internal fun Duration.formatShort(): String {
    val total = abs().seconds
    val h = total / 3600
    val m = (total % 3600) / 60
    val s = total % 60
    return when {
        h > 0 -> "%d h %02d min".format(h, m)
        m > 0 -> "%d min %02d s".format(m, s)
        else -> "$s s"
    }
}
