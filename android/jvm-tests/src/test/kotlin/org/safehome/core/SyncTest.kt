package org.safehome.core

import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.safehome.android.HttpUrlConnectionTransport

/**
 * Upload through the Kotlin API, with the app's own transport (HttpURLConnection), to a real
 * `safehome-server` process on a loopback port: enroll with a one-time code, finalize a visit
 * with a photo, sync, and find it on the server acknowledged by a signed receipt — with nothing
 * readable in the server's files or log.
 */
class SyncTest {
    /** Server team ids are slugs; the team's display name lives with the district office. */
    private val team = "dinh-hoa-1"
    private lateinit var temp: TempStore
    private lateinit var server: ServerProcess
    private lateinit var archive: RecipientIdentity
    private val transport = HttpUrlConnectionTransport(connectTimeoutMs = 5_000, readTimeoutMs = 30_000)

    @Before
    fun start() {
        archive = generateRecipientIdentity()
        server = ServerProcess(team, listOf("05569"), archive.recipient)
        temp = TempStore()
    }

    @After
    fun stop() {
        if (::temp.isInitialized) temp.close()
        if (::server.isInitialized) server.close()
    }

    /** A finalized visit with one photo; returns its record id. */
    private fun finalizedVisit(t: Team): String {
        val household = t.registerHousehold()
        val draft = t.volunteer.startVisit(household.id, "household_screening")
        Family.fill(draft) { prompt -> draft.answerFix(prompt.path, freshFix(), confirmed = false) }
        draft.attachPhoto("hazard_photo", fixture("photos/camera/DSCN0010.jpg").path, null)
        return draft.finalize(null).recordId
    }

    @Test
    fun aVisitWithItsPhotoReachesTheServerAndIsAcknowledged() {
        val t = Team(temp.store)
        assertFalse(temp.store.syncStatus().enrolled)
        assertThrows(ApiException.NotEnrolled::class.java) { t.volunteer.sync(transport, null) }

        val code = server.enrollmentCode(team, "volunteer")
        val enrolled = t.supervisor.enrollWithServer(transport, server.url, code, null, null)
        assertEquals(team, enrolled.team)
        assertEquals(listOf("05569"), enrolled.communes)
        assertEquals(1, enrolled.recipients)
        assertTrue(enrolled.serverPublicKey.startsWith("shserver1"))
        assertEquals(listOf(archive.recipient), temp.store.recipients().map { it.publicKey })

        // The code is one-time: a second device cannot use it.
        TempStore().use { other ->
            val o = Team(other.store)
            val e = assertThrows(ApiException.ServerRefused::class.java) {
                o.supervisor.enrollWithServer(transport, server.url, code, null, null)
            }
            assertEquals("enrollment_code_used", e.code)
        }

        val recordId = finalizedVisit(t)
        val progress = CollectingProgress()
        val report = t.volunteer.sync(transport, progress)
        assertEquals(listOf(recordId), report.acknowledged.map { it.recordId })
        assertEquals(emptyList<SyncItem>(), report.parked + report.failed + report.incomplete)
        assertEquals(0L, report.outboxWaiting)
        assertFalse(report.regression)
        assertTrue(report.bytesSent > 100_000) // the photo went
        assertTrue(progress.steps.toString(), progress.steps.any { it.startsWith("sync ") })

        // Acknowledged on the phone: every outbox item, the submission and its photo.
        val outbox = temp.store.outbox()
        assertEquals(2, outbox.size)
        assertTrue(outbox.toString(), outbox.all { it.state == OutboxState.ACKNOWLEDGED })
        val status = temp.store.syncStatus()
        assertTrue(status.enrolled)
        assertEquals("ok", status.lastResult)
        assertEquals(server.url, status.serverUrl)

        // On the server: the record, once, with its evidence; nothing readable anywhere.
        val records = server.recordsJson()
        assertEquals(records, 1, Regex(Regex.escape(recordId)).findAll(records).count())
        for ((file, bytes) in server.allBytes()) {
            val text = String(bytes, Charsets.ISO_8859_1)
            for (secret in listOf("Lò Văn Thào", "Lục Văn Toàn", "Bản Nà Lòng", "21.8236")) {
                val encoded = String(secret.toByteArray(Charsets.UTF_8), Charsets.ISO_8859_1)
                assertFalse("$secret in ${file.name}", text.contains(encoded))
            }
        }

        // A second sync has nothing to send.
        val again = t.volunteer.sync(transport, null)
        assertEquals(emptyList<SyncItem>(), again.acknowledged)
        assertEquals(0L, again.outboxWaiting)
    }

    @Test
    fun aRevokedDeviceIsRefusedWithACodeTheAppCanShow() {
        val t = Team(temp.store)
        t.supervisor.enrollWithServer(transport, server.url, server.enrollmentCode(team, "volunteer"), null, null)
        finalizedVisit(t)
        server.revoke(temp.store.deviceId())
        val e = assertThrows(ApiException.ServerRefused::class.java) { t.volunteer.sync(transport, null) }
        assertEquals("device_revoked", e.code)
        assertEquals(403, e.status)
        // Nothing was lost: the record still waits in the outbox.
        assertTrue(temp.store.outbox().all { it.state == OutboxState.PENDING })
    }

    @Test
    fun noServerIsAnUnreachableErrorAndKeepsEverything() {
        val t = Team(temp.store)
        t.supervisor.enrollWithServer(transport, server.url, server.enrollmentCode(team, "volunteer"), null, null)
        finalizedVisit(t)
        server.close()
        assertThrows(ApiException.ServerUnreachable::class.java) { t.volunteer.sync(transport, null) }
        assertTrue(temp.store.outbox().all { it.state == OutboxState.PENDING })
    }
}
