package org.safehome.core

import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test

/** Every failure is a typed `ApiException` subclass, and the session stays usable. */
class FailuresTest {
    private lateinit var form: FormDefinition
    private lateinit var session: FormSession

    @Before
    fun open() {
        form = FormDefinition.builtin("household_screening")
        session = FormSession(form, VIETNAM_OFFSET_MINUTES)
    }

    @After
    fun close() {
        session.close()
        form.close()
    }

    @Test
    fun badAnswerType() {
        val e = assertThrows(ApiException.InvalidAnswer::class.java) {
            session.answer("num_children", AnswerValue.Text("ba đứa"))
        }
        assertEquals("num_children", e.path)
        // The message describes the input, never repeats it: answers may be personal data.
        assertFalse(e.message, e.message!!.contains("ba đứa"))
        assertThrows(ApiException.InvalidAnswer::class.java) {
            session.answer("village", AnswerValue.Choices(listOf("x")))
        }
        assertThrows(ApiException.InvalidAnswer::class.java) {
            session.answer("household_gps", AnswerValue.Geopoint(Double.NaN, 105.0, 0.0, 5.0))
        }
        assertThrows(ApiException.InvalidAnswer::class.java) {
            session.answer("household_gps", AnswerValue.Geopoint(95.0, 105.0, 0.0, 5.0))
        }
        // Nothing was stored.
        assertEquals(null, session.prompt("num_children").value)
    }

    @Test
    fun notAChoiceDoesNotEchoTheValue() {
        val e = assertThrows(ApiException.InvalidAnswer::class.java) {
            session.answer("consent", AnswerValue.Choice("Lò Văn Thào"))
        }
        assertFalse(e.message, e.message!!.contains("Thào"))
    }

    @Test
    fun unknownPath() {
        assertThrows(ApiException.InvalidPath::class.java) {
            session.answer("no_such_field", AnswerValue.Text("x"))
        }
        assertThrows(ApiException.InvalidPath::class.java) { session.goTo("children[9]/child_age") }
        assertThrows(ApiException.InvalidPath::class.java) { session.clear("children[") }
        assertThrows(ApiException.InvalidPath::class.java) { session.addRepeat("village") }
    }

    @Test
    fun operationsTheFormForbids() {
        // The number of children comes from num_children (repeat_count), not from the app.
        assertThrows(ApiException.NotAllowed::class.java) { session.addRepeat("children") }
        // Calculations are not answered.
        assertThrows(ApiException.NotAllowed::class.java) {
            session.answer("num_under16", AnswerValue.Integer(1))
        }
        assertThrows(ApiException.UnknownLanguage::class.java) { session.setLanguage("fr") }
        assertEquals("vi", session.language())
    }

    @Test
    fun restoreOfCorruptState() {
        session.answer("consent", AnswerValue.Choice("yes"))
        val good = session.stateJson()
        val cases = listOf(
            "",
            "{",
            good.substring(0, good.length / 2),
            "[1, 2, 3]",
            good.replace("\"household_screening\"", "\"injury_incident\""),
            good.replace("\"consent\":\"yes\"", "\"consent\":\"perhaps\""),
            good.replace("\"consent\":\"yes\"", "\"no_such_field\":\"yes\""),
        )
        for (bad in cases) {
            val e = assertThrows("restore of: ${bad.take(60)}", ApiException.InvalidState::class.java) {
                FormSession.restore(form, bad, VIETNAM_OFFSET_MINUTES)
            }
            assertFalse(e.message, e.message!!.contains("perhaps"))
        }
        // The good state still restores.
        FormSession.restore(form, good, VIETNAM_OFFSET_MINUTES).use {
            assertEquals(AnswerValue.Choice("yes"), it.prompt("consent").value)
        }
    }

    @Test
    fun errorsLeaveTheSessionUsable() {
        assertThrows(ApiException::class.java) { session.answer("num_children", AnswerValue.Decimal(1.5)) }
        assertTrue(session.answer("num_children", AnswerValue.Integer(1)))
        assertEquals(AnswerValue.Integer(1), session.prompt("num_children").value)
    }

    @Test
    fun useAfterCloseIsAnException() {
        val s = FormSession(form, VIETNAM_OFFSET_MINUTES)
        s.close()
        assertThrows(IllegalStateException::class.java) { s.progress() }
    }

    @Test
    fun aForcedInternalErrorIsAnExceptionNotACrash() {
        val doomed = FormSession(form, VIETNAM_OFFSET_MINUTES)
        doomed.answer("consent", AnswerValue.Choice("yes"))
        val e = assertThrows(ApiException.Internal::class.java) { doomed.testPanicWhileLocked() }
        // The panic's own text stays in the process's log; it is not passed on (it could quote data).
        assertFalse(e.message, e.message!!.contains("forced panic"))
        // The panic poisoned that session's lock: it refuses every later call, typed.
        assertThrows(ApiException.Internal::class.java) { doomed.progress() }
        assertThrows(ApiException.Internal::class.java) { doomed.stateJson() }
        doomed.close()
        // Other sessions and the library carry on.
        assertTrue(session.answer("consent", AnswerValue.Choice("yes")))
        assertEquals(3, listBuiltinForms().size)
    }
}
