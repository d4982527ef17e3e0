//! Backups while serving, restores into a fresh data directory, and the check that a restored
//! server holds every record byte for byte (docs/operations.md).
//!
//! A backup is a folder: the database's consistent snapshot, taken while the server keeps
//! serving and committing — `server.db` for SQLite (`VACUUM INTO` on its own read connection),
//! `server.pgdump` for PostgreSQL (`pg_dump`'s custom format, of the very snapshot the manifest
//! is read from: see [`pg`]) — `server.key` (0600: the server's
//! identity, which phones pinned; protect the backup accordingly), the evidence files the
//! snapshot lists (copied from the evidence store, a local folder or a bucket, and each checked
//! against its SHA-256) under `blobs/`, and `MANIFEST.json` (what it holds, and the digest of
//! every submission body and evidence file). Uploads in progress are not kept: a phone resumes
//! them by creating a new upload.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use ring::digest;
use rusqlite::OpenFlags;
use serde::{Deserialize, Serialize};

use crate::datadir::{DataDir, sync_dir, write_private};
use crate::db::Database;
use crate::error::ServerError;
use crate::objects::{Local, ObjectStore, blob_key};
use crate::sql::Conn;

mod pg;

/// The PostgreSQL snapshot's file in a backup folder.
const PG_DUMP: &str = "server.pgdump";

/// What a backup holds: the digest of every submission body and evidence file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub made_at_ms: i64,
    /// Record id → hex SHA-256 of the submission body as the device sent it.
    pub submissions: BTreeMap<String, String>,
    /// Evidence files by their hex SHA-256 (their name), with their length.
    pub evidence: BTreeMap<String, i64>,
    pub decisions: i64,
    pub devices: i64,
    /// The engine the backup's database came from: `sqlite` (`server.db`) or `postgres`
    /// (`server.pgdump`). Backups made before PostgreSQL have none: SQLite.
    #[serde(default = "sqlite")]
    pub database: String,
}

fn sqlite() -> String {
    "sqlite".into()
}

const MANIFEST_SCHEMA: &str = "safehome.backup.v1";

fn hex_sha256(bytes: &[u8]) -> String {
    safehome_core::hex::encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> ServerError {
    ServerError::io(context)
}

/// What a SQLite database file holds, read through its own read-only connection.
pub fn manifest_of(db: &Path, made_at_ms: i64) -> Result<Manifest, ServerError> {
    let conn = rusqlite::Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    manifest_of_conn(&Conn::sqlite(conn), made_at_ms)
}

/// What a data directory's database holds, on either engine.
pub fn manifest_of_data(data: &DataDir, made_at_ms: i64) -> Result<Manifest, ServerError> {
    manifest_of_conn(&data.open_db()?, made_at_ms)
}

/// What the database behind `conn` holds (in its current transaction, if one is open). Bodies
/// are streamed: one at a time in memory.
pub fn manifest_of_conn(conn: &Conn, made_at_ms: i64) -> Result<Manifest, ServerError> {
    let mut submissions = BTreeMap::new();
    conn.for_each("SELECT record_id, body FROM submissions ORDER BY seq", [], |r| {
        let body: Vec<u8> = r.get(1)?;
        submissions.insert(r.get::<_, String>(0)?, hex_sha256(&body));
        Ok(())
    })?;
    let mut evidence = BTreeMap::new();
    conn.for_each("SELECT sha256, len FROM blobs ORDER BY sha256", [], |r| {
        evidence.insert(r.get::<_, String>(0)?, r.get::<_, i64>(1)?);
        Ok(())
    })?;
    let decisions = conn.query_row("SELECT count(*) FROM decisions", [], |r| r.get(0))?;
    let devices = conn.query_row("SELECT count(*) FROM devices", [], |r| r.get(0))?;
    Ok(Manifest {
        schema: MANIFEST_SCHEMA.into(),
        made_at_ms,
        submissions,
        evidence,
        decisions,
        devices,
        database: match conn.engine() {
            crate::sql::Engine::Sqlite => "sqlite".into(),
            crate::sql::Engine::Postgres => "postgres".into(),
        },
    })
}

/// An evidence file from a store, checked against its SHA-256.
fn read_checked(from: &dyn ObjectStore, sha256: &str) -> Result<Vec<u8>, ServerError> {
    let key = blob_key(sha256);
    let bytes = from.get(&key)?.ok_or_else(|| {
        ServerError::NotFound(format!("evidence {sha256} is missing from {}", from.describe()))
    })?;
    if hex_sha256(&bytes) != sha256 {
        return Err(ServerError::Invalid(format!(
            "evidence {sha256} does not match its hash: {key} in {} is damaged",
            from.describe()
        )));
    }
    Ok(bytes)
}

/// Copy an evidence file from a store to a new file `to` (0600), checking its SHA-256 on the
/// way; fsynced.
fn copy_checked(from: &dyn ObjectStore, to: &Path, sha256: &str) -> Result<(), ServerError> {
    write_private(to, &read_checked(from, sha256)?)
}

/// Copy `from` to a new private file `to`.
fn copy_file(from: &Path, to: &Path) -> Result<(), ServerError> {
    let bytes = fs::read(from).map_err(io(format!("reading {}", from.display())))?;
    write_private(to, &bytes)
}

fn make_dir(path: &Path) -> Result<(), ServerError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io(format!("creating {}", path.display())))
}

