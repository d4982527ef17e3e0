//! The server's database: which engine ([`Database`]: the embedded SQLite file by default, or
//! PostgreSQL), opening it with the server's settings, the schema's migration, and [`Db`], the
//! server's connections used off the async runtime (one writer, a pool of readers).

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::error::{ApiError, ServerError};
use crate::sql::{Conn, Engine, PgSettings};

/// The schema version this code writes, on either engine.
pub const SCHEMA_VERSION: i64 = 4;
/// The SQLite schema, one step per version: a fresh database runs every step, an older one the
/// steps past its version, all in one IMMEDIATE transaction. A step is never edited once
/// released; a change is a new step (on both engines).
const STEPS: &[(i64, &str)] = &[
    (1, include_str!("schema.sql")),
    (2, include_str!("schema_v2.sql")),
    (3, include_str!("schema_v3.sql")),
    (4, include_str!("schema_v4.sql")),
];
/// The PostgreSQL schema, versioned the same way. PostgreSQL arrived at version 4: its first
/// step is the whole schema of that version, written in PostgreSQL's types; later versions add
/// a step to each list.
const PG_STEPS: &[(i64, &str)] = &[(4, include_str!("pg/schema_v4.sql"))];
/// After step 2's tables exist: the routing columns of the submissions stored before it.
const FILL_V2: &str = "
    INSERT INTO submission_routing (record_id, team, device_id, commune, household_code, kind,
                                    risk_level, due_at_ms, finalized_at_ms, received_at_ms)
    SELECT record_id, team, device_id, json_extract(routing, '$.commune'),
           json_extract(routing, '$.household_code'), json_extract(routing, '$.kind'),
           json_extract(routing, '$.risk_level'), json_extract(routing, '$.due_at_ms'),
           json_extract(routing, '$.finalized_at_ms'), received_at_ms
    FROM submissions;
    INSERT INTO routing_monthly (commune, month, risk_level, submissions)
    SELECT commune, strftime('%Y-%m', finalized_at_ms / 1000 + 25200, 'unixepoch'),
           COALESCE(risk_level, 'none'), count(*)
    FROM submission_routing WHERE commune IS NOT NULL GROUP BY 1, 2, 3;
    INSERT OR IGNORE INTO screened_households (commune, household_code)
    SELECT commune, household_code FROM submission_routing
    WHERE kind = 'visit' AND commune IS NOT NULL AND household_code IS NOT NULL";
/// How long a statement waits for another connection's write (the CLI's, the server's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// The advisory lock a PostgreSQL migration holds, so that two processes starting at once
/// migrate once.
const MIGRATE_LOCK: i64 = 0x53_48_4d_49_47;

/// Where the server's database is.
#[derive(Clone)]
pub enum Database {
    /// The embedded default: one file in the data directory.
    Sqlite(PathBuf),
    /// A PostgreSQL database, shared by any number of server processes.
    Postgres { url: String, settings: PgSettings, pool: usize },
}

impl std::fmt::Debug for Database {
    // Never the URL itself: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Database {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; anything else is a SQLite file's path
    /// (`sqlite://` before it is allowed).
    pub fn parse(given: &str) -> Result<Database, ServerError> {
        let given = given.trim();
        if given.starts_with("postgres://") || given.starts_with("postgresql://") {
            given.parse::<postgres::Config>().map_err(|e| {
                ServerError::Invalid(format!("the PostgreSQL URL is not valid: {e}"))
            })?;
            return Ok(Database::Postgres {
                url: given.to_string(),
                settings: PgSettings::default(),
                pool: crate::sql::DEFAULT_POOL,
            });
        }
        let path = given.strip_prefix("sqlite://").unwrap_or(given);
        if path.is_empty() {
            return Err(ServerError::Invalid("an empty database location".into()));
        }
        Ok(Database::Sqlite(PathBuf::from(path)))
    }

    pub fn engine(&self) -> Engine {
        match self {
            Database::Sqlite(_) => Engine::Sqlite,
            Database::Postgres { .. } => Engine::Postgres,
        }
    }

