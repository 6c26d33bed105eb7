package app.fieldcore.ui

import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.JobDetail

/**
 * When the goods reached the logistics point (delivery jobs): the technician enters the time the
 * logistics point gave, which starts the 2-hour first-call and 48-hour completion clocks, so it is
 * never "now" by default.
 */
@Composable
internal fun GoodsArrivalSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    j.goodsArrivedAt?.let { Text(strings.goodsArrivedOn(it.formatLocal()), Modifier.testTag(Tags.GOODS_ARRIVED)) }
    if (ActionKind.LOGISTICS_ARRIVED !in next) return
    val at = rememberTimeEntryState()
    SectionTitle(strings.goodsArrival)
    TimeEntry(at, strings.goodsArrivedAt, strings, Tags.GOODS)
    val instant = at.instant()
    ActionButton(strings.goodsArrivedSubmit, Tags.GOODS_SUBMIT, actions, enabled = instant != null) {
        if (instant != null) actions.record(onRecorded = { at.clear() }) { goodsArrived(actions.jobId, instant) }
    }
}
