//! The data directory: what is stored where, and `init`, which creates it.
//!
//! ```text
//! DATA/               0700
//!   server.key        0600  the server's Ed25519 signing key (text), created once
//!   server.db               SQLite (WAL): teams, devices, codes, submissions, uploads
//!   database.url      0600  instead of server.db: the PostgreSQL database (`init --database`)
//!   blobs/ab/<sha256>       complete evidence envelopes, content-addressed
//!   uploads/<id>/<offset>   the pieces of evidence uploads in progress (tus)
//! ```
//!
//! `blobs/` and `uploads/` are the default evidence store ([`crate::objects::Local`] over this
//! directory); with `--objects` they live in another folder or an S3-compatible bucket under
//! the same keys, and stay empty here.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use safehome_core::clock::SystemEntropy;
use safehome_core::evidence::keys::{DeviceSigningKey, ServerPublicKey};
use safehome_core::sync::protocol::server_public;

use crate::db;
use crate::error::ServerError;

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    /// A database given on the command line (`--database`), over the directory's own.
    database: Option<String>,
}

impl From<&Path> for DataDir {
    fn from(root: &Path) -> DataDir {
        DataDir::new(root)
    }
}

impl From<&PathBuf> for DataDir {
    fn from(root: &PathBuf) -> DataDir {
        DataDir::new(root)
    }
}

impl From<&DataDir> for DataDir {
    fn from(data: &DataDir) -> DataDir {
        data.clone()
    }
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into(), database: None }
    }
    /// The directory at `root` with its database given (`None`: the directory's own).
    pub fn with_database(root: impl Into<PathBuf>, database: Option<String>) -> DataDir {
        DataDir { root: root.into(), database }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn key_path(&self) -> PathBuf {
        self.root.join("server.key")
    }
    pub fn db_path(&self) -> PathBuf {
        self.root.join("server.db")
    }
    /// The file naming a PostgreSQL database, when the server uses one.
    pub fn database_url_path(&self) -> PathBuf {
        self.root.join("database.url")
    }

    /// The server's database: the one given, else the one `init` recorded in `database.url`,
    /// else the SQLite file `server.db`.
    pub fn database(&self) -> Result<db::Database, ServerError> {
        if let Some(given) = &self.database {
            return db::Database::parse(given);
        }
        let url_path = self.database_url_path();
        match read_secret(&url_path) {
            Ok(text) => db::Database::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(db::Database::Sqlite(self.db_path()))
            }
            Err(e) => Err(ServerError::Io {
                context: format!("reading {}", url_path.display()),
                source: e,
            }),
        }
    }
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }
    /// Where a complete evidence file with this hex SHA-256 lives. `sha256` must be 64 hex
    /// characters (checked by the callers: it names a file).
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.blobs_dir().join(prefix).join(sha256)
    }

    /// Open the database of an initialised directory.
    pub fn open_db(&self) -> Result<crate::sql::Conn, ServerError> {
        self.database()?.open(false)
    }

    /// Load the server's signing key.
    pub fn load_key(&self) -> Result<DeviceSigningKey, ServerError> {
        let path = self.key_path();
        let text = read_secret(&path)
            .map_err(ServerError::io(format!("reading the server key {}", path.display())))?;
        text.trim().parse::<DeviceSigningKey>().map_err(|e| {
            ServerError::Invalid(format!("the server key {} is malformed: {e}", path.display()))
        })
    }
}

/// Read a secret into a buffer that is wiped when dropped.
fn read_secret(path: &Path) -> std::io::Result<zeroize::Zeroizing<String>> {
    let mut text = zeroize::Zeroizing::new(String::new());
    File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// Create a server's data directory: the directory (0700), the signing key (0600, never
/// overwritten), the SQLite database and the blob folders. Returns the key to pin.
pub fn init(root: &Path) -> Result<ServerPublicKey, ServerError> {
    init_with(root, None)
}

/// As [`init`], with the database given: a PostgreSQL URL has its schema created (refused if
/// one is already there: a second server process over the same database uses a copy of the
/// first one's data directory, key included) and is recorded in `database.url`.
pub fn init_with(root: &Path, database: Option<&str>) -> Result<ServerPublicKey, ServerError> {
    let data = DataDir::new(root);
    let database = match database {
        Some(given) => db::Database::parse(given)?,
        None => db::Database::Sqlite(data.db_path()),
    };
    if let db::Database::Postgres { .. } = &database {
        if database.open(false).is_ok() {
            return Err(ServerError::Exists(format!(
                "{} already holds a SafeHome schema; refusing to initialise over it",
                database.describe()
            )));
        }
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(ServerError::io(format!("creating {}", root.display())))?;
    fs::set_permissions(root, fs::Permissions::from_mode(0o700))
        .map_err(ServerError::io(format!("setting the mode of {}", root.display())))?;
    if data.db_path().exists() || data.database_url_path().exists() {
        return Err(ServerError::Exists(format!(
            "{} already holds a server database; refusing to initialise over it",
            root.display()
        )));
    }
    let key = DeviceSigningKey::generate(&SystemEntropy::default())
        .map_err(|e| ServerError::Invalid(format!("generating the server key: {e}")))?;
    let key_path = data.key_path();
    // O_EXCL: an existing key (an existing server) is never overwritten.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                ServerError::Exists(format!(
                    "{} already exists; refusing to overwrite a server's key",
                    key_path.display()
                ))
            } else {
                ServerError::Io { context: format!("creating {}", key_path.display()), source: e }
            }
        })?;
    let text = key.to_text();
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(ServerError::io(format!("writing {}", key_path.display())))?;
    for dir in [data.blobs_dir(), data.uploads_dir()] {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(ServerError::io(format!("creating {}", dir.display())))?;
    }
    drop(database.open(true)?);
    if let db::Database::Postgres { url, .. } = &database {
        write_private(&data.database_url_path(), url.as_bytes())?;
    }
    sync_dir(root).map_err(ServerError::io(format!("syncing {}", root.display())))?;
    Ok(server_public(&key))
}

/// Write `bytes` to a new file (never over an existing one) that only the server's user can
/// read, fsynced before it returns: keys, backups, restored files.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(ServerError::io(format!("creating {}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(ServerError::io(format!("writing {}", path.display())))
}

/// fsync a directory, so that a file created or renamed in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn init_creates_a_private_directory_and_refuses_to_run_twice() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        let public = init(&root).unwrap();
        assert!(public.to_string().starts_with("shserver1"));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let data = DataDir::new(&root);
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&data.key_path()), 0o600);
        assert!(data.blobs_dir().is_dir() && data.uploads_dir().is_dir());
        assert_eq!(server_public(&data.load_key().unwrap()), public);
        let before = fs::read(data.key_path()).unwrap();
        assert!(matches!(init(&root), Err(ServerError::Exists(_))));
        assert_eq!(fs::read(data.key_path()).unwrap(), before, "the key was not touched");
    }

    #[test]
    fn an_existing_key_alone_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("server.key"), "x").unwrap();
        assert!(matches!(init(dir.path()), Err(ServerError::Exists(_))));
        assert_eq!(fs::read(dir.path().join("server.key")).unwrap(), b"x");
    }
}
