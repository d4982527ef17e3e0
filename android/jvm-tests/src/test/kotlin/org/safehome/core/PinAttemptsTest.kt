package org.safehome.core

import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** Wrong PINs fired from 30 threads at once cannot compare more PINs than the policy allows. */
class PinAttemptsTest {
    @Test(timeout = 120_000)
    fun thirtyParallelGuessesStopAtTheFreeAttempts() {
        TempStore().use { t ->
            val team = Team(t.store)
            val id = team.volunteerProfile.id
            val start = CountDownLatch(1)
            val outcomes = Collections.synchronizedList(mutableListOf<Throwable>())
            val threads = (0 until 30).map {
                Thread {
                    start.await()
                    try {
                        t.store.unlock(id, "9999")
                    } catch (e: Throwable) {
                        outcomes += e
                    }
                }.apply { start() }
            }
            start.countDown()
            threads.forEach { it.join(TimeUnit.MINUTES.toMillis(1)) }
            assertEquals(30, outcomes.size)
            val wrong = outcomes.filterIsInstance<ApiException.WrongPin>()
            val waits = outcomes.filterIsInstance<ApiException.PinDelay>()
            assertEquals(outcomes.toString(), 30, wrong.size + waits.size)
            // Three free attempts, then every attempt waits: at most three PINs were compared,
            // and the typed fields say how many tries are left and when to try again.
            assertTrue("${wrong.size} compared", wrong.size in 1..3)
            assertTrue(wrong.map { it.attemptsRemaining }.toString(), wrong.all { it.attemptsRemaining in 7..9 })
            assertTrue(waits.all { it.retryAtMs > 0 })
            // Even the right PIN waits now.
            val right = runCatching { t.store.unlock(id, VOLUNTEER_PIN) }.exceptionOrNull()
            assertTrue(right.toString(), right is ApiException.PinDelay)
        }
    }
}
