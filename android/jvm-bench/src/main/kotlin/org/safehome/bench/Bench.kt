package org.safehome.bench

import java.io.File
import java.lang.management.ManagementFactory
import java.nio.file.Files
import java.security.MessageDigest
import java.security.SecureRandom
import com.sun.jna.Native
import com.sun.jna.Platform
import kotlin.system.exitProcess
import org.safehome.core.AnswerValue
import org.safehome.core.FieldKind
import org.safehome.core.FormDefinition
import org.safehome.core.FormSession
import org.safehome.core.NewHousehold
import org.safehome.core.RecipientKind
import org.safehome.core.Role
import org.safehome.core.SafeHomeStore
import org.safehome.core.coreVersion
import org.safehome.core.generateRecipientIdentity

/*
 * Benchmarks of the Kotlin API on the JVM (scripts/kotlin-bench.sh), against the release build
 * of libsafehome_ffi loaded by JNA:
 *   kotlin/jna/getpid               libc's getpid through JNA direct mapping: the bare JNA call
 *   kotlin/call/core_version        a free function returning a String (target: median <= 5 µs)
 *   kotlin/call/has_risk_rules      a method returning a Boolean, no buffer (same target)
 *   kotlin/api/one_answer/child_age FormSession.answer on the household screening with 12
 *                                   children, `children[7]/child_age` alternating 4 and 9
 *                                   (target: <= 2x the core's Rust figure, same machine and run)
 *   jvm/rust-core/..., jvm/rust-api/... the same answers timed inside Rust on the same session
 *                                   (FormSession.benchAnswerInRust, feature bench-hooks), in
 *                                   turns with the Kotlin batches; the target is judged on the
 *                                   median of the paired ratios
 *   kotlin/api/attach_photo/<photo> DraftSession.attachPhoto of an 8 MP and a 9 MP camera photo
 *                                   on a store in a temporary directory (reported, no target)
 * The Rust side (bindings/benches/api.rs) times the same operations the same way; with
 * `--rust FILE` (its JSON lines) this prints the ratios and checks that both sides answered on
 * the same filled form (sha256 of the output JSON).
 *
 * Timing: a warm-up (time-bounded, so the JIT has compiled the call path), then samples of
 * `batch` calls each, timed with System.nanoTime; figures are per call: median, p10, p90 (and
 * the median CPU time of the calling thread, `thread_cpu_median`, which a busy machine inflates
 * less: the wall-clock figures are the ones compared).
 *
 * With `--stock FILE` (the JSON lines of this same program compiled against uniffi's own Kotlin,
 * which passes JNA Structures, run just before) the table ends with each call's speed-up from
 * SafeHome's call layer (docs/bindings.md, "Call layer"). `--no-table` prints the JSON lines only.
 *
 * Arguments: [--rust FILE] [--stock FILE] [--out FILE] [--quick] [--no-table]. System property
 * safehome.repoRoot: the repository root (photos are read from testdata/photos/camera).
 */

/**
 * libc's `getpid`, bound by JNA direct mapping as the generated bindings bind the library: the
 * floor of a JNA call on this JVM, without uniffi's call status structure or buffers.
 */
object LibC {
    init {
        Native.register(LibC::class.java, Platform.C_LIBRARY_NAME)
    }

    external fun getpid(): Int
}

/** How long and how often to measure one benchmark. */
class Plan(val warmupMs: Long, val minWarmupBatches: Int, val samples: Int, val batch: Int)

/** Per-call figures of one benchmark, in nanoseconds. */
class Stats(
    val name: String,
    val median: Double,
    val p10: Double,
    val p90: Double,
    val samples: Int,
    val batch: Int,
    val extra: Map<String, String> = emptyMap(),
) {
    fun json(): String {
        val more = extra.entries.joinToString("") { (k, v) -> ",\"$k\":$v" }
        return "{\"bench\":\"$name\",\"unit\":\"ns\",\"median\":${fmt1(median)},\"p10\":${fmt1(p10)}," +
            "\"p90\":${fmt1(p90)},\"samples\":$samples,\"batch\":$batch$more}"
    }
}

private fun fmt1(x: Double) = String.format(java.util.Locale.ROOT, "%.1f", x)
private fun fmt2(x: Double) = String.format(java.util.Locale.ROOT, "%.2f", x)

