package org.safehome.core

import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Before
import org.junit.Test

/** The household screening filled for a family with three children, through Kotlin. */
class HouseholdScreeningTest {
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
    fun fillsTheFormByWalkingThePrompts() {
        assertNull(session.current())
        val before = session.progress()
        assertTrue(before.requiredMissing > 0)

        val visited = Family.fill(session)

        // One prompt per child question, for each of the three children, in order.
        for (i in 1..3) assertTrue("children[$i]/child_name" in visited)
        assertTrue(visited.indexOf("children[1]/child_age") < visited.indexOf("children[2]/child_name"))
        // The 2-year-old is not asked about school; the 12-year-old is.
        assertFalse("children[1]/child_in_school" in visited)
        assertTrue("children[3]/child_left_school_work" in visited)
        // At the end the position stays on the last prompt.
        assertEquals(visited.last(), session.current()!!.path)

        val progress = session.progress()
        assertEquals(0, progress.requiredMissing)
        // Left blank, all optional: two old address lines, three dates of birth, photo, notes.
        assertEquals(progress.total - 7, progress.answered)
        assertTrue(progress.answered > before.answered)

        val report = session.validate()
        assertTrue(report.violations.toString(), report.isValid)
        assertEquals("Bản Nà Lòng – Lò Văn Thào", session.instanceName())
    }

    @Test
    fun promptsCarryTypedValuesAndChoices() {
        Family.fill(session)
        val age = session.prompt("children[3]/child_age")
        assertEquals(FieldKind.INTEGER, age.kind)
        assertEquals(AnswerValue.Integer(12), age.value)
        val gps = session.prompt("household_gps").value as AnswerValue.Geopoint
        assertEquals(21.8236, gps.lat, 1e-9)
        assertEquals(6.0, gps.accuracy, 1e-9)
        val groups = session.prompt("special_groups")
        assertEquals(AnswerValue.Choices(listOf("d")), groups.value)
        session.setLanguage("en")
        val consent = session.goTo("consent")
        assertEquals(listOf("yes", "no"), consent.choices.map { it.name })
        assertEquals(consent, session.current())
        assertEquals(AnswerValue.Choice("yes"), consent.value)
        // Navigation goes both ways from there.
        val next = session.nextPrompt()!!
        assertEquals(consent.path, session.previousPrompt()!!.path)
        assertTrue(next.path != consent.path)
        val visible = session.visiblePrompts()
        assertTrue(visible.any { it.path == "children[2]/child_sex" && it.value == AnswerValue.Choice("male") })
        assertTrue(session.timings().isNotEmpty())
    }

    @Test
    fun readsTheRiskAssessmentAndItsReasons() {
        Family.fill(session)
        session.setLanguage("en")
        val a = session.riskAssessment()!!
        // Unfenced pond with a young child 6 + poison 3 + young child with a disability 3 +
        // child left school to work 4 + special group (disability) 2.
        assertEquals(18, a.totalPoints)
        assertEquals(RiskLevel.HIGH, a.level)
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
        val work = a.triggered.single { it.ruleId == "child_left_school_work" }
        assertEquals("children[3]", work.instance)
        assertEquals(RiskCategory.EXPLOITATION, work.category)
        assertTrue(a.triggered.all { it.reason.isNotBlank() && !it.urgent })
        assertEquals(RiskCategory.DROWNING, a.categories.first().category)
        assertEquals(a.totalPoints, a.categories.sumOf { it.points })
        assertEquals(168, a.responseHours)
        assertEquals(a.assessedAtMs + 168L * 3_600_000L, a.dueAtMs)
        assertTrue(a.errors.isEmpty())
        // Vietnamese reasons once the volunteer switches language.
        session.setLanguage("vi")
        assertFalse(session.riskAssessment()!!.triggered.first().reason.startsWith("Pond"))
    }

    @Test
    fun seriousHarmMakesTheAssessmentUrgent() {
        Family.fill(session)
        session.answer("serious_harm", AnswerValue.Choice("yes"))
        val a = session.riskAssessment()!!
        assertEquals(RiskLevel.URGENT, a.level)
        assertEquals(12, a.responseHours)
        // The details question appeared and is now required.
        val report = session.validate()
        assertFalse(report.isValid)
        assertEquals(listOf("serious_harm_details"), report.violations.map { it.path })
        assertEquals(ViolationCode.REQUIRED, report.violations.single().code)
    }

    @Test
    fun savesAndRestoresTheState() {
        Family.fill(session)
        session.goTo("children[2]/child_age")
        val state = session.stateJson()
        FormSession.restore(form, state, VIETNAM_OFFSET_MINUTES).use { restored ->
            assertEquals(session.outputJson(), restored.outputJson())
            assertEquals(session.progress(), restored.progress())
            assertEquals("children[2]/child_age", restored.current()!!.path)
            assertEquals(session.riskAssessment()!!.triggered, restored.riskAssessment()!!.triggered)
            assertEquals(state, restored.stateJson())
            assertTrue(restored.validate().isValid)
        }
        assertTrue(session.outputJson().contains("\"num_children\":3"))
    }

    @Test
    fun clearingAndChangingTheRoster() {
        Family.fill(session)
        session.clear("children[3]/child_age")
        assertNull(session.prompt("children[3]/child_age").value)
        assertEquals(1, session.progress().requiredMissing)
        // Fewer children: the third one disappears, its rule with it.
        session.answer("num_children", AnswerValue.Integer(2))
        assertFalse(session.visiblePrompts().any { it.path.startsWith("children[3]") })
        assertFalse(session.riskAssessment()!!.triggered.any { it.ruleId == "child_left_school_work" })
        assertNotNull(session.form().id())
    }
}
