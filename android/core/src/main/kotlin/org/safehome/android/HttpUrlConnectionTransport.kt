package org.safehome.android

import java.io.IOException
import java.io.InputStream
import java.net.ConnectException
import java.net.HttpURLConnection
import java.net.NoRouteToHostException
import java.net.SocketTimeoutException
import java.net.URL
import java.net.UnknownHostException
import javax.net.ssl.SSLException
import org.safehome.core.HttpRequest
import org.safehome.core.HttpResponseSink
import org.safehome.core.HttpTransport
import org.safehome.core.TransportException

/**
 * The core's HTTP transport on `java.net.HttpURLConnection`: no dependency beyond the JDK and
 * Android, so the same file runs in the app and in the JVM tests (scripts/kotlin-tests.sh).
 *
 * The core decides what to send, signs it and reads the answer; this class only moves bytes.
 * Every response (2xx, 4xx or 5xx) is handed back to the core through [HttpResponseSink]; only
 * "no response at all" is an exception, and the core retries those later. Bodies are small (a
 * submission, or one evidence chunk of at most 256 KiB), so they cross as byte arrays.
 *
 * Call [HttpTransport.send] off the main thread: `ProfileSession.sync` blocks while it uploads.
 */
class HttpUrlConnectionTransport(
    private val connectTimeoutMs: Int = 15_000,
    private val readTimeoutMs: Int = 30_000,
) : HttpTransport {

    override fun send(request: HttpRequest, response: HttpResponseSink) {
        val connection = try {
            URL(request.url).openConnection() as HttpURLConnection
        } catch (e: IOException) {
            throw TransportException.Connect("cannot open ${request.method} ${request.url}: ${e.javaClass.simpleName}")
        }
        try {
            connection.connectTimeout = connectTimeoutMs
            connection.readTimeout = readTimeoutMs
            connection.instanceFollowRedirects = false
            connection.useCaches = false
            // HttpURLConnection knows no PATCH (tus needs it): send POST with tus's
            // X-HTTP-Method-Override, which the server honours. The signature covers PATCH.
            if (request.method == "PATCH") {
                connection.requestMethod = "POST"
                connection.setRequestProperty("X-HTTP-Method-Override", "PATCH")
            } else {
                connection.requestMethod = request.method
            }
            for (h in request.headers) connection.setRequestProperty(h.name, h.value)
            if (request.body.isNotEmpty() || request.method in BODY_METHODS) {
                connection.doOutput = true
                connection.setFixedLengthStreamingMode(request.body.size)
                connection.outputStream.use { it.write(request.body) }
            }
            val status = connection.responseCode
            response.setStatus(status)
            for ((name, values) in connection.headerFields) {
                if (name == null) continue // the status line
                for (v in values) response.addHeader(name, v)
            }
            val stream: InputStream? = if (status >= 400) connection.errorStream else connection.inputStream
            stream?.use { input ->
                val buffer = ByteArray(64 * 1024)
                while (true) {
                    val n = input.read(buffer)
                    if (n < 0) break
                    response.appendBody(buffer.copyOf(n))
                }
            }
        } catch (e: SSLException) {
            throw TransportException.Tls(e.javaClass.simpleName)
        } catch (e: ConnectException) {
            throw TransportException.Connect(e.javaClass.simpleName)
        } catch (e: UnknownHostException) {
            throw TransportException.Connect(e.javaClass.simpleName)
        } catch (e: NoRouteToHostException) {
            throw TransportException.Connect(e.javaClass.simpleName)
        } catch (e: SocketTimeoutException) {
            throw TransportException.Interrupted("timed out")
        } catch (e: IOException) {
            throw TransportException.Interrupted(e.javaClass.simpleName)
        } finally {
            connection.disconnect()
        }
    }

    private companion object {
        val BODY_METHODS = setOf("POST", "PUT", "PATCH")
    }
}