/// Back up a data directory (served or not) whose evidence is in the directory itself into
/// `out`, which must not exist.
pub fn backup(data: impl Into<DataDir>, out: &Path, now_ms: i64) -> Result<Manifest, ServerError> {
    let src: DataDir = data.into();
    let local = Local::new(src.root());
    backup_from(src, &local, out, now_ms)
}

/// Back up a data directory (served or not) whose evidence is in `objects` into `out`, which
/// must not exist. The evidence lands in `out/blobs/`, whatever the store.
pub fn backup_from(
    data: impl Into<DataDir>,
    objects: &dyn ObjectStore,
    out: &Path,
    now_ms: i64,
) -> Result<Manifest, ServerError> {
    let src: DataDir = data.into();
    let data = src.root().to_path_buf();
    let database = src.database()?;
    if let Database::Sqlite(path) = &database {
        if !path.exists() {
            return Err(ServerError::NotFound(format!("no server database in {}", data.display())));
        }
    }
    if out.exists() {
        return Err(ServerError::Invalid(format!(
            "{} exists: a backup goes to a new folder",
            out.display()
        )));
    }
    let dst = DataDir::new(out);
    make_dir(out)?;
    // The snapshot and what it holds, while the server commits.
    let manifest = match &database {
        Database::Sqlite(path) => {
            // One read transaction on its own connection.
            let conn =
                rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            let target = dst.db_path();
            let target_text = target.to_str().ok_or_else(|| {
                ServerError::Invalid("the backup folder's path is not UTF-8".into())
            })?;
            conn.execute("VACUUM INTO ?1", [target_text])?;
            drop(conn);
            manifest_of(&target, now_ms)?
        }
        Database::Postgres { url, settings, .. } => {
            pg::dump(url, settings, &out.join(PG_DUMP), |conn| manifest_of_conn(conn, now_ms))?
        }
    };
    // The key: the server's identity, which every phone pinned.
    copy_file(&src.key_path(), &dst.key_path())?;
    // The key's rotations: a phone still pinned to an earlier key re-pins by them.
    let rotations = data.join("key_rotations.json");
    if rotations.exists() {
        copy_file(&rotations, &out.join("key_rotations.json"))?;
    }
    // The evidence the snapshot lists (files are immutable once stored, and stored before the
    // commit that lists them, so each is there).
    for sha in manifest.evidence.keys() {
        let to = dst.blob_path(sha);
        if let Some(parent) = to.parent() {
            make_dir(parent)?;
        }
        copy_checked(objects, &to, sha)?;
    }
    make_dir(&dst.uploads_dir())?;
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ServerError::Invalid(format!("manifest: {e}")))?;
    write_private(&out.join("MANIFEST.json"), &text)?;
    sync_dir(out).map_err(io(format!("syncing {}", out.display())))?;
    Ok(manifest)
}

