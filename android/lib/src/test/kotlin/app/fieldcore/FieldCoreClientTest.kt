package app.fieldcore

import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.GeoPoint
import app.fieldcore.ffi.JobStatus
import app.fieldcore.ffi.PhotoCategory
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.time.Duration
import java.time.Instant

/**
 * The Kotlin library against the host-built core and, for the flows, a real sync-server on
 * 127.0.0.1: what the Android app does, minus the UI.
 */
class FieldCoreClientTest : WithServer() {
    @Test
    fun `a new device is not enrolled and says so with a typed error`(@TempDir dir: File) = runBlocking<Unit> {
        openClient(dir, null).use { client ->
            val status = client.status()
            assertFalse(status.enrolled)
            assertEquals(0uL, status.outboxLen)
            assertEquals(client.deviceId, status.deviceId)
            assertThrows<FieldCoreError.NotEnrolled> { client.accept("0190b5d2-0000-7000-8000-000000000000") }
            assertThrows<FieldCoreError.InvalidInput> { client.accept("not an id") }
            val failure = assertThrows<FieldCoreError.NotEnrolled> { client.sync() }
            assertTrue(client.syncStatus.value is SyncStatus.Failed, "${client.syncStatus.value}")
            assertTrue(failure.message!!.isNotBlank())
        }
    }

    @Test
    fun `a whole visit offline, then synced, reaches the desk completed with its photos`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("李师傅")
        val jobId = desk.installJob(technician)

        openClient(dir, server).use { client ->
            val enrolled = client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            assertEquals(technician, enrolled.technicianId)
            client.sync()
            assertEquals(listOf(jobId), client.jobs().map { it.jobId })

            client.accept(jobId)
            client.logCall(jobId, CallOutcome.REACHED, "visit booked for this afternoon")
            client.bookAppointment(jobId, Instant.now().plus(Duration.ofMinutes(20)))
            client.checkIn(jobId, GeoPoint(31.2304, 121.4737, 12.0))
            val onSite = client.job(jobId)!!
            assertEquals(JobStatus.ON_SITE, onSite.status)
            assertTrue(onSite.timers.isNotEmpty())
            for (item in onSite.checklist.filter { it.required }) {
                client.answerChecklist(jobId, item.itemId, true)
            }
            client.markWorkDone(jobId, "installed and tested")
            client.capturePhoto(jobId, PhotoCategory.COMPLETION, cameraJpeg(dir, 1))
            val second = cameraJpeg(dir, 2)
            client.capturePhoto(jobId, PhotoCategory.COMPLETION, second, GeoPoint(31.2304, 121.4737, null))
            assertFalse(second.exists(), "the camera's original is deleted once stored")
            val signature = listOf((0 until 40).map { PenSample(20f + it * 9f, 100f + (it % 7) * 6f, it * 16) })
            client.captureSignature(jobId, 400, 200, signature)
            client.capturePhoto(jobId, PhotoCategory.RECEIPT, cameraJpeg(dir, 3))
            client.enterConfirmationCode(jobId, "834201")
            val ready = client.job(jobId)!!
            assertEquals(emptyList<Any>(), ready.completionMissing, "${ready.completionMissing}")
            client.complete(jobId, "customer satisfied")

            val before = client.status()
            assertTrue(before.outboxLen > 0uL)
            assertEquals(4uL, before.photosAwaitingUpload)

            val report = client.sync()
            assertEquals(0u, report.rejected, "${report.errors}")
            assertEquals(4u, report.photosUploaded, "${report.errors}")
            val finished = client.syncStatus.value
            assertTrue(finished is SyncStatus.Finished, "$finished")

            val after = client.status()
            assertEquals(0uL, after.outboxLen)
            assertEquals(0uL, after.photosAwaitingUpload)
            val done = client.job(jobId)!!
            assertEquals(JobStatus.COMPLETED, done.status)
            assertNotNull(done.completedAt)
            assertTrue(done.timeline.filter { it.byTechnician }.all { it.pushState.name == "ACCEPTED" || it.pushState.name == "DUPLICATE" })

            // The server holds every photo now: a phone short of space may drop the files.
            val kept = client.housekeeping(pruneUploadedAfterDays = 30)
            assertEquals(0u, kept.photosPruned, "not 30 days old yet")
            val freed = client.housekeeping(pruneUploadedAfterDays = 0)
            assertEquals(4u, freed.photosPruned)
            assertTrue(freed.bytesFreed > 0uL)
            assertEquals(JobStatus.COMPLETED, client.job(jobId)!!.status)
            assertEquals(0uL, client.status().photosAwaitingUpload)
        }

        val onServer = desk.jobDetail(jobId)
        assertTrue(Regex("\"status\"\\s*:\\s*\"completed\"").containsMatchIn(onServer), onServer)
        assertEquals(4, Regex("\"uploaded\"\\s*:\\s*true").findAll(onServer).count(), onServer)
    }

    @Test
    fun `a refused action throws the rule and the message in zh-CN`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("张师傅")
        val jobId = desk.installJob(technician)
        openClient(dir, server, Language.ZH_CN).use { client ->
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            client.sync()
            client.accept(jobId)
            val refused = assertThrows<FieldCoreError.Refused> { client.markWorkDone(jobId) }
            assertEquals("not_checked_in", refused.rule)
            assertTrue(refused.message!!.contains("签到"), refused.message)
            val refusedCode = assertThrows<FieldCoreError.Refused> { client.enterConfirmationCode(jobId, "1234") }
            assertTrue(refusedCode.rule.isNotBlank())
            val detail = client.job(jobId)!!
            assertTrue(detail.checklist.all { item -> item.text.any { it in '\u4e00'..'\u9fff' } })
        }
    }
}
