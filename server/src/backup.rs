//! Backups while serving, restores into a fresh data directory, and the check that a restored
//! server holds every record byte for byte (docs/operations.md).
//!
//! A backup is a folder: `server.db` (a consistent snapshot made with `VACUUM INTO` on its own
//! read connection, so the server keeps serving and committing), `server.key` (0600: the server's
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
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::datadir::{DataDir, sync_dir, write_private};
use crate::error::ServerError;
use crate::objects::{Local, ObjectStore, blob_key};

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
}

const MANIFEST_SCHEMA: &str = "safehome.backup.v1";

fn hex_sha256(bytes: &[u8]) -> String {
    safehome_core::hex::encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> ServerError {
    ServerError::io(context)
}

/// What a data directory's database holds, read through its own read-only connection.
pub fn manifest_of(db: &Path, made_at_ms: i64) -> Result<Manifest, ServerError> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut submissions = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT record_id, body FROM submissions ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let body: Vec<u8> = r.get(1)?;
        submissions.insert(r.get::<_, String>(0)?, hex_sha256(&body));
    }
    drop(rows);
    drop(stmt);
    let mut evidence = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT sha256, len FROM blobs ORDER BY sha256")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (sha, len) = row?;
        evidence.insert(sha, len);
    }
    let decisions = conn.query_row("SELECT count(*) FROM decisions", [], |r| r.get(0))?;
    let devices = conn.query_row("SELECT count(*) FROM devices", [], |r| r.get(0))?;
    Ok(Manifest {
        schema: MANIFEST_SCHEMA.into(),
        made_at_ms,
        submissions,
        evidence,
        decisions,
        devices,
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
pub fn backup(data: &Path, out: &Path, now_ms: i64) -> Result<Manifest, ServerError> {
    backup_from(data, &Local::new(data), out, now_ms)
}

/// Back up a data directory (served or not) whose evidence is in `objects` into `out`, which
/// must not exist. The evidence lands in `out/blobs/`, whatever the store.
pub fn backup_from(
    data: &Path,
    objects: &dyn ObjectStore,
    out: &Path,
    now_ms: i64,
) -> Result<Manifest, ServerError> {
    let src = DataDir::new(data);
    if !src.db_path().exists() {
        return Err(ServerError::NotFound(format!("no server database in {}", data.display())));
    }
    if out.exists() {
        return Err(ServerError::Invalid(format!(
            "{} exists: a backup goes to a new folder",
            out.display()
        )));
    }
    let dst = DataDir::new(out);
    make_dir(out)?;
    // The snapshot: one read transaction on its own connection, while the server commits.
    let conn = Connection::open_with_flags(src.db_path(), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = dst.db_path();
    let target_text = target
        .to_str()
        .ok_or_else(|| ServerError::Invalid("the backup folder's path is not UTF-8".into()))?;
    conn.execute("VACUUM INTO ?1", [target_text])?;
    drop(conn);
    // The key: the server's identity, which every phone pinned.
    copy_file(&src.key_path(), &dst.key_path())?;
    // The key's rotations: a phone still pinned to an earlier key re-pins by them.
    let rotations = data.join("key_rotations.json");
    if rotations.exists() {
        copy_file(&rotations, &out.join("key_rotations.json"))?;
    }
    // The evidence the snapshot lists (files are immutable once stored, and stored before the
    // commit that lists them, so each is there).
    let manifest = manifest_of(&target, now_ms)?;
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
pub fn restore(backup: &Path, data: &Path) -> Result<Manifest, ServerError> {
    restore_into(backup, data, None)
}

/// [`restore`], with the evidence put into `objects` (a bucket the restored server will use)
/// instead of the new data directory's `blobs/` when given. Each file is checked before it is
/// stored; files already in the store are replaced by the same bytes.
pub fn restore_into(
    backup: &Path,
    data: &Path,
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
    let src = DataDir::new(backup);
    // Into a sibling folder first, renamed at the end: a failed restore leaves no half data
    // directory a server could start on.
    let staging = data.with_extension("restoring");
    let _ = fs::remove_dir_all(&staging);
    make_dir(&staging)?;
    let dst = DataDir::new(&staging);
    copy_file(&src.db_path(), &dst.db_path())?;
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
    let conn = Connection::open(dst.db_path())?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(ServerError::Invalid(format!("the backup's database is damaged: {check}")));
    }
    drop(conn);
    let found = manifest_of(&dst.db_path(), manifest.made_at_ms)?;
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