/// Restore a backup into `data`, which must not exist: the files are copied and every
/// submission and evidence file checked against the backup's manifest before the directory is
/// put in place. Returns the manifest.
///
/// A PostgreSQL backup is restored into `database` (a PostgreSQL URL, required), which must
/// hold no SafeHome schema yet; the new data directory records it. A restore that fails after
/// loading the database leaves that database to be dropped by the operator (it is named in
/// the error), and no data directory.
pub fn restore(
    backup: &Path,
    data: &Path,
    database: Option<&str>,
) -> Result<Manifest, ServerError> {
    restore_into(backup, data, database, None)
}

/// [`restore`], with the evidence put into `objects` (a bucket the restored server will use)
/// instead of the new data directory's `blobs/` when given. Each file is checked before it is
/// stored; files already in the store are replaced by the same bytes.
pub fn restore_into(
    backup: &Path,
    data: &Path,
    database: Option<&str>,
    objects: Option<&dyn ObjectStore>,
) -> Result<Manifest, ServerError> {
    if data.exists() {
        return Err(ServerError::Invalid(format!(
            "{} exists: restore into a new data directory",
            data.display()
        )));
    }
    let text = fs::read(backup.join("MANIFEST.json")).map_err(io("reading the manifest".into()))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| ServerError::Invalid(format!("MANIFEST.json: {e}")))?;
    let from_pg = manifest.database == "postgres";
    let target = match (from_pg, database) {
        (true, Some(url)) => Some(Database::parse(url)?),
        (true, None) => {
            return Err(ServerError::Invalid(
                "this backup is of a PostgreSQL database: give the empty database to restore it \
                 into (--database postgres://...)"
                    .into(),
            ));
        }
        (false, Some(_)) => {
            return Err(ServerError::Invalid(
                "this backup is of a SQLite database; it is restored into the data directory \
                 (no --database)"
                    .into(),
            ));
        }
        (false, None) => None,
    };
    let src = DataDir::new(backup);
    // Into a sibling folder first, renamed at the end: a failed restore leaves no half data
    // directory a server could start on.
    let staging = data.with_extension("restoring");
    let _ = fs::remove_dir_all(&staging);
    make_dir(&staging)?;
    let dst = DataDir::new(&staging);
    if !from_pg {
        copy_file(&src.db_path(), &dst.db_path())?;
    }
    copy_file(&src.key_path(), &dst.key_path())?;
    if backup.join("key_rotations.json").exists() {
        copy_file(&backup.join("key_rotations.json"), &staging.join("key_rotations.json"))?;
    }
    let from = Local::new(backup);
    for sha in manifest.evidence.keys() {
        if let Some(store) = objects {
            store.put(&blob_key(sha), &read_checked(&from, sha)?)?;
            continue;
        }
        let to = dst.blob_path(sha);
        if let Some(parent) = to.parent() {
            make_dir(parent)?;
        }
        copy_checked(&from, &to, sha)?;
    }
    make_dir(&dst.uploads_dir())?;
    // The database must be sound and hold exactly what the manifest says.
    let found = match &target {
        None => {
            let conn = rusqlite::Connection::open(dst.db_path())?;
            let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(ServerError::Invalid(format!(
                    "the backup's database is damaged: {check}"
                )));
            }
            drop(conn);
            manifest_of(&dst.db_path(), manifest.made_at_ms)?
        }
        Some(db @ Database::Postgres { url, settings, .. }) => {
            pg::load(url, settings, &backup.join(PG_DUMP), &db.describe())?;
            write_private(&dst.database_url_path(), url.as_bytes())?;
            manifest_of_conn(&db.open(false)?, manifest.made_at_ms)?
        }
        Some(Database::Sqlite(_)) => {
            return Err(ServerError::Invalid(
                "a PostgreSQL backup is restored into PostgreSQL (postgres://...)".into(),
            ));
        }
    };
    if found != manifest {
        return Err(ServerError::Invalid(
            "the backup's database does not hold what its manifest lists".into(),
        ));
    }
    crate::rotation::load(&dst)?;
    sync_dir(&staging).map_err(io("syncing the restored folder".into()))?;
    fs::rename(&staging, data).map_err(io(format!("putting {} in place", data.display())))?;
    if let Some(parent) = data.parent() {
        sync_dir(parent).map_err(io("syncing the parent folder".into()))?;
    }
    Ok(manifest)
}
