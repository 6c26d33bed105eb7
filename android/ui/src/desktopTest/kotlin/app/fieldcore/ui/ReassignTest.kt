package app.fieldcore.ui

import androidx.compose.ui.test.junit4.createComposeRule
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.CallOutcome.REACHED
import app.fieldcore.ffi.ExceptionKind
import app.fieldcore.ffi.PhotoCategory
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.time.LocalDateTime

/**
 * The desk gives the job to another technician while this one is on site: after a sync, the job
 * screen says so and offers no action at all, and the list marks the job.
 */
class ReassignTest {
    @get:Rule val rule = createComposeRule()
    @get:Rule val tmp = TemporaryFolder()

    private lateinit var visit: Visit

    @After fun close() {
        if (::visit.isInitialized) visit.client.close()
    }

    @Test fun `a job reassigned mid-visit shows it and offers no actions`() {
        visit = Visit(rule, tmp.root, "吴师傅")
        val other = visit.desk.technician("郑师傅")
        val jobId = visit.desk.installJob(visit.technician)
        visit.launch()
        visit.enrol()
        visit.sync()
        visit.open(jobId)
        visit.accept()
        visit.logCall(CallOutcome.REACHED, "visit agreed")
        visit.book(LocalDateTime.now().plusMinutes(20))
        visit.checkIn()
        visit.hands.waitFor(Tags.WORK_DONE)

        visit.desk.reassign(jobId, other)
        visit.sync()
        visit.awaitCore("reassigned away") { it.reassignedAway }
        visit.hands.waitFor(Tags.JOB_REASSIGNED)
        visit.hands.screenshot("10-reassigned")

        val j = visit.job()
        val actionTags = listOf(
            Tags.ACCEPT, Tags.CALL_LOG, Tags.callOutcome(REACHED), Tags.BOOK_SUBMIT, Tags.RESCHEDULE_SUBMIT,
            Tags.GOODS_SUBMIT, Tags.PICKUP_SUBMIT, Tags.CHECK_IN, Tags.WORK_DONE, Tags.SIGNATURE_SAVE,
            Tags.CODE_SUBMIT, Tags.COMPLETE, Tags.CHECK_OUT, Tags.EXCEPTION_OPEN, Tags.EXCEPTION_SUBMIT,
        ) + PhotoCategory.entries.map(Tags::photo) + ExceptionKind.entries.map(Tags::exceptionKind) +
            j.checklist.flatMap { listOf(Tags.checklistYes(it.itemId), Tags.checklistNo(it.itemId)) } +
            j.timers.map { Tags.exemptionClaim(it.kind) }
        val offered = actionTags.filter(visit.hands::exists)
        assertEquals("no action offered on a job given to someone else", emptyList<String>(), offered)

        // Back in the list, the job stays, marked: the technician sees what became of their work.
        visit.hands.click(Tags.JOB_BACK)
        visit.hands.waitFor(Tags.jobRow(jobId))
        visit.hands.screenshot("11-reassigned-in-list")
        visit.hands.waitFor(Tags.jobRowReassigned(jobId))
    }
}
