package app.fieldcore.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.testTag
import androidx.compose.ui.unit.dp
import app.fieldcore.ffi.ActionKind
import app.fieldcore.ffi.ExemptionReason
import app.fieldcore.ffi.JobDetail
import app.fieldcore.ffi.SlaTimer
import java.time.Duration
import java.time.Instant

/**
 * The job's SLA timers, counting live: the remaining time is recomputed from `dueAt` every second
 * (the core's `remainingSecs` is as of when the job was read). A breached timer offers an
 * exemption claim when the core allows one; the desk decides it, and the breach stays visible.
 */
@Composable
internal fun TimersSection(j: JobDetail, next: Set<ActionKind>, strings: Strings, actions: JobActions) {
    if (j.timers.isEmpty()) return
    val now by rememberNow()
    SectionTitle(strings.timers)
    j.timers.forEach { timer ->
        Column(Modifier.testTag(Tags.timer(timer.kind)), verticalArrangement = Arrangement.spacedBy(2.dp)) {
            Text("${strings.timerKind(timer.kind)}: ${timerState(timer, now, strings)}")
            val claims = j.exemptions.filter { it.timer == timer.kind }
            claims.forEach { c ->
                val state = when (c.granted) {
                    null -> strings.exemptionPending
                    true -> strings.exemptionGranted
                    false -> strings.exemptionRefused
                }
                Text("${strings.exemptionReason(c.reason)}: ${c.note} — $state", style = MaterialTheme.typography.bodySmall)
            }
            val breached = timer.breached || (timer.stoppedAt == null && !now.isBefore(timer.dueAt))
            val undecidedClaim = claims.any { it.granted == null }
            if (ActionKind.EXEMPTION_CLAIMED in next && breached && !timer.exempted && !undecidedClaim) {
                ExemptionClaim(timer, strings, actions)
            }
        }
    }
}

private fun timerState(t: SlaTimer, now: Instant, strings: Strings): String = when {
    t.exempted -> strings.timerExempted
    t.stoppedAt != null -> if (t.breached) strings.timerBreached else strings.timerMet
    now.isBefore(t.dueAt) -> strings.timerRemaining(Duration.between(now, t.dueAt).formatShort())
    else -> strings.timerOverdue(Duration.between(t.dueAt, now).formatShort())
}

@Composable
private fun ExemptionClaim(timer: SlaTimer, strings: Strings, actions: JobActions) {
    var reason by rememberSaveable(timer.kind) { mutableStateOf<ExemptionReason?>(null) }
    var note by rememberSaveable(timer.kind) { mutableStateOf("") }
    Column(Modifier.padding(start = 16.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
        Text(strings.claimExemption, style = MaterialTheme.typography.labelLarge)
        Text(strings.exemptionReason, style = MaterialTheme.typography.bodySmall)
        RadioChoices(
            ExemptionReason.entries, reason, { reason = it }, strings::exemptionReason,
            { Tags.exemptionReason(timer.kind, it) },
        )
        NoteField(note, { note = it }, strings.note, Tags.exemptionNote(timer.kind))
        val chosen = reason
        ActionButton(strings.claim, Tags.exemptionClaim(timer.kind), actions, enabled = chosen != null && note.isNotBlank()) {
            if (chosen != null) {
                actions.record(onRecorded = { reason = null; note = "" }) {
                    claimExemption(actions.jobId, timer.kind, chosen, note.trim())
                }
            }
        }
    }
}
