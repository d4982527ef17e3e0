package org.safehome.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/** Form definitions: the built-in list, loading by id or JSON, and loading failures. */
class FormsTest {
    @Test
    fun listsTheBuiltinForms() {
        val forms = listBuiltinForms()
        assertEquals(
            listOf("household_screening", "injury_incident", "household_followup"),
            forms.map { it.id },
        )
        val screening = forms.first()
        assertEquals(listOf("vi", "en"), screening.languages)
        assertEquals("Household child-safety screening", screening.titles["en"])
        assertTrue(screening.titles.getValue("vi").startsWith("Sàng lọc"))
    }

    @Test
    fun opensABuiltinForm() {
        FormDefinition.builtin("household_screening").use { form ->
            assertEquals("household_screening", form.id())
            assertEquals("2026.1", form.version())
            assertEquals(listOf("vi", "en"), form.languages())
            assertEquals("Household child-safety screening", form.title("en"))
            // An unknown language falls back to the default (Vietnamese).
            assertEquals(form.title("vi"), form.title("fr"))
            assertTrue(form.hasRiskRules())
        }
        assertFalse(coreVersion().isEmpty())
    }

    @Test
    fun unknownFormIdIsATypedException() {
        val e = assertThrows(ApiException.UnknownForm::class.java) {
            FormDefinition.builtin("household_screenig")
        }
        assertEquals("household_screenig", e.id)
    }

    @Test
    fun formFromJson() {
        FormDefinition.fromJson(TINY_FORM).use { form ->
            assertEquals("tiny", form.id())
            assertFalse(form.hasRiskRules())
            FormSession(form, VIETNAM_OFFSET_MINUTES).use { s ->
                assertEquals("Name?", s.nextPrompt()!!.label)
                assertEquals(null, s.riskAssessment())
            }
        }
    }

    @Test
    fun badFormJsonIsATypedException() {
        val syntax = assertThrows(ApiException.InvalidForm::class.java) {
            FormDefinition.fromJson("{\"id\": \"tiny\",")
        }
        assertEquals(1, syntax.line)
        assertTrue(syntax.message, syntax.column!! > 1)
        assertEquals(null, syntax.path)
        // Valid JSON, invalid form: a reference to a field that does not exist.
        val definition = assertThrows(ApiException.InvalidForm::class.java) {
            FormDefinition.fromJson(TINY_FORM.replace("\"required\": true", "\"relevant\": \"\${nobody} = 1\""))
        }
        assertEquals("name", definition.path)
        assertEquals(null, definition.line)
    }

    companion object {
        val TINY_FORM = """
            {"id": "tiny", "version": "1", "title": {"en": "Tiny"}, "languages": ["en"],
             "fields": [{"name": "name", "type": "text", "label": {"en": "Name?"}, "required": true}]}
        """.trimIndent()
    }
}
