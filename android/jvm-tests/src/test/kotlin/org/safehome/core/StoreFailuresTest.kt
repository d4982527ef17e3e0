package org.safehome.core

import java.io.File
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/** Every failure of the store is a typed `ApiException` subclass, never a crash. */
class StoreFailuresTest {
    private val start = 1_795_924_800_000L // 2026-11-29, on the store's fixed test clock

    @Test
    fun wrongPinThenDelaysThenLockout() {
        TempStore(clockStartMs = start).use { t ->
            val team = Team(t.store)
            val id = team.volunteerProfile.id
            // Three free attempts; the error says how many remain before lockout.
            for (remaining in listOf(9, 8, 7)) {
                val e = assertThrows(ApiException.WrongPin::class.java) { t.store.unlock(id, "0000") }
                assertEquals(remaining, e.attemptsRemaining)
                // The message for logs crosses too, and Kotlin's `message` includes it.
                assertTrue(e.message, e.detail.isNotBlank() && e.message!!.contains(e.detail))
            }
            // Then a wait: even the right PIN is refused until the retry time.
            val delay = assertThrows(ApiException.PinDelay::class.java) { t.store.unlock(id, VOLUNTEER_PIN) }
            assertEquals(start + 30_000, delay.retryAtMs)
            // Each later failure doubles the wait (up to 15 minutes); the tenth locks the profile.
            for (remaining in 6 downTo 1) {
                t.store.testAdvanceClock(15 * 60_000L)
                val e = assertThrows(ApiException.WrongPin::class.java) { t.store.unlock(id, "1111") }
                assertEquals(remaining, e.attemptsRemaining)
            }
            t.store.testAdvanceClock(15 * 60_000L)
            assertThrows(ApiException.LockedOut::class.java) { t.store.unlock(id, "1111") }
            t.store.testAdvanceClock(24 * 3_600_000L)
            assertThrows(ApiException.LockedOut::class.java) { t.store.unlock(id, VOLUNTEER_PIN) }
            val profile = t.store.profiles().single { it.id == id }
            assertTrue(profile.locked)
            assertEquals(10, profile.failedAttempts)
            // Only a supervisor lifts it; a volunteer may not.
            val forbidden = assertThrows(ApiException.Forbidden::class.java) { team.volunteer.resetPin(id, "9999") }
            assertEquals("volunteer", forbidden.role)
            assertThrows(ApiException.WeakPin::class.java) { team.supervisor.resetPin(id, "12") }
            team.supervisor.resetPin(id, "8642")
            assertEquals(id, t.store.unlock(id, "8642").profileId())
            val missing = assertThrows(ApiException.NotFound::class.java) { t.store.unlock("no-such-profile", "1234") }
            assertEquals("profile" to "no-such-profile", missing.entity to missing.id)
        }
    }

    @Test
    fun profilesAndPermissions() {
        TempStore().use { t ->
            // Interrupting an idle store is harmless; the next call runs.
            t.store.interrupt()
            assertEquals(0L, t.store.storageStatus().households)
            // Nobody may create a profile without a supervisor, except the first supervisor.
            assertThrows(ApiException.Forbidden::class.java) {
                t.store.createProfile(null, "Lò Văn A", Role.VOLUNTEER, "2468")
            }
            assertThrows(ApiException.WeakPin::class.java) {
                t.store.createProfile(null, "Đỗ Thị Hằng", Role.SUPERVISOR, "12ab")
            }
            val team = Team(t.store)
            assertThrows(ApiException.Forbidden::class.java) {
                t.store.createProfile(team.volunteer, "Lò Văn B", Role.VOLUNTEER, "2468")
            }
            assertThrows(ApiException.Forbidden::class.java) { team.volunteer.enroll("x", listOf("05569")) }
            assertThrows(ApiException.InvalidInput::class.java) { team.supervisor.enroll("x", listOf("5569")) }
            assertThrows(ApiException.InvalidInput::class.java) {
                team.supervisor.addRecipient("shrecip1notakey", RecipientKind.ARCHIVE, "x")
            }
            // A household is visible to its volunteer and the supervisor, not to another volunteer.
            val other = t.store.createProfile(team.supervisor, "Hà Thị Nhung", Role.VOLUNTEER, "3579")
            val otherSession = t.store.unlock(other.id, "3579")
            val h = team.registerHousehold()
            assertEquals(h.code, team.supervisor.household(h.id).code)
            assertThrows(ApiException.NotFound::class.java) { otherSession.household(h.id) }
            assertThrows(ApiException.NotFound::class.java) { otherSession.startVisit(h.id, "household_screening") }
            assertThrows(ApiException.InvalidInput::class.java) {
                team.volunteer.addHousehold(NewHousehold("5569", "Bản", headName = "Lò Văn C"))
            }
            assertThrows(ApiException.NotFound::class.java) {
                team.volunteer.startVisit(h.id, "no_such_form")
            }
            // A session of another store cannot act on this one.
            TempStore().use { other2 ->
                val foreign = Team(other2.store).supervisor
                assertThrows(ApiException.InvalidInput::class.java) {
                    t.store.createProfile(foreign, "Lò Văn D", Role.VOLUNTEER, "2468")
                }
            }
        }
    }

