package app.fieldcore

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/**
 * The real sync-server binary (built by cargo; its path comes in the system property
 * `fieldcore.server.bin`) on 127.0.0.1 with a fresh data dir, and a dispatcher talking to it
 * over its HTTP API.
 */
class TestServer private constructor(private val process: Process, val url: String, val dataDir: File) : AutoCloseable {
    companion object {
        const val EMAIL = "desk@acme.example"
        const val PASSWORD = "a long test password"

        val binary: String? = System.getProperty("fieldcore.server.bin")?.takeIf { it.isNotBlank() }

        fun start(): TestServer {
            val bin = binary ?: error("fieldcore.server.bin is not set")
            val dir = Files.createTempDirectory("fieldcore-server").toFile()
            val create = ProcessBuilder(
                bin, "--data-dir", dir.path, "create-dispatcher",
                "--org", "Acme Service", "--email", EMAIL, "--name", "Desk",
            ).redirectErrorStream(true).apply { environment()["FIELDCORE_PASSWORD"] = PASSWORD }.start()
            val createOut = create.inputStream.bufferedReader().readText()
            check(create.waitFor(60, TimeUnit.SECONDS) && create.exitValue() == 0) { "create-dispatcher: $createOut" }

            val log = File(dir, "server.log")
            val process = ProcessBuilder(bin, "--data-dir", dir.path, "--bind", "127.0.0.1:0")
                .redirectError(log)
                .start()
            val stdout = process.inputStream.bufferedReader()
            var url: String? = null
            while (url == null) {
                val line = stdout.readLine() ?: error("the server exited: ${log.readText()}")
                if (line.startsWith("listening on ")) url = line.removePrefix("listening on ").trim()
            }
            // Keep draining stdout so the server never blocks on a full pipe.
            Thread {
                try {
                    stdout.useLines { lines -> lines.forEach { } }
                } catch (_: java.io.IOException) {
                    // closed when the server is stopped
                }
            }.apply { isDaemon = true }.start()
            return TestServer(process, url, dir)
        }
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
        dataDir.deleteRecursively()
    }
}

/** The dispatcher's side, over `java.net.http`. Just enough JSON for the tests. */
class Desk(private val base: String) {
    private val http = HttpClient.newHttpClient()
    private val token: String

    init {
        val (status, body) = send("POST", "/v1/auth/login", """{"email":"${TestServer.EMAIL}","password":"${TestServer.PASSWORD}"}""", auth = false)
        check(status == 200) { "login: $status $body" }
        token = body.jsonString("token")
    }

    fun send(method: String, path: String, json: String? = null, auth: Boolean = true): Pair<Int, String> {
        val request = HttpRequest.newBuilder(URI.create(base + path))
            .method(method, json?.let { HttpRequest.BodyPublishers.ofString(it) } ?: HttpRequest.BodyPublishers.noBody())
            .header("content-type", "application/json")
            .apply { if (auth) header("authorization", "Bearer $token") }
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        return response.statusCode() to response.body()
    }

    fun technician(name: String): String {
        val (status, body) = send("POST", "/v1/technicians", """{"name":"$name","phone":"+86 139 0000 0000"}""")
        check(status == 201) { "technician: $status $body" }
        return body.jsonString("id")
    }

    fun enrolmentCode(technicianId: String): String {
        val (status, body) = send("POST", "/v1/technicians/$technicianId/enrolment-codes", "{}")
        check(status == 201) { "code: $status $body" }
        return body.jsonString("code")
    }

    /** An install job for the technician, not booked yet (the technician books it). */
    fun installJob(technicianId: String): String = createJob(
        technicianId,
        """{"kind":"install","customer_name":"王女士","address":"上海市浦东新区世纪大道 100 号 12 楼",
            |"phone":"+86 138 0000 0000","product_model":"KFR-35GW","work":"install the air conditioner",
            |"ordering_party":"Example Mall","fee_basis":{"basis":"in_warranty"},"requires_verification":true}""".trimMargin(),
    )

    /** A delivery-and-install job: [expectedPieces] to collect at the logistics point, then install. */
    fun deliveryJob(technicianId: String, expectedPieces: Int): String = createJob(
        technicianId,
        """{"kind":"delivery_install","customer_name":"陈先生","address":"上海市徐汇区漕溪北路 18 号 3 楼",
            |"phone":"+86 137 0000 0000","product_model":"BCD-470","work":"deliver and install the refrigerator",
            |"ordering_party":"Example Mall","fee_basis":{"basis":"in_warranty"},"requires_verification":true,
            |"expected_pieces":$expectedPieces}""".trimMargin(),
    )

    /** A repair job of [severity] (1 = service down ... 4 = intermittent), on the standard fee schedule. */
    fun repairJob(technicianId: String, severity: Int = 2): String = createJob(
        technicianId,
        """{"kind":"repair","customer_name":"刘女士","address":"上海市静安区南京西路 1 号 8 楼",
            |"phone":"+86 136 0000 0000","product_model":"XQG100","work":"the washing machine does not drain",
            |"ordering_party":"Example Mall","fee_basis":{"basis":"standard_schedule"},"requires_verification":false,
            |"severity":$severity}""".trimMargin(),
    )

    private fun createJob(technicianId: String, order: String): String {
        val (status, body) = send("POST", "/v1/jobs", """{"order":$order,"technician_id":"$technicianId"}""")
        check(status == 201) { "job: $status $body" }
        // The detail starts with the view, whose first field is the job's id.
        return body.jsonString("id")
    }

    /** The desk books (or moves) the visit. */
    fun book(jobId: String, at: java.time.Instant) {
        val (status, body) = send("POST", "/v1/jobs/$jobId/appointment", """{"at":"$at"}""")
        check(status in 200..299) { "book: $status $body" }
    }

    /** How many schedule conflicts the desk's answer for the job lists. */
    fun scheduleConflicts(jobId: String): Int {
        val (status, body) = send("GET", "/v1/jobs/$jobId")
        check(status == 200) { "job: $status $body" }
        return Regex("\"other_job_id\"").findAll(body).count()
    }

    /** The desk gives the job to another technician (the first one's phone sees it reassigned away). */
    fun reassign(jobId: String, technicianId: String) {
        val (status, body) = send("POST", "/v1/jobs/$jobId/assign", """{"technician_id":"$technicianId"}""")
        check(status in 200..299) { "assign: $status $body" }
    }

    /** A stored photo's bytes as the desk downloads them: the evidence the ordering party sees. */
    fun photo(photoId: String): ByteArray {
        val request = HttpRequest.newBuilder(URI.create("$base/v1/photos/$photoId"))
            .header("authorization", "Bearer $token")
            .GET()
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofByteArray())
        check(response.statusCode() == 200) { "photo $photoId: ${response.statusCode()}" }
        return response.body()
    }

    fun jobDetail(jobId: String): String {
        val (status, body) = send("GET", "/v1/jobs/$jobId")
        check(status == 200) { "job detail: $status $body" }
        return body
    }
}

/** The first `"key":"value"` string in a JSON text. */
fun String.jsonString(key: String): String =
    Regex("\"${Regex.escape(key)}\"\\s*:\\s*\"([^\"]*)\"").find(this)?.groupValues?.get(1)
        ?: error("no \"$key\" in $this")
