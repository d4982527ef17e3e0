package org.safehome.core

import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * One owner per draft: two screens (threads) that open the same visit get one shared draft, so
 * neither can overwrite the other or show an answer the database does not have.
 */
class DraftOwnershipTest {
    @Test(timeout = 180_000)
    fun twoScreensOpeningOneVisitShareOneDraft() {
        TempStore().use { t ->
            val team = Team(t.store)
            val h = team.registerHousehold()
            val id = team.volunteer.startVisit(h.id, "household_screening").use { it.recordId() }

            // No session of the visit is alive: both threads open it at the same moment, then
            // answer different questions 20 times each.
            val start = CountDownLatch(1)
            val unexpected = Collections.synchronizedList(mutableListOf<Throwable>())
            val opened = Collections.synchronizedList(mutableListOf<DraftSession>())
            val work = listOf("village" to "Bản Nà Lòng", "notes" to "Ao cá chưa có rào")
            val threads = work.map { (path, text) ->
                Thread {
                    start.await()
                    try {
                        val d = team.volunteer.openDraft(id)
                        opened += d
                        repeat(20) { n -> d.answer(path, AnswerValue.Text("$text $n")) }
                    } catch (e: Throwable) {
                        unexpected += e
                    }
                }.apply { start() }
            }
            start.countDown()
            threads.forEach { it.join(TimeUnit.MINUTES.toMillis(2)) }
            assertEquals(emptyList<Throwable>(), unexpected)
            assertEquals(2, opened.size)

            // Each screen sees the other's last answer: one draft, not two copies.
            val expected = mapOf("village" to "Bản Nà Lòng 19", "notes" to "Ao cá chưa có rào 19")
            for (d in opened) {
                for ((path, text) in expected) assertEquals(AnswerValue.Text(text), d.prompt(path).value)
            }
            // A third open while they are alive is the same draft too.
            val third = team.volunteer.openDraft(id)
            third.answer("village", AnswerValue.Text("Bản Khuôn Tát"))
            assertEquals(AnswerValue.Text("Bản Khuôn Tát"), opened[0].prompt("village").value)

            // The database holds exactly what the screens showed.
            (opened + third).forEach { it.close() }
            team.volunteer.openDraft(id).use { again ->
                assertEquals(AnswerValue.Text("Bản Khuôn Tát"), again.prompt("village").value)
                assertEquals(AnswerValue.Text("Ao cá chưa có rào 19"), again.prompt("notes").value)
            }
        }
    }

    @Test(timeout = 180_000)
    fun afterOneScreenFinalizesTheOtherCannotEditOrReopen() {
        TempStore().use { t ->
            val team = Team(t.store)
            team.configureRecipients()
            val h = team.registerHousehold()
            val first = team.volunteer.startVisit(h.id, "household_screening")
            val second = team.volunteer.openDraft(first.recordId())
            Family.fill(second) { p -> second.answerFix(p.path, freshFix(), false) }
            first.finalize()
            assertThrows(ApiException.InvalidState::class.java) {
                second.answer("notes", AnswerValue.Text("muộn"))
            }
            assertThrows(ApiException.InvalidState::class.java) {
                team.volunteer.openDraft(first.recordId())
            }
            assertTrue(t.store.verifyAudit().isIntact)
        }
    }

    @Test(timeout = 60_000)
    fun anotherProfileCannotOpenALiveDraft() {
        TempStore().use { t ->
            val team = Team(t.store)
            val h = team.registerHousehold()
            team.volunteer.startVisit(h.id, "household_screening").use { d ->
                assertThrows(ApiException.NotFound::class.java) {
                    team.supervisor.openDraft(d.recordId())
                }
            }
        }
    }
}
