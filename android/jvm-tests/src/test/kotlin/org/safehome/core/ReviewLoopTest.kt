package org.safehome.core

import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test
import org.safehome.android.HttpUrlConnectionTransport
import java.io.File

/**
 * The supervisor's loop through the Kotlin API, between two phones (two stores) and a real
 * `safehome-server` process on a loopback port, with the app's own transport: the volunteer
 * finalizes a visit with a photo and syncs; the supervisor pulls it, opens the photo, returns it
 * with a comment on a question; the volunteer's sync reopens it with the comment; the volunteer
 * corrects and re-finalizes; the supervisor approves the revision; the volunteer sees it.
 */
class ReviewLoopTest {
    private val team = "dinh-hoa-1"
    private lateinit var server: ServerProcess
    private lateinit var volunteerPhone: TempStore
    private lateinit var supervisorPhone: TempStore
    private val transport = HttpUrlConnectionTransport(connectTimeoutMs = 5_000, readTimeoutMs = 30_000)

    @Before
    fun start() {
        server = ServerProcess(team, listOf("05569"), generateRecipientIdentity().recipient)
        volunteerPhone = TempStore()
        supervisorPhone = TempStore()
    }

    @After
    fun stop() {
        if (::volunteerPhone.isInitialized) volunteerPhone.close()
        if (::supervisorPhone.isInitialized) supervisorPhone.close()
        if (::server.isInitialized) server.close()
    }

    @Test
    fun aVisitGoesToTheSupervisorBackCorrectedAndApproved() {
        // The supervisor's phone enrolls with a supervisor code: its own inbox key becomes a
        // team recipient, so the volunteer's submissions are sealed to it.
        val sup = Team(supervisorPhone.store)
        sup.supervisor.enrollWithServer(transport, server.url, server.enrollmentCode(team, "supervisor"), null, null)
        val vol = Team(volunteerPhone.store)
        val enrolled = vol.supervisor.enrollWithServer(
            transport, server.url, server.enrollmentCode(team, "volunteer"), null, null,
        )
        assertEquals(2, enrolled.recipients) // the archive and the supervisor

        // Volunteer: a visit with a photo, finalized and synced.
        val household = vol.registerHousehold()
        val draft = vol.volunteer.startVisit(household.id, "household_screening")
        Family.fill(draft) { prompt -> draft.answerFix(prompt.path, freshFix(), confirmed = false) }
        draft.attachPhoto("hazard_photo", fixture("photos/camera/DSCN0010.jpg").path, null)
        val recordId = draft.finalize(null).recordId
        assertEquals(listOf(recordId), vol.volunteer.sync(transport, null).acknowledged.map { it.recordId })

        // Supervisor: pull, verified and opened; the photo within the sync's budget.
        val pulled = sup.supervisor.sync(transport, null)
        assertEquals(1L, pulled.review.pulled)
        assertEquals(emptyList<Quarantined>(), pulled.review.quarantined)
        assertEquals(1L, pulled.review.photosFetched)
        val queue = sup.supervisor.receivedQueue(100)
        assertEquals(listOf(recordId), queue.map { it.recordId })
        val record = sup.supervisor.receivedRecord(recordId)
        assertEquals(ReceivedState.VALID, record.state)
        assertTrue(record.dataJson, record.dataJson.contains("Lò Thị Mai"))
        assertNotNull(record.assessment)
        assertTrue(record.timings.isNotEmpty())
        val photo = record.photos.single()
        assertTrue(photo.cached)
        val out = File(supervisorPhone.dir, "photo.jpg")
        val size = sup.supervisor.openReceivedPhoto(recordId, photo.id, out.path)
        val jpeg = out.readBytes()
        assertEquals(size, jpeg.size.toLong())
        assertEquals(0xFF.toByte(), jpeg[0])
        assertEquals(0xD8.toByte(), jpeg[1])
        out.delete()

        // Return with a comment next to a question; it goes up at the next sync.
        val comment = QuestionComment("children[1]/child_age", "Cháu Mai 2 tuổi hay 3 tuổi?")
        val returned = sup.supervisor.decide(recordId, DecisionKind.RETURN, "Xin kiểm tra lại.", listOf(comment), null)
        assertEquals(1L, sup.supervisor.sync(transport, null).review.decisionsSent)
        assertEquals(DecisionState.SENT, sup.supervisor.decisions(recordId).single { it.id == returned }.state)

        // Volunteer: the sync reopens the visit as a draft revision; the comment is there.
        val back = vol.volunteer.sync(transport, null)
        val revisionId = back.review.reopened.single()
        val original = vol.volunteer.record(recordId)
        assertEquals(RecordState.RETURNED, original.state)
        assertEquals("Xin kiểm tra lại.", original.returnNote)
        val why = vol.volunteer.decisions(recordId).single()
        assertEquals(DecisionKind.RETURN, why.kind)
        assertEquals(listOf(comment), why.comments)
        val revision = vol.volunteer.openDraft(revisionId)
        assertEquals(recordId, vol.volunteer.record(revisionId).revisionOf)

        // Corrected and re-finalized; the revision replaces the original.
        revision.answer("children[1]/child_age", AnswerValue.Integer(3))
        val corrected = revision.finalize(null).recordId
        assertEquals(listOf(corrected), vol.volunteer.sync(transport, null).acknowledged.map { it.recordId })

        // Supervisor: the revision arrives, the original is superseded, and it is approved.
        assertEquals(1L, sup.supervisor.sync(transport, null).review.pulled)
        assertEquals(listOf(corrected), sup.supervisor.receivedQueue(100).map { it.recordId })
        assertEquals(corrected, sup.supervisor.receivedRecord(recordId).supersededBy)
        assertThrows(ApiException::class.java) {
            sup.supervisor.decide(recordId, DecisionKind.APPROVE, "", emptyList(), null)
        }
        sup.supervisor.decide(corrected, DecisionKind.APPROVE, "Đã đúng.", emptyList(), null)
        assertEquals(1L, sup.supervisor.sync(transport, null).review.decisionsSent)
        assertEquals(emptyList<ReceivedItem>(), sup.supervisor.receivedQueue(100))

        // Volunteer: approved, and why.
        assertEquals(1L, vol.volunteer.sync(transport, null).review.decisionsApplied)
        val approval = vol.volunteer.decisions(corrected).single()
        assertEquals(DecisionKind.APPROVE, approval.kind)
        assertEquals("Đã đúng.", approval.note)
        assertNull(approval.detail)

        // Both phones' audit chains hold every step and still verify.
        for (phone in listOf(volunteerPhone, supervisorPhone)) {
            val audit = phone.store.verifyAudit(null)
            assertNull(audit.problem, audit.problem)
        }
    }

