package org.safehome.core

import java.io.File
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/** Platform storage in memory: the app would use its private preferences or the Keychain. */
class MemoryAnchorKeeper : AuditAnchorKeeper {
    @Volatile var text: String = ""
    @Volatile var saves: Int = 0
    override fun save(anchor: String) {
        text = anchor
        saves += 1
    }
}

/** `keepAuditAnchor`: a database file put back to an older copy is refused offline. */
class AuditAnchorTest {
    @Test
    fun anOlderCopyOfTheDatabaseIsRefusedWhenTheAppOpensIt() {
        TempStore().use { t ->
            val keeper = MemoryAnchorKeeper()
            t.store.keepAuditAnchor(keeper.text, keeper)
            val team = Team(t.store)
            t.store.closeStore()
            // The copy kept aside (a backup, or an attacker's), before the household below.
            val old = File(t.dir, "old.db")
            File(t.path).copyTo(old)
            val reopened = t.open(t.key)
            reopened.keepAuditAnchor(keeper.text, keeper)
            val before = keeper.saves
            val volunteer = reopened.unlock(team.volunteerProfile.id, VOLUNTEER_PIN)
            volunteer.addHousehold(
                NewHousehold(communeCode = "05569", village = "Bản Nà Lòng", headName = "Lò Văn Thào"),
            )
            assertTrue("each change renews the anchor", keeper.saves > before)
            reopened.closeStore()
            old.copyTo(File(t.path), overwrite = true)
            val restored = t.open(t.key)
            val e = assertThrows(ApiException.RolledBack::class.java) { restored.keepAuditAnchor(keeper.text, keeper) }
            assertTrue("${e.keptLength} > ${e.foundLength}", e.keptLength > e.foundLength)
            restored.closeStore()
        }
    }

    @Test
    fun anotherDevicesAnchorIsRefused() {
        TempStore().use { a ->
            TempStore().use { b ->
                val keeper = MemoryAnchorKeeper()
                a.store.keepAuditAnchor(keeper.text, keeper)
                val e = assertThrows(ApiException.Tampered::class.java) { b.store.keepAuditAnchor(keeper.text, keeper) }
                assertEquals("audit anchor", e.table)
            }
        }
    }
}
