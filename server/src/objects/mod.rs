//! Where evidence files live: a small blocking interface over a local folder ([`Local`]) or an
//! S3-compatible bucket ([`S3`]), so that several server processes over one database can share
//! one store (docs/operations.md, "Evidence in object storage").
//!
//! Keys are relative, `/`-separated paths of ASCII letters, digits, `.`, `_` and `-`
//! (`blobs/ab/abcdef…`, `uploads/<id>/<offset>`); no segment is empty or starts with a dot. The
//! store only ever holds ciphertext: sealed evidence envelopes and pieces of them.
//!
//! The calls block: the server makes them on tokio's blocking pool.

mod local;
mod s3;
pub mod sigv4;

use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

pub use local::Local;
pub use s3::{Credentials, S3, S3Config};

use crate::datadir::DataDir;

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 512;

/// Why a call to the object store failed. A missing object is not an error: the calls that read
/// one answer `None`.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("the object key {0:?} is not valid (relative, [A-Za-z0-9._-] segments, no dot first)")]
    Key(String),
    #[error("object store: {op} {key}: {source}")]
    Io {
        op: &'static str,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("object store: {op} {key}: HTTP {status} {code}")]
    Http { op: &'static str, key: String, status: u16, code: String },
    #[error("object store: {op} {key}: {reason}")]
    Transport { op: &'static str, key: String, reason: String },
    #[error("object store: {op} {key}: the answer is larger than {limit} bytes")]
    TooLarge { op: &'static str, key: String, limit: u64 },
    #[error("object store: {op} {key}: {reason}")]
    Malformed { op: &'static str, key: String, reason: String },
    #[error("object store configuration: {0}")]
    Config(String),
}

impl ObjectError {
    /// The store's disk (a local folder) is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            ObjectError::Io { source, .. } => crate::error::is_disk_full(source),
            _ => false,
        }
    }
}

/// An object as a listing names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
}

/// A store of immutable objects by key. Every call is blocking and bounded in time.
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// Store `bytes` under `key`, replacing any object there. Durable when it returns.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ObjectError>;

    /// As [`ObjectStore::put`], for a piece of an upload in progress, which need not survive a
    /// power cut: a piece lost or cut short only shortens the offset the phone resumes from (the
    /// offset is the unbroken run of pieces' sizes), and the whole file's hash and signature are
    /// checked before it becomes evidence, which is stored durably. A folder skips the fsyncs
    /// here (they were most of a photo upload's cost); a bucket's writes are durable anyway.
    fn put_piece(&self, key: &str, bytes: &[u8]) -> Result<(), ObjectError> {
        self.put(key, bytes)
    }

    /// Store `len` bytes read from `reader` under `key`, whose SHA-256 the caller knows
    /// (`sha256`: a mismatch is refused where the store can tell, and never stored by
    /// [`Local`]). Memory stays bounded whatever `len` is. Durable when it returns.
    fn put_reader(
        &self,
        key: &str,
        len: u64,
        sha256: &[u8; 32],
        reader: &mut dyn Read,
    ) -> Result<(), ObjectError>;

    /// The whole object, or `None` when there is none.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError>;

    /// Up to `len` bytes from `start` (fewer at the end of the object, none past it), or `None`
    /// when there is no such object.
    fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Option<Vec<u8>>, ObjectError>;

    /// The object's length, or `None` when there is none.
    fn size(&self, key: &str) -> Result<Option<u64>, ObjectError>;

    /// Remove an object; removing a missing one succeeds.
    fn delete(&self, key: &str) -> Result<(), ObjectError>;

    /// Every object whose key starts with `prefix`, in key order (byte order), with its length.
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, ObjectError>;

    /// Where the store is, for logs (never a credential).
    fn describe(&self) -> String;
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Check a key: see the module comment.
pub fn check_key(key: &str) -> Result<(), ObjectError> {
    if key.len() <= MAX_KEY_LEN && key.split('/').all(valid_segment) {
        Ok(())
    } else {
        Err(ObjectError::Key(key.to_string()))
    }
}

/// Check a listing prefix: empty, or a key, or a key followed by `/`, or a key's beginning.
pub fn check_prefix(prefix: &str) -> Result<(), ObjectError> {
    if prefix.is_empty() {
        return Ok(());
    }
    let body = prefix.strip_suffix('/').unwrap_or(prefix);
    check_key(body).map_err(|_| ObjectError::Key(prefix.to_string()))
}

/// The key of a complete evidence file: `blobs/<first two hex>/<sha256>`.
pub fn blob_key(sha256: &str) -> String {
    let prefix = sha256.get(..2).unwrap_or("00");
    format!("blobs/{prefix}/{sha256}")
}

/// Which store a server uses (`--objects`, `SAFEHOME_OBJECTS`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ObjectsConfig {
    /// The data directory itself (`blobs/`, `uploads/` inside it): the default.
    #[default]
    DataDir,
    /// A local folder (`file:///path`).
    Folder(PathBuf),
    /// An S3-compatible bucket (`s3://bucket?endpoint=…&region=…`); credentials from the
    /// environment when opened.
    S3(S3Config),
    /// A store opened already (tests, and programs that embed the server).
    Opened(Opened),
}

