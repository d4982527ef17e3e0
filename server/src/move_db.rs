//! Moving a server from its SQLite file to PostgreSQL (`safehome-server move-database`), for
//! the day a province outgrows one file: every row copied in one PostgreSQL transaction, the
//! identity counters set past the copied keys (receipts' and the feed's sequence numbers go on
//! from where they were), and both databases compared by the backup's manifest (every
//! submission body's digest, every evidence file, the counts) before the data directory is
//! switched to PostgreSQL. The SQLite file is kept, renamed, until the operator removes it.
//!
//! The server must be stopped: a write to the SQLite file after its rows were read would be
//! lost. The copy reads in one transaction, so it is at least consistent.

use crate::backup::{Manifest, manifest_of_conn};
use crate::datadir::{DataDir, write_private};
use crate::db::Database;
use crate::error::ServerError;
use crate::sql::{Conn, Value};

/// The tables in an order that satisfies their foreign keys, and each one's identity column.
/// `request_nonces` is not copied: nonces live ten minutes and a stopped server has none to
/// keep.
const TABLES: &[(&str, Option<&str>)] = &[
    ("teams", None),
    ("recipients", None),
    ("enrollment_codes", None),
    ("devices", None),
    ("submissions", Some("seq")),
    ("submission_evidence", None),
    ("blobs", None),
    ("uploads", None),
    ("submission_routing", None),
    ("routing_monthly", None),
    ("screened_households", None),
    ("case_actions", None),
    ("communes", None),
    ("console_users", None),
    ("console_sessions", None),
    ("console_audit", Some("seq")),
    ("case_alerts", None),
    ("decisions", Some("seq")),
    ("verdicts", None),
];

/// What was moved.
#[derive(Debug, Clone)]
pub struct Moved {
    /// Rows per table, in copy order.
    pub rows: Vec<(&'static str, i64)>,
    pub manifest: Manifest,
    /// Where the SQLite file now is.
    pub kept_as: std::path::PathBuf,
}

/// Copy the SQLite database of `data` into the empty PostgreSQL database at `url`, check it,
/// and switch the directory to it.
pub fn move_to_postgres(data: &DataDir, url: &str, now_ms: i64) -> Result<Moved, ServerError> {
    let from_db = match data.database()? {
        Database::Sqlite(path) => path,
        Database::Postgres { .. } => {
            return Err(ServerError::Invalid("this data directory already uses PostgreSQL".into()));
        }
    };
    let target = Database::parse(url)?;
    if !matches!(target, Database::Postgres { .. }) {
        return Err(ServerError::Invalid(
            "move-database copies into PostgreSQL (postgres://...)".into(),
        ));
    }
    // The source at the current version (migrated by opening), read in one transaction.
    let from = crate::db::open(&from_db, false)?;
    if target.open(false).is_ok() {
        return Err(ServerError::Exists(format!(
            "{} already holds a SafeHome schema: move into an empty database",
            target.describe()
        )));
    }
    let to = target.open(true)?;
    from.execute_batch("BEGIN")?;
    to.execute_batch("BEGIN")?;
    let copied = (|| -> Result<Vec<(&'static str, i64)>, ServerError> {
        let mut rows = Vec::new();
        for (table, identity) in TABLES {
            rows.push((*table, copy_table(&from, &to, table)?));
            if let Some(column) = identity {
                // The next key after the copied ones (a table with none starts at 1).
                to.query_row(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                                       COALESCE((SELECT max({column}) FROM {table}), 0) + 1,
                                       false)"
                    ),
                    [],
                    |_| Ok(()),
                )?;
            }
        }
        Ok(rows)
    })();
    let rows = match copied {
        Ok(rows) => rows,
        Err(e) => {
            let _ = to.execute_batch("ROLLBACK");
            let _ = from.execute_batch("ROLLBACK");
            return Err(e);
        }
    };
    let before = manifest_of_conn(&from, now_ms)?;
    let after = manifest_of_conn(&to, now_ms)?;
    if (&before.submissions, &before.evidence, before.decisions, before.devices)
        != (&after.submissions, &after.evidence, after.decisions, after.devices)
    {
        let _ = to.execute_batch("ROLLBACK");
        return Err(ServerError::Invalid(
            "the copy does not hold what the SQLite database holds; nothing was changed".into(),
        ));
    }
    to.execute_batch("COMMIT")?;
    from.execute_batch("COMMIT")?;
    drop(from);
    // Switch: the URL recorded, then the SQLite file (and its WAL) renamed out of the way.
    write_private(&data.database_url_path(), url.as_bytes())?;
    let kept_as = from_db.with_extension(format!("db.moved-{now_ms}"));
    std::fs::rename(&from_db, &kept_as)
        .map_err(ServerError::io(format!("renaming {}", from_db.display())))?;
    for suffix in ["-wal", "-shm"] {
        let side = std::path::PathBuf::from(format!("{}{suffix}", from_db.display()));
        let _ = std::fs::remove_file(side);
    }
    Ok(Moved { rows, manifest: after, kept_as })
}

