package app.fieldcore

import app.fieldcore.ffi.ExceptionKind
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.time.Duration
import java.time.Instant
import java.util.Locale

/** What the app must ask the technician, enforced by the core rather than assumed by a shell. */
class VisitRulesTest : WithServer() {
    @Test
    fun `a damaged, short pickup raises both exceptions with its photos, and the desk sees them`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("褚师傅")
        val job = desk.deliveryJob(technician, expectedPieces = 3)
        openClient(dir, server).use { client ->
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            client.sync()
            client.accept(job)
            client.goodsArrived(job, Instant.now().minus(Duration.ofHours(3)), "at the depot since this morning")
            val photos = (1..2).map { client.capturePhoto(job, PhotoCategory.PICKUP, cameraJpeg(dir, it)).photoId }
            client.recordPickup(job, pieces = 2, packaging = Packaging.DAMAGED, note = "one box crushed, one missing")
            val detail = client.job(job)!!
            val kinds = detail.exceptions.map { it.kind }.toSet()
            assertEquals(setOf(ExceptionKind.PICKUP_DAMAGED, ExceptionKind.PICKUP_COUNT_MISMATCH), kinds)
            assertEquals(2u, detail.pickup!!.pieces)
            assertEquals(photos.toSet(), detail.photos.filter { it.category == PhotoCategory.PICKUP }.map { it.photoId }.toSet())
            assertEquals(0u, client.sync().rejected)
        }
        val onDesk = desk.jobDetail(job)
        assertTrue(onDesk.contains("pickup_damaged") && onDesk.contains("pickup_count_mismatch"), onDesk)
    }

    @Test
    fun `moving the visit without the customer's consent is refused`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("卫师傅")
        val job = desk.installJob(technician)
        openClient(dir, server).use { client ->
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            client.sync()
            client.accept(job)
            client.bookAppointment(job, Instant.now().plus(Duration.ofHours(3)))
            val tomorrow = Instant.now().plus(Duration.ofDays(1))
            val refused = assertThrows<FieldCoreError.Refused> {
                client.reschedule(job, tomorrow, "running late", customerConsented = false)
            }
            assertEquals("invalid_input", refused.rule)
            assertTrue(refused.message!!.contains("consent"), refused.message)
            client.reschedule(job, tomorrow, "running late, customer agreed", customerConsented = true)
            assertEquals(1u, client.job(job)!!.reschedules)
        }
    }

    @Test
    fun `the language follows the device locale by the core's rule`() {
        assertEquals(Language.ZH_CN, Language.forLocale(Locale.SIMPLIFIED_CHINESE))
        assertEquals(Language.ZH_CN, Language.forLocale(Locale.TAIWAN))
        assertEquals(Language.EN, Language.forLocale(Locale.US))
        assertEquals(Language.EN, Language.forLocale(Locale.GERMANY))
    }
}