/// A store opened already, compared by identity.
#[derive(Clone)]
pub struct Opened(pub Arc<dyn ObjectStore>);

impl PartialEq for Opened {
    fn eq(&self, other: &Opened) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Opened {}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opened({})", self.0.describe())
    }
}

impl FromStr for ObjectsConfig {
    type Err = ObjectError;

    /// `file:///absolute/path`, or `s3://bucket` with the optional query parameters
    /// `endpoint` (default `https://s3.<region>.amazonaws.com`) and `region` (default
    /// `us-east-1`). Credentials are never taken from the URL.
    fn from_str(s: &str) -> Result<ObjectsConfig, ObjectError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(ObjectsConfig::DataDir);
        }
        if let Some(path) = s.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(ObjectError::Config(format!(
                    "{s}: a file URL names an absolute path (file:///srv/evidence)"
                )));
            }
            return Ok(ObjectsConfig::Folder(PathBuf::from(percent_decode(path)?)));
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            return S3Config::parse(rest).map(ObjectsConfig::S3);
        }
        Err(ObjectError::Config(format!(
            "{s}: the object store is a file:///path or an s3://bucket?endpoint=…&region=… URL"
        )))
    }
}

impl std::fmt::Display for ObjectsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectsConfig::DataDir => write!(f, "the data directory"),
            ObjectsConfig::Folder(p) => write!(f, "file://{}", p.display()),
            ObjectsConfig::S3(c) => write!(f, "s3://{} at {}", c.bucket, c.endpoint),
            ObjectsConfig::Opened(o) => write!(f, "{}", o.0.describe()),
        }
    }
}

impl ObjectsConfig {
    /// Open the store; S3 credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    /// (and `AWS_SESSION_TOKEN` if set).
    pub fn open(&self, data: &DataDir) -> Result<Arc<dyn ObjectStore>, ObjectError> {
        Ok(match self {
            ObjectsConfig::DataDir => Arc::new(Local::new(data.root())),
            ObjectsConfig::Folder(path) => Arc::new(Local::new(path)),
            ObjectsConfig::S3(config) => {
                Arc::new(S3::new(config.clone(), Credentials::from_env()?)?)
            }
            ObjectsConfig::Opened(o) => Arc::clone(&o.0),
        })
    }
}

