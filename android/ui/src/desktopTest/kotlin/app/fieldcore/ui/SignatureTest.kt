package app.fieldcore.ui

import androidx.compose.ui.test.junit4.createComposeRule
import app.fieldcore.ffi.CallOutcome
import app.fieldcore.ffi.PhotoCategory
import org.junit.After
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.io.ByteArrayInputStream
import java.io.File
import java.time.LocalDateTime
import javax.imageio.ImageIO

/** The customer signs with a finger: ink shows on the pad as they draw, and the core keeps the strokes. */
class SignatureTest {
    @get:Rule val rule = createComposeRule()
    @get:Rule val tmp = TemporaryFolder()

    private lateinit var visit: Visit

    @After fun close() {
        if (::visit.isInitialized) visit.client.close()
    }

    @Test fun `the customer's strokes show as ink and are recorded`() {
        visit = Visit(rule, tmp.root, "周师傅")
        val jobId = visit.desk.installJob(visit.technician)
        visit.launch()
        visit.enrol()
        visit.sync()
        visit.open(jobId)
        visit.accept()
        visit.logCall(CallOutcome.REACHED, "visit agreed")
        visit.book(LocalDateTime.now().plusMinutes(20))
        visit.checkIn()
        visit.answerChecklist()
        visit.workDone("installed")

        visit.hands.waitFor(Tags.SIGNATURE_PAD)
        visit.hands.scrolledTo(Tags.SIGNATURE_PAD)
        val blank = visit.padImage().darkPixels()
        assertTrue("an empty pad has no ink ($blank dark pixels)", blank < 20)
        assertFalse("nothing to save before the customer signs", visit.hands.isEnabled(Tags.SIGNATURE_SAVE))

        visit.drawSignature()
        val signed = visit.padImage()
        ImageIO.write(signed, "png", File(screenshotDir, "09-signature-pad.png"))
        val ink = signed.darkPixels()
        assertTrue("the strokes show as ink while drawing ($ink dark pixels)", ink > 300)
        assertFalse(visit.job().signatureCaptured)

        visit.saveSignature()
        visit.hands.waitFor(Tags.SIGNATURE_CAPTURED)
        assertTrue(visit.job().signatureCaptured)
        val photo = visit.job().photos.single { it.category == PhotoCategory.SIGNATURE }

        // What the desk and the ordering party get: the core's rendering of the same strokes.
        visit.sync()
        val onServer = ImageIO.read(ByteArrayInputStream(visit.desk.photo(photo.photoId)))
        val served = onServer.darkPixels()
        assertTrue("the signature the desk downloads carries the ink ($served dark pixels)", served > 300)
    }
}
