package app.fieldcore.ui

import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.toAwtImage
import androidx.compose.ui.test.captureToImage
import androidx.compose.ui.test.junit4.ComposeContentTestRule
import androidx.compose.ui.test.onNodeWithTag
import androidx.compose.ui.test.performTouchInput
import app.fieldcore.FieldCoreClient
import app.fieldcore.SyncStatus
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.JobDetail
import app.fieldcore.ffi.Packaging
import app.fieldcore.ffi.PhotoCategory
import kotlinx.coroutines.runBlocking
import java.awt.image.BufferedImage
import java.io.File
import java.time.LocalDateTime
import java.time.format.DateTimeFormatter

/**
 * A technician with a phone running [App] against the shared server: each step is what they do
 * on the screen, by test tag, then a wait until the core has recorded it.
 */
class Visit(private val rule: ComposeContentTestRule, dir: File, technicianName: String = "李师傅") {
    val desk = SharedServer.desk
    val serverUrl = SharedServer.server.url
    val technician: String = desk.technician(technicianName)
    val platform = TestPlatform(dir)
    val client: FieldCoreClient = openClient(dir)
    var jobId: String? = null
        private set
    val hands = Hands(rule) { diagnose() }

    fun job(): JobDetail = runBlocking { client.job(jobId!!) } ?: error("the core does not know job $jobId")

    private fun diagnose(): String {
        val id = jobId ?: return "no job open; sync=${client.syncStatus.value}"
        val j = runBlocking { client.job(id) } ?: return "job $id unknown to the core"
        return "status=${j.status} next=${j.nextActions} missing=${j.completionMissing.map { it.what }} " +
            "exceptions=${j.exceptions.map { it.kind }} reassignedAway=${j.reassignedAway} sync=${client.syncStatus.value}"
    }

    /** Wait until the core's view of the job satisfies [predicate]. */
    fun awaitCore(what: String, predicate: (JobDetail) -> Boolean) {
        try {
            rule.waitUntil(TIMEOUT_MS) { predicate(job()) }
        } catch (e: Throwable) {
            throw AssertionError("core never reached: $what; ${diagnose()}", e)
        }
    }

    fun launch() = rule.setContent { App(client, platform, Strings.en) }

    fun enrol() {
        hands.replace(Tags.ENROL_SERVER, serverUrl)
        hands.type(Tags.ENROL_CODE, desk.enrolmentCode(technician))
        hands.type(Tags.ENROL_NAME, "UI test phone")
        hands.click(Tags.ENROL_SUBMIT)
        hands.waitFor(Tags.SYNC)
    }

    /** Press Sync and wait for this sync to finish (not an earlier one); fails if it failed. */
    fun sync(): SyncStatus.Finished {
        val before = client.syncStatus.value
        hands.click(Tags.SYNC)
        rule.waitUntil(TIMEOUT_MS) {
            val now = client.syncStatus.value
            now !== before && (now is SyncStatus.Finished || now is SyncStatus.Failed)
        }
        rule.waitForIdle()
        return client.syncStatus.value as? SyncStatus.Finished ?: throw AssertionError("sync: ${client.syncStatus.value}")
    }

    fun open(id: String) {
        jobId = id
        hands.click(Tags.jobRow(id))
        hands.waitFor(Tags.JOB_STATUS)
    }

    fun accept() {
        hands.click(Tags.ACCEPT)
        awaitCore("accepted") { it.acceptedAt != null }
    }

    fun logCall(outcome: CallOutcome, note: String) {
        val calls = job().calls.size
        hands.click(Tags.callOutcome(outcome))
        hands.type(Tags.CALL_NOTE, note)
        hands.click(Tags.CALL_LOG)
        awaitCore("call logged") { it.calls.size == calls + 1 }
    }

    fun enterTime(prefix: String, at: LocalDateTime) {
        hands.type(Tags.date(prefix), at.format(DateTimeFormatter.ISO_LOCAL_DATE))
        hands.type(Tags.time(prefix), at.format(DateTimeFormatter.ofPattern("HH:mm")))
    }

    fun goodsArrived(at: LocalDateTime) {
        enterTime(Tags.GOODS, at)
        hands.click(Tags.GOODS_SUBMIT)
        awaitCore("goods arrived") { it.goodsArrivedAt != null }
    }

    fun book(at: LocalDateTime) {
        enterTime(Tags.BOOK, at)
        hands.click(Tags.BOOK_SUBMIT)
        awaitCore("booked") { it.appointmentAt != null }
    }

    fun photo(category: PhotoCategory) {
        val photos = job().photos.size
        hands.click(Tags.photo(category))
        awaitCore("$category photo stored") { it.photos.size == photos + 1 }
    }

    fun pickup(pieces: Int, packaging: Packaging) {
        hands.type(Tags.PICKUP_PIECES, pieces.toString())
        hands.click(Tags.packaging(packaging))
        hands.click(Tags.PICKUP_SUBMIT)
        awaitCore("pickup recorded") { it.pickup != null }
    }

    fun checkIn() {
        hands.click(Tags.CHECK_IN)
        awaitCore("checked in") { it.checkedInAt != null }
    }

    /** Answer every item yes, as a technician who did everything right. */
    fun answerChecklist() {
        for (item in job().checklist) {
            hands.click(Tags.checklistYes(item.itemId))
            awaitCore("checklist ${item.itemId} answered") { j -> j.checklist.first { it.itemId == item.itemId }.answer == true }
        }
    }

    fun workDone(note: String) {
        hands.type(Tags.WORK_NOTE, note)
        hands.click(Tags.WORK_DONE)
        awaitCore("work done") { it.workDoneAt != null }
    }

    /** The customer signs on the pad: two strokes, drawn by touch. */
    fun drawSignature() {
        hands.scrolledTo(Tags.SIGNATURE_PAD).performTouchInput {
            down(Offset(width * 0.1f, height * 0.6f))
            for (i in 1..24) moveTo(Offset(width * (0.1f + i * 0.015f), height * (0.6f - 0.3f * kotlin.math.sin(i / 3.0).toFloat())))
            up()
            down(Offset(width * 0.55f, height * 0.3f))
            for (i in 1..16) moveTo(Offset(width * (0.55f + i * 0.02f), height * (0.3f + i * 0.03f)))
            up()
        }
        rule.waitForIdle()
    }

    /** The pad as the customer sees it now. */
    fun padImage(): BufferedImage = rule.onNodeWithTag(Tags.SIGNATURE_PAD).captureToImage().toAwtImage()

    fun saveSignature() {
        hands.click(Tags.SIGNATURE_SAVE)
        awaitCore("signature captured") { it.signatureCaptured }
    }

    fun enterCode(code: String) {
        hands.type(Tags.CODE_INPUT, code)
        hands.click(Tags.CODE_SUBMIT)
        awaitCore("code entered") { it.codeEntered }
    }

    fun complete() {
        hands.click(Tags.COMPLETE)
        awaitCore("completed") { it.completedAt != null }
        hands.waitFor(Tags.COMPLETED)
    }
}

/** Pixels dark enough to be ink (the pad is white, its border grey). */
fun BufferedImage.darkPixels(): Int {
    var n = 0
    for (y in 0 until height) for (x in 0 until width) {
        val rgb = getRGB(x, y)
        val r = rgb shr 16 and 0xff
        val g = rgb shr 8 and 0xff
        val b = rgb and 0xff
        if (r < 80 && g < 80 && b < 80) n++
    }
    return n
}
