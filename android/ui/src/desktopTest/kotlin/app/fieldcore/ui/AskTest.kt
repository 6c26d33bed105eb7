package app.fieldcore.ui

import androidx.compose.ui.test.junit4.createComposeRule
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.revoke
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.time.LocalDateTime

/**
 * What the app asks rather than assumes: the customer's consent to move the visit, and a new
 * enrolment once the desk has revoked the phone (its recorded work kept and sent after).
 */
class AskTest {
    @get:Rule val rule = createComposeRule()
    @get:Rule val tmp = TemporaryFolder()

    private lateinit var visit: Visit

    @After fun close() {
        if (::visit.isInitialized) visit.client.close()
    }

    @Test fun `the visit moves only once the technician ticks the customer's consent`() {
        visit = Visit(rule, tmp.root, "蒋师傅")
        val jobId = visit.desk.installJob(visit.technician)
        visit.launch()
        visit.enrol()
        visit.sync()
        visit.open(jobId)
        visit.accept()
        visit.logCall(CallOutcome.REACHED, "visit agreed")
        visit.book(LocalDateTime.now().plusHours(2))

        visit.enterTime(Tags.RESCHEDULE, LocalDateTime.now().plusDays(1))
        visit.hands.type(Tags.RESCHEDULE_REASON, "part not in stock")
        visit.hands.click(Tags.RESCHEDULE_SUBMIT)
        visit.hands.waitFor(Tags.JOB_MESSAGE)
        assertTrue(visit.hands.textOf(Tags.JOB_MESSAGE, editable = false).contains("consent"))
        assertEquals("not moved without consent", 0u, visit.job().reschedules)
        visit.hands.screenshot("12-reschedule-refused-without-consent")

        visit.hands.click(Tags.RESCHEDULE_CONSENT)
        visit.hands.click(Tags.RESCHEDULE_SUBMIT)
        visit.awaitCore("rescheduled") { it.reschedules == 1u }
    }

    @Test fun `a revoked phone asks for a new enrolment and sends its work after`() {
        visit = Visit(rule, tmp.root, "沈师傅")
        val jobId = visit.desk.installJob(visit.technician)
        visit.launch()
        visit.enrol()
        visit.sync()
        visit.open(jobId)
        visit.accept()
        visit.desk.revoke(visit.client.deviceId)

        visit.hands.click(Tags.SYNC)
        visit.hands.waitFor(Tags.ENROL_REVOKED)
        visit.hands.screenshot("13-revoked-enrol-again")
        visit.enrol()
        visit.sync()
        assertTrue(
            "the acceptance made before the revocation reached the desk",
            Regex("\"accepted_at\"\\s*:\\s*\"").containsMatchIn(visit.desk.jobDetail(jobId)),
        )
    }
}
