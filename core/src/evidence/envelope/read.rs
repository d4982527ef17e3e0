//! Reading: the header parsed ([`read_header`]; structure only) and keyless verification
//! ([`verify`]: structure, device signature, exact length).

use std::io::{self, Read};

use ring::digest;

use super::format::{
    CHUNK_SHIFT, CHUNK_SIZE, EnvelopeError, FIXED_HEADER_LEN, MAGIC, MAX_METADATA_LEN,
    MAX_PAYLOAD_LEN, MAX_RECIPIENTS, SIGNATURE_LEN, STANZA_LEN, SUITE, TAG_LEN, VERSION,
    envelope_len, signed_message,
};
use crate::evidence::keys::DevicePublicKey;

/// A parsed, not yet verified, header.
#[derive(Debug, Clone)]
pub struct Header {
    /// The header's bytes, as signed.
    pub raw: Vec<u8>,
    pub signature: [u8; 64],
    pub device: DevicePublicKey,
    pub payload_len: u64,
    pub salt: [u8; 16],
    pub stanzas: Vec<([u8; 32], [u8; 48])>,
    /// Where the sealed metadata lies in `raw`.
    pub metadata_start: usize,
}

impl Header {
    /// Check the device signature over the header (no decryption key needed).
    pub fn verify_signature(&self) -> Result<(), EnvelopeError> {
        if self.device.verify(&signed_message(&self.raw), &self.signature) {
            Ok(())
        } else {
            Err(EnvelopeError::BadSignature)
        }
    }
    /// Length of the whole envelope this header announces.
    pub fn envelope_len(&self) -> u64 {
        envelope_len(self.raw.len(), self.payload_len)
    }
}

/// Read as many bytes as `buf` holds, stopping early only at end of input.
pub(super) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn read_section<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    section: &'static str,
) -> Result<(), EnvelopeError> {
    if read_full(r, buf)? < buf.len() {
        return Err(EnvelopeError::Truncated { section, chunk: None });
    }
    Ok(())
}

/// Read and parse the header and signature; structure only, nothing is verified.
pub fn read_header<R: Read>(r: &mut R) -> Result<Header, EnvelopeError> {
    let mut fixed = [0u8; FIXED_HEADER_LEN];
    let got = read_full(r, &mut fixed)?;
    if got < MAGIC.len() || fixed[..MAGIC.len()] != MAGIC {
        // A short input that starts like an envelope is truncated; anything else is not one.
        if got < MAGIC.len() && got > 0 && fixed[..got] == MAGIC[..got] {
            return Err(EnvelopeError::Truncated { section: "header", chunk: None });
        }
        return Err(EnvelopeError::NotAnEnvelope);
    }
    if got > 8 && fixed[8] != VERSION {
        return Err(EnvelopeError::UnsupportedVersion(fixed[8]));
    }
    if got > 9 && fixed[9] != SUITE {
        return Err(EnvelopeError::UnsupportedSuite(fixed[9]));
    }
    if got < FIXED_HEADER_LEN {
        return Err(EnvelopeError::Truncated { section: "header", chunk: None });
    }
    if fixed[10] != CHUNK_SHIFT {
        return Err(EnvelopeError::MalformedHeader { field: "chunk size", offset: 10 });
    }
    if fixed[11] != 0 {
        return Err(EnvelopeError::MalformedHeader { field: "reserved byte", offset: 11 });
    }
    let n = usize::from(u16::from_be_bytes([fixed[12], fixed[13]]));
    if n == 0 || n > MAX_RECIPIENTS {
        return Err(EnvelopeError::MalformedHeader { field: "stanza count", offset: 12 });
    }
    let meta_len = u32::from_be_bytes([fixed[14], fixed[15], fixed[16], fixed[17]]) as usize;
    if meta_len <= TAG_LEN || meta_len > MAX_METADATA_LEN + TAG_LEN {
        return Err(EnvelopeError::MalformedHeader { field: "metadata length", offset: 14 });
    }
    let mut pl = [0u8; 8];
    pl.copy_from_slice(&fixed[18..26]);
    let payload_len = u64::from_be_bytes(pl);
    if payload_len > MAX_PAYLOAD_LEN {
        return Err(EnvelopeError::MalformedHeader { field: "payload length", offset: 18 });
    }
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&fixed[26..42]);
    let mut device = [0u8; 32];
    device.copy_from_slice(&fixed[42..74]);

    let metadata_start = FIXED_HEADER_LEN + n * STANZA_LEN;
    let mut raw = vec![0u8; metadata_start + meta_len];
    raw[..FIXED_HEADER_LEN].copy_from_slice(&fixed);
    read_section(r, &mut raw[FIXED_HEADER_LEN..], "header")?;
    let mut signature = [0u8; 64];
    read_section(r, &mut signature, "signature")?;
    let stanzas = raw[FIXED_HEADER_LEN..metadata_start]
        .chunks_exact(STANZA_LEN)
        .map(|s| {
            let mut share = [0u8; 32];
            let mut wrapped = [0u8; 48];
            share.copy_from_slice(&s[..32]);
            wrapped.copy_from_slice(&s[32..]);
            (share, wrapped)
        })
        .collect();
    Ok(Header {
        raw,
        signature,
        device: DevicePublicKey::from_bytes(device),
        payload_len,
        salt,
        stanzas,
        metadata_start,
    })
}

pub(super) fn check_device(
    header: &Header,
    expect: Option<&DevicePublicKey>,
) -> Result<(), EnvelopeError> {
    header.verify_signature()?;
    match expect {
        Some(e) if *e != header.device => {
            Err(EnvelopeError::UnexpectedDevice { expected: *e, found: header.device })
        }
        _ => Ok(()),
    }
}

/// What a keyless verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub device: DevicePublicKey,
    pub recipients: usize,
    pub payload_len: u64,
    pub envelope_len: u64,
    pub header_sha256: [u8; 32],
}

/// Verify without any decryption key: the structure, the device signature over the header (and
/// that the signer is `expect_device`, when given) and the envelope's exact length. Payload
/// chunks can only be authenticated by a recipient ([`open`](fn@super::open)).
pub fn verify<R: Read>(
    mut r: R,
    expect_device: Option<&DevicePublicKey>,
) -> Result<Verified, EnvelopeError> {
    let header = read_header(&mut r)?;
    check_device(&header, expect_device)?;
    let payload_bytes = header.envelope_len() - header.raw.len() as u64 - SIGNATURE_LEN as u64;
    let mut buf = vec![0u8; CHUNK_SIZE + TAG_LEN];
    let mut left = payload_bytes;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let got = read_full(&mut r, &mut buf[..want])?;
        if got < want {
            let done = payload_bytes - left + got as u64;
            return Err(EnvelopeError::Truncated {
                section: "payload",
                chunk: Some(done / (CHUNK_SIZE + TAG_LEN) as u64),
            });
        }
        left -= got as u64;
    }
    if read_full(&mut r, &mut buf[..1])? > 0 {
        return Err(EnvelopeError::TrailingData);
    }
    let mut h = digest::Context::new(&digest::SHA256);
    h.update(&header.raw);
    h.update(&header.signature);
    let mut header_sha256 = [0u8; 32];
    header_sha256.copy_from_slice(h.finish().as_ref());
    Ok(Verified {
        device: header.device,
        recipients: header.stanzas.len(),
        payload_len: header.payload_len,
        envelope_len: header.envelope_len(),
        header_sha256,
    })
}
