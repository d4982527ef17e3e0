//! The schema tests. Two paths lead to the current schema — `schema.sql` for a new database,
//! the migrations for an old one — and devices at every past version exist, so:
//!
//! - a database at every past version (built from its snapshot, `schema_snapshots/vN.sql`),
//!   migrated, has exactly the schema of a fresh database;
//! - each migration, applied to the snapshot of its starting version, gives the next snapshot;
//! - the first migration gives the first snapshot, and the latest snapshot is what `schema.sql`
//!   creates.
//!
//! Editing only `schema.sql`, or only a migration, therefore fails one of them. The snapshots
//! are the reference: they are written once, when their version is added, by the ignored test
//! `write_missing_snapshots` (which never overwrites one), and reviewed like code. The rest of
//! this file shows that the comparison catches each kind of drift and names the object.

use std::path::PathBuf;

use rusqlite::Connection;

use super::schema::{Schema, normalize_sql};
use super::{MIGRATIONS, SCHEMA, VERSION, migrate, migrate_to};
use crate::crypto::{DataKey, KeyHierarchy};
use crate::store::StoreError;

/// The data key of these databases (they hold no rows a key protects).
fn keys() -> KeyHierarchy {
    KeyHierarchy::derive(&DataKey::from_bytes([9; 32]))
}

const REGENERATE: &str = "cargo test -p safehome-core --lib \
                          store::migrate::tests::write_missing_snapshots -- --ignored";

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/store/schema_snapshots")
}

fn snapshot_path(v: i64) -> PathBuf {
    snapshot_dir().join(format!("v{v}.sql"))
}

fn snapshot(v: i64) -> String {
    let path = snapshot_path(v);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "no snapshot of schema version {v} ({}: {e}); a new migration needs one: run \
             `{REGENERATE}` once, review the file and commit it",
            path.display()
        )
    })
}

/// A database holding `sql`, marked as version `v`.
fn db_from(sql: &str, v: i64) -> Connection {
    let c = Connection::open_in_memory().unwrap();
    c.execute_batch(sql).unwrap();
    c.pragma_update(None, "user_version", v).unwrap();
    c
}

/// A database brought to version `v` one migration at a time from empty (never through
/// `schema.sql`, which an empty database at the latest version would get).
fn replayed(v: i64) -> Connection {
    let mut c = Connection::open_in_memory().unwrap();
    for step in 1..=v {
        assert_eq!(migrate_to(&mut c, step, &keys()).unwrap(), step - 1);
    }
    c
}

/// A new database, as the app creates it.
fn fresh() -> Connection {
    let mut c = Connection::open_in_memory().unwrap();
    assert_eq!(migrate(&mut c, &keys()).unwrap(), 0);
    c
}

fn differences(expected: &Connection, found: &Connection) -> Vec<String> {
    Schema::read(found).unwrap().differences(&Schema::read(expected).unwrap())
}

#[track_caller]
fn assert_same(expected_label: &str, expected: &Connection, found_label: &str, found: &Connection) {
    let d = differences(expected, found);
    assert!(
        d.is_empty(),
        "{found_label} differs from {expected_label} ({} difference(s)):\n  {}",
        d.len(),
        d.join("\n  ")
    );
}

/// What sqlite_master holds, in creation order, as statements that recreate it.
fn dump(c: &Connection, v: i64) -> String {
    let mut out = format!(
        "-- SafeHome store schema, version {v}: the SQL sqlite_master holds after migrations\n\
         -- 0001..{v:04}, in creation order. Written once, when version {v} was added, by\n\
         --   {REGENERATE}\n\
         -- and never edited: it is what a device at version {v} has. See migrate/tests.rs.\n\n"
    );
    let mut stmt = c
        .prepare(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT GLOB 'sqlite_*'
             ORDER BY rowid",
        )
        .unwrap();
    for sql in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        out.push_str(&sql.unwrap());
        out.push_str(";\n\n");
    }
    out
}

// ----- the current migrations against the snapshots ------------------------------------------

#[test]
fn every_past_version_migrates_to_the_fresh_schema() {
    let fresh = fresh();
    for v in 1..=VERSION {
        let mut c = db_from(&snapshot(v), v);
        assert_eq!(migrate(&mut c, &keys()).unwrap(), v);
        assert_same("a fresh database", &fresh, &format!("version {v} migrated"), &c);
    }
}

#[test]
fn each_migration_turns_its_snapshot_into_the_next() {
    for v in 1..VERSION {
        let mut c = db_from(&snapshot(v), v);
        assert_eq!(migrate_to(&mut c, v + 1, &keys()).unwrap(), v);
        let next = db_from(&snapshot(v + 1), v + 1);
        assert_same(&format!("snapshot v{}", v + 1), &next, &format!("v{v} + migration"), &c);
    }
}

#[test]
fn the_first_migration_gives_the_first_snapshot() {
    assert_same("snapshot v1", &db_from(&snapshot(1), 1), "migration 0001", &replayed(1));
}

