package org.safehome.core

import java.util.concurrent.atomic.AtomicInteger
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/** The log sink (a foreign trait implemented in Kotlin) and progress listeners. */
class LoggingTest {
    @After
    fun removeSink() {
        setLogSink(null, LogLevel.DEBUG)
    }

    @Test
    fun theSinkReceivesEventsAtItsLevel() {
        val sink = CollectingSink()
        setLogSink(sink, LogLevel.INFO)
        TempStore().use { t ->
            val team = Team(t.store)
            assertThrows(ApiException.WrongPin::class.java) { t.store.unlock(team.volunteerProfile.id, "0000") }
            val events = sink.snapshot()
            val open = events.single { it.target == "store.open" }
            assertEquals(LogLevel.INFO, open.level)
            assertTrue(open.message, open.message.contains(t.store.deviceId()))
            // The core's own `tracing` events arrive too, named by the core module.
            val core = events.single { it.target == "safehome_core::store" }
            assertEquals(LogLevel.INFO, core.level)
            assertTrue(core.message, core.message.startsWith("store opened: schema v"))
            val refused = events.single { it.target == "store.unlock" && it.message.contains("wrong_pin") }
            assertEquals(LogLevel.INFO, refused.level)
            assertTrue(refused.message.startsWith("failed: wrong_pin: wrong PIN; 9 attempt(s)"))
            assertFalse(events.any { it.message.contains("0000") || it.message.contains("Hằng") })
            assertTrue(events.all { it.atMs > 1_700_000_000_000L })

            // At WARN, expected refusals are quiet and storage trouble is not.
            sink.records.clear()
            setLogSink(sink, LogLevel.WARN)
            assertThrows(ApiException.WrongPin::class.java) { t.store.unlock(team.volunteerProfile.id, "0000") }
            t.store.closeStore()
            assertThrows(ApiException.WrongKey::class.java) { t.open(randomDataKey()) }
            val warned = sink.snapshot()
            assertEquals(listOf("store.open"), warned.map { it.target })
            assertEquals(LogLevel.WARN, warned.single().level)
            assertTrue(warned.single().message.contains("wrong_key"))

            // No sink: nothing is delivered.
            setLogSink(null, LogLevel.DEBUG)
            sink.records.clear()
            t.open(t.key).use { it.closeStore() }
            assertEquals(emptyList<LogRecord>(), sink.snapshot())
        }
    }

    @Test
    fun aSinkThatThrowsOrCallsBackDoesNotHurt() {
        TempStore().use { t ->
            val team = Team(t.store)
            val h = team.registerHousehold()
            val draft = team.volunteer.startVisit(h.id, "household_screening")
            // A sink that throws: the events are lost, the calls are not.
            val thrown = AtomicInteger()
            setLogSink(object : LogSink {
                override fun log(record: LogRecord) {
                    thrown.incrementAndGet()
                    throw IllegalStateException("logcat is gone")
                }
            }, LogLevel.DEBUG)
            assertThrows(ApiException.InvalidAnswer::class.java) {
                draft.answer("num_children", AnswerValue.Text("x"))
            }
            assertTrue(draft.answer("num_children", AnswerValue.Integer(3)))
            assertEquals(1, thrown.get())
            // A sink that calls the API: it runs after the call's locks are released.
            val seen = AtomicInteger()
            setLogSink(object : LogSink {
                override fun log(record: LogRecord) {
                    seen.incrementAndGet()
                    draft.progress()
                    t.store.storageStatus()
                }
            }, LogLevel.DEBUG)
            assertThrows(ApiException.InvalidPath::class.java) { draft.clear("no_such_field") }
            assertThrows(ApiException.NotValid::class.java) { draft.finalize() }
            assertEquals(2, seen.get())
            // A sink whose own calls fail does not recurse: events raised while the sink runs
            // on this thread are dropped.
            t.store.closeStore()
            assertEquals(3, seen.get())
        }
    }

    @Test
    fun progressListenersHearStartAndEndEvenWhenTheyThrow() {
        TempStore().use { t ->
            val progress = CollectingProgress()
            assertTrue(t.store.verifyAudit(progress).isIntact)
            assertEquals(listOf("verify_audit 0/1", "verify_audit 1/1"), progress.steps.toList())
            val calls = AtomicInteger()
            val throwing = object : ProgressListener {
                override fun onProgress(operation: String, done: Int, total: Int) {
                    calls.incrementAndGet()
                    throw CallbackException.Failed("the screen is gone")
                }
            }
            val sink = CollectingSink()
            setLogSink(sink, LogLevel.WARN)
            assertTrue(t.store.verifyAudit(throwing).isIntact)
            assertEquals(2, calls.get())
            // The listener's error reached Rust whole: the code and the message Kotlin wrote into
            // the call status Rust passed to the callback (the call layer writes through to it).
            val failures = sink.snapshot().filter { it.message.startsWith("progress listener failed") }
            assertEquals(2, failures.size)
            assertTrue(failures.first().message, failures.all { it.message.contains("the screen is gone") })
        }
    }
}
