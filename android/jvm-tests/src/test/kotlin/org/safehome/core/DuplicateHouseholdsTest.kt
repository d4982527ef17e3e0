package org.safehome.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * Before registering a household the app asks `likelyDuplicates`: the same family 2 m away with
 * its name typed without diacritics is found, with the reasons to show the volunteer; another
 * family is not; without a location only the same village's names count.
 */
class DuplicateHouseholdsTest {
    private fun household(head: String, lat: Double?, village: String = "Bản Nà Lòng") = NewHousehold(
        communeCode = "05569",
        village = village,
        headName = head,
        location = lat?.let { HouseholdLocation(it, 103.3401, 5.0) },
    )

    @Test(timeout = 60_000)
    fun theSameFamilyTwoMetresAwayIsOfferedBeforeRegistering() {
        TempStore().use { t ->
            val team = Team(t.store)
            val first = team.volunteer.addHousehold(household("Ma Văn Hùng", 21.8236))
            val twoMetresNorth = 21.8236 + 2.0 / 110_600.0

            val found = team.volunteer.likelyDuplicates(household("Ma Van Hung", twoMetresNorth))
            assertEquals(found.toString(), 1, found.size)
            val d = found[0]
            assertEquals(first.id, d.householdId)
            assertEquals(first.code, d.code)
            assertEquals("Ma Văn Hùng", d.headName)
            assertEquals(DuplicateBasis.NEARBY, d.reasons.basis)
            val metres = d.reasons.distanceM!!
            assertTrue("$metres m", metres in 1.5..2.5)
            assertEquals(1.0, d.reasons.nameSimilarity, 0.0)
            assertTrue(d.reasons.sameVillage)
            assertTrue(d.reasons.described.toString(), d.reasons.described[0].startsWith("cách 2 m"))

            // Another family at the same spot, or a namesake 700 m away: nothing to ask.
            assertTrue(team.volunteer.likelyDuplicates(household("Trần Thị Bình", twoMetresNorth)).isEmpty())
            val farAway = 21.8236 + 700.0 / 110_600.0
            assertTrue(team.volunteer.likelyDuplicates(household("Ma Van Hung", farAway)).isEmpty())

            // No location: by name, within the village only.
            val byName = team.volunteer.likelyDuplicates(household("MA VAN HUNG", null))
            assertEquals(1, byName.size)
            assertEquals(DuplicateBasis.SAME_VILLAGE_NO_LOCATION, byName[0].reasons.basis)
            assertNull(byName[0].reasons.distanceM)
            assertTrue(team.volunteer.likelyDuplicates(household("Ma Van Hung", null, "Bản Pa Vây")).isEmpty())

            // Asking registers nothing.
            assertEquals(1, team.volunteer.households().size)
        }
    }
}
