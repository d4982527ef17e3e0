package org.safehome.core

import java.io.File
import java.nio.file.Files
import java.security.SecureRandom

/** PBKDF2 iterations for test PINs: production uses 600,000 (most of a second per unlock). */
const val TEST_PIN_ITERATIONS = 1_000

const val SUPERVISOR_PIN = "1357"
const val VOLUNTEER_PIN = "2468"

/** A fresh random 32-byte data key, as the platform keystore would hand one over. */
fun randomDataKey(): ByteArray = ByteArray(32).also { SecureRandom().nextBytes(it) }

/**
 * A fixture file of the repository, `testdata/<relative>` from its root (the harness runs from
 * there; Gradle sets `safehome.repoRoot`). Fails loudly when it is missing: a test that silently
 * skipped its photo would prove nothing.
 */
fun fixture(relative: String): File {
    val root = File(System.getProperty("safehome.repoRoot", "."))
    val file = File(root, "testdata/$relative").canonicalFile
    check(file.isFile) { "fixture missing from the repository: $file (see testdata/photos/README.md)" }
    return file
}

/** The first half of a camera photo, written into [dir]: a JPEG cut off in its pixel data. */
fun truncatedPhoto(dir: File): File {
    val whole = fixture("photos/camera/DSCN0010.jpg").readBytes()
    return File(dir, "truncated-half.jpg").also { it.writeBytes(whole.copyOf(whole.size / 2)) }
}

/** A temporary directory with a store in it, deleted by [close]. */
class TempStore(
    val key: ByteArray = randomDataKey(),
    clockStartMs: Long? = null,
) : AutoCloseable {
    val dir: File = Files.createTempDirectory("safehome-kt").toFile()
    val path: String = File(dir, "safehome.db").path
    val store: SafeHomeStore = open(key, clockStartMs)

    /** Open the same file again (after `closeStore`), with any key. */
    fun open(key: ByteArray, clockStartMs: Long? = null): SafeHomeStore =
        SafeHomeStore.openForTesting(
            path, key, VIETNAM_OFFSET_MINUTES, TestStoreOptions(TEST_PIN_ITERATIONS, clockStartMs),
        )

    override fun close() {
        store.closeStore()
        store.close()
        dir.deleteRecursively()
    }
}

/** A supervisor and a volunteer, both unlocked. */
class Team(val store: SafeHomeStore) {
    val supervisorProfile = store.createProfile(null, "Đỗ Thị Hằng", Role.SUPERVISOR, SUPERVISOR_PIN)
    val supervisor = store.unlock(supervisorProfile.id, SUPERVISOR_PIN)
    val volunteerProfile = store.createProfile(supervisor, "Lục Văn Toàn", Role.VOLUNTEER, VOLUNTEER_PIN)
    val volunteer = store.unlock(volunteerProfile.id, VOLUNTEER_PIN)

    /** Enroll the device and add a freshly generated archive recipient; returns its key pair. */
    fun configureRecipients(): RecipientIdentity {
        supervisor.enroll("Đội Mường Tè 1", listOf("05569"))
        val archive = generateRecipientIdentity()
        supervisor.addRecipient(archive.recipient, RecipientKind.ARCHIVE, "Lưu trữ tỉnh Lai Châu")
        return archive
    }

    /** The family's household, registered by the volunteer. */
    fun registerHousehold(): Household = volunteer.addHousehold(
        NewHousehold(
            communeCode = "05569",
            village = "Bản Nà Lòng",
            headName = "Lò Văn Thào",
            members = Family.children.map { HouseholdMember(it.name, sex = it.sex) },
            location = HouseholdLocation(21.8236, 103.3401, 8.0),
        ),
    )
}

/** A GPS fix taken a moment ago at the family's house. */
fun freshFix(accuracyM: Double = 6.0, mock: Boolean = false, ageMs: Long = 2_000): GpsFix =
    GpsFix(
        lat = 21.82362, lon = 103.34012, accuracyM = accuracyM,
        timeMs = System.currentTimeMillis() - ageMs, altitudeM = 612.0,
        provider = FixProvider.GPS, ageMs = ageMs, mock = mock,
    )

/** Collects log events; install with `setLogSink`, remove with `setLogSink(null, ...)`. */
class CollectingSink : LogSink {
    val records: MutableList<LogRecord> = java.util.Collections.synchronizedList(mutableListOf())
    override fun log(record: LogRecord) {
        records += record
    }
    fun snapshot(): List<LogRecord> = synchronized(records) { records.toList() }
}

/** Collects progress reports as `operation done/total`. */
class CollectingProgress : ProgressListener {
    val steps: MutableList<String> = java.util.Collections.synchronizedList(mutableListOf())
    override fun onProgress(operation: String, done: Int, total: Int) {
        steps += "$operation $done/$total"
    }
}
