//! Household merges (docs/storage.md, "Review"): a supervisor's `merge` decision says that two
//! household codes are one household. Like a record's verdict, a household's merge is not a
//! column: it is the merge decision naming its code (sealed, in the server's order: the first
//! merge of a household stands), so a merge that arrives before the household, or a household
//! registered after its merge, needs no reordering.
//!
//! Applied on the volunteer's phone that holds the merged household: its visits are re-linked to
//! the kept household when this phone holds that one too (a volunteer who registered the same
//! family twice), otherwise the household reads as merged into the kept code. Either way the
//! step is audited (`merged`, entity `household`).

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};

use super::decisions::{Applied, HouseholdMerge};
use super::{Action, Store, StoreError};

/// The audit entity of households.
const HOUSEHOLD_ENTITY: &str = "household";

impl Store {
    /// Merged household code -> the code it was merged into: merges made here (pending or sent)
    /// and received, the first per household in the server's order.
    pub fn household_merges(&self) -> Result<HashMap<String, String>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT merge_household, merge_into FROM decisions_v
             WHERE kind = 'merge' AND state IN ('pending', 'sent', 'received')
               AND merge_household IS NOT NULL AND merge_into IS NOT NULL
             ORDER BY server_seq IS NULL, server_seq, created_at, id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (household, into) = row?;
            out.entry(household).or_insert(into);
        }
        Ok(out)
    }

    /// The code household `code` was merged into, if it was.
    pub fn merged_into(&self, code: &str) -> Result<Option<String>, StoreError> {
        Ok(self.household_merges()?.remove(code))
    }

    /// Apply a verified merge inside the decision's transaction (see the module's documentation).
    pub(crate) fn apply_merge(
        &self,
        tx: &Transaction<'_>,
        m: &HouseholdMerge,
    ) -> Result<Applied, StoreError> {
        let id_of = |code: &str| -> Result<Option<String>, StoreError> {
            Ok(tx
                .query_row("SELECT id FROM households WHERE code = ?1", [code], |r| r.get(0))
                .optional()?)
        };
        let Some(merged) = id_of(&m.household)? else {
            // A supervisor's phone, or a merge of a household this phone never held.
            return Ok(Applied::Kept);
        };
        // Only the first merge of a household stands (the server refuses a second; a phone
        // does not rely on it).
        let earlier: i64 = tx.query_row(
            "SELECT count(*) FROM decisions_v WHERE kind = 'merge' AND merge_household = ?1
               AND state IN ('sent', 'received')",
            [&m.household],
            |r| r.get(0),
        )?;
        if earlier > 1 {
            return Ok(Applied::Kept);
        }
        let relinked = match id_of(&m.into)? {
            Some(kept) => tx.execute(
                "UPDATE records SET household_id = ?2 WHERE household_id = ?1",
                params![merged, kept],
            )?,
            None => 0,
        };
        self.audit(tx, None, Action::Merged, HOUSEHOLD_ENTITY, &merged)?;
        Ok(Applied::Merged { household_id: merged, relinked })
    }

    /// The newest valid received record of household `code` that no pulled revision replaced:
    /// the record a merge of that household names (its device is the one that applies it).
    pub fn current_record_of_household(&self, code: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .reader()?
            .query_row(
                "SELECT r.record_id FROM received_v r
                 WHERE r.state = 'valid' AND r.household_code = ?1
                   AND NOT EXISTS (SELECT 1 FROM received_v n WHERE n.revision_of = r.record_id
                                   AND n.state = 'valid')
                 ORDER BY r.finalized_at DESC, r.record_id LIMIT 1",
                [code],
                |r| r.get(0),
            )
            .optional()?)
    }
}
