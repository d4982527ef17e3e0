//! Each stored enum against the schema: its values are exactly its column's CHECK list, in a
//! fresh database as the app creates it; and text outside the list is a typed error naming the
//! table and column, in `FromStr` and in `FromSql` alike.

use std::collections::BTreeSet;

use regex::Regex;
use rusqlite::Connection;

use super::{StoredEnum, UnknownValue};
use crate::form::risk::Level;
use crate::store::StoreError;
use crate::store::decisions::{DecisionKind, DecisionState};
use crate::store::migrate;
use crate::store::outbox::{OutboxItemKind, OutboxState};
use crate::store::profiles::Role;
use crate::store::received::ReceivedState;
use crate::store::records::{RecordKind, RecordState};
use crate::store::team::RecipientKind;

/// Columns that hold a stored enum but have no CHECK list: adding one to `records` needs the
/// table rebuilt, so the risk level is checked on read only (`FromSql`).
const UNCHECKED: &[(&str, &str)] = &[("records", "risk_level")];

/// One `CHECK (column IN ('a', 'b'))` of a table.
#[derive(Debug)]
struct CheckList {
    table: String,
    column: String,
    values: Vec<String>,
}

/// Every CHECK constraint of a fresh database (the app's `schema.sql`, through `migrate`, as
/// `sqlite_master` holds it). A CHECK of another shape fails the test: it would be a rule on
/// values that this comparison does not see.
fn check_lists() -> Vec<CheckList> {
    let mut conn = Connection::open_in_memory().unwrap();
    let keys = crate::crypto::KeyHierarchy::derive(&crate::crypto::DataKey::from_bytes([9; 32]));
    migrate::migrate(&mut conn, &keys).unwrap();
    let mut stmt = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL")
        .unwrap();
    let tables: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert!(tables.iter().any(|(name, _)| name == "records"), "a fresh database has tables");
    let check = Regex::new(r#"(?i)\bCHECK\s*\(\s*"?(\w+)"?\s+IN\s*\(([^)]*)\)\s*\)"#).unwrap();
    let any_check = Regex::new(r"(?i)\bCHECK\b").unwrap();
    let quoted = Regex::new(r"'([^']*)'").unwrap();
    let mut lists = Vec::new();
    for (table, sql) in tables {
        let found: Vec<_> = check.captures_iter(&sql).collect();
        assert_eq!(
            found.len(),
            any_check.find_iter(&sql).count(),
            "table {table}: a CHECK that is not `column IN (...)`:\n{sql}"
        );
        for c in found {
            lists.push(CheckList {
                table: table.clone(),
                column: c[1].to_string(),
                values: quoted.captures_iter(&c[2]).map(|q| q[1].to_string()).collect(),
            });
        }
    }
    lists
}

fn texts<E: StoredEnum>() -> Vec<String> {
    E::ALL.iter().map(|v| v.text().to_string()).collect()
}

/// The enum's values equal its column's CHECK list: the same set, each once.
fn assert_matches_schema<E: StoredEnum>() {
    let lists = check_lists();
    let ours = texts::<E>();
    let unique: BTreeSet<&String> = ours.iter().collect();
    assert_eq!(unique.len(), ours.len(), "{} lists a value twice: {ours:?}", E::WHAT);
    let list = lists.iter().find(|l| l.table == E::TABLE && l.column == E::COLUMN);
    match list {
        Some(l) => {
            let schema: BTreeSet<&String> = l.values.iter().collect();
            assert_eq!(
                unique,
                schema,
                "{} (enum) against the CHECK list of {}.{} (schema.sql and a migration)",
                E::WHAT,
                E::TABLE,
                E::COLUMN
            );
            assert_eq!(l.values.len(), schema.len(), "{}.{}: a value twice", l.table, l.column);
        }
        None => assert!(
            UNCHECKED.contains(&(E::TABLE, E::COLUMN)),
            "{}.{} ({}) has no CHECK list in the schema",
            E::TABLE,
            E::COLUMN,
            E::WHAT
        ),
    }
}

#[test]
fn record_state_is_the_check_list_of_records_state() {
    assert_matches_schema::<RecordState>();
}

#[test]
fn record_kind_is_the_check_list_of_records_kind() {
    assert_matches_schema::<RecordKind>();
}

#[test]
fn outbox_state_is_the_check_list_of_outbox_state() {
    assert_matches_schema::<OutboxState>();
}

#[test]
fn outbox_item_kind_is_the_check_list_of_outbox_item_kind() {
    assert_matches_schema::<OutboxItemKind>();
}

#[test]
fn role_is_the_check_list_of_profiles_role() {
    assert_matches_schema::<Role>();
}

#[test]
fn recipient_kind_is_the_check_list_of_recipients_kind() {
    assert_matches_schema::<RecipientKind>();
}

#[test]
fn the_review_enums_are_their_check_lists() {
    assert_matches_schema::<ReceivedState>();
    assert_matches_schema::<DecisionKind>();
    assert_matches_schema::<DecisionState>();
}

/// `records.risk_level` has no CHECK list (see `UNCHECKED`); if one is added, it must be the
/// levels, and this test then compares them like the others.
#[test]
fn risk_level_has_no_check_list_or_the_levels() {
    assert_matches_schema::<Level>();
    assert_eq!(texts::<Level>(), ["low", "medium", "high", "urgent"]);
}

/// Every CHECK list of the schema is some enum's, so a new constrained column without an enum
/// (its values then written only in SQL) fails too.
#[test]
fn every_check_list_is_a_stored_enum() {
    let ours: Vec<(&str, &str)> = vec![
        (RecordState::TABLE, RecordState::COLUMN),
        (RecordKind::TABLE, RecordKind::COLUMN),
        (OutboxState::TABLE, OutboxState::COLUMN),
        (OutboxItemKind::TABLE, OutboxItemKind::COLUMN),
        (Role::TABLE, Role::COLUMN),
        (RecipientKind::TABLE, RecipientKind::COLUMN),
        (Level::TABLE, Level::COLUMN),
        (ReceivedState::TABLE, ReceivedState::COLUMN),
        (DecisionKind::TABLE, DecisionKind::COLUMN),
        (DecisionState::TABLE, DecisionState::COLUMN),
    ];
    let lists = check_lists();
    assert_eq!(lists.len(), 9, "{lists:?}");
    for l in &lists {
        assert!(
            ours.contains(&(l.table.as_str(), l.column.as_str())),
            "{}.{} has a CHECK list {:?} but no stored enum",
            l.table,
            l.column,
            l.values
        );
    }
}

/// Serde writes the stored text (JSON output shows what the database holds), `Display` and
/// `FromStr` agree with it, and `ToSql` / `FromSql` round-trip through SQLite.
fn assert_text_round_trips<E>()
where
    E: StoredEnum
        + std::fmt::Debug
        + PartialEq
        + std::fmt::Display
        + std::str::FromStr<Err = UnknownValue>
        + serde::Serialize
        + serde::de::DeserializeOwned
        + rusqlite::types::ToSql
        + rusqlite::types::FromSql,
{
    let conn = Connection::open_in_memory().unwrap();
    for &v in E::ALL {
        assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(v.text()), "{v:?}");
        assert_eq!(serde_json::from_value::<E>(serde_json::json!(v.text())).unwrap(), v);
        assert_eq!(v.to_string(), v.text());
        assert_eq!(v.text().parse::<E>(), Ok(v));
        let stored: String = conn.query_row("SELECT ?1", [v], |r| r.get(0)).unwrap();
        assert_eq!(stored, v.text());
        let read: E = conn.query_row("SELECT ?1", [v.text()], |r| r.get(0)).unwrap();
        assert_eq!(read, v);
    }
}