    @Test
    fun twoVolunteersRegisterOneFamilyAndTheSupervisorMergesThem() {
        val sup = Team(supervisorPhone.store)
        sup.supervisor.enrollWithServer(transport, server.url, server.enrollmentCode(team, "supervisor"), null, null)
        TempStore().use { otherPhone ->
            val phones = listOf(volunteerPhone, otherPhone).map { phone ->
                val t = Team(phone.store)
                t.supervisor.enrollWithServer(transport, server.url, server.enrollmentCode(team, "volunteer"), null, null)
                // The same family, registered on each phone, a visit from each.
                val household = t.registerHousehold()
                val draft = t.volunteer.startVisit(household.id, "household_screening")
                Family.fill(draft) { prompt -> draft.answerFix(prompt.path, freshFix(), confirmed = false) }
                draft.finalize(null)
                assertEquals(1, t.volunteer.sync(transport, null).acknowledged.size)
                Triple(phone, t, household)
            }
            assertEquals(2L, sup.supervisor.sync(transport, null).review.pulled)
            val pair = sup.supervisor.teamDuplicates().single()
            assertEquals(1.0, pair.reasons.nameSimilarity, 0.0)
            assertTrue(pair.reasons.described.toString(), pair.reasons.described.isNotEmpty())
            assertTrue(!pair.sameDevice)

            sup.supervisor.mergeHouseholds(pair.first.code, pair.second.code, "Cùng một hộ / one family")
            assertEquals(1L, sup.supervisor.sync(transport, null).review.decisionsSent)
            assertEquals(emptyList<DuplicatePair>(), sup.supervisor.teamDuplicates())

            // The phone that registered the merged household learns it at its next sync.
            val (_, merged, household) = phones.single { (phone, _, _) -> phone.store.deviceId() == pair.second.deviceId }
            merged.volunteer.sync(transport, null)
            assertEquals(pair.first.code, merged.volunteer.household(household.id).mergedInto)
            val (_, kept, keptHousehold) = phones.single { (phone, _, _) -> phone.store.deviceId() == pair.first.deviceId }
            kept.volunteer.sync(transport, null)
            assertNull(kept.volunteer.household(keptHousehold.id).mergedInto)
        }
    }
}
