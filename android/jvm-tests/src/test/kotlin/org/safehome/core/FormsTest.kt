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

    @Test
    fun formFromAnXlsformSpreadsheet() {
        // The household template as its checked-in spreadsheet: the same form as the built-in.
        val root = java.io.File(System.getProperty("safehome.repoRoot", "."))
        val xlsx = java.io.File(root, "docs/forms/household_screening.xlsx").canonicalFile
        check(xlsx.isFile) { "missing from the repository: $xlsx" }
        FormDefinition.fromXlsform(xlsx.path).use { form ->
            FormDefinition.builtin("household_screening").use { builtin ->
                assertEquals(builtin.id(), form.id())
                assertEquals(builtin.version(), form.version())
                assertEquals(listOf("vi", "en"), form.languages())
                assertEquals(builtin.title("en"), form.title("en"))
                assertTrue(form.hasRiskRules())
            }
        }
    }

    @Test
    fun badSpreadsheetsAreTypedExceptions() {
        // pyxform's or_other form: refused at its cell, every problem in the detail.
        val refused = assertThrows(ApiException.InvalidForm::class.java) {
            FormDefinition.fromXlsform(fixture("xlsforms/or_other.xlsx").path)
        }
        assertEquals("survey!A2", refused.path)
        assertTrue(refused.detail, refused.detail.contains("survey!A2: or_other select"))
        // Not a spreadsheet at all: no cell to name.
        val notXlsx = java.io.File.createTempFile("not-a-form", ".xlsx")
        try {
            notXlsx.writeText("type,name\ntext,a\n")
            val unreadable = assertThrows(ApiException.InvalidForm::class.java) {
                FormDefinition.fromXlsform(notXlsx.path)
            }
            assertEquals(null, unreadable.path)
            assertTrue(unreadable.detail, unreadable.detail.contains("not an .xlsx"))
        } finally {
            notXlsx.delete()
        }
    }

    companion object {
        val TINY_FORM = """
            {"id": "tiny", "version": "1", "title": {"en": "Tiny"}, "languages": ["en"],
             "fields": [{"name": "name", "type": "text", "label": {"en": "Name?"}, "required": true}]}
        """.trimIndent()
    }
}
