package app.fieldcore.ui

import app.fieldcore.ffi.GeoPoint
import app.fieldcore.ffi.PhotoCategory
import java.awt.Color
import java.awt.image.BufferedImage
import java.io.File
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import javax.imageio.ImageIO

/**
 * The platform as the tests play it: the camera writes a generated JPEG (different each time),
 * the location is fixed, sync requests are counted (the tests sync with the Sync button).
 */
class TestPlatform(private val dir: File) : Platform {
    val location = GeoPoint(31.2304, 121.4737, 12.0)
    val photosTaken = CopyOnWriteArrayList<PhotoCategory>()
    val syncRequests = AtomicInteger()

    override suspend fun takePhoto(jobId: String, category: PhotoCategory): File {
        val seed = photosTaken.size
        photosTaken += category
        val image = BufferedImage(800, 600, BufferedImage.TYPE_INT_RGB)
        val g = image.createGraphics()
        g.color = Color(40 + seed * 37 % 180, 110 + seed * 13 % 100, 200 - seed * 29 % 150)
        g.fillRect(0, 0, 800, 600)
        g.color = Color.WHITE
        g.fillOval(60 + seed * 40 % 400, 80, 320, 240)
        g.color = Color.BLACK
        g.drawString("${category.name} #$seed", 20, 580)
        g.dispose()
        val file = File(dir, "camera-$seed.jpg")
        check(ImageIO.write(image, "jpg", file))
        return file
    }

    override suspend fun currentLocation(): GeoPoint = location

    override fun requestSync() {
        syncRequests.incrementAndGet()
    }
}
