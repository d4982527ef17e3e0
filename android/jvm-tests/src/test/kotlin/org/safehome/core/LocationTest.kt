package org.safehome.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/** GPS fixes, their quality flags and assigned areas, through Kotlin. */
class LocationTest {
    private fun square(code: String, name: String, west: Double, east: Double) = """
        {"type": "Feature", "properties": {"code": "$code", "name": "$name"},
         "geometry": {"type": "Polygon", "coordinates": [[
           [$west, 21.5], [$east, 21.5], [$east, 22.0], [$west, 22.0], [$west, 21.5]]]}}
    """

    private val communes = """{"type": "FeatureCollection", "features": [
        ${square("05569", "Xã Mường Tè", 103.0, 103.5)}, ${square("05662", "Xã Bum Nưa", 103.5, 104.0)}]}"""

    @Test
    fun fixesAreValidatedWithReasonsThatDoNotRepeatThePosition() {
        val ok = validateFix(freshFix())
        assertEquals(2_000L, ok.ageMs)
        assertEquals(FixProvider.GPS, ok.fix.provider)
        val cases = mapOf(
            FixRefusal.STALE to freshFix(ageMs = 10 * 60_000),
            FixRefusal.NOT_FINITE to freshFix().copy(lat = Double.NaN),
            FixRefusal.OUT_OF_RANGE to freshFix().copy(lat = 91.0),
            FixRefusal.NULL_ISLAND to freshFix().copy(lat = 0.0, lon = 0.0),
            FixRefusal.ACCURACY_NOT_POSITIVE to freshFix(accuracyM = 0.0),
            FixRefusal.ACCURACY_ABSURD to freshFix(accuracyM = 50_000.0),
            FixRefusal.IN_FUTURE to freshFix().copy(timeMs = System.currentTimeMillis() + 3_600_000, ageMs = null),
        )
        for ((reason, fix) in cases) {
            val e = assertThrows("$reason", ApiException.InvalidFix::class.java) { validateFix(fix) }
            assertEquals(reason, e.reason)
            // Privacy: no field of the error repeats the (valid) longitude.
            assertFalse(e.message, e.message!!.contains("103.34"))
        }
    }

    @Test
    fun answerFixAppliesTheQuestionsAccuracyThresholds() {
        TempStore().use { t ->
            val team = Team(t.store)
            val draft = team.volunteer.startVisit(team.registerHousehold().id, "household_screening")
            // household_gps warns above 50 m: such a fix needs the volunteer's confirmation.
            val e = assertThrows(ApiException.InvalidFix::class.java) {
                draft.answerFix("household_gps", freshFix(accuracyM = 80.0), confirmed = false)
            }
            assertEquals(FixRefusal.CONFIRMATION_REQUIRED, e.reason)
            val accepted = draft.answerFix("household_gps", freshFix(accuracyM = 80.0), confirmed = true)
            assertTrue(accepted.overWarning)
            val gps = draft.prompt("household_gps").value as AnswerValue.Geopoint
            assertEquals(80.0, gps.accuracy, 0.0)
            assertFalse(draft.validate().violations.any { it.code == ViolationCode.ACCURACY_UNCONFIRMED })
            val stale = assertThrows(ApiException.InvalidFix::class.java) {
                draft.answerFix("household_gps", freshFix(ageMs = 3_600_000), confirmed = true)
            }
            assertEquals(FixRefusal.STALE, stale.reason)
            val path = assertThrows(ApiException.InvalidPath::class.java) {
                draft.answerFix("no_such_point", freshFix(), confirmed = false)
            }
            assertEquals("no_such_point", path.path)

            // The supervisor's flags for that visit: low accuracy, confirmed over the warning,
            // and a mock provider.
            val mock = draft.answerFix("household_gps", freshFix(accuracyM = 80.0, mock = true), true)
            val now = System.currentTimeMillis()
            val flags = locationQualityFlags(VisitLocationInput(mock, now - 60_000, now))
            assertEquals(
                listOf(
                    QualityFlagCode.LOW_ACCURACY, QualityFlagCode.ACCEPTED_OVER_WARNING,
                    QualityFlagCode.MOCK_PROVIDER,
                ),
                flags.map { it.code },
            )
            assertEquals(80.0, flags[0].numbers["accuracy_m"]!!, 0.0)
            assertTrue(flags.all { it.reasonVi.isNotBlank() && it.reasonEn.isNotBlank() })
        }
    }

