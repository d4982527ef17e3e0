//! The portable query layer: one connection type ([`Conn`]) over SQLite (the embedded default)
//! or PostgreSQL (the scale backend, `--database postgres://…`), so that every query of the
//! server is written once.
//!
//! The API follows rusqlite's shape (`execute`, `query_row`, `prepare(..).query_map`,
//! `savepoint`, `.optional()`), which the server was written against, and queries are written
//! in the SQL both engines accept: `?N` parameters, `ON CONFLICT … DO NOTHING`, `RETURNING`,
//! `CASE` instead of two-argument `min`/`max`. What still differs is translated for PostgreSQL
//! in one place ([`pg::translate`]): `?N` becomes a typed `$N`, and `json_each(x)` becomes
//! `json_array_elements_text(x::json)`. Engine-only operations (SQLite's `VACUUM INTO` and
//! pragmas) reach the engine through [`Conn::as_sqlite`].
//!
//! Rows are read into [`Value`]s, so one row type serves both engines; a statement's rows are
//! streamed ([`Conn::for_each`]) or collected when the caller wants them all.

mod pg;
mod value;

use std::cell::Cell;

pub use pg::{DEFAULT_POOL, PgSettings};
pub use value::{FromValue, Params, ToValue, Value};

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// An error of the query layer, from either engine or from reading a row.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("the query returned no row")]
    NoRows,
    #[error("column {column} holds {found}, not {wanted}")]
    Type { column: usize, wanted: &'static str, found: &'static str },
    #[error("column {column} holds {value}, out of range for its type")]
    OutOfRange { column: usize, value: i64 },
    #[error("column {index} asked of a row of {count}")]
    Column { index: usize, count: usize },
    #[error("PostgreSQL sent a value of type {0} this server does not read")]
    PgType(String),
}

/// PostgreSQL's own message and code when it sent one (the client's `Display` says only "db
/// error").
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl Error {
    /// The disk (or the database's quota) is full: the client may retry later.
    pub fn is_storage_full(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            Error::Postgres(e) => e.code() == Some(&postgres::error::SqlState::DISK_FULL),
            _ => false,
        }
    }

    /// A unique or primary key refused the row (another writer stored it first).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ConstraintViolation
            }
            Error::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }

    /// A statement ran past its timeout, or waited past the lock timeout (PostgreSQL), or the
    /// database stayed busy past the busy timeout (SQLite).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DatabaseBusy
            }
            Error::Postgres(e) => {
                use postgres::error::SqlState;
                e.code() == Some(&SqlState::QUERY_CANCELED)
                    || e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
            }
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `.optional()` on a single-row query: no row is `None`, as in rusqlite.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A column's position. Only `usize` is one, so a literal `r.get(0)` needs no annotation.
pub trait ColumnIndex {
    fn index(self) -> usize;
}

impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row, read.
#[derive(Debug, Clone)]
pub struct Row {
    cells: Vec<Value>,
}

impl Row {
    /// Column `index` as `T` (`row.get::<_, i64>(0)`, as in rusqlite).
    pub fn get<I: ColumnIndex, T: FromValue>(&self, index: I) -> Result<T> {
        let index = index.index();
        let cell = self.cells.get(index).ok_or(Error::Column { index, count: self.cells.len() })?;
        T::from_value(cell, index)
    }

    fn from_sqlite(row: &rusqlite::Row<'_>) -> Result<Row> {
        use rusqlite::types::ValueRef;
        let count = row.as_ref().column_count();
        let mut cells = Vec::with_capacity(count);
        for i in 0..count {
            cells.push(match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(r) => Value::Real(r),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
            });
        }
        Ok(Row { cells })
    }
}

fn to_sqlite(v: Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(i),
        Value::Real(r) => V::Real(r),
        Value::Text(t) => V::Text(t),
        Value::Bytes(b) => V::Blob(b),
    }
}

enum Inner {
    Sqlite(rusqlite::Connection),
    // Boxed: a PostgreSQL client (with its statement cache) is three times SQLite's handle.
    Pg(Box<std::cell::RefCell<pg::PgConn>>),
}

/// A connection to either engine. Used by one thread at a time (it is `Send`, not `Sync`).
pub struct Conn {
    inner: Inner,
    /// PostgreSQL: whether this connection opened a transaction (SQLite says itself).
    pg_in_tx: Cell<bool>,
    /// Savepoints open, for unique names.
    depth: Cell<u32>,
}