/// Decode `%XX` escapes (a URL's path or query value).
pub(crate) fn percent_decode(s: &str) -> Result<String, ObjectError> {
    let bad = || ObjectError::Config(format!("{s}: a malformed %-escape"));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// The round trips every store must pass: run by the unit tests over [`Local`] and by
/// `server/tests/objects.rs` over a real S3-compatible server too.
pub mod conformance {
    use super::*;

    fn fail(what: impl Into<String>) -> ObjectError {
        ObjectError::Malformed { op: "conformance", key: String::new(), reason: what.into() }
    }

    fn expect<T: PartialEq + std::fmt::Debug>(
        what: &str,
        got: T,
        want: T,
    ) -> Result<(), ObjectError> {
        if got == want { Ok(()) } else { Err(fail(format!("{what}: got {got:?}, want {want:?}"))) }
    }

    /// Put, read, range-read, size, list (paged past `page` objects), replace and delete, all
    /// under `root/` (which should be empty at first).
    pub fn round_trips(
        store: &dyn ObjectStore,
        root: &str,
        page: usize,
    ) -> Result<(), ObjectError> {
        let a = format!("{root}/blobs/ab/abcdef");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        expect("a missing object", store.get(&a)?, None)?;
        expect("a missing size", store.size(&a)?, None)?;
        expect("a missing range", store.get_range(&a, 0, 10)?, None)?;
        store.delete(&a)?;
        store.put(&a, &data)?;
        expect("get", store.get(&a)?, Some(data.clone()))?;
        expect("size", store.size(&a)?, Some(data.len() as u64))?;
        expect("a range", store.get_range(&a, 10, 20)?, Some(data[10..30].to_vec()))?;
        expect("the tail", store.get_range(&a, 99_990, 100)?, Some(data[99_990..].to_vec()))?;
        expect("past the end", store.get_range(&a, 100_000, 10)?, Some(Vec::new()))?;
        expect("an empty range", store.get_range(&a, 5, 0)?, Some(Vec::new()))?;
        // Replaced whole.
        store.put(&a, b"short")?;
        expect("replaced", store.get(&a)?, Some(b"short".to_vec()))?;
        // An empty object.
        let empty = format!("{root}/empty");
        store.put(&empty, b"")?;
        expect("an empty object", store.get(&empty)?, Some(Vec::new()))?;
        expect("an empty size", store.size(&empty)?, Some(0))?;
        // A streamed one, with its digest.
        let streamed = format!("{root}/blobs/cd/streamed");
        let digest = ring::digest::digest(&ring::digest::SHA256, &data);
        let mut sha = [0u8; 32];
        sha.copy_from_slice(digest.as_ref());
        store.put_reader(&streamed, data.len() as u64, &sha, &mut &data[..])?;
        expect("streamed", store.get(&streamed)?, Some(data.clone()))?;
        // Listing: in key order, paged.
        let parts: Vec<String> =
            (0..page as u64 + 3).map(|i| format!("{root}/uploads/u1/{:020}", i * 7)).collect();
        for (i, key) in parts.iter().enumerate() {
            store.put(key, &vec![1u8; i % 5])?;
        }
        store.put(&format!("{root}/uploads/u10/00000000000000000000"), b"x")?;
        let listed = store.list(&format!("{root}/uploads/u1/"))?;
        let want: Vec<Listed> = parts
            .iter()
            .enumerate()
            .map(|(i, k)| Listed { key: k.clone(), size: (i % 5) as u64 })
            .collect();
        expect("a listing", listed, want)?;
        expect(
            "a listing by a key's beginning",
            store.list(&format!("{root}/uploads/u1"))?.len(),
            parts.len() + 1,
        )?;
        let blobs: Vec<String> =
            store.list(&format!("{root}/blobs/"))?.into_iter().map(|l| l.key).collect();
        expect("the blobs", blobs, vec![a.clone(), streamed.clone()])?;
        expect("nothing", store.list(&format!("{root}/nothing/"))?, Vec::new())?;
        // Deleting, twice.
        for key in parts.iter().chain([&a, &streamed, &empty]) {
            store.delete(key)?;
            store.delete(key)?;
        }
        store.delete(&format!("{root}/uploads/u10/00000000000000000000"))?;
        expect("after deleting", store.get(&a)?, None)?;
        expect("all gone", store.list(&format!("{root}/"))?, Vec::new())?;
        // Keys that could escape or confuse are refused before any I/O.
        for bad in ["", "/abs", "a/../b", "a//b", "a/./b", ".hidden", "a/b c", "a\\b", "é"] {
            if !matches!(store.put(bad, b"x"), Err(ObjectError::Key(_))) {
                return Err(fail(format!("the key {bad:?} was not refused")));
            }
            if !matches!(store.get(bad), Err(ObjectError::Key(_))) {
                return Err(fail(format!("the key {bad:?} was not refused by get")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn keys_are_checked() {
        for good in ["blobs/ab/abcdef", "uploads/0123/00000000000000000100", "a", "a.b_c-d/e"] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/..", "a/./b", ".a", "a/.b", "a b", "a\\b", "a\0",
            "ä", "a?b", "a%2e", "a:b",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key(&"a".repeat(MAX_KEY_LEN)).is_ok());
        assert!(check_key(&"a".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("uploads/").is_ok());
        assert!(check_prefix("uploads/ab").is_ok());
        assert!(check_prefix("/").is_err());
        assert!(check_prefix("../").is_err());
    }

    #[test]
    fn blob_keys_have_a_two_hex_folder() {
        let sha = "ab".repeat(32);
        assert_eq!(blob_key(&sha), format!("blobs/ab/{sha}"));
    }

    #[test]
    fn configurations_parse() {
        assert_eq!("".parse::<ObjectsConfig>().unwrap(), ObjectsConfig::DataDir);
        assert_eq!(
            "file:///srv/evidence%20store".parse::<ObjectsConfig>().unwrap(),
            ObjectsConfig::Folder("/srv/evidence store".into())
        );
        assert!("file://relative".parse::<ObjectsConfig>().is_err());
        let ObjectsConfig::S3(c) = "s3://evidence?endpoint=http://127.0.0.1:9000&region=eu-west-3"
            .parse::<ObjectsConfig>()
            .unwrap()
        else {
            panic!("not S3");
        };
        assert_eq!((c.bucket.as_str(), c.region.as_str()), ("evidence", "eu-west-3"));
        assert_eq!(c.endpoint, "http://127.0.0.1:9000");
        let ObjectsConfig::S3(c) = "s3://evidence".parse::<ObjectsConfig>().unwrap() else {
            panic!("not S3");
        };
        assert_eq!(c.endpoint, "https://s3.us-east-1.amazonaws.com");
        for bad in [
            "s3://",
            "s3://Bad_Bucket",
            "s3://b?endpoint=http://example.org",
            "s3://bkt?endpoint=ftp://127.0.0.1",
            "s3://bkt?endpoint=http://127.0.0.1:9000/path",
            "s3://bkt?secret=x",
            "s3://AKIA:secret@bkt",
            "http://x",
        ] {
            assert!(bad.parse::<ObjectsConfig>().is_err(), "{bad}");
        }
        // Plain HTTP is for loopback only.
        assert!("s3://bkt?endpoint=http://localhost:9000".parse::<ObjectsConfig>().is_ok());
        assert!("s3://bkt?endpoint=http://[::1]:9000".parse::<ObjectsConfig>().is_ok());
        assert!("s3://bkt?endpoint=https://minio.example.org".parse::<ObjectsConfig>().is_ok());
    }

    #[test]
    fn a_local_store_passes_the_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = Local::new(dir.path());
        conformance::round_trips(&store, "t", 5).unwrap();
    }
}