    @Test
    fun badAnswersAndAnIncompleteVisit() {
        TempStore().use { t ->
            val team = Team(t.store)
            val h = team.registerHousehold()
            val draft = team.volunteer.startVisit(h.id, "household_screening")
            val e = assertThrows(ApiException.InvalidAnswer::class.java) {
                draft.answer("num_children", AnswerValue.Text("ba đứa"))
            }
            assertEquals("num_children", e.path)
            // Privacy: no field of the error repeats the answer.
            assertFalse(e.message, e.message!!.contains("ba đứa"))
            assertThrows(ApiException.InvalidAnswer::class.java) {
                draft.answer("village", AnswerValue.Choices(listOf("x")))
            }
            assertThrows(ApiException.InvalidAnswer::class.java) {
                draft.answer("household_gps", AnswerValue.Geopoint(Double.NaN, 103.0, 0.0, 5.0))
            }
            val unknown = assertThrows(ApiException.InvalidPath::class.java) {
                draft.answer("no_such_field", AnswerValue.Text("x"))
            }
            assertEquals("no_such_field", unknown.path)
            val fixed = assertThrows(ApiException.NotAllowed::class.java) { draft.addRepeat("children") }
            assertEquals("children", fixed.path)
            assertEquals(null, draft.prompt("num_children").value)
            // Nothing refused was saved: the reopened draft has the same answers.
            val again = team.volunteer.openDraft(draft.recordId())
            assertEquals(null, again.prompt("num_children").value)
            assertEquals(AnswerValue.Text("Bản Nà Lòng"), again.prompt("village").value)
            // Finalize refuses an incomplete visit with the count and the first path.
            val nv = assertThrows(ApiException.NotValid::class.java) { draft.finalize() }
            val report = draft.validate()
            assertEquals(report.violations.size, nv.count)
            assertEquals(report.violations.first().path, nv.firstPath)
            // Privacy: a violation's own message may name a child; it never reaches the error.
            assertFalse(nv.message, report.violations.any { it.message.isNotEmpty() && nv.message!!.contains(it.message) })
            assertEquals(emptyList<OutboxEntry>(), t.store.outbox())
        }
    }

    @Test
    fun photosThatCannotBeUsed() {
        TempStore().use { t ->
            val team = Team(t.store)
            val h = team.registerHousehold()
            val draft = team.volunteer.startVisit(h.id, "household_screening")
            val good = fixture("photos/camera/DSCN0010.jpg").path
            // No recipients yet: nothing could ever open the sealed photo.
            assertThrows(ApiException.NoRecipients::class.java) { draft.attachPhoto("hazard_photo", good, null) }
            team.configureRecipients()
            val text = assertThrows(ApiException.UnsupportedFormat::class.java) {
                draft.attachPhoto("hazard_photo", fixture("photos/odd/not-an-image.jpg").path, null)
            }
            assertEquals("unknown", text.format)
            val heic = assertThrows(ApiException.UnsupportedFormat::class.java) {
                draft.attachPhoto("hazard_photo", fixture("photos/odd/iphone_13_pro_max.head.HEIC").path, null)
            }
            assertEquals("HEIC", heic.format)
            assertThrows(ApiException.Photo::class.java) {
                draft.attachPhoto("hazard_photo", truncatedPhoto(t.dir).path, null)
            }
            assertThrows(ApiException.Photo::class.java) {
                draft.attachPhoto("hazard_photo", fixture("photos/odd/empty.jpg").path, null)
            }
            assertThrows(ApiException.Photo::class.java) {
                draft.attachPhoto("hazard_photo", File(t.dir, "missing.jpg").path, null)
            }
            assertThrows(ApiException.InvalidInput::class.java) { draft.attachPhoto("village", good, null) }
            assertEquals(
                "no_such",
                assertThrows(ApiException.InvalidPath::class.java) { draft.attachPhoto("no_such", good, null) }.path,
            )
            // None of it changed the answer; a good photo still attaches.
            assertEquals(null, draft.prompt("hazard_photo").value)
            val ok = draft.attachPhoto("hazard_photo", good, null)
            assertEquals(AnswerValue.Attachment(ok.id), draft.prompt("hazard_photo").value)
        }
    }