impl Conn {
    pub fn sqlite(conn: rusqlite::Connection) -> Conn {
        Conn { inner: Inner::Sqlite(conn), pg_in_tx: Cell::new(false), depth: Cell::new(0) }
    }

    /// Connect to PostgreSQL at `url` with `settings`.
    pub fn postgres(url: &str, settings: &PgSettings) -> Result<Conn> {
        let conn = pg::PgConn::connect(url, settings)?;
        Ok(Conn {
            inner: Inner::Pg(Box::new(std::cell::RefCell::new(conn))),
            pg_in_tx: Cell::new(false),
            depth: Cell::new(0),
        })
    }

    pub fn engine(&self) -> Engine {
        match self.inner {
            Inner::Sqlite(_) => Engine::Sqlite,
            Inner::Pg(_) => Engine::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, `VACUUM INTO`).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Pg(_) => None,
        }
    }

    fn pg(&self) -> Option<std::cell::RefMut<'_, pg::PgConn>> {
        match &self.inner {
            Inner::Pg(c) => Some(c.borrow_mut()),
            Inner::Sqlite(_) => None,
        }
    }

    /// Run `sql` (one statement) with `params`; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        let values = params.into_values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(values.into_iter().map(to_sqlite)))?)
            }
            Inner::Pg(c) => c.borrow_mut().execute(sql, &values),
        }
    }

    /// Run statements without parameters, as written (for engine-specific SQL: schema steps).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Pg(c) => c.borrow_mut().batch(sql),
        }
    }

    /// Call `f` with each row of `sql`, as they come (no more than one row held at a time).
    pub fn for_each<P, F>(&self, sql: &str, params: P, mut f: F) -> Result<()>
    where
        P: Params,
        F: FnMut(&Row) -> Result<()>,
    {
        let values = params.into_values();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows =
                    stmt.query(rusqlite::params_from_iter(values.into_iter().map(to_sqlite)))?;
                while let Some(r) = rows.next()? {
                    f(&Row::from_sqlite(r)?)?;
                }
                Ok(())
            }
            Inner::Pg(c) => c.borrow_mut().for_each(sql, &values, &mut f),
        }
    }

    /// The first row of `sql` through `f`; [`Error::NoRows`] if there is none.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row) -> Result<T>,
    {
        let values = params.into_values();
        // Only the first row is read: the rest are never fetched.
        let first = match &self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows =
                    stmt.query(rusqlite::params_from_iter(values.into_iter().map(to_sqlite)))?;
                rows.next()?.map(Row::from_sqlite).transpose()?
            }
            Inner::Pg(c) => c.borrow_mut().first(sql, &values)?,
        };
        f(&first.ok_or(Error::NoRows)?)
    }

    /// A statement to run (kept in each engine's statement cache).
    pub fn prepare<'c>(&'c self, sql: &str) -> Result<Stmt<'c>> {
        Ok(Stmt { conn: self, sql: sql.to_string() })
    }

    /// As [`Conn::prepare`] (every statement is cached).
    pub fn prepare_cached<'c>(&'c self, sql: &str) -> Result<Stmt<'c>> {
        self.prepare(sql)
    }

    /// Whether a transaction is open on this connection.
    pub fn in_transaction(&self) -> bool {
        match &self.inner {
            Inner::Sqlite(c) => !c.is_autocommit(),
            Inner::Pg(_) => self.pg_in_tx.get(),
        }
    }

    /// Begin a write transaction. SQLite: `BEGIN IMMEDIATE` (the write lock now, not at the
    /// first write). PostgreSQL: `BEGIN`, then the server's write lock (see [`WRITE_LOCK`]),
    /// with `synchronous_commit` off for a `lazy` group.
    pub fn begin_write(&self, lazy: bool) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch("BEGIN IMMEDIATE")?),
            Inner::Pg(c) => {
                let mut c = c.borrow_mut();
                c.batch("BEGIN")?;
                self.pg_in_tx.set(true);
                let sync = if lazy { "off" } else { "on" };
                c.batch(&format!(
                    "SET LOCAL synchronous_commit = {sync}; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
                ))
            }
        }
    }

    /// Whether the connection is lost (PostgreSQL: the server closed it); SQLite never is.
    pub fn is_broken(&self) -> bool {
        self.pg().is_some_and(|c| c.is_closed())
    }

    /// The engine ended the transaction on its own (a lost connection): stop counting it open.
    pub fn forget_transaction(&self) {
        self.pg_in_tx.set(false);
        self.depth.set(0);
    }

    /// Commit the open transaction.
    pub fn commit(&self) -> Result<()> {
        self.pg_in_tx.set(false);
        self.execute_batch("COMMIT")
    }

    /// Roll the open transaction back.
    pub fn rollback(&self) -> Result<()> {
        self.pg_in_tx.set(false);
        self.execute_batch("ROLLBACK")
    }

    /// A unit that is rolled back unless committed: a savepoint inside an open transaction, else
    /// a transaction of its own (a write one: see [`Conn::begin_write`]).
    pub fn savepoint(&self) -> Result<Savepoint<'_>> {
        if self.in_transaction() {
            let n = self.depth.get() + 1;
            self.depth.set(n);
            let name = format!("sp{n}");
            if let Err(e) = self.execute_batch(&format!("SAVEPOINT {name}")) {
                self.depth.set(n - 1);
                return Err(e);
            }
            Ok(Savepoint { conn: self, name: Some(name), done: false })
        } else {
            self.begin_write(false)?;
            Ok(Savepoint { conn: self, name: None, done: false })
        }
    }

    /// As [`Conn::savepoint`] (rusqlite's name for a top-level one).
    pub fn transaction(&self) -> Result<Savepoint<'_>> {
        self.savepoint()
    }
}

