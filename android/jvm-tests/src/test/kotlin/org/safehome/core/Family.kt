package org.safehome.core

/** Vietnam's offset from UTC, as an Android app would read it from the device. */
const val VIETNAM_OFFSET_MINUTES = 420

/** One child of the test family. */
data class Child(
    val name: String,
    val sex: String,
    val age: Long,
    val inSchool: String,
    val leftSchoolToWork: String,
    val disability: String,
    val livesWith: String,
)

/**
 * The family of the walk-through: three children, an unfenced pond, unsafe poison storage,
 * a 2-year-old with a disability and a 12-year-old who left school to work. (Not named
 * `Household`: that is the generated record of a registered household.)
 */
object Family {
    val children = listOf(
        Child("Lò Thị Mai", "female", 2, "", "", "yes", "both_parents"),
        Child("Lò Văn Páo", "male", 7, "yes", "", "no", "both_parents"),
        Child("Lò Văn Sình", "male", 12, "no", "yes", "no", "grandparents"),
    )

    /** Answers to the household-level questions, by field name. */
    val answers: Map<String, AnswerValue> = mapOf(
        "consent" to AnswerValue.Choice("yes"),
        "commune_code" to AnswerValue.Choice("05569"),
        "village" to AnswerValue.Text("Bản Nà Lòng"),
        "head_name" to AnswerValue.Text("Lò Văn Thào"),
        "household_gps" to AnswerValue.Geopoint(21.8236, 103.3401, 612.0, 6.0),
        "num_children" to AnswerValue.Integer(children.size.toLong()),
        "pond_fenced" to AnswerValue.Choice("no"),
        "well_covered" to AnswerValue.Choice("yes"),
        "poison_stored" to AnswerValue.Choice("no"),
        "window_bars" to AnswerValue.Choice("na"),
        "kitchen_separate" to AnswerValue.Choice("yes"),
        "hot_items_safe" to AnswerValue.Choice("yes"),
        "wiring_safe" to AnswerValue.Choice("yes"),
        "stairs_railing" to AnswerValue.Choice("na"),
        "gate_fence" to AnswerValue.Choice("yes"),
        "helmet_use" to AnswerValue.Choice("yes"),
        "play_area" to AnswerValue.Choice("yes"),
        "child_injured_12m" to AnswerValue.Choice("no"),
        "special_groups" to AnswerValue.Choices(listOf("d")),
        "serious_harm" to AnswerValue.Choice("no"),
    )

    /** The answer to `prompt` for this family, or null to leave it blank. */
    fun answerFor(prompt: Prompt): AnswerValue? {
        val child = Regex("""^children\[(\d+)]/""").find(prompt.path)
            ?.let { children[it.groupValues[1].toInt() - 1] }
        if (child == null) return answers[prompt.name]
        return when (prompt.name) {
            "child_name" -> AnswerValue.Text(child.name)
            "child_sex" -> AnswerValue.Choice(child.sex)
            "child_age" -> AnswerValue.Integer(child.age)
            "child_in_school" -> AnswerValue.Choice(child.inSchool)
            "child_left_school_work" -> AnswerValue.Choice(child.leftSchoolToWork)
            "child_disability" -> AnswerValue.Choice(child.disability)
            "child_lives_with" -> AnswerValue.Choice(child.livesWith)
            else -> null
        }
    }

    /**
     * Fill `session` as a volunteer would: move with `nextPrompt`, answer what is asked.
     * Returns the paths of the prompts visited, in order.
     */
    fun fill(session: FormSession): List<String> =
        walk({ session.nextPrompt() }) { prompt, answer -> session.answer(prompt.path, answer) }

    /**
     * Fill a stored draft the same way (every answer autosaved). Geopoint questions go to
     * `geopoint` (the flow answers them with a GPS fix); the rest get the family's answers.
     */
    fun fill(draft: DraftSession, geopoint: (Prompt) -> Unit): List<String> =
        walk({ draft.nextPrompt() }) { prompt, answer ->
            if (prompt.kind == FieldKind.GEOPOINT) {
                geopoint(prompt)
                true
            } else {
                draft.answer(prompt.path, answer)
            }
        }

    private fun walk(next: () -> Prompt?, answer: (Prompt, AnswerValue) -> Boolean): List<String> {
        val visited = mutableListOf<String>()
        while (true) {
            val prompt = next() ?: break
            visited += prompt.path
            if (prompt.kind == FieldKind.NOTE || prompt.readOnly) continue
            val planned = answerFor(prompt)
            if (planned == null) {
                check(!prompt.required) { "no planned answer for required ${prompt.path}" }
                continue
            }
            check(answer(prompt, planned)) { "constraint failed at ${prompt.path}" }
        }
        return visited
    }
}
