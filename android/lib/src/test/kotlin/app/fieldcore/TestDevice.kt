package app.fieldcore

import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.TestInstance
import java.awt.Color
import java.awt.image.BufferedImage
import java.io.File
import javax.imageio.ImageIO

/** The phone side of the tests: a client on a fresh store in [dir]. */
suspend fun openClient(dir: File, server: TestServer?, language: Language = Language.EN): FieldCoreClient =
    FieldCoreClient.open(
        FieldCoreConfig(
            databaseFile = File(dir, "core/fieldcore.db"),
            serverUrl = server?.url,
            language = language,
        ),
    )

/** A camera file: a JPEG with some structure, different for each [seed]. */
fun cameraJpeg(dir: File, seed: Int): File {
    val image = BufferedImage(1200, 900, BufferedImage.TYPE_INT_RGB)
    val g = image.createGraphics()
    g.color = Color(30 + seed * 40 % 200, 120, 200 - seed * 30 % 150)
    g.fillRect(0, 0, 1200, 900)
    g.color = Color.WHITE
    g.fillOval(100 + seed * 50, 100, 500, 400)
    g.dispose()
    val file = File(dir, "camera-$seed.jpg")
    check(ImageIO.write(image, "jpg", file))
    return file
}

/** The desk withdraws the phone (a lost or stolen device). */
fun Desk.revoke(deviceId: String) {
    val (status, body) = send("POST", "/v1/devices/$deviceId/revoke", "{}")
    check(status in 200..299) { "revoke: $status $body" }
}

/**
 * A test class with one real sync-server for all its tests, started when the binary is given
 * (`fieldcore.server.bin`, set by scripts/test-kotlin); a test that needs it is skipped without.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class WithServer {
    private var server: TestServer? = null

    @BeforeAll
    fun startServer() {
        if (TestServer.binary != null) server = TestServer.start()
    }

    @AfterAll
    fun stopServer() {
        server?.close()
    }

    protected fun requireServer(): TestServer {
        assumeTrue(server != null, "no sync-server binary (fieldcore.server.bin): run scripts/test-kotlin")
        return server!!
    }
}
