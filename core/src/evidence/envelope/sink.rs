//! Where an opened payload goes: the [`Sink`] trait (nothing written may be used before
//! `commit`), [`MemorySink`] and [`FileSink`] (a temporary file renamed into place on commit).

use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::format::CHUNK_SIZE;

/// Where [`open`](fn@super::open) writes the payload: nothing written may be used until `commit`
/// is called.
pub trait Sink: Write {
    /// Called once, after the final chunk and the sealed SHA-256 verified.
    fn commit(&mut self) -> io::Result<()>;
    /// Called when opening failed: throw away what was written.
    fn discard(&mut self);
}

/// A sink in memory whose bytes are handed out only once committed.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub(super) data: Vec<u8>,
    pub(super) committed: bool,
}

impl MemorySink {
    pub fn new() -> Self {
        MemorySink::default()
    }
    /// The payload, if opening succeeded.
    pub fn into_committed(self) -> Option<Vec<u8>> {
        self.committed.then_some(self.data)
    }
}

impl Write for MemorySink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.data.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for MemorySink {
    fn commit(&mut self) -> io::Result<()> {
        self.committed = true;
        Ok(())
    }
    fn discard(&mut self) {
        self.data.clear();
        self.data.shrink_to_fit();
    }
}

/// A sink that writes to a temporary file beside `path` and renames it into place on commit
/// (after `fsync`); on discard, or if dropped uncommitted, the temporary file is removed. So
/// `path` either holds a whole, verified payload or does not exist.
///
/// Large outputs are written back to disk while they are being written: every
/// [`FileSink::WRITEBACK_EVERY`] bytes a helper thread `fdatasync`s the temporary file, so the
/// final `fsync` at commit has little left to wait for (the kernel alone would start only after
/// 30 s or gigabytes of dirty pages). Small outputs never start the thread.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    temp: PathBuf,
    file: Option<io::BufWriter<std::fs::File>>,
    writeback: Option<Writeback>,
    unsynced: u64,
}

/// The helper that syncs a [`FileSink`]'s temporary file while it is written.
#[derive(Debug)]
struct Writeback {
    nudge: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writeback {
    fn start(file: &std::fs::File) -> Option<Writeback> {
        let clone = file.try_clone().ok()?;
        let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("safehome-writeback".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    // An error here shows again at the commit's fsync, which reports it.
                    let _ = clone.sync_data();
                }
            })
            .ok()?;
        Some(Writeback { nudge: Some(nudge), thread: Some(thread) })
    }
    /// Ask for a sync unless one is already pending.
    fn nudge(&self) {
        if let Some(n) = &self.nudge {
            let _ = n.try_send(());
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.nudge.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl FileSink {
    /// Bytes written between two background syncs of the temporary file.
    pub const WRITEBACK_EVERY: u64 = 8 << 20;

    pub fn create(path: &Path) -> io::Result<Self> {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut n = 0u32;
        loop {
            let temp = dir.join(format!(".{name}.partial-{}-{n}", std::process::id()));
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            // The payload is plaintext evidence: readable by its owner only.
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            match opts.open(&temp) {
                Ok(f) => {
                    return Ok(FileSink {
                        path: path.to_path_buf(),
                        temp,
                        file: Some(io::BufWriter::with_capacity(CHUNK_SIZE, f)),
                        writeback: None,
                        unsynced: 0,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }
    /// The temporary file being written (for tests).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }
}

impl Write for FileSink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let Some(f) = &mut self.file else {
            return Err(io::Error::other("sink already closed"));
        };
        let n = f.write(b)?;
        self.unsynced += n as u64;
        if self.unsynced >= Self::WRITEBACK_EVERY {
            self.unsynced = 0;
            if self.writeback.is_none() {
                self.writeback = Writeback::start(f.get_ref());
            }
            if let Some(w) = &self.writeback {
                w.nudge();
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Seek for FileSink {
    /// For [`seal_seekable`](super::seal_seekable), which writes the header last.
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match &mut self.file {
            Some(f) => f.seek(pos),
            None => Err(io::Error::other("sink already closed")),
        }
    }
}

impl Sink for FileSink {
    fn commit(&mut self) -> io::Result<()> {
        let Some(f) = self.file.take() else {
            return Err(io::Error::other("sink already closed"));
        };
        // Stop the background syncs; the fsync below waits for whatever is left.
        drop(self.writeback.take());
        let done = f.into_inner().map_err(|e| e.into_error()).and_then(|f| {
            f.sync_all()?;
            drop(f);
            std::fs::rename(&self.temp, &self.path)
        });
        if done.is_err() {
            // Nothing was renamed into place: leave no temporary file behind either.
            let _ = std::fs::remove_file(&self.temp);
        }
        done
    }
    fn discard(&mut self) {
        drop(self.writeback.take());
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        self.discard();
    }
}
