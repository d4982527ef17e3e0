//! The evidence store: complete evidence envelopes, content-addressed by their SHA-256 under
//! `blobs/<first two hex>/<sha256>`, and the check a finished upload passes before it gets there.

use std::fs::{self, DirBuilder, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use ring::digest;
use safehome_core::evidence::envelope;
use safehome_core::evidence::keys::DevicePublicKey;
use safehome_core::hex;

use crate::datadir::{DataDir, sync_dir};

/// Why a finished upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the file does not match its declared SHA-256")]
    Checksum,
    #[error("the envelope fails keyless verification: {0}")]
    Envelope(String),
    #[error("reading the upload: {0}")]
    Io(#[from] io::Error),
}

/// Passes everything read through SHA-256.
struct Hashing<R> {
    inner: R,
    digest: digest::Context,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

/// Check a finished upload in one pass: the envelope's keyless verification with the uploading
/// device's key, and the whole file's SHA-256 against the declared one.
pub fn verify_upload(path: &Path, sha256: &str, device: &DevicePublicKey) -> Result<(), Refused> {
    let mut reader = Hashing {
        inner: BufReader::with_capacity(1 << 16, File::open(path)?),
        digest: digest::Context::new(&digest::SHA256),
    };
    let verified = envelope::verify(&mut reader, Some(device));
    // Hash whatever the verifier left unread (it stops at the first fault).
    io::copy(&mut reader, &mut io::sink())?;
    let actual = hex::encode(reader.digest.finish().as_ref());
    if actual != sha256 {
        return Err(Refused::Checksum);
    }
    verified.map(|_| ()).map_err(|e| Refused::Envelope(e.to_string()))
}

/// Move a verified upload into the store under its SHA-256 (a file already there has the same
/// bytes: the upload is then simply removed). Durable when it returns.
pub fn store(data: &DataDir, part: &Path, sha256: &str) -> io::Result<()> {
    let target = data.blob_path(sha256);
    let dir = target.parent().unwrap_or(Path::new("."));
    let new_dir = !dir.exists();
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    if target.exists() {
        fs::remove_file(part)?;
        return Ok(());
    }
    fs::rename(part, &target)?;
    // The rename is durable once the directory that gained the file is synced (with the
    // blobs folder when that directory is new). The `.part` name's removal from `uploads/` is
    // not synced: on a journaling file system it is in the same journal transaction, and if it
    // ever came back after a crash it would be a stray file of a complete upload, not data.
    sync_dir(dir)?;
    if new_dir {
        sync_dir(&data.blobs_dir())?;
    }
    Ok(())
}