/// The PostgreSQL advisory lock every write transaction of every server process takes first:
/// writes are serialized across processes as SQLite serializes them in one file, so each
/// check-then-write (a submission stored once, the first verdict standing, a code used once)
/// holds with any number of processes. Reads take no lock. The constant is arbitrary and only
/// has to be the same in every process ("SHOME" in ASCII).
pub const WRITE_LOCK: i64 = 0x53_48_4f_4d_45;

/// A statement bound to its connection.
pub struct Stmt<'c> {
    conn: &'c Conn,
    sql: String,
}

impl Stmt<'_> {
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }

    /// Every row through `f`, collected (as rusqlite's `query_map` followed by `collect`).
    pub fn query_map<T, P, F>(
        &mut self,
        params: P,
        mut f: F,
    ) -> Result<std::vec::IntoIter<Result<T>>>
    where
        P: Params,
        F: FnMut(&Row) -> Result<T>,
    {
        let mut out = Vec::new();
        self.conn.for_each(&self.sql, params, |r| {
            out.push(f(r));
            Ok(())
        })?;
        Ok(out.into_iter())
    }

    /// Every row, to step through with `next()`.
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows> {
        let mut rows = Vec::new();
        self.conn.for_each(&self.sql, params, |r| {
            rows.push(r.clone());
            Ok(())
        })?;
        Ok(Rows { rows: rows.into_iter(), current: None })
    }

    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row) -> Result<T>,
    {
        self.conn.query_row(&self.sql, params, f)
    }

    /// Whether the query returns a row.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        self.conn.query_row(&self.sql, params, |_| Ok(())).optional().map(|r| r.is_some())
    }
}

/// Rows of a query, stepped through as rusqlite's `Rows`.
pub struct Rows {
    rows: std::vec::IntoIter<Row>,
    current: Option<Row>,
}

impl Rows {
    #[allow(clippy::should_implement_trait)] // rusqlite's shape: a fallible lending `next`
    pub fn next(&mut self) -> Result<Option<&Row>> {
        self.current = self.rows.next();
        Ok(self.current.as_ref())
    }
}

/// A savepoint (or a top-level transaction): rolled back when dropped uncommitted.
pub struct Savepoint<'c> {
    conn: &'c Conn,
    /// `None`: the top-level transaction.
    name: Option<String>,
    done: bool,
}

impl Savepoint<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        match self.name.take() {
            Some(name) => {
                self.conn.depth.set(self.conn.depth.get().saturating_sub(1));
                self.conn.execute_batch(&format!("RELEASE {name}"))
            }
            None => self.conn.commit(),
        }
    }
}

impl std::ops::Deref for Savepoint<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let undone = match self.name.take() {
            Some(name) => {
                self.conn.depth.set(self.conn.depth.get().saturating_sub(1));
                if !self.conn.in_transaction() {
                    return; // the engine already rolled everything back
                }
                self.conn.execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"))
            }
            None if self.conn.in_transaction() => self.conn.rollback(),
            None => Ok(()),
        };
        if let Err(e) = undone {
            tracing::error!(error = %e, "rolling back a savepoint failed");
        }
    }
}

#[cfg(test)]
mod tests;
