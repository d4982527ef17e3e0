//! Household merges: a supervisor's decision that two household codes are one household.

use std::collections::HashMap;

use super::{Store, StoreError};

impl Store {
    /// Merged household code -> the code it was merged into.
    pub fn household_merges(&self) -> Result<HashMap<String, String>, StoreError> {
        Ok(HashMap::new())
    }
}
