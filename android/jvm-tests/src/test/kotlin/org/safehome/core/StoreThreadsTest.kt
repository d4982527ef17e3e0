package org.safehome.core

import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/** The store, profile sessions and drafts called from several Kotlin threads at once. */
class StoreThreadsTest {
    private fun runThreads(threads: Int, body: (Int) -> Unit): List<Throwable> {
        val start = CountDownLatch(1)
        val unexpected = Collections.synchronizedList(mutableListOf<Throwable>())
        val workers = (0 until threads).map { t ->
            Thread {
                start.await()
                try {
                    body(t)
                } catch (e: Throwable) {
                    unexpected += e
                }
            }.apply { start() }
        }
        start.countDown()
        workers.forEach { it.join(TimeUnit.MINUTES.toMillis(3)) }
        assertTrue("threads still running", workers.none { it.isAlive })
        return unexpected.toList()
    }

    @Test
    fun manyThreadsOnOneStore() {
        TempStore().use { t ->
            val team = Team(t.store)
            team.configureRecipients()
            val h = team.registerHousehold()
            val shared = team.volunteer.startVisit(h.id, "household_screening")
            val photo = fixture("photos/camera/DSCN0012.jpg").path
            val threads = 6
            val finalized = Collections.synchronizedList(mutableListOf<String>())

            val unexpected = runThreads(threads) { t0 ->
                // Each thread fills and finalizes its own visit of the household...
                val own = team.volunteer.startVisit(h.id, "household_screening")
                Family.fill(own) { p -> own.answerFix(p.path, freshFix(), false) }
                if (t0 % 2 == 0) own.attachPhoto("hazard_photo", photo, null)
                // ...while all of them write to one shared draft and read the store.
                repeat(25) { i ->
                    when ((t0 + i) % 7) {
                        0 -> shared.answer("village", AnswerValue.Text("Bản $t0-$i"))
                        1 -> shared.progress()
                        2 -> t.store.storageStatus()
                        3 -> team.volunteer.households()
                        4 -> team.supervisor.reviewQueue(20)
                        5 -> shared.nextPrompt() ?: shared.goTo("consent")
                        else -> t.store.outbox()
                    }
                }
                finalized += own.finalize().recordId
            }
            assertEquals(emptyList<Throwable>(), unexpected)

            assertEquals(threads, finalized.toSet().size)
            val village = shared.prompt("village").value as AnswerValue.Text
            assertTrue(village.value, village.value.startsWith("Bản "))
            // Every visit and photo queued once; the audit chain is whole.
            val outbox = t.store.outbox()
            assertEquals(threads, outbox.count { it.itemKind == OutboxItemKind.SUBMISSION })
            assertEquals(threads / 2 + threads % 2, outbox.count { it.itemKind == OutboxItemKind.ATTACHMENT })
            assertEquals(threads + 1, team.volunteer.records().size)
            assertTrue(t.store.verifyAudit().isIntact)
            // The shared draft, reopened, holds one of the villages written.
            val again = team.volunteer.openDraft(shared.recordId()).prompt("village").value
            assertTrue(again.toString(), (again as AnswerValue.Text).value.startsWith("Bản "))
        }
    }

    /**
     * The draft is not held while its photo is processed and sealed: a listener answering on
     * the same draft at "processed" would deadlock otherwise (the timeout turns that into a
     * failure). A draft finalized at that moment refuses the photo; the record stays as it was.
     */
    @Test(timeout = 120_000)
    fun aPhotoBeingProcessedDoesNotHoldTheDraft() {
        TempStore().use { t ->
            val team = Team(t.store)
            team.configureRecipients()
            val h = team.registerHousehold()
            val photo = fixture("photos/camera/DSCN0012.jpg").path

            val draft = team.volunteer.startVisit(h.id, "household_screening")
            Family.fill(draft) { p -> draft.answerFix(p.path, freshFix(), false) }
            val answered = object : ProgressListener {
                override fun onProgress(operation: String, done: Int, total: Int) {
                    if (done == 1) draft.answer("notes", AnswerValue.Text("Ảnh chụp lúc đang trả lời"))
                }
            }
            val attached = draft.attachPhoto("hazard_photo", photo, answered)
            assertEquals(AnswerValue.Text("Ảnh chụp lúc đang trả lời"), draft.prompt("notes").value)
            assertEquals(AnswerValue.Attachment(attached.id), draft.prompt("hazard_photo").value)

            val other = team.volunteer.startVisit(h.id, "household_screening")
            Family.fill(other) { p -> other.answerFix(p.path, freshFix(), false) }
            var finalizedId: String? = null
            val finalizing = object : ProgressListener {
                override fun onProgress(operation: String, done: Int, total: Int) {
                    if (done == 1) finalizedId = other.finalize().recordId
                }
            }
            assertThrows(ApiException.InvalidState::class.java) {
                other.attachPhoto("hazard_photo", photo, finalizing)
            }
            assertEquals(RecordState.QUEUED, team.volunteer.record(checkNotNull(finalizedId)).state)
            // The finalized visit went out without the photo; the first draft is not finalized.
            assertEquals(listOf(OutboxItemKind.SUBMISSION), t.store.outbox().map { it.itemKind })
        }
    }

    @Test
    fun closeStoreWhileOtherThreadsCall() {
        TempStore().use { t ->
            val team = Team(t.store)
            val h = team.registerHousehold()
            val draft = team.volunteer.startVisit(h.id, "household_screening")
            val callers = 4
            val warm = CountDownLatch(callers)
            val closedSeen = Collections.synchronizedList(mutableListOf<Int>())
            val unexpected = runThreads(callers + 1) { n ->
                if (n == callers) {
                    // Close once every caller is busy calling.
                    warm.await()
                    t.store.closeStore()
                    return@runThreads
                }
                // Until the store closes every call works; from then on each fails with
                // StoreClosed (and nothing else), so each caller stops at its first one.
                for (i in 0 until 100_000) {
                    if (i == 20) warm.countDown()
                    try {
                        when (i % 3) {
                            0 -> draft.answer("village", AnswerValue.Text("Bản $n-$i"))
                            1 -> team.volunteer.households()
                            else -> t.store.storageStatus()
                        }
                    } catch (_: ApiException.StoreClosed) {
                        closedSeen += n
                        break
                    }
                }
            }
            assertEquals(emptyList<Throwable>(), unexpected)
            assertTrue(t.store.isClosed())
            assertEquals((0 until callers).toList(), closedSeen.sorted())
        }
    }
}