    /// Where it is, for logs and messages: a path, or PostgreSQL's host, port and database
    /// (never the user's password).
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(p) => format!("SQLite {}", p.display()),
            Database::Postgres { url, .. } => match url.parse::<postgres::Config>() {
                Ok(c) => {
                    let hosts: Vec<String> = c
                        .get_hosts()
                        .iter()
                        .map(|h| match h {
                            postgres::config::Host::Tcp(t) => t.clone(),
                            postgres::config::Host::Unix(p) => p.display().to_string(),
                        })
                        .collect();
                    format!(
                        "PostgreSQL {}:{:?}/{}",
                        hosts.join(","),
                        c.get_ports(),
                        c.get_dbname().unwrap_or("")
                    )
                }
                Err(_) => "PostgreSQL (an invalid URL)".into(),
            },
        }
    }

    /// Open a connection with the server's settings, migrating the schema (creating it when
    /// `create`; otherwise a database without it is refused).
    pub fn open(&self, create: bool) -> Result<Conn, ServerError> {
        match self {
            Database::Sqlite(path) => open_sqlite(path, create),
            Database::Postgres { url, settings, .. } => {
                let conn = Conn::postgres(url, settings)?;
                migrate_pg(&conn, create)?;
                Ok(conn)
            }
        }
    }

    /// A further connection, without migrating (the schema is known to be current).
    fn connect(&self) -> Result<Conn, ServerError> {
        match self {
            Database::Sqlite(path) => open_sqlite(path, false),
            Database::Postgres { url, settings, .. } => Ok(Conn::postgres(url, settings)?),
        }
    }

    /// A reader's connection: as [`Database::connect`], with PostgreSQL's commits not waiting
    /// for an fsync (a reader's only writes are request nonces).
    fn connect_reader(&self) -> Result<Conn, ServerError> {
        match self {
            Database::Postgres { url, settings, .. } => {
                Ok(Conn::postgres(url, &PgSettings { lazy_commits: true, ..settings.clone() })?)
            }
            Database::Sqlite(_) => self.connect(),
        }
    }
}

/// Open (creating if `create`) a SQLite database with the server's settings and migrate it.
pub fn open(path: &Path, create: bool) -> Result<Conn, ServerError> {
    open_sqlite(path, create)
}

fn open_sqlite(path: &Path, create: bool) -> Result<Conn, ServerError> {
    if !create && !path.exists() {
        return Err(ServerError::NotFound(format!(
            "no database at {} (run `safehome-server init` first)",
            path.display()
        )));
    }
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(ServerError::Invalid(format!("the database refused WAL mode ({mode})")));
    }
    // FULL: a commit is fsynced before it returns, so an acknowledged write survives a crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate_sqlite(conn)
}

fn migrate_sqlite(mut conn: rusqlite::Connection) -> Result<Conn, ServerError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(ServerError::NewerDatabase { found: version, supported: SCHEMA_VERSION });
    }
    for (step, sql) in STEPS {
        if *step > version {
            tx.execute_batch(sql)?;
            if *step == 2 {
                tx.execute_batch(FILL_V2)?;
            }
        }
    }
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(Conn::sqlite(conn))
}