/// Copy every row of `table` (its columns as the source lists them), streamed; the row count.
fn copy_table(from: &Conn, to: &Conn, table: &str) -> Result<i64, ServerError> {
    let mut columns = Vec::new();
    from.for_each("SELECT name FROM pragma_table_info(?1) ORDER BY cid", [table], |r| {
        columns.push(r.get::<_, String>(0)?);
        Ok(())
    })?;
    let list = columns.join(", ");
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
    let mut n = 0i64;
    let mut failed = None;
    from.for_each(&format!("SELECT {list} FROM {table}"), [], |r| {
        let values: Vec<Value> =
            (0..columns.len()).map(|i| r.get::<_, Value>(i)).collect::<Result<_, _>>()?;
        if let Err(e) = to.execute(&insert, values) {
            failed = Some(e);
            return Err(crate::sql::Error::NoRows); // stop the scan; the cause is kept
        }
        n += 1;
        Ok(())
    })
    .map_err(|e| failed.take().unwrap_or(e))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use safehome_testdata::pg_scratch::ScratchDb;

    #[test]
    fn every_table_of_the_schema_is_copied_or_deliberately_left() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(&dir.path().join("s.db"), true).unwrap();
        let mut all = Vec::new();
        conn.for_each(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |r| {
                all.push(r.get::<_, String>(0)?);
                Ok(())
            },
        )
        .unwrap();
        all.retain(|t| t != "request_nonces");
        all.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|(t, _)| (*t).to_string()).collect();
        listed.sort();
        assert_eq!(all, listed, "a new table must be added to move_db::TABLES");
    }

    #[test]
    fn a_sqlite_server_moves_to_postgresql_and_keeps_counting_from_where_it_was() {
        let Some(pg) = ScratchDb::create() else {
            eprintln!("SAFEHOME_TEST_POSTGRES is not set: nothing to move into");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        crate::init(&root).unwrap();
        let data = DataDir::new(&root);
        let conn = data.open_db().unwrap();
        conn.execute_batch(
            "INSERT INTO teams VALUES ('t', '[\"05569\"]', 0);
             INSERT INTO devices (device_id, public_key, team, role, enrolled_at_ms)
                 VALUES ('d', 'k', 't', 'volunteer', 0);
             INSERT INTO submissions (record_id, device_id, team, envelope_sha256, received_at_ms,
                                      routing, body)
                 VALUES ('r1', 'd', 't', 'e', 7, '{}', x'00ff'), ('r2', 'd', 't', 'e', 8, '{}', x'01');
             INSERT INTO console_audit (at_ms, actor, action, outcome) VALUES (1, 'a', 'login', 'ok');",
        )
        .unwrap();
        drop(conn);
        let moved = move_to_postgres(&data, pg.url(), 42).unwrap();
        assert!(moved.rows.contains(&("submissions", 2)));
        assert!(moved.kept_as.exists() && !data.db_path().exists());
        assert_eq!(moved.manifest.submissions.len(), 2);
        // The directory now opens PostgreSQL, and the next submission's number follows on.
        let pg_conn = data.open_db().unwrap();
        assert_eq!(pg_conn.engine(), crate::sql::Engine::Postgres);
        let seq: i64 = pg_conn
            .query_row(
                "INSERT INTO submissions (record_id, device_id, team, envelope_sha256,
                                          received_at_ms, routing, body)
                 VALUES ('r3', 'd', 't', 'e', 9, '{}', ?1) RETURNING seq",
                [vec![2u8]],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(seq, 3);
        let body: Vec<u8> = pg_conn
            .query_row("SELECT body FROM submissions WHERE record_id = 'r1'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(body, vec![0, 255]);
        // Moving again is refused: the directory is on PostgreSQL now.
        assert!(move_to_postgres(&data, pg.url(), 43).is_err());
    }
}