    @Test
    fun assignedAreasLocateAndFlag() {
        val areas = AssignedAreas.fromGeojson(communes)
        assertEquals(listOf("05569", "05662"), areas.areas().map { it.code })
        assertEquals(
            AreaPlacement.Inside("05569", "Xã Mường Tè", onBoundary = false),
            areas.locate(21.8236, 103.3401),
        )
        // On the shared edge: the code that sorts first wins.
        assertEquals(AreaPlacement.Inside("05569", "Xã Mường Tè", onBoundary = true), areas.locate(21.75, 103.5))
        val outside = areas.locate(21.0, 103.2) as AreaPlacement.Outside
        assertEquals("05569", outside.nearestCode)
        assertEquals(55_000.0, outside.distanceM, 1_000.0)
        assertEquals(AreaPlacement.InvalidPosition, areas.locate(Double.NaN, 103.0))
        assertEquals(0.0, areas.distanceTo(21.8, 103.3, "05569")!!, 0.0)
        assertEquals(null, areas.distanceTo(21.8, 103.3, "99999"))

        // A visit recorded in 05569 by a volunteer assigned to 05662 is flagged.
        val fix = AcceptedFix(freshFix(), System.currentTimeMillis(), 2_000, false, 50.0)
        val now = System.currentTimeMillis()
        val input = VisitLocationInput(fix, now - 60_000, now, assignedAreaCode = "05662")
        val flags = locationQualityFlags(input, areas)
        assertEquals(listOf(QualityFlagCode.OUTSIDE_AREA), flags.map { it.code })
        assertTrue(flags[0].reasonEn, flags[0].reasonEn.contains("05662"))
        assertThrows(ApiException.InvalidInput::class.java) { locationQualityFlags(input, null) }
        assertThrows(ApiException.InvalidInput::class.java) {
            locationQualityFlags(input.copy(assignedAreaCode = "00000"), areas)
        }
    }

    @Test
    fun assignedAreasArePartOfTheDeviceConfiguration() {
        TempStore().use { t ->
            val team = Team(t.store)
            assertNull(t.store.assignedAreas())
            // Only a supervisor configures the team; invalid areas are refused and change nothing.
            assertThrows(ApiException.Forbidden::class.java) { team.volunteer.setAssignedAreas(communes) }
            assertThrows(ApiException.InvalidAreas::class.java) { team.supervisor.setAssignedAreas("{") }
            assertNull(t.store.assignedAreas())
            team.supervisor.setAssignedAreas(communes)
            assertEquals(listOf("05569", "05662"), t.store.assignedAreas()!!.areas().map { it.code })

            // After a restart the areas come from the database: nobody sets them again.
            t.store.closeStore()
            val reopened = t.open(t.key)
            try {
                assertEquals(listOf("05569", "05662"), reopened.assignedAreas()!!.areas().map { it.code })
                reopened.unlock(team.supervisorProfile.id, SUPERVISOR_PIN).setAssignedAreas(null)
                assertNull(reopened.assignedAreas())
            } finally {
                reopened.closeStore()
                reopened.close()
            }
        }
    }

    @Test
    fun badAreasNameTheFeature() {
        val unclosed = """{"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": "05569", "name": "x"},
             "geometry": {"type": "Polygon", "coordinates": [[[103.0, 21.5], [103.5, 21.5], [103.5, 22.0], [103.0, 22.0]]]}}]}"""
        val e = assertThrows(ApiException.InvalidAreas::class.java) { AssignedAreas.fromGeojson(unclosed) }
        assertEquals(0, e.featureIndex)
        assertEquals("05569", e.featureCode)
        // Problems with the whole document name no feature.
        val syntax = assertThrows(ApiException.InvalidAreas::class.java) { AssignedAreas.fromGeojson("{") }
        assertEquals(null, syntax.featureIndex)
        val empty = assertThrows(ApiException.InvalidAreas::class.java) {
            AssignedAreas.fromGeojson("""{"type": "FeatureCollection", "features": []}""")
        }
        assertEquals(null, empty.featureIndex)
        assertEquals(null, empty.featureCode)
    }
}