/// PostgreSQL keeps the version in `safehome_schema` (one row); two processes starting at once
/// take turns on [`MIGRATE_LOCK`].
fn migrate_pg(conn: &Conn, create: bool) -> Result<(), ServerError> {
    conn.execute_batch("BEGIN")?;
    let result = (|| -> Result<(), ServerError> {
        conn.query_row("SELECT pg_advisory_xact_lock(?1)", [MIGRATE_LOCK], |_| Ok(()))?;
        let exists: bool =
            conn.query_row("SELECT to_regclass('safehome_schema') IS NOT NULL", [], |r| r.get(0))?;
        let version: i64 = if exists {
            conn.query_row("SELECT version FROM safehome_schema", [], |r| r.get(0))?
        } else if create {
            0
        } else {
            return Err(ServerError::NotFound(
                "this PostgreSQL database holds no SafeHome schema (run `safehome-server init \
                 --database ...` first)"
                    .into(),
            ));
        };
        if version > SCHEMA_VERSION {
            return Err(ServerError::NewerDatabase { found: version, supported: SCHEMA_VERSION });
        }
        for (step, sql) in PG_STEPS {
            if *step > version {
                conn.execute_batch(sql)?;
            }
        }
        if !exists {
            conn.execute_batch("CREATE TABLE safehome_schema (version BIGINT NOT NULL)")?;
            conn.execute("INSERT INTO safehome_schema (version) VALUES (?1)", [SCHEMA_VERSION])?;
        } else if version < SCHEMA_VERSION {
            conn.execute("UPDATE safehome_schema SET version = ?1", [SCHEMA_VERSION])?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(conn.execute_batch("COMMIT")?),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Create the PostgreSQL database `name` on the server at `admin_url` (a database the user may
/// connect to, such as `postgres`), for `init` against a new deployment and for the tests.
pub fn create_pg_database(admin_url: &str, name: &str) -> Result<(), ServerError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ServerError::Invalid(format!("not a plain database name: {name:?}")));
    }
    let conn = Conn::postgres(admin_url, &PgSettings::default())?;
    conn.execute_batch(&format!("CREATE DATABASE {name}"))?;
    Ok(())
}

/// `url` with the database `name` in place of its own (the path after the host; any query
/// kept).
pub fn pg_url_for(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let base = match head[after_scheme..].find('/') {
        Some(slash) => &head[..after_scheme + slash],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Drop the PostgreSQL database `name` (closing its connections), if it exists.
pub fn drop_pg_database(admin_url: &str, name: &str) -> Result<(), ServerError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ServerError::Invalid(format!("not a plain database name: {name:?}")));
    }
    let conn = Conn::postgres(admin_url, &PgSettings::default())?;
    conn.execute_batch(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    Ok(())
}

/// The server's connections: one writer thread that commits in groups, and a pool of readers.
///
/// Every request's write is a job sent to the writer thread. The thread takes every job
/// waiting (up to [`MAX_BATCH`]), runs each inside its own savepoint of one write transaction
/// (a job that fails rolls back to its savepoint and leaves the others intact), commits once —
/// one fsync for the whole group — and only then answers each job. So no answer is sent before
/// its write is on disk, and concurrent uploads share fsyncs instead of queueing for one each
/// (group commit). A commit that fails (disk full) fails every job of its group, none of which
/// had been answered.
///
/// On PostgreSQL the write transaction first takes the server-wide write lock
/// ([`crate::sql::WRITE_LOCK`]), so the groups of several processes over one database follow
/// each other as one process's do, and what a job reads before it writes still holds when it
/// commits.
///
/// The async runtime's threads never wait on the database or on an fsync: they await the answer.
#[derive(Clone)]
pub struct Db {
    writer: std::sync::Arc<Writer>,
    /// Reads that need no write lock (a device's key, an upload's row) go to their own
    /// connections on the blocking pool: they neither wait for a group commit nor delay one.
    readers: std::sync::Arc<Pool>,
    engine: Engine,
}

/// The writer thread and the way to it. When the last [`Db`] goes, the queue closes and the
/// thread is joined: the database is closed (SQLite's WAL checkpointed) before the server's
/// stop returns.
struct Writer {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reader connections: made on demand up to `max`, kept while healthy. SQLite has one (WAL
/// readers do not block the writer; one is enough for a commune's server); PostgreSQL as many
/// as the pool size.
struct Pool {
    database: Database,
    idle: Mutex<(Vec<Conn>, usize)>,
    freed: Condvar,
    max: usize,
}

impl Pool {
    fn take(&self) -> Result<Conn, ApiError> {
        let poisoned = || ApiError::internal("reader pool poisoned");
        let mut guard = self.idle.lock().map_err(|_| poisoned())?;
        loop {
            if let Some(conn) = guard.0.pop() {
                return Ok(conn);
            }
            if guard.1 < self.max {
                guard.1 += 1;
                drop(guard);
                return self.database.connect_reader().map_err(|e| {
                    if let Ok(mut g) = self.idle.lock() {
                        g.1 -= 1;
                    }
                    tracing::error!(error = %e, "opening a database connection failed");
                    ApiError::new(503, "unavailable", "the database does not answer")
                });
            }
            guard = self.freed.wait(guard).map_err(|_| poisoned())?;
        }
    }

    /// Give a connection back; a broken one is closed instead, and the next `take` makes a new.
    fn give(&self, conn: Conn, healthy: bool) {
        if let Ok(mut g) = self.idle.lock() {
            if healthy && !conn.in_transaction() {
                g.0.push(conn);
            } else {
                g.1 -= 1;
            }
        }
        self.freed.notify_one();
    }
}

impl Drop for Pool {
    // A PostgreSQL client closes itself by blocking on its own runtime, which may not happen on
    // an async thread (where the last `Db` may well be dropped): close them on a thread of
    // their own.
    fn drop(&mut self) {
        let idle = match self.idle.get_mut() {
            Ok(g) => std::mem::take(&mut g.0),
            Err(_) => return,
        };
        if idle.is_empty() || self.database.engine() == Engine::Sqlite {
            return;
        }
        if let Ok(t) =
            std::thread::Builder::new().name("safehome-db-close".into()).spawn(move || drop(idle))
        {
            let _ = t.join();
        }
    }
}

/// The most jobs one commit covers.
pub const MAX_BATCH: usize = 64;

/// What a job hands back after running: the call to make once its group's commit is known.
type Deliver = Box<dyn FnOnce(Result<(), ApiError>) + Send>;
/// A job: run against the connection (or, when its group could not begin, given the reason),
/// say whether it succeeded, and how to answer.
type Run = Box<dyn FnOnce(Result<&Conn, ApiError>) -> (Result<(), ApiError>, Deliver) + Send>;

/// A job and whether its answer must wait for an fsync.
struct Job {
    run: Run,
    durable: bool,
}

impl Db {
    /// Open `database` (migrated, current) with a writer thread and a reader pool, and on
    /// SQLite a quota of `max_pages` pages (past it, writes fail as on a full disk).
    pub fn open(database: &Database, max_pages: Option<u32>) -> Result<Db, ServerError> {
        let conn = database.open(false)?;
        if let Some(pages) = max_pages {
            let Some(c) = conn.as_sqlite() else {
                return Err(ServerError::Invalid(
                    "a page quota applies to SQLite; give PostgreSQL its quota on its own disk"
                        .into(),
                ));
            };
            c.pragma_update(None, "max_page_count", pages)?;
        }
        let max = match database {
            Database::Sqlite(_) => 1,
            Database::Postgres { pool, .. } => (*pool).max(1),
        };
        let engine = database.engine();
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let reconnect = database.clone();
        let thread = std::thread::Builder::new()
            .name("safehome-db-writer".into())
            .spawn(move || writer(conn, &reconnect, queue))
            .map_err(|e| ServerError::Io {
                context: "starting the database thread".into(),
                source: e,
            })?;
        Ok(Db {
            writer: std::sync::Arc::new(Writer { jobs: Some(jobs), thread: Some(thread) }),
            readers: std::sync::Arc::new(Pool {
                database: database.clone(),
                idle: Mutex::new((Vec::new(), 0)),
                freed: Condvar::new(),
                max,
            }),
            engine,
        })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Run a read-only `f` on a reader connection (it sees every committed group and never
    /// blocks the writer). Also for a single-statement write that needs no other check, such
    /// as a request's nonce: it commits on its own.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn) -> Result<T, ApiError> + Send + 'static,
    {
        let readers = std::sync::Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = f(&conn);
            // An internal error may be a broken connection: do not keep it.
            let healthy = !matches!(&result, Err(e) if e.status.as_u16() >= 500);
            readers.give(conn, healthy);
            result
        })
        .await
        .map_err(|_| ApiError::internal("database read task failed"))?
    }

    /// Run `f` with the connection on the writer thread, inside the current group's
    /// transaction (use `savepoint()` for a unit that must roll back as one); its result
    /// arrives once the group has committed and been fsynced.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn) -> Result<T, ApiError> + Send + 'static,
    {
        self.submit(f, true).await
    }

    /// As [`Db::call`], for a write whose loss in a power cut costs nothing but a retry (a new
    /// upload's row: the phone that finds it gone creates another; a checkin's report: the next
    /// one repeats it). Its group commits without waiting for an fsync unless the group also
    /// holds a durable job; the next durable commit syncs it anyway (WAL order). Never for
    /// anything a receipt or an answer the phone acts on depends on.
    pub async fn call_lazy<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn) -> Result<T, ApiError> + Send + 'static,
    {
        self.submit(f, false).await
    }

    async fn submit<T, F>(&self, f: F, durable: bool) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn) -> Result<T, ApiError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, ApiError>>();
        let run: Run = Box::new(move |conn| {
            let result = conn.and_then(f);
            let ok = result.as_ref().map(|_| ()).map_err(Clone::clone);
            let deliver: Deliver = Box::new(move |commit| {
                let _ = tx.send(commit.and(result));
            });
            (ok, deliver)
        });
        let sent = self.writer.jobs.as_ref().map(|q| q.send(Job { run, durable }));
        if !matches!(sent, Some(Ok(()))) {
            return Err(ApiError::internal("the database thread stopped"));
        }
        rx.await.map_err(|_| ApiError::internal("the database thread dropped a job"))?
    }
}

fn writer(mut conn: Conn, database: &Database, queue: std::sync::mpsc::Receiver<Job>) {
    // Ends when every `Db` (every sender) is gone: the server stopped.
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if conn.is_broken() {
            // PostgreSQL went away (a restart, a failover): connect again for this group; if
            // that fails too, the group fails with the reason and the next one tries again.
            match database.connect() {
                Ok(fresh) => conn = fresh,
                Err(e) => tracing::error!(error = %e, "reconnecting the writer failed"),
            }
        }
        run_batch(&conn, batch);
    }
}

