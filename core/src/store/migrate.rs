//! Schema creation and migrations by `PRAGMA user_version`, each run in one IMMEDIATE
//! transaction. A new database gets `schema.sql` (the current schema) directly; an existing one
//! runs the migrations after its version. A database newer than this code is refused.
//!
//! Two paths lead to the current schema, so they must agree: the tests in `migrate/tests.rs`
//! compare, object by object ([`schema`]), a fresh database with one migrated from every past
//! version, and each migration with the snapshot of the schema it must produce
//! (`schema_snapshots/vN.sql`). A migration that has shipped is never edited: devices have run it.

pub mod schema;
#[cfg(test)]
mod tests;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::StoreError;
use crate::crypto::KeyHierarchy;

/// The current schema, for new databases.
const SCHEMA: &str = include_str!("schema.sql");

/// `MIGRATIONS[i]` takes a database from version `i` to `i + 1` (the first one creates version
/// 1 in an empty database; only the tests replay it, a new database gets `SCHEMA`).
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_quality_flags.sql"),
    include_str!("migrations/0003_record_events.sql"),
    include_str!("migrations/0004_record_location.sql"),
    include_str!("migrations/0005_draft_revision.sql"),
    include_str!("migrations/0006_assigned_areas.sql"),
    include_str!("migrations/0007_profile_integrity.sql"),
    include_str!("migrations/0008_sync.sql"),
    include_str!("migrations/0009_row_seals.sql"),
    include_str!("migrations/0010_review.sql"),
];

/// The schema version this code writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring the database to `VERSION`. Returns the version it had before. An existing database is
/// checked against `keys` before anything is changed: a wrong key migrates nothing.
pub fn migrate(conn: &mut Connection, keys: &KeyHierarchy) -> Result<i64, StoreError> {
    migrate_to(conn, VERSION, keys)
}

/// Bring the database to `target` (`VERSION` in the app; the tests stop at each past version to
/// check one migration at a time). Returns the version it had before.
fn migrate_to(conn: &mut Connection, target: i64, keys: &KeyHierarchy) -> Result<i64, StoreError> {
    // Migrations seal rows with the seal functions (version 9).
    super::sealed::register(conn, keys)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::NewerSchema { found, supported: VERSION });
    }
    if found > 0 && target > found {
        super::check_key(&tx, keys)?;
    }
    // Only SQLite's own tools write a negative version: whatever this is, it is not ours.
    let from = usize::try_from(found).map_err(|_| StoreError::Corrupt)?;
    let to = usize::try_from(target).map_err(|_| StoreError::Corrupt)?;
    if found == 0 && target == VERSION {
        tx.execute_batch(SCHEMA)?;
    } else {
        for (i, sql) in MIGRATIONS.iter().enumerate().take(to).skip(from) {
            tx.execute_batch(sql)?;
            keyed_step(&tx, i as i64 + 1, keys)?;
        }
    }
    if target > found {
        tx.pragma_update(None, "user_version", target)?;
    }
    tx.commit()?;
    Ok(found)
}

/// What a migration to `version` must do with the data key, in its transaction.
fn keyed_step(tx: &Transaction<'_>, version: i64, keys: &KeyHierarchy) -> Result<(), StoreError> {
    match version {
        7 => super::profiles::key_profiles(tx, keys),
        9 => super::sealed::seal_all(tx),
        _ => Ok(()),
    }
}
