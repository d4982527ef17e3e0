//! The SQLite database: opening (WAL, `synchronous=FULL`, busy timeout), the schema's migration
//! by `PRAGMA user_version`, and [`Db`], the server's one connection used off the async runtime.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{ApiError, ServerError};

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 3;
/// The schema, one step per version: a fresh database runs every step, an older one the steps
/// past its version, all in one IMMEDIATE transaction. A step is never edited once released;
/// a change is a new step.
const STEPS: &[(i64, &str)] = &[
    (1, include_str!("schema.sql")),
    (2, include_str!("schema_v2.sql")),
    (3, include_str!("schema_v3.sql")),
];
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
    Ok(conn)
}

/// The server's connection, owned by one writer thread that commits in groups.
///
/// Every request's database work is a job sent to that thread. The thread takes every job
/// waiting (up to [`MAX_BATCH`]), runs each inside its own savepoint of one `BEGIN IMMEDIATE`
/// transaction (a job that fails rolls back to its savepoint and leaves the others intact),
/// commits once — one fsync for the whole group, `synchronous=FULL` — and only then answers
/// each job. So no answer is sent before its write is on disk, and concurrent uploads share
/// fsyncs instead of queueing for one each (group commit, as PostgreSQL does). A commit that
/// fails (disk full) fails every job of its group, none of which had been answered.
///
/// The async runtime's threads never wait on SQLite or on an fsync: they await the answer.
#[derive(Clone)]
pub struct Db {
    writer: std::sync::Arc<Writer>,
    /// Reads that need no write lock (a device's key, an upload's row) go to their own
    /// connection on the blocking pool: they neither wait for a group commit nor delay one.
    reader: std::sync::Arc<std::sync::Mutex<Connection>>,
}

/// The writer thread and the way to it. When the last [`Db`] goes, the queue closes and the
/// thread is joined: the database is closed (its WAL checkpointed) before the server's stop
/// returns.
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

/// The most jobs one commit covers.
pub const MAX_BATCH: usize = 64;

/// What a job hands back after running: the call to make once its group's commit is known.
type Deliver = Box<dyn FnOnce(Result<(), ApiError>) + Send>;
/// A job: run against the connection (or, when its group could not begin, given the reason),
/// say whether it succeeded, and how to answer.
type Run =
    Box<dyn FnOnce(Result<&mut Connection, ApiError>) -> (Result<(), ApiError>, Deliver) + Send>;

/// A job and whether its answer must wait for an fsync.
struct Job {
    run: Run,
    durable: bool,
}

impl Db {
    /// Start the writer thread over `conn`; `reader` serves [`Db::read`].
    pub fn new(conn: Connection, reader: Connection) -> Result<Db, ServerError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("safehome-db-writer".into())
            .spawn(move || writer(conn, queue))
            .map_err(|e| ServerError::Io {
                context: "starting the database thread".into(),
                source: e,
            })?;
        Ok(Db {
            writer: std::sync::Arc::new(Writer { jobs: Some(jobs), thread: Some(thread) }),
            reader: std::sync::Arc::new(std::sync::Mutex::new(reader)),
        })
    }

    /// Run a read-only `f` on the reader connection (WAL: it sees every committed group and
    /// never blocks the writer).
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let reader = std::sync::Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().map_err(|_| ApiError::internal("reader lock poisoned"))?;
            f(&conn)
        })
        .await
        .map_err(|_| ApiError::internal("database read task failed"))?
    }

    /// Run `f` with the connection on the writer thread, inside the current group's
    /// transaction (use `savepoint()` for a unit that must roll back as one, never
    /// `transaction()`); its result arrives once the group has committed and been fsynced.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
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
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        self.submit(f, false).await
    }

    async fn submit<T, F>(&self, f: F, durable: bool) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
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

fn writer(mut conn: Connection, queue: std::sync::mpsc::Receiver<Job>) {
    // Ends when every `Db` (every sender) is gone: the server stopped.
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch);
    }
}

fn run_batch(conn: &mut Connection, batch: Vec<Job>) {
    // FULL (an fsync at commit) unless every job of the group is lazy.
    let durable = batch.iter().any(|j| j.durable);
    let sync = if durable { "PRAGMA synchronous = FULL" } else { "PRAGMA synchronous = NORMAL" };
    if let Err(e) = conn.execute_batch(sync) {
        tracing::error!(error = %e, "setting the group's durability failed");
    }
    let mut jobs = batch.into_iter();
    // Jobs run in the open transaction, waiting for its commit.
    let mut delivers: Vec<Deliver> = Vec::new();
    let mut open = false;
    while let Some(job) = jobs.next() {
        if !open {
            if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                // Not run: this job and the rest answer with the reason nothing could begin.
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
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (a full disk, an I/O error): what the
            // jobs before this one wrote is gone, so they fail with this job's error; this job
            // answers with its own. The jobs after it start a new transaction.
            let err = result.err().unwrap_or_else(|| ApiError::internal("transaction lost"));
            tracing::error!(jobs = delivers.len() + 1, code = %err.body.code, "a group was rolled back");
            for d in delivers.drain(..) {
                d(Err(err.clone()));
            }
            deliver(Ok(()));
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
        let commit = conn.execute_batch("COMMIT").map_err(|e| {
            tracing::error!(error = %e, jobs = delivers.len(), "a group commit failed");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
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

    /// The schema as SQLite holds it: every table, index and trigger's SQL, by name.
    fn schema_of(conn: &Connection) -> Vec<(String, String)> {
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
            let conn = Connection::open(&old).unwrap();
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
        assert_eq!(schema_of(&migrated), schema_of(&fresh));
        let v: i64 = migrated.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let conn = open(&path, true).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(conn);
        assert!(matches!(open(&path, false), Err(ServerError::NewerDatabase { .. })));
    }

    #[test]
    fn a_failed_job_rolls_back_alone_and_answers_come_after_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let conn = open(&path, true).unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER NOT NULL)").unwrap();
        let db = Db::new(conn, open(&path, false).unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let results: Vec<Result<i64, ApiError>> = rt.block_on(async {
            let calls = (0..60i64).map(|i| {
                let db = db.clone();
                let path = path.clone();
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
                    // Answered only once committed: another connection already sees the row.
                    if let Ok(i) = r {
                        let other = Connection::open(&path).unwrap();
                        let n: i64 = other
                            .query_row("SELECT count(*) FROM t WHERE x = ?1", [i], |r| r.get(0))
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
        let conn = open(&path, false).unwrap();
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        let failed: i64 =
            conn.query_row("SELECT count(*) FROM t WHERE x % 5 = 0", [], |r| r.get(0)).unwrap();
        assert_eq!((rows, failed), (48, 0));
    }

    #[test]
    fn a_group_of_lazy_jobs_skips_the_fsync_and_any_durable_job_restores_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let db = Db::new(open(&path, true).unwrap(), open(&path, false).unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let sync = |c: &mut Connection| Ok(c.query_row("PRAGMA synchronous", [], |r| r.get(0))?);
        let (lazy, durable): (i64, i64) = rt
            .block_on(async { (db.call_lazy(sync).await.unwrap(), db.call(sync).await.unwrap()) });
        assert_eq!((lazy, durable), (1, 2), "NORMAL for a lazy group, FULL otherwise");
    }

    #[test]
    fn a_missing_database_is_not_created_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(open(&dir.path().join("x.db"), false), Err(ServerError::NotFound(_))));
    }
}