/** The value at quantile `q` of sorted `xs` (nearest rank on `(n - 1) * q`), as in Rust. */
fun quantile(xs: DoubleArray, q: Double): Double =
    xs[Math.round((xs.size - 1) * q).toInt().coerceIn(0, xs.size - 1)]

/** Consumes results so that no call can be optimised away. */
@Volatile
var sink: Long = 0

/**
 * Warm up for `plan.warmupMs` (and at least `plan.minWarmupBatches` batches), then time
 * `plan.samples` batches of `plan.batch` calls of `op`.
 */
fun measure(name: String, plan: Plan, op: () -> Unit): Stats {
    System.gc()
    val start = System.nanoTime()
    var warm = 0
    while (warm < plan.minWarmupBatches || System.nanoTime() - start < plan.warmupMs * 1_000_000) {
        for (i in 0 until plan.batch) op()
        warm++
    }
    val perCall = DoubleArray(plan.samples)
    val cpuPerCall = DoubleArray(plan.samples)
    for (s in 0 until plan.samples) {
        val c = threads.currentThreadCpuTime
        val t = System.nanoTime()
        for (i in 0 until plan.batch) op()
        perCall[s] = (System.nanoTime() - t).toDouble() / plan.batch
        cpuPerCall[s] = (threads.currentThreadCpuTime - c).toDouble() / plan.batch
    }
    perCall.sort()
    cpuPerCall.sort()
    return Stats(
        name, quantile(perCall, 0.5), quantile(perCall, 0.1), quantile(perCall, 0.9), plan.samples, plan.batch,
        mapOf("thread_cpu_median" to fmt1(quantile(cpuPerCall, 0.5))),
    )
}

/** CPU time of the calling thread: on a shared machine, what the call itself cost it. */
private val threads = ManagementFactory.getThreadMXBean()

const val FORM = "household_screening"
const val CHILDREN = 12
const val AGE_PATH = "children[7]/child_age"
const val OFFSET_MINUTES = 420

/**
 * The household screening with 12 children, in form order: the core's first example household
 * with children (templates/examples/households.json) with its roster replaced by 12 kids, as
 * bindings/benches/api.rs and criterion's `one_answer` bench fill it. Strings are answers to
 * text or select_one questions; which one is read from the prompt.
 */
fun answers(): List<Pair<String, Any>> {
    val out = mutableListOf<Pair<String, Any>>(
        "consent" to "yes",
        "commune_code" to "05569",
        "village" to "Thôn Bản Piềng",
        "old_district" to "Định Hóa",
        "old_commune" to "Bảo Linh",
        "head_name" to "Nguyễn Văn An",
        "household_gps" to AnswerValue.Geopoint(21.9137, 105.6432, 95.0, 6.0),
        "num_children" to CHILDREN.toLong(),
    )
    for (i in 0 until CHILDREN) {
        val n = i + 1
        val age = ((i * 5 + 2) % 16).toLong()
        out += "children[$n]/child_name" to "Nguyễn Văn Con $n"
        out += "children[$n]/child_sex" to if (i % 2 == 0) "male" else "female"
        out += "children[$n]/child_age" to age
        if (age >= 6) out += "children[$n]/child_in_school" to "yes"
        out += "children[$n]/child_disability" to "no"
        out += "children[$n]/child_lives_with" to "both_parents"
    }
    out += listOf(
        "pond_fenced" to "yes", "well_covered" to "yes", "poison_stored" to "yes",
        "window_bars" to "yes", "kitchen_separate" to "yes", "hot_items_safe" to "yes",
        "wiring_safe" to "yes", "stairs_railing" to "na", "gate_fence" to "yes",
        "helmet_use" to "yes", "play_area" to "yes", "child_injured_12m" to "no",
        "special_groups" to listOf("none"), "serious_harm" to "no",
        "notes" to "Gia đình đã làm rào quanh ao cá từ năm 2025. Nhắc gia đình giữ rào chắc chắn.",
    )
    return out
}

fun sha256Hex(text: String): String =
    MessageDigest.getInstance("SHA-256").digest(text.toByteArray(Charsets.UTF_8))
        .joinToString("") { "%02x".format(it) }

