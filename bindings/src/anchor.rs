//! The audit anchor kept in platform storage (core `store::anchor`): the app implements
//! [`AuditAnchorKeeper`] over its private preferences (Android) or the Keychain (iOS) and hands
//! it to `SafeHomeStore.keepAuditAnchor`, so that a database file put back to an older copy is
//! detected when the app opens it, offline.

use std::sync::Arc;

use safehome_core::store::AnchorKeeper;

use crate::errors::CallbackError;
use crate::logging::{self, LogLevel};

/// Keeps one short text (about 150 characters) outside the database, replaced by each `save`;
/// the app reads it back itself and passes it to `keepAuditAnchor`. Called on the thread that
/// made the store call, after each write that extends the audit chain: keep it quick (a
/// preference write, `apply()` on Android). Keep the text where a backup of the database does
/// not restore it with the database. (A `load` on this trait would be the natural shape; the
/// interim Kotlin call layer cannot route a callback that returns a value: docs/bindings.md.)
#[uniffi::export(foreign)]
pub trait AuditAnchorKeeper: Send + Sync {
    fn save(&self, anchor: String) -> Result<(), CallbackError>;
}

/// The app's keeper, with the anchor it kept, as the core's: a keeper that throws is logged and
/// the anchor stays as it was (the server's checkin still detects a rollback).
pub(crate) struct ForeignKeeper {
    pub(crate) kept: Option<String>,
    pub(crate) keeper: Arc<dyn AuditAnchorKeeper>,
}

impl AnchorKeeper for ForeignKeeper {
    fn load(&self) -> Option<String> {
        self.kept.clone().filter(|k| !k.trim().is_empty())
    }

    fn save(&self, anchor: &str) {
        if let Err(e) = self.keeper.save(anchor.to_string()) {
            logging::emit(LogLevel::Warn, "audit.anchor", || format!("keeper save failed: {e}"));
        }
    }
}
