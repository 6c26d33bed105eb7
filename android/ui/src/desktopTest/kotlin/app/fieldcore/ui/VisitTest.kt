package app.fieldcore.ui

import androidx.compose.ui.test.junit4.createComposeRule
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.JobStatus
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
 * A whole visit of each job kind, clicked through the screens from accept to completed, then
 * synced: the desk sees the job completed with every photo uploaded.
 */
class VisitTest {
    @get:Rule val rule = createComposeRule()
    @get:Rule val tmp = TemporaryFolder()

    private lateinit var visit: Visit

    @After fun close() {
        if (::visit.isInitialized) visit.client.close()
    }

    @Test fun `an install visit from accept to completed reaches the desk`() {
        visit = Visit(rule, tmp.root)
        val jobId = visit.desk.installJob(visit.technician)
        visit.launch()
        visit.hands.screenshot("01-enrolment")
        visit.enrol()
        visit.sync()
        visit.hands.screenshot("02-job-list")
        visit.open(jobId)
        visit.hands.screenshot("03-install-new")
        visit.accept()
        visit.logCall(CallOutcome.REACHED, "visit agreed")
        visit.book(LocalDateTime.now().plusMinutes(20))
        visit.hands.screenshot("04-install-booked")
        onSite(jobId, expectCode = true)
    }

    @Test fun `a delivery-and-install visit with goods arrival and an intact pickup reaches the desk`() {
        visit = Visit(rule, tmp.root, "王师傅")
        val jobId = visit.desk.deliveryJob(visit.technician, expectedPieces = 2)
        visit.launch()
        visit.enrol()
        visit.sync()
        visit.open(jobId)
        visit.accept()
        visit.goodsArrived(LocalDateTime.now().minusMinutes(30))
        visit.logCall(CallOutcome.REACHED, "delivery agreed")
        visit.book(LocalDateTime.now().plusMinutes(20))
        visit.photo(PhotoCategory.PICKUP)
        visit.photo(PhotoCategory.PICKUP)
        visit.pickup(2, Packaging.INTACT)
        visit.hands.screenshot("05-delivery-picked-up")
        val picked = visit.job()
        assertEquals(2u, picked.pickup!!.pieces)
        assertEquals(Packaging.INTACT, picked.pickup!!.packaging)
        assertEquals("an intact, complete pickup raises nothing", emptyList<Any>(), picked.exceptions)
        onSite(jobId, expectCode = true)
    }

    @Test fun `a repair visit from accept to completed reaches the desk`() {
        visit = Visit(rule, tmp.root, "赵师傅")
        val jobId = visit.desk.repairJob(visit.technician, severity = 2)
        visit.launch()
        visit.enrol()
        visit.sync()
        visit.open(jobId)
        visit.accept()
        visit.logCall(CallOutcome.REACHED, "coming this afternoon")
        visit.book(LocalDateTime.now().plusMinutes(20))
        onSite(jobId, expectCode = false)
    }

    /** Check-in to completion, then sync and look from the desk. */
    private fun onSite(jobId: String, expectCode: Boolean) {
        visit.checkIn()
        assertEquals(visit.platform.location, visit.job().checkInLocation)
        visit.answerChecklist()
        visit.workDone("installed and tested")
        visit.photo(PhotoCategory.COMPLETION)
        visit.photo(PhotoCategory.COMPLETION)
        visit.photo(PhotoCategory.RECEIPT)
        visit.drawSignature()
        visit.saveSignature()
        if (expectCode) visit.enterCode("834201")
        visit.hands.screenshot("06-${visit.job().kind.name.lowercase()}-ready")
        assertEquals(emptyList<Any>(), visit.job().completionMissing)
        visit.complete()
        assertEquals(JobStatus.COMPLETED, visit.job().status)
        assertTrue("actions ask for a sync", visit.platform.syncRequests.get() > 0)

        val report = visit.sync()
        assertEquals("${report.report.errors}", 0u, report.report.rejected)
        visit.hands.screenshot("07-${visit.job().kind.name.lowercase()}-completed-synced")
        val photos = visit.job().photos.size
        val onServer = visit.desk.jobDetail(jobId)
        assertTrue(onServer, Regex("\"status\"\\s*:\\s*\"completed\"").containsMatchIn(onServer))
        // The desk's photo list ends the document: every photo the phone took, each uploaded.
        val deskPhotos = onServer.substringAfterLast("\"photos\":")
        assertEquals(deskPhotos, photos, Regex("\"uploaded\"\\s*:\\s*true").findAll(deskPhotos).count())
        assertEquals(deskPhotos, 0, Regex("\"uploaded\"\\s*:\\s*false").findAll(deskPhotos).count())
    }
}