/** The filled session's output digest and the answer benchmark. */
fun oneAnswer(plan: Plan): List<Stats> {
    FormDefinition.builtin(FORM).use { form ->
        FormSession(form, OFFSET_MINUTES).use { session ->
            for ((path, v) in answers()) {
                val value = when (v) {
                    is AnswerValue -> v
                    is Long -> AnswerValue.Integer(v)
                    is List<*> -> AnswerValue.Choices(v.map { it as String })
                    is String ->
                        if (session.prompt(path).kind == FieldKind.TEXT) AnswerValue.Text(v) else AnswerValue.Choice(v)
                    else -> error("unexpected answer for $path: $v")
                }
                check(session.answer(path, value)) { "constraint failed at $path" }
            }
            check(session.validate().isValid) { "the filled household screening is not valid" }
            val digest = sha256Hex(session.outputJson())
            var flip = false
            val kotlin = { _: Int ->
                for (i in 0 until plan.batch) {
                    flip = !flip
                    if (session.answer(AGE_PATH, AnswerValue.Integer(if (flip) 4L else 9L))) sink++
                }
            }
            // The same answers timed inside Rust, on this session, between the Kotlin batches
            // (an even batch leaves the age at 9, so each side starts from the same state).
            val core = { n: Int -> session.benchAnswerInRust(AGE_PATH, 4L, 9L, n, true) }
            val api = { n: Int -> session.benchAnswerInRust(AGE_PATH, 4L, 9L, n, false) }
            val (k, c, a) = measureInterleaved(plan, kotlin, core, api)
            val withDigest = k.extra + ("output_sha256" to "\"$digest\"")
            return listOf(
                Stats("kotlin/api/one_answer/child_age", k.median, k.p10, k.p90, k.samples, k.batch, withDigest),
                Stats("jvm/rust-core/one_answer/child_age", c.median, c.p10, c.p90, c.samples, c.batch, c.extra),
                Stats("jvm/rust-api/one_answer/child_age", a.median, a.p10, a.p90, a.samples, a.batch, a.extra),
            )
        }
    }
}

/**
 * Times Kotlin's batch of `plan.batch` answers and Rust's (its own clock, returned in ns) in
 * turns, on one thread, so that both meet the same moments of a shared machine: on this VM the
 * same answer takes 3.8 µs or 7 µs depending on what the host runs on the other vCPU, which
 * separate runs cannot pair. Each Stats carries the median of the per-sample ratios to the
 * Kotlin figure (`paired_ratio`).
 */
fun measureInterleaved(
    plan: Plan,
    kotlin: (Int) -> Unit,
    core: (Int) -> Long,
    api: (Int) -> Long,
): Triple<Stats, Stats, Stats> {
    System.gc()
    val start = System.nanoTime()
    var warm = 0
    while (warm < plan.minWarmupBatches || System.nanoTime() - start < plan.warmupMs * 1_000_000) {
        kotlin(plan.batch)
        core(plan.batch)
        api(plan.batch)
        warm++
    }
    val k = DoubleArray(plan.samples)
    val c = DoubleArray(plan.samples)
    val a = DoubleArray(plan.samples)
    for (s in 0 until plan.samples) {
        val t = System.nanoTime()
        kotlin(plan.batch)
        k[s] = (System.nanoTime() - t).toDouble() / plan.batch
        c[s] = core(plan.batch).toDouble() / plan.batch
        a[s] = api(plan.batch).toDouble() / plan.batch
    }
    fun stats(name: String, x: DoubleArray, ratio: String?): Stats {
        val sorted = x.sortedArray()
        val extra = ratio?.let { mapOf("paired_ratio" to it) } ?: emptyMap()
        return Stats(name, quantile(sorted, 0.5), quantile(sorted, 0.1), quantile(sorted, 0.9), plan.samples, plan.batch, extra)
    }
    fun pairedRatio(x: DoubleArray) = fmt2(quantile(DoubleArray(plan.samples) { k[it] / x[it] }.sortedArray(), 0.5))
    return Triple(stats("kotlin", k, null), stats("core", c, pairedRatio(c)), stats("api", a, pairedRatio(a)))
}