fn run_batch(conn: &Conn, batch: Vec<Job>) {
    // Durable (an fsync at commit) unless every job of the group is lazy.
    let lazy = batch.iter().all(|j| !j.durable);
    if let Some(c) = conn.as_sqlite() {
        let sync = if lazy { "PRAGMA synchronous = NORMAL" } else { "PRAGMA synchronous = FULL" };
        if let Err(e) = c.execute_batch(sync) {
            tracing::error!(error = %e, "setting the group's durability failed");
        }
    }
    let mut jobs = batch.into_iter();
    // Jobs run in the open transaction, waiting for its commit.
    let mut delivers: Vec<Deliver> = Vec::new();
    let mut open = false;
    while let Some(job) = jobs.next() {
        if !open {
            if let Err(e) = conn.begin_write(lazy) {
                // Not run: this job and the rest answer with the reason nothing could begin.
                if conn.in_transaction() {
                    let _ = conn.rollback();
                }
                let err = ApiError::from(e);
                for job in std::iter::once(job).chain(jobs.by_ref()) {
                    let (_, deliver) = (job.run)(Err(err.clone()));
                    deliver(Ok(()));
                }
                break;
            }
            open = true;
        }
        let mark = conn.execute_batch("SAVEPOINT job");
        let (result, deliver) = (job.run)(Ok(conn));
        if !conn.in_transaction() || conn.is_broken() {
            // The engine rolled the whole transaction back (a full disk, an I/O error, a lost
            // connection): what the jobs before this one wrote is gone, so they fail with this
            // job's error; this job answers with its own. The jobs after it start anew.
            let err = result.err().unwrap_or_else(|| ApiError::internal("transaction lost"));
            tracing::error!(jobs = delivers.len() + 1, code = %err.body.code, "a group was rolled back");
            for d in delivers.drain(..) {
                d(Err(err.clone()));
            }
            deliver(Ok(()));
            conn.forget_transaction();
            open = false;
            continue;
        }
        if mark.is_ok() {
            let end = if result.is_ok() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
            if let Err(e) = conn.execute_batch(end) {
                tracing::error!(error = %e, "ending a job's savepoint failed");
            }
        }
        delivers.push(deliver);
    }
    if open {
        let commit = conn.commit().map_err(|e| {
            tracing::error!(error = %e, jobs = delivers.len(), "a group commit failed");
            if conn.in_transaction() {
                let _ = conn.rollback();
            }
            ApiError::from(e)
        });
        for deliver in delivers {
            deliver(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use safehome_testdata::pg_scratch::ScratchDb;

    /// A fresh database on each engine this run has: SQLite always, PostgreSQL when the suite
    /// is pointed at one. The temporary directory and the scratch database live as long as the
    /// returned values.
    fn engines() -> Vec<(Database, tempfile::TempDir, Option<ScratchDb>)> {
        let dir = tempfile::tempdir().unwrap();
        let mut out = vec![(Database::Sqlite(dir.path().join("server.db")), dir, None)];
        if let Some(pg) = ScratchDb::create() {
            let db = Database::parse(pg.url()).unwrap();
            out.push((db, tempfile::tempdir().unwrap(), Some(pg)));
        }
        out
    }

    fn version_of(conn: &Conn) -> i64 {
        match conn.engine() {
            Engine::Sqlite => conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap(),
            Engine::Postgres => {
                conn.query_row("SELECT version FROM safehome_schema", [], |r| r.get(0)).unwrap()
            }
        }
    }

    #[test]
    fn a_fresh_database_is_at_the_current_version_and_reopens() {
        for (db, _dir, _pg) in engines() {
            let conn = db.open(true).unwrap();
            assert_eq!(version_of(&conn), SCHEMA_VERSION, "{db:?}");
            if let Some(c) = conn.as_sqlite() {
                let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
                assert_eq!(sync, 2, "synchronous=FULL");
            }
            drop(conn);
            db.open(false).unwrap();
        }
    }

    /// Each table's columns (name, declared type folded to the portable kind, nullable) and
    /// the names of its indexes, as the engine reports them.
    /// A table: its name, its columns (name, kind, nullable) and its index names.
    type Shape = (String, Vec<(String, &'static str, bool)>, Vec<String>);

    fn shape_of(conn: &Conn) -> Vec<Shape> {
        let kind = |t: &str| -> &'static str {
            match t.to_ascii_lowercase().as_str() {
                "integer" | "bigint" => "int",
                "text" => "text",
                "blob" | "bytea" => "bytes",
                _ => "other",
            }
        };
        let tables: Vec<String> = match conn.engine() {
            Engine::Sqlite => conn
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table'
                          AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect(),
            Engine::Postgres => conn
                .prepare(
                    "SELECT table_name::text FROM information_schema.tables
                          WHERE table_schema = current_schema() AND table_name <> 'safehome_schema'
                          ORDER BY 1",
                )
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect(),
        };
        tables
            .into_iter()
            .map(|t| {
                let (cols_sql, idx_sql) = match conn.engine() {
                    Engine::Sqlite => (
                        "SELECT name, type, \"notnull\" = 0 AND pk = 0 FROM pragma_table_info(?1)
                         ORDER BY name",
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1
                         AND sql IS NOT NULL ORDER BY name",
                    ),
                    Engine::Postgres => (
                        "SELECT column_name::text, data_type::text, is_nullable = 'YES'
                         FROM information_schema.columns
                         WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY 1",
                        "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()
                         AND tablename = ?1 AND indexname NOT LIKE '%_pkey'
                         AND indexname NOT LIKE '%_key' ORDER BY 1",
                    ),
                };
                let cols = conn
                    .prepare(cols_sql)
                    .unwrap()
                    .query_map([&t], |r| {
                        let ty: String = r.get(1)?;
                        Ok((r.get::<_, String>(0)?, kind(&ty), r.get::<_, bool>(2)?))
                    })
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                let idx = conn
                    .prepare(idx_sql)
                    .unwrap()
                    .query_map([&t], |r| r.get(0))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                (t, cols, idx)
            })
            .collect()
    }

    #[test]
    fn postgresql_and_sqlite_hold_the_same_schema() {
        let all = engines();
        if all.len() < 2 {
            eprintln!("SAFEHOME_TEST_POSTGRES is not set: the PostgreSQL schema is not compared");
            return;
        }
        let shapes: Vec<_> =
            all.iter().map(|(db, _, _)| shape_of(&db.open(true).unwrap())).collect();
        assert!(shapes[0].len() >= 20, "{:?}", shapes[0]);
        assert_eq!(shapes[0], shapes[1]);
    }

    #[test]
    fn two_processes_starting_at_once_migrate_once() {
        for (db, _dir, _pg) in engines() {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let db = db.clone();
                    std::thread::spawn(move || db.open(true).map(|c| version_of(&c)))
                })
                .collect();
            for t in threads {
                assert_eq!(t.join().unwrap().unwrap(), SCHEMA_VERSION, "{db:?}");
            }
        }
    }

    /// The schema as SQLite holds it: every table, index and trigger's SQL, by name.
    fn schema_of(conn: &rusqlite::Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn a_version_1_database_migrates_to_the_fresh_schema_and_keeps_its_submissions() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.db");
        {
            let conn = rusqlite::Connection::open(&old).unwrap();
            conn.execute_batch(STEPS[0].1).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO teams VALUES ('t', '[\"05569\"]', 0);
                 INSERT INTO devices (device_id, public_key, team, role, enrolled_at_ms)
                     VALUES ('d', 'k', 't', 'volunteer', 0);
                 INSERT INTO submissions (record_id, device_id, team, envelope_sha256,
                                          received_at_ms, routing, body)
                     VALUES ('r', 'd', 't', 'e', 7, '{\"commune\":\"05569\",\"kind\":\"visit\",
                             \"household_code\":\"H1\",\"risk_level\":\"urgent\",
                             \"due_at_ms\":50,\"finalized_at_ms\":5}', x'00');",
            )
            .unwrap();
        }
        let migrated = open(&old, false).unwrap();
        let fresh = open(&dir.path().join("fresh.db"), true).unwrap();
        let (m, f) = (migrated.as_sqlite().unwrap(), fresh.as_sqlite().unwrap());
        assert_eq!(schema_of(m), schema_of(f));
        assert_eq!(version_of(&migrated), SCHEMA_VERSION);
        let row: (String, String, String, String, i64, i64, i64) = migrated
            .query_row(
                "SELECT commune, household_code, kind, risk_level, due_at_ms, finalized_at_ms,
                        received_at_ms FROM submission_routing WHERE record_id = 'r'",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(row, ("05569".into(), "H1".into(), "visit".into(), "urgent".into(), 50, 5, 7));
        let counted: (String, String, i64) = migrated
            .query_row("SELECT month, risk_level, submissions FROM routing_monthly", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(counted, ("1970-01".into(), "urgent".into(), 1));
        let screened: i64 = migrated
            .query_row("SELECT count(*) FROM screened_households", [], |r| r.get(0))
            .unwrap();
        assert_eq!(screened, 1);
    }

    #[test]
    fn a_newer_database_is_refused() {
        for (db, _dir, _pg) in engines() {
            let conn = db.open(true).unwrap();
            match conn.as_sqlite() {
                Some(c) => c.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap(),
                None => {
                    conn.execute("UPDATE safehome_schema SET version = ?1", [SCHEMA_VERSION + 1])
                        .unwrap();
                }
            }
            drop(conn);
            assert!(matches!(db.open(false), Err(ServerError::NewerDatabase { .. })), "{db:?}");
        }
    }

    #[test]
    fn a_failed_job_rolls_back_alone_and_answers_come_after_the_commit() {
        for (database, _dir, _pg) in engines() {
            let conn = database.open(true).unwrap();
            conn.execute_batch("CREATE TABLE t (x BIGINT NOT NULL)").unwrap();
            let db = Db::open(&database, None).unwrap();
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
            let results: Vec<Result<i64, ApiError>> = rt.block_on(async {
                let calls = (0..60i64).map(|i| {
                    let db = db.clone();
                    let database = database.clone();
                    tokio::spawn(async move {
                        let r = db
                            .call(move |c| {
                                c.execute("INSERT INTO t (x) VALUES (?1)", [i])?;
                                if i % 5 == 0 {
                                    return Err(ApiError::internal("refused after writing"));
                                }
                                Ok(i)
                            })
                            .await;
                        // Answered only once committed: another connection already sees it.
                        if let Ok(i) = r {
                            let n: i64 = tokio::task::spawn_blocking(move || {
                                database
                                    .open(false)
                                    .unwrap()
                                    .query_row("SELECT count(*) FROM t WHERE x = ?1", [i], |r| {
                                        r.get(0)
                                    })
                                    .unwrap()
                            })
                            .await
                            .unwrap();
                            assert_eq!(n, 1, "row {i} answered before it was committed");
                        }
                        r
                    })
                });
                let mut out = Vec::new();
                for c in calls.collect::<Vec<_>>() {
                    out.push(c.await.unwrap());
                }
                out
            });
            assert_eq!(results.iter().filter(|r| r.is_err()).count(), 12);
            drop(db); // joins the writer
            let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
            let failed: i64 =
                conn.query_row("SELECT count(*) FROM t WHERE x % 5 = 0", [], |r| r.get(0)).unwrap();
            assert_eq!((rows, failed), (48, 0), "{database:?}");
        }
    }

    #[test]
    fn a_group_of_lazy_jobs_skips_the_fsync_and_any_durable_job_restores_it() {
        for (database, _dir, _pg) in engines() {
            drop(database.open(true).unwrap());
            let db = Db::open(&database, None).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let sync = |c: &Conn| -> Result<String, ApiError> {
                Ok(match c.as_sqlite() {
                    Some(s) => {
                        s.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0))?.to_string()
                    }
                    None => {
                        c.query_row("SELECT current_setting('synchronous_commit')", [], |r| {
                            r.get(0)
                        })?
                    }
                })
            };
            let (lazy, durable) = rt.block_on(async {
                (db.call_lazy(sync).await.unwrap(), db.call(sync).await.unwrap())
            });
            let expected = match database.engine() {
                Engine::Sqlite => ("1", "2"), // NORMAL for a lazy group, FULL otherwise
                Engine::Postgres => ("off", "on"),
            };
            assert_eq!((lazy.as_str(), durable.as_str()), expected);
        }
    }

    #[test]
    fn a_missing_database_is_not_created_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(open(&dir.path().join("x.db"), false), Err(ServerError::NotFound(_))));
        if let Some(pg) = ScratchDb::create() {
            let db = Database::parse(pg.url()).unwrap();
            assert!(matches!(db.open(false), Err(ServerError::NotFound(_))));
        }
    }

    #[test]
    fn a_url_names_another_database_and_keeps_its_options() {
        assert_eq!(
            pg_url_for("postgres://u@127.0.0.1:5/postgres?sslmode=disable", "x"),
            "postgres://u@127.0.0.1:5/x?sslmode=disable"
        );
        assert_eq!(pg_url_for("postgres://u@h", "x"), "postgres://u@h/x");
    }

    #[test]
    fn a_database_location_is_postgresql_only_by_its_scheme_and_never_shows_a_password() {
        let pg = Database::parse("postgres://u:secret@127.0.0.1:5433/safehome").unwrap();
        assert_eq!(pg.engine(), Engine::Postgres);
        let shown = format!("{} {pg:?}", pg.describe());
        assert!(!shown.contains("secret") && shown.contains("safehome"), "{shown}");
        assert!(matches!(
            Database::parse("postgres://u@h:notaport/x"),
            Err(ServerError::Invalid(_))
        ));
        let file = Database::parse("sqlite:///var/lib/s/server.db").unwrap();
        assert!(matches!(file, Database::Sqlite(p) if p == Path::new("/var/lib/s/server.db")));
    }
}