#[test]
fn the_latest_snapshot_is_what_schema_sql_creates() {
    let latest = db_from(&snapshot(VERSION), VERSION);
    assert_same(&format!("snapshot v{VERSION}"), &latest, "schema.sql", &fresh());
}

#[test]
fn there_is_one_snapshot_per_version() {
    let mut found: Vec<String> = std::fs::read_dir(snapshot_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort_by_key(|n| n.trim_start_matches('v').trim_end_matches(".sql").parse::<i64>().ok());
    let expected: Vec<String> = (1..=VERSION).map(|v| format!("v{v}.sql")).collect();
    let dir = snapshot_dir();
    assert_eq!(found, expected, "snapshots in {}; add one with `{REGENERATE}`", dir.display());
}

#[test]
fn a_newer_database_is_refused_and_left_alone() {
    let mut c = fresh();
    c.pragma_update(None, "user_version", VERSION + 1).unwrap();
    let before = Schema::read(&c).unwrap();
    match migrate(&mut c, &keys()) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (VERSION + 1, VERSION));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Schema::read(&c).unwrap(), before);
}

#[test]
fn a_negative_version_is_not_a_safehome_database() {
    let mut c = Connection::open_in_memory().unwrap();
    c.pragma_update(None, "user_version", -1).unwrap();
    assert!(matches!(migrate(&mut c, &keys()), Err(StoreError::Corrupt)));
    let tables: i64 = c.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).unwrap();
    assert_eq!(tables, 0);
}

/// Not run by default: writes the snapshot of every version that has none yet (a new
/// migration's), replaying the migrations from an empty database. It never overwrites a
/// snapshot: those are what devices at that version have.
#[test]
#[ignore = "writes snapshot files; run once when adding a migration"]
fn write_missing_snapshots() {
    std::fs::create_dir_all(snapshot_dir()).unwrap();
    for v in 1..=VERSION {
        let path = snapshot_path(v);
        if path.exists() {
            continue;
        }
        std::fs::write(&path, dump(&replayed(v), v)).unwrap();
        println!("wrote {}", path.display());
    }
}

// ----- the comparison sees every kind of drift -------------------------------------------------

/// The differences the tests above would report if the latest schema were edited so (`from`
/// replaced by `to`) in `schema.sql` only. Made on the latest snapshot, so that these tests
/// keep checking the comparison even while `schema.sql` itself is being changed.
fn drift(from: &str, to: &str) -> Vec<String> {
    let latest = snapshot(VERSION);
    assert_eq!(latest.matches(from).count(), 1, "`{from}` must occur once in the latest snapshot");
    let edited = db_from(&latest.replacen(from, to, 1), VERSION);
    differences(&db_from(&latest, VERSION), &edited)
}

#[track_caller]
fn assert_reported(d: &[String], starts: &[&str]) {
    assert_eq!(d.len(), starts.len(), "{d:#?}");
    for (msg, start) in d.iter().zip(starts) {
        assert!(msg.starts_with(start), "expected `{start}…`, got:\n{msg}");
    }
}

#[test]
fn a_changed_check_list_is_reported_on_its_table() {
    let d = drift("('visit', 'incident')", "('visit', 'incident', 'referral')");
    assert_reported(&d, &["table records differs at token"]);
    assert!(d[0].contains("found `… ( 'visit' , 'incident' , 'referral' ) )"), "{}", d[0]);
}

#[test]
fn a_changed_partial_index_condition_is_reported_on_its_index() {
    let d = drift("WHERE fixes_enc IS NOT NULL", "WHERE fixes_enc IS NULL");
    assert_reported(&d, &["index records_owner_fixes on records differs"]);
    // An index that stops being partial is drift too.
    let d = drift(" WHERE fixes_enc IS NOT NULL", "");
    assert_reported(&d, &["index records_owner_fixes on records differs"]);
}

#[test]
fn a_removed_unique_constraint_is_reported_with_its_index() {
    let d = drift("code          TEXT NOT NULL UNIQUE,", "code TEXT NOT NULL,");
    assert_reported(&d, &["missing autoindex households(code)", "table households differs"]);
    let d = drift("UNIQUE (item_kind, item_id)", "UNIQUE (item_id, item_kind)");
    assert_reported(
        &d,
        &[
            "missing autoindex outbox(item_kind, item_id)",
            "table outbox differs",
            "unexpected autoindex outbox(item_id, item_kind)",
        ],
    );
}

#[test]
fn strict_and_without_rowid_count() {
    let d = drift("value BLOB NOT NULL\n) STRICT;", "value BLOB NOT NULL\n);");
    assert_reported(&d, &["table meta differs"]);
    assert!(
        d[0].contains("expected `… blob not null ) strict`, found `… blob not null )`"),
        "{}",
        d[0]
    );
    let d = drift(") STRICT, WITHOUT ROWID;", ") STRICT;");
    assert_reported(&d, &["table record_events differs"]);
    assert!(d[0].contains("expected `… seq ) ) strict , without rowid`"), "{}", d[0]);
}

