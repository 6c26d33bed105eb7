package app.fieldcore

import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.JobStatus
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.transformWhile
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File

/** The screens' data as flows: told after local actions and after the desk's changes arrive. */
class WatchTest : WithServer() {
    @Test
    fun `the job list flow follows the technician's own actions`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("吴师傅")
        val jobs = listOf(desk.installJob(technician), desk.repairJob(technician))
        openClient(dir, server).use { client ->
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            client.sync()
            val accepted = client.watchJobs(listOf(JobStatus.ACCEPTED))
            withTimeout(10_000) { accepted.first { it.isEmpty() } }
            client.accept(jobs[1])
            val now = withTimeout(10_000) { accepted.first { it.isNotEmpty() } }
            assertEquals(listOf(jobs[1]), now.map { it.jobId })
            val all = withTimeout(10_000) { client.watchJobs().first() }
            assertEquals(jobs.toSet(), all.map { it.jobId }.toSet())
        }
    }

    @Test
    fun `a job's flow shows the desk's reassignment once synced, with no actions left`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("郑师傅")
        val colleague = desk.technician("冯师傅")
        val job = desk.installJob(technician)
        openClient(dir, server).use { client ->
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            val flow = client.watchJob(job)
            assertNull(withTimeout(10_000) { flow.first() }, "not known before the first pull")
            client.sync()
            client.accept(job)
            client.logCall(job, CallOutcome.REACHED, "on my way")
            val mine = withTimeout(10_000) { flow.first { it != null && it.calls.isNotEmpty() } }!!
            assertTrue(mine.nextActions.isNotEmpty())
            desk.reassign(job, colleague)
            client.sync()
            val gone = withTimeout(10_000) { flow.first { it?.reassignedAway == true } }!!
            assertEquals(emptyList<Any>(), gone.nextActions, "nothing more to do on a job given away")
        }
    }

    @Test
    fun `a collector hears the changes in order and ends on the latest`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("陈师傅")
        val job = desk.installJob(technician)
        openClient(dir, server).use { client ->
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            client.sync()
            val heard = async {
                client.watchJob(job).transformWhile { emit(it!!); it.calls.isEmpty() }.toList()
            }
            withTimeout(10_000) { client.watchJob(job).first { it != null } }
            client.accept(job)
            delay(300)
            client.logCall(job, CallOutcome.REACHED, "booked for the afternoon")
            val values = withTimeout(10_000) { heard.await() }
            val statuses = values.map { it.status }
            assertEquals(statuses.sortedBy { it.ordinal }, statuses, "never back in time: $statuses")
            assertEquals(JobStatus.ACCEPTED, statuses.last())
            assertEquals("booked for the afternoon", values.last().calls.single().note)
        }
    }
}
