//! An evidence upload's bytes in the object store while it is open: every piece a `PATCH`
//! accepted is its own object, `uploads/<upload_id>/<offset, 20 digits>` (S3 has no append,
//! and any server process may take the next `PATCH`). The upload's offset is where the run of
//! pieces from 0 ends; at completion the pieces are read back in order, one at a time, checked
//! and stored as one evidence file, then deleted.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;

use safehome_core::evidence::keys::DevicePublicKey;
use safehome_core::hex;

use crate::blobs::{self, Refused};
use crate::objects::{Listed, ObjectError, ObjectStore, blob_key};

/// The folder of an upload's pieces.
pub fn prefix(upload_id: &str) -> String {
    format!("uploads/{upload_id}/")
}

/// The key of the piece that starts at `offset`.
pub fn part_key(upload_id: &str, offset: u64) -> String {
    format!("uploads/{upload_id}/{offset:020}")
}

/// The pieces that follow each other from offset 0, in order, and where they end (the
/// upload's offset). A piece that does not start where the run ends is not part of it: a
/// piece starting earlier overlaps (never written so, but never trusted either), and a gap
/// ends the run; a later `PATCH` writes over from the end.
pub fn scan(store: &dyn ObjectStore, upload_id: &str) -> Result<(Vec<Listed>, u64), ObjectError> {
    let mut pieces: Vec<(u64, Listed)> = store
        .list(&prefix(upload_id))?
        .into_iter()
        .filter_map(|l| {
            let name = l.key.rsplit('/').next()?;
            let offset = (name.len() == 20).then(|| name.parse::<u64>().ok()).flatten()?;
            Some((offset, l))
        })
        .collect();
    pieces.sort_by_key(|(offset, _)| *offset);
    let mut run = Vec::new();
    let mut end = 0u64;
    for (offset, piece) in pieces {
        if offset > end {
            break;
        }
        if offset == end && (piece.size > 0 || run.is_empty()) {
            end += piece.size;
            run.push(piece);
        }
    }
    Ok((run, end))
}

/// Delete every piece of an upload (after it completed, failed, expired or was terminated).
pub fn delete_all(store: &dyn ObjectStore, upload_id: &str) -> Result<(), ObjectError> {
    for piece in store.list(&prefix(upload_id))? {
        store.delete(&piece.key)?;
    }
    Ok(())
}

/// Reads a run of pieces in order, holding one piece in memory at a time.
struct PiecesReader<'a> {
    store: &'a dyn ObjectStore,
    pending: VecDeque<Listed>,
    current: io::Cursor<Vec<u8>>,
}

impl<'a> PiecesReader<'a> {
    fn new(store: &'a dyn ObjectStore, run: &[Listed]) -> PiecesReader<'a> {
        PiecesReader {
            store,
            pending: run.iter().cloned().collect(),
            current: io::Cursor::new(Vec::new()),
        }
    }
}

impl Read for PiecesReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(next) = self.pending.pop_front() else { return Ok(0) };
            let bytes = self
                .store
                .get(&next.key)
                .map_err(io::Error::other)?
                .ok_or_else(|| io::Error::other(format!("the piece {} vanished", next.key)))?;
            if bytes.len() as u64 != next.size {
                return Err(io::Error::other(format!("the piece {} changed length", next.key)));
            }
            self.current = io::Cursor::new(bytes);
        }
    }
}

/// The upload reached its length: check its pieces, read in order, against the declared
/// SHA-256 and the envelope's keyless verification, and store them as the evidence file
/// `blobs/<ab>/<sha256>` (unless a file with that digest, and so those bytes, is there
/// already). Durable when it returns; the pieces are left for the caller to delete.
pub fn assemble(
    store: &dyn ObjectStore,
    upload_id: &str,
    sha256: &str,
    length: u64,
    device: &DevicePublicKey,
) -> Result<(), Refused> {
    let (run, end) = scan(store, upload_id).map_err(Refused::Store)?;
    if end != length {
        return Err(Refused::Checksum);
    }
    blobs::verify_upload(PiecesReader::new(store, &run), sha256, device)?;
    let key = blob_key(sha256);
    if store.size(&key).map_err(Refused::Store)? == Some(length) {
        return Ok(());
    }
    let digest = hex::decode_array::<32>(sha256).map_err(|_| Refused::Checksum)?;
    store
        .put_reader(&key, length, &digest, &mut PiecesReader::new(store, &run))
        .map_err(Refused::Store)
}

/// Writes one `PATCH`'s bytes as pieces from the upload's offset, on the blocking pool, and
/// can take them all back (a refused chunk).
pub struct ChunkWriter {
    store: Arc<dyn ObjectStore>,
    upload_id: String,
    start: u64,
    /// Bytes of this chunk stored so far.
    pub written: u64,
    keys: Vec<String>,
}

impl ChunkWriter {
    pub fn new(store: Arc<dyn ObjectStore>, upload_id: &str, start: u64) -> ChunkWriter {
        ChunkWriter { store, upload_id: upload_id.to_string(), start, written: 0, keys: Vec::new() }
    }

    /// Store `bytes` as the piece after what this chunk already stored (durable when it
    /// returns).
    pub async fn append(&mut self, bytes: Vec<u8>) -> Result<(), ObjectError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let key = part_key(&self.upload_id, self.start + self.written);
        let len = bytes.len() as u64;
        let (store, k) = (Arc::clone(&self.store), key.clone());
        tokio::task::spawn_blocking(move || store.put_piece(&k, &bytes))
            .await
            .map_err(|_| ObjectError::Config("the write task failed".into()))??;
        self.keys.push(key);
        self.written += len;
        Ok(())
    }

    /// Delete the pieces this chunk stored.
    pub async fn rollback(&self) {
        let (store, keys) = (Arc::clone(&self.store), self.keys.clone());
        let deleted =
            tokio::task::spawn_blocking(move || keys.iter().try_for_each(|k| store.delete(k)))
                .await;
        if let Ok(Err(e)) = deleted {
            tracing::warn!(upload = %self.upload_id, error = %e, "deleting a refused chunk");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::objects::Local;

    #[test]
    fn the_offset_is_where_the_run_from_zero_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Local::new(dir.path());
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(scan(&store, id).unwrap().1, 0);
        store.put(&part_key(id, 0), &[1; 10]).unwrap();
        store.put(&part_key(id, 10), &[2; 5]).unwrap();
        // An overlapping piece and one after a gap are not counted.
        store.put(&part_key(id, 12), &[9; 8]).unwrap();
        store.put(&part_key(id, 30), &[9; 8]).unwrap();
        // Another upload's pieces neither.
        store.put(&part_key("0123456789abcdef0123456789abcdee", 15), &[3; 4]).unwrap();
        let (run, end) = scan(&store, id).unwrap();
        assert_eq!(end, 15);
        assert_eq!(run.len(), 2);
        let mut all = Vec::new();
        PiecesReader::new(&store, &run).read_to_end(&mut all).unwrap();
        assert_eq!(all, [[1u8; 10].as_slice(), &[2; 5]].concat());
        delete_all(&store, id).unwrap();
        assert_eq!(store.list(&prefix(id)).unwrap(), Vec::new());
        assert!(!dir.path().join("uploads").join(id).exists());
    }
}
