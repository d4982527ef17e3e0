package org.safehome.core

import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URL
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/**
 * A real `safehome-server` process on a loopback port, with its own data folder: initialised,
 * given a team and an archive recipient, serving until [close]. The binary comes from
 * `-Dsafehome.serverExe` (scripts/kotlin-tests.sh builds it); a missing binary fails loudly.
 */
class ServerProcess(team: String, communes: List<String>, archiveKey: String) : AutoCloseable {
    val exe: File = File(System.getProperty("safehome.serverExe", "target/debug/safehome-server"))
    val data: File = Files.createTempDirectory("safehome-server-kt").toFile()
    val port: Int = ServerSocket(0).use { it.localPort }
    val url: String = "http://127.0.0.1:$port"
    private val process: Process

    init {
        check(exe.canExecute()) { "safehome-server binary missing: $exe (build it: cargo build -p safehome-server)" }
        File(data, "data").let { d ->
            run("init", "--data", d.path)
            run("team", "add", "--data", d.path, "--team", team, "--communes", communes.joinToString(","),
                "--archive-key", archiveKey)
        }
        process = ProcessBuilder(exe.path, "serve", "--data", dataDir(), "--listen", "127.0.0.1:$port")
            .redirectErrorStream(true)
            .redirectOutput(File(data, "server.log"))
            .start()
        waitHealthy()
    }

    private fun dataDir() = File(data, "data").path

    /** A one-time enrollment code for [team] and [role] (`volunteer`, `supervisor`, ...). */
    fun enrollmentCode(team: String, role: String): String {
        val json = run("enroll", "--data", dataDir(), "--team", team, "--role", role, "--json")
        return Regex("\"code\"\\s*:\\s*\"([^\"]+)\"").find(json)?.groupValues?.get(1)
            ?: error("no code in: $json")
    }

    /** `safehome-server revoke DEVICE`. */
    fun revoke(deviceId: String) {
        run("revoke", "--data", dataDir(), deviceId)
    }

    /** `safehome-server records --json`: what the server holds. */
    fun recordsJson(): String = run("records", "--data", dataDir(), "--json")

    /** Every byte the server wrote: its data folder and its log. */
    fun allBytes(): List<Pair<File, ByteArray>> =
        data.walkTopDown().filter { it.isFile }.map { it to it.readBytes() }.toList()

    private fun run(vararg args: String): String {
        val p = ProcessBuilder(listOf(exe.path) + args).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
            "safehome-server ${args.first()} failed: $out"
        }
        return out
    }

    private fun waitHealthy() {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20)
        while (System.nanoTime() < deadline) {
            try {
                val c = URL("$url/healthz").openConnection() as HttpURLConnection
                c.connectTimeout = 500
                if (c.responseCode == 200) return
            } catch (_: java.io.IOException) {
            }
            check(process.isAlive) { "safehome-server exited: ${File(data, "server.log").readText()}" }
            Thread.sleep(50)
        }
        error("safehome-server did not answer /healthz within 20 s")
    }

    private var closed = false

    override fun close() {
        if (closed) return
        closed = true
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
        data.deleteRecursively()
    }
}