fun attachPhotos(plan: Plan, camera: File, photos: List<String>): List<Stats> {
    val dir = Files.createTempDirectory("safehome-kt-bench").toFile()
    try {
        val key = ByteArray(32).also { SecureRandom().nextBytes(it) }
        val store = SafeHomeStore.open(File(dir, "safehome.db").path, key, OFFSET_MINUTES)
        try {
            // Production PIN hashing (the release library has no test hooks): four hashes.
            val supId = store.createProfile(null, "Đỗ Thị Hằng", Role.SUPERVISOR, "1357").id
            val sup = store.unlock(supId, "1357")
            val volId = store.createProfile(sup, "Lục Văn Toàn", Role.VOLUNTEER, "2468").id
            val vol = store.unlock(volId, "2468")
            sup.enroll("Đội Mường Tè 1", listOf("05569"))
            sup.addRecipient(generateRecipientIdentity().recipient, RecipientKind.ARCHIVE, "Lưu trữ")
            val household = vol.addHousehold(
                NewHousehold(communeCode = "05569", village = "Bản Nà Lòng", headName = "Lò Văn Thào"),
            )
            val draft = vol.startVisit(household.id, FORM)
            return photos.map { name ->
                val photo = File(camera, name)
                check(photo.isFile) { "fixture missing from the repository: $photo" }
                var size = 0 to 0
                val s = measure("kotlin/api/attach_photo/${name.removeSuffix(".jpg")}", plan) {
                    val a = draft.attachPhoto("hazard_photo", photo.path, null)
                    size = a.width to a.height
                }
                Stats(
                    s.name, s.median, s.p10, s.p90, s.samples, s.batch,
                    s.extra + mapOf("out_width" to "${size.first}", "out_height" to "${size.second}"),
                )
            }
        } finally {
            store.closeStore()
            store.close()
        }
    } finally {
        dir.deleteRecursively()
    }
}

/** One JSON line of the Rust side, reduced to what the table needs. */
class RustLine(val median: Double, val p10: Double, val p90: Double, val digest: String?)

fun readRust(file: File): Map<String, RustLine> {
    fun num(line: String, key: String) =
        Regex("\"$key\":([-0-9.eE+]+)").find(line)?.groupValues?.get(1)?.toDouble() ?: Double.NaN
    return file.readLines().filter { it.isNotBlank() }.associate { line ->
        val name = Regex("\"bench\":\"([^\"]+)\"").find(line)?.groupValues?.get(1)
            ?: error("not a benchmark line in $file: $line")
        val digest = Regex("\"output_sha256\":\"([0-9a-f]+)\"").find(line)?.groupValues?.get(1)
        name to RustLine(num(line, "median"), num(line, "p10"), num(line, "p90"), digest)
    }
}

fun human(ns: Double): String = when {
    ns.isNaN() -> "–"
    ns < 1_000 -> String.format(java.util.Locale.ROOT, "%.0f ns", ns)
    ns < 1_000_000 -> String.format(java.util.Locale.ROOT, "%.2f µs", ns / 1_000)
    else -> String.format(java.util.Locale.ROOT, "%.1f ms", ns / 1_000_000)
}

fun ratio(x: Double) = if (x.isNaN()) "–" else String.format(java.util.Locale.ROOT, "%.2fx", x)

