package app.fieldcore.ui

import androidx.compose.ui.test.junit4.createComposeRule
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.time.Duration
import java.time.Instant

/**
 * The desk books two of the technician's visits 40 minutes apart: after a sync, both rows of the
 * list warn of the other visit, as the desk's answer does, and the job screen says it too.
 */
class ScheduleConflictTest {
    @get:Rule val rule = createComposeRule()
    @get:Rule val tmp = TemporaryFolder()

    private lateinit var visit: Visit

    @After fun close() {
        if (::visit.isInitialized) visit.client.close()
    }

    @Test fun `two visits too close warn on both rows, as on the desk`() {
        visit = Visit(rule, tmp.root, "孙师傅")
        val first = visit.desk.installJob(visit.technician)
        val second = visit.desk.repairJob(visit.technician)
        val at = Instant.now().plus(Duration.ofHours(3))
        visit.desk.book(first, at)
        visit.desk.book(second, at.plus(Duration.ofMinutes(40)))
        assertEquals(1, visit.desk.scheduleConflicts(first))
        assertEquals(1, visit.desk.scheduleConflicts(second))

        visit.launch()
        visit.enrol()
        visit.sync()
        visit.hands.click(Tags.LIST_ALL)
        for (job in listOf(first, second)) {
            visit.hands.waitFor(Tags.jobRowConflict(job, 0))
            assertEquals(false, visit.hands.exists(Tags.jobRowConflict(job, 1)))
        }
        visit.hands.screenshot("12-schedule-conflict")

        visit.open(second)
        visit.hands.waitFor(Tags.jobConflict(0))
    }
}
