//! [`StoreHandle`]: the open store, shared by a `SafeHomeStore`, its profile sessions and their
//! drafts. `closeStore()` empties it, so every later call through any of them fails with
//! `ApiError::StoreClosed` instead of touching a closed database.
//!
//! Depends on `errors` only: `store` and `draft` both build on it (and `draft` on nothing in
//! `store`).

use std::sync::{Arc, RwLock};

use safehome_core::clock::FixedClock;
use safehome_core::store::Store;

use crate::errors::ApiError;

/// The open store, or nothing after `closeStore()`.
pub(crate) struct StoreHandle {
    store: RwLock<Option<Arc<Store>>>,
    /// The clock of `openForTesting`, which the test harness moves (feature `test-hooks`).
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    pub(crate) test_clock: Option<Arc<FixedClock>>,
}

impl StoreHandle {
    pub(crate) fn new(store: Store, test_clock: Option<Arc<FixedClock>>) -> StoreHandle {
        StoreHandle { store: RwLock::new(Some(Arc::new(store))), test_clock }
    }

    /// The store, unless it was closed.
    pub(crate) fn get(&self) -> Result<Arc<Store>, ApiError> {
        self.store
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(ApiError::store_closed)
    }

    /// Empty the handle: the store it held, or `None` if it was already closed.
    pub(crate) fn take(&self) -> Option<Arc<Store>> {
        self.store.write().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle").finish_non_exhaustive()
    }
}
