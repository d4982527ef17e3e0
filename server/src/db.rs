//! The SQLite database: opening (WAL, `synchronous=FULL`, busy timeout), the schema's migration
//! by `PRAGMA user_version`, and [`Db`], the server's one connection used off the async runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{ApiError, ServerError};

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 1;
const SCHEMA: &str = include_str!("schema.sql");
/// How long a statement waits for another connection's write (the CLI's, the server's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Open (creating if `create`) the database with the server's settings and migrate it.
pub fn open(path: &Path, create: bool) -> Result<Connection, ServerError> {
    if !create && !path.exists() {
        return Err(ServerError::NotFound(format!(
            "no database at {} (run `safehome-server init` first)",
            path.display()
        )));
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(ServerError::Invalid(format!("the database refused WAL mode ({mode})")));
    }
    // FULL: a commit is fsynced before it returns, so an acknowledged write survives a crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(conn)
}

fn migrate(mut conn: Connection) -> Result<Connection, ServerError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(ServerError::NewerDatabase { found: version, supported: SCHEMA_VERSION });
    }
    if version == 0 {
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(conn)
}

/// The server's connection. Every use runs on tokio's blocking pool, one at a time, so the
/// async runtime's threads never wait on SQLite or on an fsync.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub fn new(conn: Connection) -> Db {
        Db { conn: Arc::new(Mutex::new(conn)) }
    }

    /// Run `f` with the connection on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard =
                conn.lock().map_err(|_| ApiError::internal("database lock poisoned"))?;
            f(&mut guard)
        })
        .await;
        joined.map_err(|_| ApiError::internal("database task failed"))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_fresh_database_is_at_the_current_version_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let conn = open(&path, true).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        drop(conn);
        open(&path, false).unwrap();
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let conn = open(&path, true).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(conn);
        assert!(matches!(open(&path, false), Err(ServerError::NewerDatabase { .. })));
    }

    #[test]
    fn a_missing_database_is_not_created_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(open(&dir.path().join("x.db"), false), Err(ServerError::NotFound(_))));
    }
}
