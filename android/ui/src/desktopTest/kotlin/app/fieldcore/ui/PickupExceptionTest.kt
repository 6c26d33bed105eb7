package app.fieldcore.ui

import androidx.compose.ui.test.junit4.createComposeRule
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.ExceptionKind
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.time.LocalDateTime

/**
 * A pickup with damaged packaging and a piece short: the technician records what they saw, the
 * core raises the exceptions itself, and the job screen shows them.
 */
class PickupExceptionTest {
    @get:Rule val rule = createComposeRule()
    @get:Rule val tmp = TemporaryFolder()

    private lateinit var visit: Visit

    @After fun close() {
        if (::visit.isInitialized) visit.client.close()
    }

    @Test fun `a damaged, short pickup shows the exceptions the core raised`() {
        visit = Visit(rule, tmp.root, "孙师傅")
        val jobId = visit.desk.deliveryJob(visit.technician, expectedPieces = 3)
        visit.launch()
        visit.enrol()
        visit.sync()
        visit.open(jobId)
        visit.accept()
        visit.goodsArrived(LocalDateTime.now().minusMinutes(45))
        visit.logCall(CallOutcome.REACHED, "delivery agreed")
        visit.book(LocalDateTime.now().plusMinutes(30))

        // The goods are photographed first (the core asks for it before the pickup is recorded).
        visit.photo(PhotoCategory.PICKUP)
        // Nothing is chosen for the technician: the count is empty, no packaging state is picked.
        visit.hands.waitFor(Tags.PICKUP_PIECES)
        assertTrue("the piece count starts empty", visit.hands.textOf(Tags.PICKUP_PIECES).isEmpty())
        assertTrue("no packaging state preselected", !visit.hands.isSelected(Tags.packaging(Packaging.INTACT)) && !visit.hands.isSelected(Tags.packaging(Packaging.DAMAGED)))
        assertTrue("no count, no packaging: nothing to record", !visit.hands.isEnabled(Tags.PICKUP_SUBMIT))

        visit.photo(PhotoCategory.PICKUP)
        visit.pickup(2, Packaging.DAMAGED)
        visit.awaitCore("exceptions raised") { it.exceptions.isNotEmpty() }
        val kinds = visit.job().exceptions.map { it.kind }.toSet()
        assertEquals(setOf(ExceptionKind.PICKUP_DAMAGED, ExceptionKind.PICKUP_COUNT_MISMATCH), kinds)
        kinds.forEach { visit.hands.waitFor(Tags.exception(it)) }
        visit.hands.scrolledTo(Tags.EXCEPTIONS)
        visit.hands.screenshot("08-delivery-damaged-pickup")
    }
}
