//! The object store over a local folder: a key is a path below it.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ring::digest;

use super::{Listed, ObjectError, ObjectStore, check_key, check_prefix};
use crate::datadir::sync_dir;

/// Objects as files under `root` (`blobs/ab/<sha256>` is `root/blobs/ab/<sha256>`). Files are
/// written to a temporary name (a dot first: never a key), fsynced and renamed, and the folder
/// fsynced: a `put` that returned survives a crash.
#[derive(Debug)]
pub struct Local {
    root: PathBuf,
}

/// Temporary names of this process: unique with the process id.
static TEMP: AtomicU64 = AtomicU64::new(0);

fn io_err(op: &'static str, key: &str) -> impl FnOnce(io::Error) -> ObjectError {
    let key = key.to_string();
    move |source| ObjectError::Io { op, key, source }
}

fn missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

impl Local {
    pub fn new(root: impl Into<PathBuf>) -> Local {
        Local { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, ObjectError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Create the folders down to `dir` (0700), fsyncing the parent of each one created.
    fn make_dirs(&self, dir: &Path) -> io::Result<()> {
        let mut created = Vec::new();
        let mut at = dir;
        while !at.exists() && at != self.root {
            created.push(at.to_path_buf());
            match at.parent() {
                Some(parent) => at = parent,
                None => break,
            }
        }
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        for made in created.iter().rev() {
            if let Some(parent) = made.parent() {
                sync_dir(parent)?;
            }
        }
        Ok(())
    }

    /// Write a new file next to `target` from `fill`, fsync it, rename it over `target` and
    /// fsync the folder.
    fn write_durably(
        &self,
        op: &'static str,
        key: &str,
        fill: &mut dyn FnMut(&mut File) -> Result<(), ObjectError>,
    ) -> Result<(), ObjectError> {
        self.write(op, key, fill, true)
    }

    /// Write through a temporary file renamed into place: readers never see half an object.
    /// `durable`: fsync the file before the rename and the folder after it.
    fn write(
        &self,
        op: &'static str,
        key: &str,
        fill: &mut dyn FnMut(&mut File) -> Result<(), ObjectError>,
        durable: bool,
    ) -> Result<(), ObjectError> {
        let target = self.path(key)?;
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("object");
        let temp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let open = || OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp);
        let mut file = match open() {
            Ok(f) => f,
            // The folder is new, or was just removed as empty by a `delete`.
            Err(e) if missing(&e) => {
                self.make_dirs(&dir).map_err(io_err(op, key))?;
                open().map_err(io_err(op, key))?
            }
            Err(e) => return Err(io_err(op, key)(e)),
        };
        let written = fill(&mut file)
            .and_then(|()| if durable { file.sync_all().map_err(io_err(op, key)) } else { Ok(()) })
            .and_then(|()| fs::rename(&temp, &target).map_err(io_err(op, key)));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
            return written;
        }
        if durable { sync_dir(&dir).map_err(io_err(op, key)) } else { Ok(()) }
    }
}

impl ObjectStore for Local {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ObjectError> {
        self.write_durably("put", key, &mut |f| f.write_all(bytes).map_err(io_err("put", key)))
    }

    fn put_piece(&self, key: &str, bytes: &[u8]) -> Result<(), ObjectError> {
        self.write("put", key, &mut |f| f.write_all(bytes).map_err(io_err("put", key)), false)
    }

    fn put_reader(
        &self,
        key: &str,
        len: u64,
        sha256: &[u8; 32],
        reader: &mut dyn Read,
    ) -> Result<(), ObjectError> {
        self.write_durably("put", key, &mut |f| {
            let mut hashing = digest::Context::new(&digest::SHA256);
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0u64;
            loop {
                let n = reader.read(&mut buf).map_err(io_err("put", key))?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                if total > len {
                    break;
                }
                hashing.update(&buf[..n]);
                f.write_all(&buf[..n]).map_err(io_err("put", key))?;
            }
            if total != len || hashing.finish().as_ref() != sha256 {
                return Err(ObjectError::Malformed {
                    op: "put",
                    key: key.to_string(),
                    reason: "the bytes read are not the length and SHA-256 declared".into(),
                });
            }
            Ok(())
        })
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        match fs::read(self.path(key)?) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(io_err("get", key)(e)),
        }
    }

    fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Option<Vec<u8>>, ObjectError> {
        let mut file = match File::open(self.path(key)?) {
            Ok(f) => f,
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return Err(io_err("get", key)(e)),
        };
        let size = file.metadata().map_err(io_err("get", key))?.len();
        let len = len.min(size.saturating_sub(start));
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        if len > 0 {
            file.seek(SeekFrom::Start(start)).map_err(io_err("get", key))?;
            file.take(len).read_to_end(&mut out).map_err(io_err("get", key))?;
        }
        Ok(Some(out))
    }

    fn size(&self, key: &str) -> Result<Option<u64>, ObjectError> {
        match fs::metadata(self.path(key)?) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(io_err("size", key)(e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if missing(&e) => return Ok(()),
            Err(e) => return Err(io_err("delete", key)(e)),
        }
        // An upload's folder goes with its last part (only folders two levels down or deeper:
        // `blobs/` and `uploads/` themselves stay). Fails harmlessly when it is not empty.
        if key.matches('/').count() >= 2 {
            if let Some(dir) = path.parent() {
                let _ = fs::remove_dir(dir);
            }
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, ObjectError> {
        check_prefix(prefix)?;
        // The deepest folder the prefix names in full.
        let folder = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let mut out = Vec::new();
        let mut stack = vec![(self.root.join(folder), folder.to_string())];
        while let Some((dir, key_dir)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if missing(&e) => continue,
                Err(e) => return Err(io_err("list", prefix)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io_err("list", prefix))?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
                if name.starts_with('.') {
                    continue;
                }
                let key = if key_dir.is_empty() { name } else { format!("{key_dir}/{name}") };
                let kind = entry.file_type().map_err(io_err("list", prefix))?;
                if kind.is_dir() {
                    // Only folders that can hold keys with the prefix.
                    if key.starts_with(prefix) || prefix.starts_with(&format!("{key}/")) {
                        stack.push((entry.path(), key));
                    }
                } else if kind.is_file() && key.starts_with(prefix) && check_key(&key).is_ok() {
                    let size = match entry.metadata() {
                        Ok(m) => m.len(),
                        // Deleted since the folder was read.
                        Err(e) if missing(&e) => continue,
                        Err(e) => return Err(io_err("list", prefix)(e)),
                    };
                    out.push(Listed { key, size });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }
}
