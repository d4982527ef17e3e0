package org.safehome.core

import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test

/** One session called from several Kotlin threads at once: no crash, no torn state. */
class ThreadsTest {
    @Test
    fun manyThreadsOnOneSession() {
        val threads = 8
        val rounds = 150
        FormDefinition.builtin("household_screening").use { form ->
            FormSession(form, VIETNAM_OFFSET_MINUTES).use { session ->
                Family.fill(session)
                val start = CountDownLatch(1)
                val unexpected = Collections.synchronizedList(mutableListOf<Throwable>())
                val workers = (0 until threads).map { t ->
                    Thread {
                        start.await()
                        repeat(rounds) { i ->
                            try {
                                when ((t + i) % 6) {
                                    0 -> session.answer("village", AnswerValue.Text("Bản $t-$i"))
                                    1 -> session.progress()
                                    2 -> session.visiblePrompts()
                                    3 -> FormSession.restore(form, session.stateJson(), VIETNAM_OFFSET_MINUTES).close()
                                    4 -> session.nextPrompt() ?: session.goTo("consent")
                                    else -> session.riskAssessment()
                                }
                                // A typed failure from another thread's interleaving is allowed;
                                // anything else (or a crash) is not.
                                try {
                                    session.answer("children[4]/child_age", AnswerValue.Integer(3))
                                } catch (_: ApiException.InvalidPath) {
                                }
                            } catch (e: Throwable) {
                                unexpected += e
                            }
                        }
                    }.apply { start() }
                }
                start.countDown()
                workers.forEach { it.join(TimeUnit.MINUTES.toMillis(2)) }
                assertTrue(workers.none { it.isAlive })
                assertEquals(emptyList<Throwable>(), unexpected.toList())
                // Still consistent: valid, with one of the written villages.
                assertTrue(session.validate().isValid)
                val village = session.prompt("village").value as AnswerValue.Text
                assertTrue(village.value, village.value.startsWith("Bản "))
                assertEquals(3, session.visiblePrompts().count { it.name == "child_name" })
            }
        }
    }
}
