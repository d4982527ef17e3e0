//! Schema creation and migrations by `PRAGMA user_version`, each run in one IMMEDIATE
//! transaction. A new database gets `schema.sql` (the current schema) directly; an existing one
//! runs the upgrades from its version. A database newer than this code is refused.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// The current schema, for new databases.
const SCHEMA: &str = include_str!("schema.sql");

/// The first schema ever shipped (kept to test upgrades from it).
pub const SCHEMA_V1: &str = include_str!("migrations/0001_init.sql");

/// Upgrades: `UPGRADES[i]` takes a database from version `i + 1` to `i + 2`.
const UPGRADES: &[&str] = &[
    include_str!("migrations/0002_quality_flags.sql"),
    include_str!("migrations/0003_record_events.sql"),
    include_str!("migrations/0004_record_location.sql"),
    include_str!("migrations/0005_draft_revision.sql"),
];

/// The schema version this code writes.
pub const VERSION: i64 = 1 + UPGRADES.len() as i64;

/// Bring the database to `VERSION`. Returns the version it had before.
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(StoreError::NewerSchema { found, supported: VERSION });
    }
    if found == 0 {
        tx.execute_batch(SCHEMA)?;
    } else {
        for (i, sql) in UPGRADES.iter().enumerate() {
            let from = i as i64 + 1;
            if found <= from {
                tx.execute_batch(sql)?;
            }
        }
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(found)
}

/// A comparable description of a schema: every table's columns and every index.
pub fn describe(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut tables = conn.prepare(
        "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )?;
    let rows: Vec<(String, String, String)> = tables
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (kind, name, table) in rows {
        if kind == "table" {
            let mut cols = conn.prepare(&format!("PRAGMA table_xinfo(\"{name}\")"))?;
            let described = cols
                .query_map([], |r| {
                    Ok(format!(
                        "{name}.{}: {} notnull={} default={:?} pk={}",
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, i64>(5)?
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.extend(described);
            let mut fks = conn.prepare(&format!("PRAGMA foreign_key_list(\"{name}\")"))?;
            let described = fks
                .query_map([], |r| {
                    Ok(format!(
                        "{name} fk {} -> {}.{}",
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(4)?.unwrap_or_default()
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.extend(described);
        } else {
            let mut cols = conn.prepare(&format!("PRAGMA index_info(\"{name}\")"))?;
            let c: Vec<String> =
                cols.query_map([], |r| r.get::<_, String>(2))?.collect::<Result<_, _>>()?;
            out.push(format!("{kind} {name} on {table}({})", c.join(",")));
        }
    }
    Ok(out)
}