#[test]
fn a_changed_default_or_type_is_reported() {
    let d =
        drift("failed_attempts INTEGER NOT NULL DEFAULT 0", "failed_attempts INTEGER DEFAULT 0");
    assert_reported(&d, &["table profiles differs"]);
    let d = drift("envelope_len  INTEGER NOT NULL", "envelope_len  REAL NOT NULL");
    assert_reported(&d, &["table attachments differs"]);
}

#[test]
fn triggers_and_views_are_compared() {
    let trigger = "CREATE TRIGGER records_touch AFTER UPDATE OF state ON records
                   BEGIN UPDATE records SET updated_at = 0 WHERE id = new.id; END;";
    let view = "CREATE VIEW pending AS SELECT id FROM outbox WHERE state = 'pending';";
    let with = db_from(&format!("{SCHEMA}\n{trigger}\n{view}"), VERSION);
    let without = db_from(SCHEMA, VERSION);
    assert_reported(
        &differences(&with, &without),
        &["missing trigger records_touch on records", "missing view pending"],
    );
    assert_reported(
        &differences(&without, &with),
        &["unexpected trigger records_touch on records", "unexpected view pending"],
    );
    let changed = db_from(&format!("{SCHEMA}\n{}", trigger.replace("= 0", "= 1")), VERSION);
    let with = db_from(&format!("{SCHEMA}\n{trigger}"), VERSION);
    assert_reported(&differences(&with, &changed), &["trigger records_touch on records differs"]);
}

#[test]
fn an_index_moved_or_dropped_is_reported() {
    let d = drift("CREATE INDEX outbox_item ON outbox(item_id);\n", "");
    assert_reported(&d, &["missing index outbox_item on outbox"]);
    let d = drift(
        "CREATE INDEX outbox_item ON outbox(item_id);",
        "CREATE UNIQUE INDEX outbox_item ON outbox(item_id);",
    );
    assert_reported(&d, &["index outbox_item on outbox differs"]);
}

#[test]
fn the_version_is_compared() {
    let d = differences(&fresh(), &db_from(SCHEMA, VERSION - 1));
    assert_eq!(d, [format!("user_version: expected {VERSION}, found {}", VERSION - 1)]);
}

#[test]
fn a_migration_edited_after_its_snapshot_is_caught() {
    // The latest migration that creates an index, without it: what a device running the
    // edited migration would lack.
    let (i, sql) = MIGRATIONS
        .iter()
        .enumerate()
        .rev()
        .find(|(_, sql)| sql.lines().any(|l| l.starts_with("CREATE INDEX")))
        .unwrap();
    let v = i as i64 + 1;
    let index = sql.lines().rfind(|l| l.starts_with("CREATE INDEX")).unwrap();
    let c = db_from(&snapshot(v - 1), v - 1);
    c.execute_batch(&sql.replace(index, "")).unwrap();
    c.pragma_update(None, "user_version", v).unwrap();
    let d = differences(&db_from(&snapshot(v), v), &c);
    assert_reported(&d, &["missing index "]);
}

// ----- normalisation: what does not count --------------------------------------------------------

#[test]
fn layout_comments_case_and_quoting_do_not_count() {
    let plain = db_from(
        "CREATE TABLE t (id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('a', 'b'))) STRICT;
         CREATE INDEX t_kind ON t(kind) WHERE kind <> 'a';",
        1,
    );
    let styled = db_from(
        "create table \"T\" (
             -- the id
             [id] text primary key,
             `kind` TEXT not null /* two kinds */ check(kind in('a','b'))
         ) strict;
         create index T_KIND on \"t\" ( kind ) where KIND != 'a';",
        1,
    );
    assert_same("plain", &plain, "styled", &styled);
}

#[test]
fn a_column_added_by_alter_table_equals_one_created_with_the_table() {
    let whole = db_from("CREATE TABLE t (id TEXT PRIMARY KEY, note BLOB, n INTEGER) STRICT;", 1);
    let grown = db_from(
        "CREATE TABLE t (id TEXT PRIMARY KEY) STRICT;
         ALTER TABLE t ADD COLUMN note BLOB;
         ALTER TABLE t ADD COLUMN n INTEGER;",
        1,
    );
    assert_same("created whole", &whole, "grown", &grown);
}

#[test]
fn literals_are_kept_as_written() {
    assert_ne!(normalize_sql("CHECK (x IN ('A b'))"), normalize_sql("check (x in ('a  b'))"));
    assert_eq!(normalize_sql("CHECK (x IN ('it''s'))"), "check ( x in ( 'it''s' ) )");
    assert_eq!(normalize_sql("DEFAULT X'0A'"), "default x'0a'");
    assert_eq!(normalize_sql("DEFAULT 1.5E-3"), "default 1.5e-3");
    assert_eq!(normalize_sql("a<>b -- note\n AND \"x y\"==1"), "a != b and \"x y\" = 1");
    assert_eq!(normalize_sql("/* unterminated"), "");
}
