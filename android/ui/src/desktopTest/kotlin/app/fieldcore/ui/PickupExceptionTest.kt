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

    @Test fun `an exception raised by hand carries its photo to the desk`() {
        visit = Visit(rule, tmp.root, "韩师傅")
        val jobId = visit.desk.installJob(visit.technician)
        visit.launch()
        visit.enrol()
        visit.sync()
        visit.open(jobId)
        visit.accept()
        visit.logCall(CallOutcome.REACHED, "visit agreed")
        visit.book(LocalDateTime.now().plusMinutes(30))
        visit.checkIn()

        visit.hands.click(Tags.EXCEPTION_OPEN)
        visit.hands.click(Tags.exceptionKind(ExceptionKind.EXTRA_FEE_NEEDED))
        visit.hands.type(Tags.EXCEPTION_NOTE, "the wall bracket is not on the order")
        val photos = visit.job().photos.size
        visit.hands.click(Tags.photo(PhotoCategory.EXCEPTION))
        visit.awaitCore("exception photo stored") { it.photos.size == photos + 1 }
        visit.hands.click(Tags.EXCEPTION_SUBMIT)
        visit.awaitCore("exception raised") { j -> j.exceptions.any { it.kind == ExceptionKind.EXTRA_FEE_NEEDED } }
        visit.hands.waitFor(Tags.exception(ExceptionKind.EXTRA_FEE_NEEDED))
        val photo = visit.job().photos.single { it.category == PhotoCategory.EXCEPTION }

        visit.sync()
        val onDesk = visit.desk.jobDetail(jobId)
        assertTrue(onDesk, onDesk.contains("\"extra_fee_needed\""))
        val attached = Regex("\"photo_ids\"\\s*:\\s*\\[[^\\]]*\"${photo.photoId}\"")
        assertTrue("the desk sees the exception with its photo: $onDesk", attached.containsMatchIn(onDesk))
    }
}
