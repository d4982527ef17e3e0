//! The audit anchor: the chain's length and head kept outside the database file, in platform
//! storage (Android's app-private preferences, the iOS Keychain), so that a database file put
//! back to an older copy is detected on the phone itself, offline, the next time the app opens
//! it; the server detects the same at the next sync (docs/protocol.md, checkin).
//!
//! The anchor is a short text, `shanchor1.<length>.<head hex>.<mac hex>`, MACed under the audit
//! key: platform storage edited or copied from another device does not pass. The app hands the
//! store a [`AnchorKeeper`]; the store checks the kept anchor once ([`Store::keep_anchor`]) and
//! renews it after every write that extends the chain.

use std::sync::Arc;

use ring::hmac;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Store, StoreError};

/// Where the app keeps the anchor (platform storage). `save` is called after each write that
/// extends the audit chain; it should not block for long (a preference write).
pub trait AnchorKeeper: Send + Sync {
    fn load(&self) -> Option<String>;
    fn save(&self, anchor: &str);
}

const PREFIX: &str = "shanchor1";

/// The chain's length and last hash, as a MACed anchor text.
fn anchor_text(key: &hmac::Key, device: &str, length: i64, head: &[u8]) -> String {
    let tag = hmac::sign(key, &anchor_message(device, length, head));
    format!("{PREFIX}.{length}.{}.{}", crate::hex::encode(head), crate::hex::encode(tag.as_ref()))
}

fn anchor_message(device: &str, length: i64, head: &[u8]) -> Vec<u8> {
    let mut m = b"safehome/audit-anchor/v1\0".to_vec();
    m.extend((device.len() as u64).to_be_bytes());
    m.extend(device.as_bytes());
    m.extend(length.to_be_bytes());
    m.extend(head);
    m
}

/// The current length and head of the chain (0 and empty for an empty chain).
fn chain_head(conn: &Connection) -> Result<(i64, Vec<u8>), StoreError> {
    Ok(super::audit::last_entry(conn)?.unwrap_or((0, Vec::new())))
}

impl Store {
    /// The anchor of the chain as it is now.
    pub fn audit_anchor(&self) -> Result<String, StoreError> {
        let (length, head) = chain_head(&*self.reader()?)?;
        Ok(anchor_text(&self.keys().audit_mac, self.device_id(), length, &head))
    }

    /// Check `anchor` (kept by the app) against the chain: `RolledBack` if the database is
    /// shorter than the anchor says, or holds another entry at the anchor's length (an older
    /// copy of the file, or another history); `Tampered` if the anchor itself is not this
    /// device's. An anchor behind the chain is fine (the app was stopped before it saved).
    pub fn check_anchor(&self, anchor: &str) -> Result<(), StoreError> {
        let bad = || StoreError::Tampered { table: "audit anchor", row: String::new() };
        let parts: Vec<&str> = anchor.trim().split('.').collect();
        let [PREFIX, length, head, tag] = parts.as_slice() else { return Err(bad()) };
        let length: i64 = length.parse().map_err(|_| bad())?;
        let head = crate::hex::decode(head).map_err(|_| bad())?;
        let tag = crate::hex::decode(tag).map_err(|_| bad())?;
        let message = anchor_message(self.device_id(), length, &head);
        hmac::verify(&self.keys().audit_mac, &message, &tag).map_err(|_| bad())?;
        let conn = self.reader()?;
        let (found, _) = chain_head(&conn)?;
        let at: Option<Vec<u8>> = conn
            .query_row("SELECT hash FROM audit WHERE seq = ?1", params![length], |r| r.get(0))
            .optional()?;
        let same = match at {
            Some(h) => h == head,
            None => length == 0,
        };
        if found < length || !same {
            return Err(StoreError::RolledBack { kept_length: length, found_length: found });
        }
        Ok(())
    }

    /// Hand the store the app's anchor keeper: the kept anchor (if any) is checked first
    /// (`RolledBack` when the database is an older copy), then renewed now and after every write
    /// that extends the chain. Nothing is kept when the check fails.
    pub fn keep_anchor(&self, keeper: Arc<dyn AnchorKeeper>) -> Result<(), StoreError> {
        if let Some(kept) = keeper.load() {
            self.check_anchor(&kept)?;
        }
        keeper.save(&self.audit_anchor()?);
        *self.anchor_keeper.lock().unwrap_or_else(|p| p.into_inner()) = Some(keeper);
        Ok(())
    }

    /// After a commit: renew the kept anchor if the chain grew.
    pub(super) fn renew_anchor(&self, conn: &Connection, before: i64) -> Result<(), StoreError> {
        let keeper = self.anchor_keeper.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(keeper) = keeper else { return Ok(()) };
        let (length, head) = chain_head(conn)?;
        if length != before {
            keeper.save(&anchor_text(&self.keys().audit_mac, self.device_id(), length, &head));
        }
        Ok(())
    }
}

/// The chain's length as the writer sees it (before a write, to know whether it grew).
pub(super) fn chain_length(conn: &Connection) -> Result<i64, StoreError> {
    Ok(chain_head(conn)?.0)
}
