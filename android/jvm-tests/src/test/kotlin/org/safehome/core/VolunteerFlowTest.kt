package org.safehome.core

import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test

/**
 * The whole volunteer flow through Kotlin, on a real encrypted store: profiles, team keys, a
 * household, a visit filled for a family with three children, a GPS fix and a photo, finalize,
 * the risk assessment and its reasons, the outbox, the supervisor's side, and the log.
 */
class VolunteerFlowTest {
    private lateinit var temp: TempStore
    private val log = CollectingSink()

    @Before
    fun open() {
        setLogSink(log, LogLevel.DEBUG)
        temp = TempStore()
    }

    @After
    fun close() {
        temp.close()
        setLogSink(null, LogLevel.DEBUG)
    }

    @Test
    fun wholeVolunteerFlow() {
        val store = temp.store
        assertTrue(store.deviceId().isNotBlank())

        // Profiles: the first supervisor bootstraps the device and adds the volunteer.
        val team = Team(store)
        assertEquals(Role.VOLUNTEER, team.volunteer.role())
        assertEquals(
            listOf("Đỗ Thị Hằng" to Role.SUPERVISOR, "Lục Văn Toàn" to Role.VOLUNTEER),
            store.profiles().map { it.name to it.role },
        )

        // Team keys: the archive recipient that evidence is sealed to.
        val archive = team.configureRecipients()
        assertTrue(archive.recipient, archive.recipient.startsWith("shrecip1"))
        assertTrue(archive.identity.startsWith("SH-IDENTITY-1"))
        assertEquals(listOf(archive.recipient), store.recipients().map { it.publicKey })
        assertEquals(listOf("05569"), store.enrollment().communes)

        // The household, registered by the volunteer and found by its code.
        val household = team.registerHousehold()
        assertTrue(household.code, household.code.startsWith("05569-"))
        val volunteer = team.volunteer
        assertEquals(listOf(household.id), volunteer.households().map { it.id })
        assertEquals(household.id, volunteer.householdByCode(household.code).id)
        assertEquals(3, volunteer.household(household.id).members.size)

        // The visit: what the household record knows is already filled in.
        val draft = volunteer.startVisit(household.id, "household_screening")
        assertEquals(RecordKind.VISIT, draft.kind())
        assertEquals(AnswerValue.Text("Bản Nà Lòng"), draft.prompt("village").value)

        // Fill it for the family with three children; the GPS question gets a fix.
        var accepted: AcceptedFix? = null
        val visited = Family.fill(draft) { prompt ->
            accepted = draft.answerFix(prompt.path, freshFix(), confirmed = false)
        }
        for (i in 1..3) assertTrue("children[$i]/child_name" in visited)
        val fix = checkNotNull(accepted) { "the form has a geopoint question" }
        assertFalse(fix.overWarning)
        assertEquals(50.0, fix.warningM!!, 0.0)
        val gps = draft.prompt("household_gps").value as AnswerValue.Geopoint
        assertEquals(21.82362, gps.lat, 1e-9)
        assertEquals(6.0, gps.accuracy, 1e-9)

        // The photo of the unfenced pond, from a file path.
        val progress = CollectingProgress()
        val photo = draft.attachPhoto("hazard_photo", fixture("photos/camera/DSCN0010.jpg").path, progress)
        assertEquals((0..3).map { "attach_photo $it/3" }, progress.steps.toList())
        assertEquals(AnswerValue.Attachment(photo.id), draft.prompt("hazard_photo").value)
        assertTrue(photo.hadGps)
        assertEquals(640 to 480, photo.width to photo.height)
        assertTrue(photo.envelopeLen > photo.plainLen)

        // Location quality: a good fix at the registered house raises no flag.
        val flags = locationQualityFlags(
            VisitLocationInput(
                fix = fix,
                visitStartMs = fix.fix.timeMs - 60_000, visitEndMs = System.currentTimeMillis(),
                household = RegisteredLocation(21.8236, 103.3401, 8.0),
                photos = listOf(PhotoLocation(photo.id)),
            ),
            null,
        )
        assertEquals(emptyList<QualityFlag>(), flags)

        // Valid and complete; the assessment as it stands.
        assertTrue(draft.validate().violations.toString(), draft.validate().isValid)
        assertEquals(0, draft.progress().requiredMissing)
        assertEquals("Bản Nà Lòng – Lò Văn Thào", draft.instanceName())
        draft.setLanguage("en")

        // Finalize: signed, queued, assessed.
        val done = draft.finalize(progress)
        assertEquals(draft.recordId(), done.recordId)
        assertEquals(64, done.submissionSha256.length)
        val a = done.assessment!!
        assertEquals(RiskLevel.HIGH, a.level)
        assertEquals(18, a.totalPoints)
        assertEquals(
            listOf(
                "pond_unfenced_young", "poison_unsafe", "child_young_disability",
                "child_left_school_work", "group_disability_illness",
            ),
            a.triggered.map { it.ruleId },
        )
        val disability = a.triggered.single { it.ruleId == "child_young_disability" }
        assertEquals("children[1]", disability.instance)
        assertTrue(disability.reason, disability.reason.startsWith("Lò Thị Mai (age 2)"))
        assertTrue(a.triggered.all { it.reason.isNotBlank() })
        assertEquals(168, a.responseHours)
        assertEquals(a.assessedAtMs + 168L * 3_600_000L, a.dueAtMs)

        // The draft answers reads only now.
        assertThrows(ApiException.InvalidState::class.java) {
            draft.answer("village", AnswerValue.Text("x"))
        }
        assertThrows(ApiException.InvalidState::class.java) { draft.finalize() }
        assertEquals(RiskLevel.HIGH, draft.riskAssessment()!!.level)

        // The outbox: the signed submission and the sealed photo, both pending.
        val outbox = store.outbox()
        assertEquals(
            setOf(OutboxItemKind.ATTACHMENT, OutboxItemKind.SUBMISSION),
            outbox.map { it.itemKind }.toSet(),
        )
        assertTrue(outbox.all { it.state == OutboxState.PENDING && it.payloadSha256.length == 64 && it.sizeBytes > 0 })
        val submission = outbox.single { it.itemKind == OutboxItemKind.SUBMISSION }
        val sealedPhoto = outbox.single { it.itemKind == OutboxItemKind.ATTACHMENT }
        assertEquals(done.recordId, submission.itemId)
        assertEquals(done.outboxId, submission.id)
        assertEquals(done.submissionSha256, submission.payloadSha256)
        assertEquals(photo.id, sealedPhoto.itemId)
        assertEquals(photo.envelopeLen, sealedPhoto.sizeBytes)

        // The record as its owner sees it: queued, high risk, signed and verifiable.
        val record = volunteer.record(done.recordId)
        assertEquals(RecordState.QUEUED, record.state)
        assertEquals(RiskLevel.HIGH, record.riskLevel)
        assertEquals(household.id, record.householdId)
        assertEquals(done.submissionSha256, record.submissionSha256)
        assertTrue(record.dataJson.contains("children"))
        // The assessment read back from the signed submission: the one finalize returned.
        assertEquals(done.assessment, record.assessment)
        assertTrue(record.assessment!!.triggered.any { it.ruleId == "pond_unfenced_young" })
        assertTrue(volunteer.verifySubmission(done.recordId))
        assertEquals(listOf(photo.id), volunteer.attachments(done.recordId).map { it.id })
        assertTrue(volunteer.thumbnail(photo.id).size > 100)
        assertEquals(RiskLevel.HIGH, volunteer.household(household.id).riskHistory.single().level)

        // The store judged the location at finalize: the fix itself is good, but the fixture
        // photo's EXIF places it in Italy in 2008, and the supervisor is told so.
        val photoFlags = listOf(QualityFlagCode.PHOTO_FAR_FROM_FIX, QualityFlagCode.PHOTO_TIME_FAR)
        assertEquals(photoFlags, record.qualityFlags.map { it.code })
        assertTrue(record.qualityFlags.all { it.subject == photo.id && it.reasonVi.isNotBlank() })

        // The supervisor's side: the review queue, then returning it for a second photo.
        val queue = team.supervisor.reviewQueue(10)
        assertEquals(listOf(done.recordId), queue.map { it.id })
        assertEquals(photoFlags, queue.single().qualityFlags)
        assertThrows(ApiException.Forbidden::class.java) { volunteer.reviewQueue(10) }
        val status = store.storageStatus()
        assertEquals(1L, status.households)
        assertEquals(listOf(OutboxStateCount(OutboxState.PENDING, 2L)), status.outboxByState)
        assertEquals(listOf(RecordStateCount(RecordState.QUEUED, 1L)), status.recordsByState)
        assertTrue(status.pendingUploadBytes > 0)

        // The server acknowledges the photo by its hash.
        assertEquals(sealedPhoto.id, store.acknowledge(sealedPhoto.payloadSha256))
        assertEquals(OutboxState.ACKNOWLEDGED, store.outbox().single { it.id == sealedPhoto.id }.state)
        assertThrows(ApiException.NotFound::class.java) { store.acknowledge(sealedPhoto.payloadSha256) }

        val revisionId = team.supervisor.returnRecord(done.recordId, "Cần thêm ảnh giếng")
        assertEquals(RecordState.RETURNED, volunteer.record(done.recordId).state)
        val revision = volunteer.openDraft(revisionId)
        assertEquals(AnswerValue.Integer(12), revision.prompt("children[3]/child_age").value)
        assertEquals(2L, volunteer.record(revisionId).revision)
        assertEquals("Cần thêm ảnh giếng", volunteer.record(done.recordId).returnNote)

        // The audit chain holds every step.
        val audit = store.verifyAudit()
        assertTrue(audit.problem, audit.isIntact)
        assertTrue(audit.entries >= 10)

        // The log sink heard the store, the unlocks and the finalize — and no personal data.
        val events = log.snapshot()
        assertTrue(events.any { it.target == "store.open" && it.level == LogLevel.INFO })
        assertTrue(events.any { it.target == "store.unlock" && it.message.contains("volunteer") })
        assertTrue(events.any { it.target == "draft.finalize" && it.message.contains(done.recordId) })
        assertTrue(events.any { it.target == "profile.review_queue" && it.message.contains("forbidden") })
        val text = events.joinToString("\n") { it.message }
        for (secret in listOf("Lò", "Lục Văn Toàn", "21.82")) {
            assertFalse(secret, text.contains(secret))
        }
        // The PIN as a whole token: record ids and hashes are random hex, and "2468" turns up
        // inside one now and then; the PIN itself would stand alone.
        val pin = Regex("(?<![0-9A-Za-z])$VOLUNTEER_PIN(?![0-9A-Za-z])")
        assertTrue(events.filter { pin.containsMatchIn(it.message) }.joinToString { it.message }, events.none { pin.containsMatchIn(it.message) })
        assertNull(events.firstOrNull { it.atMs <= 0 })
    }
}
