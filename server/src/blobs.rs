//! The evidence store's rule: complete evidence envelopes, content-addressed by their SHA-256
//! under the object key `blobs/<first two hex>/<sha256>` ([`crate::objects::blob_key`]), and
//! the check a finished upload passes before it gets there ([`crate::parts::assemble`]).

use std::io::{self, BufReader, Read};

use ring::digest;
use safehome_core::evidence::envelope;
use safehome_core::evidence::keys::DevicePublicKey;
use safehome_core::hex;

use crate::objects::ObjectError;

/// Why a finished upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the file does not match its declared SHA-256")]
    Checksum,
    #[error("the envelope fails keyless verification: {0}")]
    Envelope(String),
    #[error("reading the upload: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Store(ObjectError),
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

/// Check a finished upload, read once from `upload`: the envelope's keyless verification with
/// the uploading device's key, and the whole file's SHA-256 against the declared one.
pub fn verify_upload(
    upload: impl Read,
    sha256: &str,
    device: &DevicePublicKey,
) -> Result<(), Refused> {
    let mut reader = Hashing {
        inner: BufReader::with_capacity(1 << 16, upload),
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