#[test]
fn each_enum_writes_and_reads_its_text() {
    assert_text_round_trips::<RecordState>();
    assert_text_round_trips::<RecordKind>();
    assert_text_round_trips::<OutboxState>();
    assert_text_round_trips::<OutboxItemKind>();
    assert_text_round_trips::<Role>();
    assert_text_round_trips::<RecipientKind>();
    assert_text_round_trips::<Level>();
    assert_text_round_trips::<ReceivedState>();
    assert_text_round_trips::<DecisionKind>();
    assert_text_round_trips::<DecisionState>();
}

#[test]
fn unknown_text_is_an_error_naming_the_column_never_a_default() {
    // `RecordKind::parse` used to read anything but "incident" as a visit.
    for text in ["", "Visit", "visit ", " visit", "visits", "VISIT", "incident\0"] {
        assert_eq!(
            text.parse::<RecordKind>(),
            Err(UnknownValue {
                what: "record kind",
                table: "records",
                column: "kind",
                value: text.to_string()
            }),
            "{text:?}"
        );
    }
    let e = "sent".parse::<OutboxState>().unwrap_err();
    assert_eq!((e.table, e.column), ("outbox", "state"));
    assert_eq!(e.to_string(), r#"unknown outbox state "sent" (expected in outbox.state)"#);
    let long = "x".repeat(1000);
    assert_eq!(long.parse::<Level>().unwrap_err().value.len(), 40, "cut for the logs");
}

#[test]
fn from_sql_of_unknown_text_is_a_typed_store_error() {
    let conn = Connection::open_in_memory().unwrap();
    let read = |text: &str| -> Result<RecordState, StoreError> {
        Ok(conn.query_row("SELECT ?1", [text], |r| r.get::<_, RecordState>(0))?)
    };
    assert_eq!(read("queued").unwrap(), RecordState::Queued);
    match read("archived") {
        Err(StoreError::UnknownValue(u)) => {
            assert_eq!((u.table, u.column, u.value.as_str()), ("records", "state", "archived"));
        }
        other => panic!("{other:?}"),
    }
    // Not text at all (SQLite's STRICT tables keep it out of these columns): a type error.
    let number: Result<RecordState, StoreError> =
        conn.query_row("SELECT 3", [], |r| r.get(0)).map_err(StoreError::from);
    assert!(matches!(number, Err(StoreError::Sqlite(_))), "{number:?}");
}
