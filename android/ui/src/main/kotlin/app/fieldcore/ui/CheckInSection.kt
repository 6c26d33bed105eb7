package app.fieldcore.ui

import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.JobDetail

/**
 * Check-in on arrival, with the location when the platform has one (no permission, no fix:
 * checked in without it; the core's own clock makes the time trustworthy).
 */
@Composable
internal fun CheckInSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    j.checkedInAt?.let { Text(strings.checkedInAt(it.formatLocal()), Modifier.testTag(Tags.CHECKED_IN)) }
    if (ActionKind.CHECKED_IN !in next) return
    ActionButton(strings.checkIn, Tags.CHECK_IN, actions) {
        actions.record { checkIn(actions.jobId, actions.platform.currentLocation()) }
    }
}