fun main(args: Array<String>) {
    fun arg(flag: String) = args.indexOf(flag).takeIf { it >= 0 }?.let { args.getOrNull(it + 1) }
    val quick = "--quick" in args
    val rustFile = arg("--rust")?.let(::File)
    val stockFile = arg("--stock")?.let(::File)
    val outFile = arg("--out")?.let(::File)
    val root = File(System.getProperty("safehome.repoRoot", "."))
    val camera = File(root, "testdata/photos/camera").canonicalFile

    val (call, answer, photo) = if (quick) {
        Triple(Plan(0, 1, 3, 10), Plan(0, 1, 3, 2), Plan(0, 0, 1, 1))
    } else {
        Triple(Plan(2_000, 10, 300, 1_000), Plan(2_000, 10, 300, 10), Plan(0, 3, 15, 1))
    }
    val photos = if (quick) listOf("DSCN0010.jpg") else listOf("jolla.jpg")

    val load = runCatching { File("/proc/loadavg").readText().trim() }.getOrDefault("?")
    println(
        "safehome ${coreVersion()}; ${System.getProperty("java.vm.name")} ${System.getProperty("java.version")}; " +
            "${Runtime.getRuntime().availableProcessors()} cpus; load average $load",
    )

    val stats = mutableListOf<Stats>()
    fun record(s: Stats) {
        stats += s
        println(s.json())
    }
    record(measure("kotlin/jna/getpid", call) { sink += LibC.getpid() })
    record(measure("kotlin/call/core_version", call) { sink += coreVersion().length })
    FormDefinition.builtin(FORM).use { form ->
        record(measure("kotlin/call/has_risk_rules", call) { if (form.hasRiskRules()) sink++ })
    }
    oneAnswer(answer).forEach(::record)
    attachPhotos(photo, camera, photos).forEach(::record)
    outFile?.writeText(stats.joinToString("\n", postfix = "\n") { it.json() })
    if ("--no-table" in args) return

    // The table: Kotlin figures, the Rust figure each compares with, the ratio and the target.
    val rust = rustFile?.let(::readRust) ?: emptyMap()
    val mine = stats.associateBy { it.name }
    val answerDigest = mine["kotlin/api/one_answer/child_age"]?.extra?.get("output_sha256")?.trim('"')
    val rustDigest = rust["rust/core/one_answer/child_age"]?.digest
    if (rustFile != null && rustDigest != answerDigest) {
        System.err.println("Kotlin and Rust answered on different forms: output sha256 $answerDigest vs $rustDigest")
        exitProcess(1)
    }
    data class Row(val name: String, val vs: String?, val target: String, val met: ((Stats, Double) -> Boolean)?)
    val rows = listOf(
        Row("kotlin/jna/getpid", null, "(JNA floor)", null),
        Row("kotlin/call/core_version", "rust/call/core_version", "median <= 5 µs") { s, _ -> s.median <= 5_000.0 },
        Row("kotlin/call/has_risk_rules", null, "median <= 5 µs") { s, _ -> s.median <= 5_000.0 },
        Row("kotlin/api/one_answer/child_age", "jvm/rust-core/one_answer/child_age", "<= 2x Rust (core), paired") { _, r -> r <= 2.0 },
        Row("kotlin/api/one_answer/child_age", "jvm/rust-api/one_answer/child_age", "(FFI + JVM share), paired", null),
        Row("kotlin/api/one_answer/child_age", "rust/core/one_answer/child_age", "(separate process)", null),
        Row("kotlin/api/one_answer/child_age", "rust/api/one_answer/child_age", "(separate process)", null),
    ) + photos.map { name ->
        val stem = name.removeSuffix(".jpg")
        Row("kotlin/api/attach_photo/$stem", "rust/api/attach_photo/$stem", "(reported)", null)
    }
    println()
    val format = "%-38s %10s %10s %10s %11s  %-34s %10s %8s  %s"
    println(
        String.format(
            format, "benchmark", "median", "p10", "p90", "thread cpu", "compared with", "its median", "ratio", "target",
        ),
    )
    var missed = 0
    for (row in rows) {
        val s = mine[row.name] ?: continue
        // In-process Rust figures (timed between the Kotlin batches) compare by their paired
        // ratio; the separate Rust run by the ratio of medians.
        val paired = row.vs?.let { mine[it] }
        val r = row.vs?.let { rust[it] } ?: paired?.let { RustLine(it.median, it.p10, it.p90, null) }
        val x = when {
            paired != null -> paired.extra["paired_ratio"]?.toDouble() ?: Double.NaN
            r != null -> s.median / r.median
            else -> Double.NaN
        }
        val verdict = row.met?.let { met ->
            when {
                quick -> "(quick run: not judged)"
                row.vs != null && r == null -> "not checked (no Rust figure)"
                met(s, x) -> "met"
                else -> "NOT MET".also { missed++ }
            }
        } ?: ""
        println(
            String.format(
                format,
                row.name, human(s.median), human(s.p10), human(s.p90),
                human(s.extra["thread_cpu_median"]?.toDouble() ?: Double.NaN),
                row.vs ?: "", r?.let { human(it.median) } ?: "", ratio(x), "${row.target} $verdict".trim(),
            ),
        )
    }
    for ((name, r) in rust.entries.sortedBy { it.key }) {
        println(String.format(format, name, human(r.median), human(r.p10), human(r.p90), "", "", "", "", "").trimEnd())
    }
    stockFile?.let(::readRust)?.let { stock ->
        println()
        println(String.format("%-38s %10s %16s %10s", "uniffi's own Kotlin, same run", "median", "call layer", "speed-up"))
        for (s in stats) {
            val before = stock[s.name] ?: continue
            println(String.format("%-38s %10s %16s %10s", s.name, human(before.median), human(s.median), ratio(before.median / s.median)))
        }
    }
    println(
        when {
            quick -> "targets: not judged on a quick run"
            missed == 0 -> "targets: all met"
            else -> "targets: $missed not met"
        },
    )
}
