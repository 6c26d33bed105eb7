package app.fieldcore

import app.fieldcore.ffi.Authorization
import app.fieldcore.ffi.FailureKind
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.time.Duration

/**
 * Sync as the app's status line and scheduler see it: typed failures, the core's retry rule,
 * cancellation (by call and by coroutine), coalescing, and the state kept across restarts.
 */
class SyncTest : WithServer() {
    /** A client enrolled with a server of its own that is then stopped: the network is gone. */
    private suspend fun enrolledThenServerGone(dir: File): FieldCoreClient {
        assumeTrue(TestServer.binary != null, "no sync-server binary")
        val lost = TestServer.start()
        val desk = Desk(lost.url)
        val technician = desk.technician("赵师傅")
        val client = openClient(dir, lost)
        client.enroll(lost.url, desk.enrolmentCode(technician), "JUnit phone")
        client.sync()
        lost.close()
        return client
    }

    @Test
    fun `a device that is not enrolled fails typed and is not retried on a timer`(@TempDir dir: File) = runBlocking<Unit> {
        openClient(dir, null).use { client ->
            assertThrows<FieldCoreError.NotEnrolled> { client.sync() }
            val failed = client.syncStatus.value as SyncStatus.Failed
            assertEquals(FailureKind.NOT_ENROLLED, failed.failure.kind)
            assertFalse(failed.failure.transient)
            assertNull(FieldCoreClient.retryDelay(failed.failure, 1), "the technician must enrol")
            assertEquals(Authorization.NOT_ENROLLED, client.status().authorization)
        }
    }

    @Test
    fun `a lost network fails typed and transient, retried by the core's schedule`(@TempDir dir: File) = runBlocking<Unit> {
        enrolledThenServerGone(dir).use { client ->
            val thrown = assertThrows<FieldCoreError.Network> { client.sync() }
            assertEquals(FailureKind.NETWORK, thrown.syncFailure?.kind, "the call's own failure travels with the error")
            val failed = client.syncStatus.value as SyncStatus.Failed
            assertEquals(FailureKind.NETWORK, failed.failure.kind)
            assertTrue(failed.failure.transient)
            assertNull(failed.failure.httpStatus)
            assertEquals(Duration.ofSeconds(30), FieldCoreClient.retryDelay(failed.failure, 1))
            assertEquals(Duration.ofSeconds(60), FieldCoreClient.retryDelay(failed.failure, 2))
            assertEquals(Duration.ofHours(1), FieldCoreClient.retryDelay(failed.failure, 40))
        }
    }

    @Test
    fun `cancelSync stops a sync waiting on the network, and the next sync runs`(@TempDir dir: File) = runBlocking<Unit> {
        enrolledThenServerGone(dir).use { client ->
            val started = System.nanoTime()
            val syncing = async { runCatching { client.sync() } }
            withTimeout(10_000) { client.syncStatus.first { it is SyncStatus.Running } }
            client.cancelSync()
            val outcome = syncing.await()
            assertTrue(outcome.exceptionOrNull() is FieldCoreError.Cancelled, "$outcome")
            assertTrue(client.syncStatus.value is SyncStatus.Cancelled, "${client.syncStatus.value}")
            assertTrue(Duration.ofNanos(System.nanoTime() - started) < Duration.ofSeconds(10))
            // Not stuck cancelled: the next sync goes to the network again.
            assertThrows<FieldCoreError.Network> { client.sync() }
        }
    }

    @Test
    fun `cancelling the calling coroutine stops the core's sync`(@TempDir dir: File) = runBlocking<Unit> {
        enrolledThenServerGone(dir).use { client ->
            val job = launch { client.sync() }
            withTimeout(10_000) { client.syncStatus.first { it is SyncStatus.Running } }
            withTimeout(10_000) { job.cancelAndJoin() }
            withTimeout(10_000) { client.syncStatus.first { it is SyncStatus.Cancelled } }
        }
    }

    @Test
    fun `syncs asked for at once share the work and all succeed`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("孙师傅")
        val jobs = (1..3).map { desk.installJob(technician) }
        openClient(dir, server).use { client ->
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            client.sync()
            jobs.forEach { client.accept(it) }
            val reports = (1..4).map { async { client.sync() } }.awaitAll()
            assertEquals(3u, reports.sumOf { it.accepted }, "each event accepted once: $reports")
            assertEquals(0uL, client.status().outboxLen)
            assertTrue(client.syncStatus.value is SyncStatus.Finished)
        }
    }

    @Test
    fun `last sync and revocation survive a restart, and a revoked device enrols again`(@TempDir dir: File) = runBlocking<Unit> {
        val server = requireServer()
        val desk = Desk(server.url)
        val technician = desk.technician("周师傅")
        val job = desk.installJob(technician)
        val deviceId: String
        openClient(dir, server).use { client ->
            deviceId = client.deviceId
            assertNull(client.status().lastSyncedAt)
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            client.sync()
            assertNotNull(client.status().lastSyncedAt)
            client.accept(job)
            desk.revoke(deviceId)
            assertEquals(Authorization.ENROLLED, client.authorization.value)
            assertThrows<FieldCoreError.Unauthorized> { client.sync() }
            assertEquals(Authorization.REVOKED, client.authorization.value, "the app turns to enrolment at once")
            val failed = client.syncStatus.value as SyncStatus.Failed
            assertEquals(FailureKind.UNAUTHORIZED, failed.failure.kind)
            assertNull(FieldCoreClient.retryDelay(failed.failure, 1), "no timer brings a revoked device back")
        }
        openClient(dir, server).use { client ->
            val status = client.status()
            assertEquals(Authorization.REVOKED, status.authorization, "the app opens on enrolment again")
            assertEquals(Authorization.REVOKED, client.authorization.value)
            assertNotNull(status.lastSyncedAt)
            assertEquals(1uL, status.outboxLen, "the unsynced acceptance is kept")
            client.enroll(server.url, desk.enrolmentCode(technician), "JUnit phone")
            assertEquals(Authorization.ENROLLED, client.status().authorization)
            assertEquals(Authorization.ENROLLED, client.authorization.value)
            assertEquals(1u, client.sync().accepted)
        }
        assertTrue(Regex("\"accepted_at\"\\s*:\\s*\"").containsMatchIn(desk.jobDetail(job)))
    }
}
