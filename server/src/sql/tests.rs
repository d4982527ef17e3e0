//! The portable layer on each engine this run has: SQLite always, PostgreSQL when the suite is
//! pointed at one (`SAFEHOME_TEST_POSTGRES`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use safehome_testdata::pg_scratch::ScratchDb;

use super::*;
use crate::params;

fn connections() -> Vec<(Conn, Option<ScratchDb>)> {
    let mut out = vec![(Conn::sqlite(rusqlite::Connection::open_in_memory().unwrap()), None)];
    if let Some(pg) = ScratchDb::create() {
        let settings =
            PgSettings { statement_timeout: Duration::from_millis(300), ..PgSettings::default() };
        out.push((Conn::postgres(pg.url(), &settings).unwrap(), Some(pg)));
    }
    out
}

const TABLE: &str =
    "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, data BYTEA, score DOUBLE PRECISION)";

fn create(c: &Conn) {
    // SQLite reads BYTEA and DOUBLE PRECISION as its BLOB and REAL affinities.
    c.execute_batch(TABLE).unwrap();
}

#[test]
fn values_round_trip_with_their_kinds_on_either_engine() {
    for (c, _pg) in connections() {
        create(&c);
        let none: Option<String> = None;
        c.execute(
            "INSERT INTO t (id, name, data, score) VALUES (?1, ?2, ?3, ?4)",
            params![1_700_000_000_000i64, "Nguyễn", vec![0u8, 255], 2.5f64],
        )
        .unwrap();
        c.execute("INSERT INTO t (id, name) VALUES (?1, ?2)", params![2i64, none]).unwrap();
        let row: (i64, String, Vec<u8>, f64) = c
            .query_row(
                "SELECT id, name, data, score FROM t WHERE id = ?1",
                [1_700_000_000_000i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            (1_700_000_000_000, "Nguyễn".into(), vec![0, 255], 2.5),
            "{:?}",
            c.engine()
        );
        let name: Option<String> =
            c.query_row("SELECT name FROM t WHERE id = 2", [], |r| r.get(0)).unwrap();
        assert_eq!(name, None);
        // Arithmetic on a parameter is 64-bit (PostgreSQL would guess 32 for `?1 / 1000`).
        let secs: i64 =
            c.query_row("SELECT ?1 / 1000", [1_700_000_000_000i64], |r| r.get(0)).unwrap();
        assert_eq!(secs, 1_700_000_000);
        // A sum of integers is an integer on both (PostgreSQL's is NUMERIC).
        let sum: i64 = c.query_row("SELECT sum(id) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(sum, 1_700_000_000_002);
        // A comparison reads as a flag.
        let yes: bool = c.query_row("SELECT 2 > 1", [], |r| r.get(0)).unwrap();
        assert!(yes);
        // No row: an error, or None through `optional`.
        let missing = c.query_row("SELECT id FROM t WHERE id = 9", [], |r| r.get::<_, i64>(0));
        assert!(matches!(missing, Err(Error::NoRows)));
        let missing = c
            .query_row("SELECT id FROM t WHERE id = 9", [], |r| r.get::<_, i64>(0))
            .optional()
            .unwrap();
        assert_eq!(missing, None);
        // A type mismatch says which column.
        let wrong = c.query_row("SELECT name FROM t WHERE id = ?1", [1_700_000_000_000i64], |r| {
            r.get::<_, i64>(0)
        });
        assert!(matches!(wrong, Err(Error::Type { column: 0, .. })), "{wrong:?}");
    }
}

#[test]
fn json_arrays_unnest_the_same_way() {
    for (c, _pg) in connections() {
        create(&c);
        for (id, name) in [(1i64, "19001"), (2, "19002"), (3, "19003")] {
            c.execute("INSERT INTO t (id, name) VALUES (?1, ?2)", params![id, name]).unwrap();
        }
        let ids: Vec<i64> = c
            .prepare("SELECT id FROM t WHERE name IN (SELECT value FROM json_each(?1)) ORDER BY id")
            .unwrap()
            .query_map(["[\"19001\",\"19003\"]"], |r| r.get(0))
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(ids, vec![1, 3], "{:?}", c.engine());
    }
}

#[test]
fn savepoints_nest_and_roll_back_alone() {
    for (c, _pg) in connections() {
        create(&c);
        {
            let outer = c.savepoint().unwrap(); // a transaction of its own
            outer.execute("INSERT INTO t (id) VALUES (1)", []).unwrap();
            {
                let inner = outer.savepoint().unwrap();
                inner.execute("INSERT INTO t (id) VALUES (2)", []).unwrap();
                // dropped: rolled back
            }
            let inner = outer.savepoint().unwrap();
            inner.execute("INSERT INTO t (id) VALUES (3)", []).unwrap();
            inner.commit().unwrap();
            outer.commit().unwrap();
        }
        {
            let dropped = c.savepoint().unwrap();
            dropped.execute("INSERT INTO t (id) VALUES (4)", []).unwrap();
        }
        assert!(!c.in_transaction());
        let ids: Vec<i64> = c
            .prepare("SELECT id FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(ids, vec![1, 3], "{:?}", c.engine());
    }
}

#[test]
fn a_duplicate_key_reads_as_a_unique_violation_and_keeps_the_first_row() {
    for (c, _pg) in connections() {
        create(&c);
        c.execute("INSERT INTO t (id, name) VALUES (1, 'first')", []).unwrap();
        let again = c.execute("INSERT INTO t (id, name) VALUES (1, 'second')", []).unwrap_err();
        assert!(again.is_unique_violation(), "{again}");
        let n = c
            .execute("INSERT INTO t (id, name) VALUES (1, 'third') ON CONFLICT DO NOTHING", [])
            .unwrap();
        assert_eq!(n, 0);
        let name: String = c.query_row("SELECT name FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(name, "first");
    }
}

#[test]
fn a_statement_past_its_timeout_is_cancelled_on_postgresql() {
    let Some(pg) = ScratchDb::create() else {
        eprintln!("SAFEHOME_TEST_POSTGRES is not set: nothing to time out");
        return;
    };
    let settings =
        PgSettings { statement_timeout: Duration::from_millis(200), ..PgSettings::default() };
    let c = Conn::postgres(pg.url(), &settings).unwrap();
    let started = std::time::Instant::now();
    let err = c.query_row("SELECT pg_sleep(5)", [], |_| Ok(())).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // The connection is still usable.
    let one: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
    assert_eq!(one, 1);
}

#[test]
fn two_writers_in_two_connections_take_turns_on_the_write_lock() {
    let Some(pg) = ScratchDb::create() else {
        eprintln!("SAFEHOME_TEST_POSTGRES is not set: one engine, one writer");
        return;
    };
    let a = Conn::postgres(pg.url(), &PgSettings::default()).unwrap();
    let b = Conn::postgres(
        pg.url(),
        &PgSettings { lock_timeout: Duration::from_millis(300), ..PgSettings::default() },
    )
    .unwrap();
    a.execute_batch("CREATE TABLE t (id BIGINT PRIMARY KEY)").unwrap();
    a.begin_write(false).unwrap();
    // While `a` holds the write lock, `b` waits for it, and gives up at its lock timeout.
    let err = b.begin_write(false).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    b.rollback().unwrap();
    a.commit().unwrap();
    b.begin_write(false).unwrap();
    b.commit().unwrap();
}