    @Test
    fun wrongDataKeyAndDamagedFiles() {
        TempStore().use { t ->
            val team = Team(t.store)
            team.registerHousehold()
            t.store.closeStore()
            // Another key: refused before anything is read.
            assertThrows(ApiException.WrongKey::class.java) { t.open(randomDataKey()).close() }
            assertThrows(ApiException.InvalidInput::class.java) { t.open(ByteArray(31)).close() }
            // The right key opens it with everything in place.
            t.open(t.key).use { again ->
                assertEquals(2, again.profiles().size)
                assertEquals(1L, again.storageStatus().households)
                assertTrue(again.verifyAudit().isIntact)
                again.closeStore()
            }
            // A file that is not a database.
            val junk = File(t.dir, "junk.db").apply { writeText("not a database, just text ".repeat(200)) }
            assertThrows(ApiException.Corrupt::class.java) {
                SafeHomeStore.open(junk.path, randomDataKey(), VIETNAM_OFFSET_MINUTES).close()
            }
            // A directory that does not exist.
            assertThrows(ApiException.Storage::class.java) {
                SafeHomeStore.open(File(t.dir, "no/such/dir/x.db").path, randomDataKey(), 420).close()
            }
        }
    }

    @Test
    fun useAfterCloseStore() {
        TempStore().use { t ->
            val team = Team(t.store)
            val h = team.registerHousehold()
            val draft = team.volunteer.startVisit(h.id, "household_screening")
            draft.answer("num_children", AnswerValue.Integer(3))
            val recordId = draft.recordId()
            assertFalse(t.store.isClosed())
            t.store.closeStore()
            assertTrue(t.store.isClosed())
            // Every object tied to the store fails with a typed error, not a crash.
            assertThrows(ApiException.StoreClosed::class.java) { t.store.profiles() }
            assertThrows(ApiException.StoreClosed::class.java) { t.store.storageStatus() }
            assertThrows(ApiException.StoreClosed::class.java) { t.store.outbox() }
            assertThrows(ApiException.StoreClosed::class.java) { t.store.unlock(team.volunteerProfile.id, VOLUNTEER_PIN) }
            assertThrows(ApiException.StoreClosed::class.java) { team.volunteer.households() }
            assertThrows(ApiException.StoreClosed::class.java) { team.supervisor.reviewQueue(5) }
            assertThrows(ApiException.StoreClosed::class.java) { draft.answer("village", AnswerValue.Text("x")) }
            assertThrows(ApiException.StoreClosed::class.java) { draft.progress() }
            assertThrows(ApiException.StoreClosed::class.java) { draft.nextPrompt() }
            assertThrows(ApiException.StoreClosed::class.java) { draft.finalize() }
            // Closing again is harmless; the Kotlin object can still be closed.
            t.store.closeStore()
            draft.close()
            assertThrows(IllegalStateException::class.java) { draft.progress() }
            // The answer given before closing was saved.
            t.open(t.key).use { again ->
                val v = again.unlock(team.volunteerProfile.id, VOLUNTEER_PIN)
                assertEquals(AnswerValue.Integer(3), v.openDraft(recordId).prompt("num_children").value)
                again.closeStore()
            }
        }
    }

    @Test
    fun aFullDiskRollsBackAndLeavesTheDraftAsSaved() {
        TempStore().use { t ->
            val team = Team(t.store)
            val h = team.registerHousehold()
            val draft = team.volunteer.startVisit(h.id, "household_screening")
            draft.answer("village", AnswerValue.Text("Bản Nà Lòng"))
            val pages = (t.store.storageStatus().databaseBytes / 4096).toInt()
            t.store.testSimulateDiskLimit(pages)
            // Grow the draft until the database cannot: a typed DiskFull, never a crash.
            var full: ApiException.DiskFull? = null
            for (i in 1..200) {
                try {
                    draft.answer("notes", AnswerValue.Text("Xóm $i ".repeat(400)))
                } catch (e: ApiException.DiskFull) {
                    full = e
                    break
                }
            }
            checkNotNull(full) { "the capped database never filled up" }
            t.store.testSimulateDiskLimit(1_000_000)
            // The reopened draft has the last answer that was saved, and the audit chain is whole.
            val reopened = team.volunteer.openDraft(draft.recordId())
            assertEquals(AnswerValue.Text("Bản Nà Lòng"), reopened.prompt("village").value)
            assertTrue(t.store.verifyAudit().isIntact)
        }
    }
}
