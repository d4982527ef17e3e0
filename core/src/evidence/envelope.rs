//! The sealed evidence envelope: one file per piece of evidence, encrypted to the organisation's
//! archive key and the team's supervisors, signed by the device that sealed it. The exact bytes
//! are specified in `docs/envelope.md`; this is the reference implementation.
//!
//! ```text
//! header   magic, version, suite, chunk size, counts, payload length, salt, device key,
//!          one stanza per recipient (ephemeral X25519 share + wrapped file key),
//!          sealed metadata (JSON, AES-256-GCM under a key derived from the file key)
//! signature  Ed25519 by the device key over a label and the header
//! payload  64 KiB AES-256-GCM chunks, nonce = 88-bit counter || last-chunk flag (STREAM)
//! ```
//!
//! Writer and reader stream with bounded memory whatever the payload's size: one chunk, or for
//! payloads of 1 MiB and more a few batches of chunks shared with a helper thread that computes
//! the payload's SHA-256 while the calling thread encrypts or decrypts (`lane`). Sealers: the
//! streaming [`EnvelopeWriter`] and [`seal`] need the hash first and check the payload against
//! it before the final chunk; [`seal_seekable`] writes the payload first and the header last,
//! so it needs no hash in advance; [`seal_bytes`] hashes a buffer once. All give the same bytes
//! for the same randomness. A reader cannot know that the payload is whole until the final chunk and the
//! sealed SHA-256 verify, so [`open`] writes into a [`Sink`] and calls [`Sink::commit`] only
//! then; on any failure it calls [`Sink::discard`]. [`FileSink`] writes to a temporary file
//! beside the destination and renames it into place on commit; [`MemorySink`] hands its bytes
//! out only after commit.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::agreement;
use ring::digest;
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::keys::{DevicePublicKey, DeviceSigningKey, Identity, RecipientKey};
use super::meta::{EvidenceInfo, EvidenceMetadata};
use crate::clock::Entropy;

mod lane;
use lane::{Batch, Lane};

/// `\x89SHEV\r\n\x1a`: high bit set, CR-LF and ^Z catch text-mode transfers, as PNG's does.
pub const MAGIC: [u8; 8] = *b"\x89SHEV\r\n\x1a";
pub const VERSION: u8 = 1;
/// Suite 1: X25519 + HKDF-SHA256 + AES-256-GCM stanzas; AES-256-GCM STREAM; Ed25519.
pub const SUITE: u8 = 1;
/// Payload chunks are `1 << CHUNK_SHIFT` bytes of plaintext.
pub const CHUNK_SHIFT: u8 = 16;
pub const CHUNK_SIZE: usize = 1 << CHUNK_SHIFT;
pub const TAG_LEN: usize = 16;
/// Bytes of the header before the stanzas.
pub const FIXED_HEADER_LEN: usize = 74;
/// Ephemeral share (32) and wrapped file key (32 + 16).
pub const STANZA_LEN: usize = 80;
pub const SIGNATURE_LEN: usize = 64;
pub const MAX_RECIPIENTS: usize = 64;
/// Largest sealed-metadata plaintext.
pub const MAX_METADATA_LEN: usize = 1 << 16;
/// Largest payload (1 TiB): far below the 2^88 chunks the nonce counter allows.
pub const MAX_PAYLOAD_LEN: u64 = 1 << 40;

/// HKDF `info` labels and the signature's domain-separation prefix (see `docs/envelope.md`).
pub const LABEL_WRAP: &[u8] = b"safehome/evidence/v1/x25519-wrap";
pub const LABEL_METADATA: &[u8] = b"safehome/evidence/v1/metadata";
pub const LABEL_PAYLOAD: &[u8] = b"safehome/evidence/v1/payload";
pub const LABEL_SIGNATURE: &[u8] = b"safehome/evidence/v1/header-signature";

/// Why an envelope could not be sealed, opened or verified. Messages carry no plaintext and no
/// key material; public keys appear only in `UnexpectedDevice`.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a SafeHome evidence envelope (bad magic bytes)")]
    NotAnEnvelope,
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    #[error("unsupported cipher suite {0}")]
    UnsupportedSuite(u8),
    #[error("malformed header: {field} (byte {offset})")]
    MalformedHeader { field: &'static str, offset: usize },
    #[error("envelope truncated in the {section}")]
    Truncated { section: &'static str, chunk: Option<u64> },
    #[error("data after the final payload chunk")]
    TrailingData,
    #[error("the device signature over the header does not verify")]
    BadSignature,
    #[error("sealed by device {found}, not the expected {expected}")]
    UnexpectedDevice { expected: DevicePublicKey, found: DevicePublicKey },
    #[error("this identity is not a recipient of the envelope")]
    NotARecipient,
    #[error("stanza {stanza} carries a low-order X25519 share")]
    LowOrderPoint { stanza: usize },
    #[error("the sealed metadata does not decrypt")]
    MetadataAuthFailed,
    #[error("the sealed metadata is malformed: {0}")]
    BadMetadata(String),
    #[error("the sealed metadata names another device than the header")]
    DeviceKeyMismatch,
    #[error("the sealed metadata and the header disagree on the {0}")]
    MetadataMismatch(&'static str),
    #[error("payload chunk {chunk} fails authentication")]
    ChunkAuthFailed { chunk: u64 },
    #[error("the payload does not match its sealed SHA-256")]
    HashMismatch,
    #[error("the payload is {actual} bytes, not the declared {declared}")]
    LengthMismatch { declared: u64, actual: u64 },
    #[error("an envelope needs 1 to {MAX_RECIPIENTS} recipients, not {0}")]
    BadRecipientCount(usize),
    #[error("recipient {index} is not a usable X25519 key")]
    BadRecipient { index: usize },
    #[error("payload of {0} bytes is over the limit")]
    PayloadTooLarge(u64),
    #[error("sealed metadata of {0} bytes is over the limit")]
    MetadataTooLarge(usize),
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// Where randomness for sealing comes from.
#[derive(Clone, Copy)]
pub enum Randomness<'a> {
    /// Production: `ring`'s system source; ephemeral X25519 keys are generated and used through
    /// `ring`'s ephemeral agreement API and never leave it.
    System,
    /// Deterministic (tests and the published test vectors): the file key, salt and ephemeral
    /// secrets are drawn from `entropy` in that order; since `ring` cannot take a given private
    /// key, the agreement is computed with `x25519-dalek`. Both paths produce the same bytes
    /// for the same secrets; tests open envelopes of each kind.
    Injected(&'a dyn Entropy),
}

impl Randomness<'_> {
    fn fill(&self, rng: &SystemRandom, buf: &mut [u8]) -> Result<(), EnvelopeError> {
        match self {
            Randomness::System => {
                rng.fill(buf).map_err(|_| EnvelopeError::Crypto("system random source failed"))
            }
            Randomness::Injected(e) => {
                e.fill(buf);
                Ok(())
            }
        }
    }
}

/// Signs envelope headers: the device key.
pub trait Signer {
    fn public_key(&self) -> DevicePublicKey;
    fn sign(&self, message: &[u8]) -> [u8; 64];
}

impl Signer for DeviceSigningKey {
    fn public_key(&self) -> DevicePublicKey {
        self.public()
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        DeviceSigningKey::sign(self, message)
    }
}

// ---------------------------------------------------------------------------------------------
// Key derivation and AEAD helpers

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// HKDF-SHA256 (RFC 5869) with an explicit label as `info`, 32 bytes out.
pub fn hkdf_sha256(
    salt: &[u8],
    ikm: &[u8],
    info: &[u8],
) -> Result<Zeroizing<[u8; 32]>, EnvelopeError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk.expand(&info, Len32).map_err(|_| EnvelopeError::Crypto("hkdf expand"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    okm.fill(&mut out[..]).map_err(|_| EnvelopeError::Crypto("hkdf fill"))?;
    Ok(out)
}

fn aead_key(key: &[u8]) -> Result<LessSafeKey, EnvelopeError> {
    let k = UnboundKey::new(&AES_256_GCM, key).map_err(|_| EnvelopeError::Crypto("aes key"))?;
    Ok(LessSafeKey::new(k))
}

fn wrap_key(
    shared: &[u8],
    share: &[u8; 32],
    recipient: &[u8; 32],
) -> Result<LessSafeKey, EnvelopeError> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(share);
    salt[32..].copy_from_slice(recipient);
    aead_key(&hkdf_sha256(&salt, shared, LABEL_WRAP)?[..])
}

const ZERO_NONCE: [u8; 12] = [0u8; 12];

/// STREAM nonce: 88-bit big-endian chunk counter, then 0x01 for the final chunk, else 0x00.
pub(crate) fn chunk_nonce(counter: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Number of payload chunks for a payload of `len` bytes (an empty payload is one empty chunk).
pub fn chunk_count(len: u64) -> u64 {
    len.div_ceil(CHUNK_SIZE as u64).max(1)
}

/// Bytes of a whole envelope: header, signature and payload chunks with their tags.
pub fn envelope_len(header_len: usize, payload_len: u64) -> u64 {
    header_len as u64
        + SIGNATURE_LEN as u64
        + payload_len
        + chunk_count(payload_len) * TAG_LEN as u64
}

/// The bytes the device signs: [`LABEL_SIGNATURE`] followed by the header.
pub fn signed_message(header: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(LABEL_SIGNATURE.len() + header.len());
    m.extend_from_slice(LABEL_SIGNATURE);
    m.extend_from_slice(header);
    m
}

// ---------------------------------------------------------------------------------------------
// Sealing

/// Everything needed to seal one payload.
pub struct SealRequest<'a> {
    pub recipients: &'a [RecipientKey],
    pub device: &'a dyn Signer,
    pub info: EvidenceInfo,
    /// When sealing happens (from the injected clock).
    pub sealed_at_ms: i64,
    /// The payload's exact length and SHA-256: they are sealed in the header, which is written
    /// first; the writer checks the payload against them as it streams.
    pub plaintext_len: u64,
    pub plaintext_sha256: [u8; 32],
}

/// Everything needed to seal one payload into a seekable output ([`seal_seekable`]), which
/// computes the payload's SHA-256 while it encrypts: the length must be known (it fixes the
/// header's size), the hash need not be.
pub struct SeekableSealRequest<'a> {
    pub recipients: &'a [RecipientKey],
    pub device: &'a dyn Signer,
    pub info: EvidenceInfo,
    /// When sealing happens (from the injected clock).
    pub sealed_at_ms: i64,
    /// The payload's exact length: a shorter or longer input is `LengthMismatch`.
    pub plaintext_len: u64,
    /// The payload's SHA-256, if the caller knows it (the photo pipeline returns it): checked
    /// against the hash of the bytes actually sealed (`HashMismatch`) before the header is
    /// written.
    pub expect_sha256: Option<[u8; 32]>,
}

/// What sealing produced.
#[derive(Debug, Clone)]
pub struct SealSummary {
    pub envelope_len: u64,
    pub header_len: usize,
    pub chunks: u64,
    /// SHA-256 of header and signature: names the envelope before its payload is written.
    pub header_sha256: [u8; 32],
    pub metadata: EvidenceMetadata,
}

/// The part of sealing that does not depend on the payload's hash: the checks, the randomness
/// (file key, salt, then one ephemeral key per stanza, always in that order), the stanzas, the
/// keys and the header's length. [`Sealing::header`] then builds and signs the header once the
/// hash is known — first for the streaming writer, last for the seekable one; both give the
/// same bytes.
struct Sealing<'a> {
    device: &'a dyn Signer,
    device_key: DevicePublicKey,
    info: EvidenceInfo,
    sealed_at_ms: i64,
    plaintext_len: u64,
    salt: [u8; 16],
    stanzas: Vec<u8>,
    meta_key: LessSafeKey,
    payload_key: LessSafeKey,
    /// Length of the sealed metadata (JSON and tag).
    sealed_meta_len: usize,
    header_len: usize,
}

impl<'a> Sealing<'a> {
    fn begin(
        recipients: &[RecipientKey],
        device: &'a dyn Signer,
        info: EvidenceInfo,
        sealed_at_ms: i64,
        plaintext_len: u64,
        rand: Randomness<'_>,
    ) -> Result<Self, EnvelopeError> {
        let n = recipients.len();
        if n == 0 || n > MAX_RECIPIENTS {
            return Err(EnvelopeError::BadRecipientCount(n));
        }
        if plaintext_len > MAX_PAYLOAD_LEN {
            return Err(EnvelopeError::PayloadTooLarge(plaintext_len));
        }
        let device_key = device.public_key();
        // The hash is written as 64 hex digits whatever its value, so any hash gives the
        // metadata's length; `header` checks that the real one gives the same.
        let meta_json_len =
            EvidenceMetadata::new(info.clone(), sealed_at_ms, plaintext_len, [0u8; 32], device_key)
                .to_json()
                .len();
        if meta_json_len > MAX_METADATA_LEN {
            return Err(EnvelopeError::MetadataTooLarge(meta_json_len));
        }

        let rng = SystemRandom::new();
        let mut file_key = Zeroizing::new([0u8; 32]);
        rand.fill(&rng, &mut file_key[..])?;
        let mut salt = [0u8; 16];
        rand.fill(&rng, &mut salt)?;
        let mut stanzas = Vec::with_capacity(n * STANZA_LEN);
        for (index, r) in recipients.iter().enumerate() {
            let (share, wrapped) = make_stanza(r, &file_key, rand, &rng).map_err(|e| match e {
                EnvelopeError::Crypto(_) => EnvelopeError::BadRecipient { index },
                other => other,
            })?;
            stanzas.extend_from_slice(&share);
            stanzas.extend_from_slice(&wrapped);
        }
        let meta_key = aead_key(&hkdf_sha256(&salt, &file_key[..], LABEL_METADATA)?[..])?;
        let payload_key = aead_key(&hkdf_sha256(&salt, &file_key[..], LABEL_PAYLOAD)?[..])?;
        let sealed_meta_len = meta_json_len + TAG_LEN;
        Ok(Sealing {
            device,
            device_key,
            info,
            sealed_at_ms,
            plaintext_len,
            salt,
            header_len: FIXED_HEADER_LEN + stanzas.len() + sealed_meta_len,
            stanzas,
            meta_key,
            payload_key,
            sealed_meta_len,
        })
    }

    /// The header for a payload whose SHA-256 is `sha`, its signature, and the summary.
    fn header(&self, sha: [u8; 32]) -> Result<(Vec<u8>, [u8; 64], SealSummary), EnvelopeError> {
        let metadata = EvidenceMetadata::new(
            self.info.clone(),
            self.sealed_at_ms,
            self.plaintext_len,
            sha,
            self.device_key,
        );
        let mut sealed = Zeroizing::new(metadata.to_json());
        if sealed.len() + TAG_LEN != self.sealed_meta_len {
            return Err(EnvelopeError::Crypto("metadata length changed"));
        }
        let n = self.stanzas.len() / STANZA_LEN;
        let mut header = Vec::with_capacity(self.header_len);
        header.extend_from_slice(&MAGIC);
        header.push(VERSION);
        header.push(SUITE);
        header.push(CHUNK_SHIFT);
        header.push(0);
        header.extend_from_slice(&(n as u16).to_be_bytes());
        header.extend_from_slice(&(self.sealed_meta_len as u32).to_be_bytes());
        header.extend_from_slice(&self.plaintext_len.to_be_bytes());
        header.extend_from_slice(&self.salt);
        header.extend_from_slice(self.device_key.as_bytes());
        header.extend_from_slice(&self.stanzas);
        let tag = self
            .meta_key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(ZERO_NONCE),
                Aad::empty(),
                &mut sealed[..],
            )
            .map_err(|_| EnvelopeError::Crypto("seal metadata"))?;
        header.extend_from_slice(&sealed);
        header.extend_from_slice(tag.as_ref());

        let signature = self.device.sign(&signed_message(&header));
        let mut h = digest::Context::new(&digest::SHA256);
        h.update(&header);
        h.update(&signature);
        let mut header_sha256 = [0u8; 32];
        header_sha256.copy_from_slice(h.finish().as_ref());
        let summary = SealSummary {
            envelope_len: envelope_len(header.len(), self.plaintext_len),
            header_len: header.len(),
            chunks: chunk_count(self.plaintext_len),
            header_sha256,
            metadata,
        };
        Ok((header, signature, summary))
    }
}

/// A streaming envelope writer: the header is written by [`EnvelopeWriter::new`], the payload
/// through [`EnvelopeWriter::update`] (or `Write`), and [`EnvelopeWriter::finish`] writes the final
/// chunk once the payload matched its declared length and hash. Memory: one chunk.
///
/// For a whole payload behind a `Read`, [`seal`] (any output) and [`seal_seekable`] (a file) do
/// the same and hash on a second thread.
pub struct EnvelopeWriter<W: Write> {
    out: W,
    key: LessSafeKey,
    buf: Vec<u8>,
    filled: usize,
    counter: u64,
    chunks: u64,
    written: u64,
    hasher: digest::Context,
    summary: SealSummary,
}

impl<W: Write> EnvelopeWriter<W> {
    /// Build, sign and write the header.
    pub fn new(
        req: SealRequest<'_>,
        rand: Randomness<'_>,
        mut out: W,
    ) -> Result<Self, EnvelopeError> {
        let (s, summary) = begin_with_known_hash(req, rand, &mut out)?;
        Ok(EnvelopeWriter {
            out,
            key: s.payload_key,
            buf: vec![0u8; CHUNK_SIZE + TAG_LEN],
            filled: 0,
            counter: 0,
            chunks: summary.chunks,
            written: 0,
            hasher: digest::Context::new(&digest::SHA256),
            summary,
        })
    }

    /// Add payload bytes. More than the declared length is refused.
    pub fn update(&mut self, mut data: &[u8]) -> Result<(), EnvelopeError> {
        let declared = self.summary.metadata.plaintext_len;
        if self.written + data.len() as u64 > declared {
            return Err(EnvelopeError::LengthMismatch {
                declared,
                actual: self.written + data.len() as u64,
            });
        }
        self.hasher.update(data);
        self.written += data.len() as u64;
        while !data.is_empty() {
            let take = (CHUNK_SIZE - self.filled).min(data.len());
            self.buf[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            // A full chunk is sealed at once unless it is the last one, which waits for finish().
            if self.filled == CHUNK_SIZE && self.counter + 1 < self.chunks {
                self.seal_chunk(false)?;
            }
        }
        Ok(())
    }

    fn seal_chunk(&mut self, last: bool) -> Result<(), EnvelopeError> {
        let n = self.filled;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                chunk_nonce(self.counter, last),
                Aad::empty(),
                &mut self.buf[..n],
            )
            .map_err(|_| EnvelopeError::Crypto("seal chunk"))?;
        self.buf[n..n + TAG_LEN].copy_from_slice(tag.as_ref());
        self.out.write_all(&self.buf[..n + TAG_LEN])?;
        self.counter += 1;
        self.filled = 0;
        Ok(())
    }

    /// Check the payload against its declared length and hash, write the final chunk, flush.
    /// On error the output lacks its final chunk and will never open.
    pub fn finish(mut self) -> Result<SealSummary, EnvelopeError> {
        let declared = self.summary.metadata.plaintext_len;
        if self.written != declared {
            return Err(EnvelopeError::LengthMismatch { declared, actual: self.written });
        }
        let hasher = std::mem::replace(&mut self.hasher, digest::Context::new(&digest::SHA256));
        if hasher.finish().as_ref() != self.summary.metadata.plaintext_sha256 {
            return Err(EnvelopeError::HashMismatch);
        }
        self.seal_chunk(true)?;
        self.out.flush()?;
        Ok(self.summary)
    }
}

impl<W: Write> Write for EnvelopeWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.update(data).map_err(io::Error::other)?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One stanza: a fresh ephemeral X25519 share and the file key wrapped for `recipient`.
fn make_stanza(
    recipient: &RecipientKey,
    file_key: &[u8; 32],
    rand: Randomness<'_>,
    rng: &SystemRandom,
) -> Result<([u8; 32], [u8; 48]), EnvelopeError> {
    let (share, key) = match rand {
        Randomness::System => {
            let eph = agreement::EphemeralPrivateKey::generate(&agreement::X25519, rng)
                .map_err(|_| EnvelopeError::Crypto("ephemeral key"))?;
            let public = eph.compute_public_key().map_err(|_| EnvelopeError::Crypto("public"))?;
            let mut share = [0u8; 32];
            share.copy_from_slice(public.as_ref());
            let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, recipient.as_bytes());
            // ring refuses an all-zero shared secret (a low-order recipient key).
            let key = agreement::agree_ephemeral(eph, &peer, |shared| {
                wrap_key(shared, &share, recipient.as_bytes())
            })
            .map_err(|_| EnvelopeError::Crypto("x25519 agreement"))??;
            (share, key)
        }
        Randomness::Injected(e) => {
            let mut secret = Zeroizing::new([0u8; 32]);
            e.fill(&mut secret[..]);
            let eph = x25519_dalek::StaticSecret::from(*secret);
            let share = *x25519_dalek::PublicKey::from(&eph).as_bytes();
            let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(*recipient.as_bytes()));
            if !shared.was_contributory() {
                return Err(EnvelopeError::Crypto("x25519 agreement"));
            }
            (share, wrap_key(shared.as_bytes(), &share, recipient.as_bytes())?)
        }
    };
    let mut wrapped = [0u8; 48];
    wrapped[..32].copy_from_slice(file_key);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(ZERO_NONCE),
            Aad::empty(),
            &mut wrapped[..32],
        )
        .map_err(|_| EnvelopeError::Crypto("wrap"))?;
    wrapped[32..].copy_from_slice(tag.as_ref());
    Ok((share, wrapped))
}

/// Encrypt the `plain_len` bytes at the start of `slot` in place as chunk `counter` and put the
/// tag after them; returns the chunk as it lies in the envelope.
fn seal_slot<'b>(
    key: &LessSafeKey,
    counter: u64,
    last: bool,
    slot: &'b mut [u8],
    plain_len: usize,
) -> Result<&'b [u8], EnvelopeError> {
    let tag = key
        .seal_in_place_separate_tag(
            chunk_nonce(counter, last),
            Aad::empty(),
            &mut slot[..plain_len],
        )
        .map_err(|_| EnvelopeError::Crypto("seal chunk"))?;
    slot[plain_len..plain_len + TAG_LEN].copy_from_slice(tag.as_ref());
    Ok(&slot[..plain_len + TAG_LEN])
}

/// Seal the slots of `b` from `b.sealed` up to `to` (exclusive) in place, counting them in
/// `b.sealed` as they are done (of a payload of `chunks` chunks).
fn seal_upto(
    key: &LessSafeKey,
    chunks: u64,
    b: &mut Batch,
    to: usize,
) -> Result<(), EnvelopeError> {
    while b.sealed < to {
        let j = b.sealed;
        let counter = b.first + j as u64;
        let plain_len = b.plain_len(j);
        seal_slot(key, counter, counter + 1 == chunks, b.slot_mut(j), plain_len)?;
        b.sealed += 1;
    }
    Ok(())
}

/// Read exactly `len` payload bytes from `input` (a shorter or longer input is
/// `LengthMismatch`), hash them on a [`Lane`] and write the sealed chunks to `out`, one `write`
/// of at most a chunk and its tag at a time; every read asks for at most one chunk. Returns the
/// payload's SHA-256.
///
/// The calling thread reads and writes; the helper thread hashes and, whenever it is ahead
/// (the calling thread is slowed by I/O), also encrypts the batch it just hashed, so file to
/// file the two threads share the encryption, and in memory the helper only hashes.
///
/// With `hold_final`, the final chunk is sealed and written only once the hash matched it
/// (`HashMismatch` otherwise): the streaming writer's guarantee that a payload that is not the
/// declared one leaves an envelope that can never open.
fn seal_payload<R: Read, W: Write>(
    key: &LessSafeKey,
    len: u64,
    input: &mut R,
    out: &mut W,
    hold_final: Option<&[u8; 32]>,
) -> Result<[u8; 32], EnvelopeError> {
    let chunks = chunk_count(len);
    let threaded = lane::worth_a_thread(len);
    let (slots, depth) = if threaded { (lane::BATCH_CHUNKS, lane::DEPTH) } else { (1, 1) };
    let holds_final = |b: &Batch| hold_final.is_some() && b.first + b.chunks as u64 == chunks;
    // The helper's share: every slot of a batch it just hashed, but a held final chunk.
    // (An error leaves the rest to the calling thread, which reports it.)
    let spare = |b: &mut Batch| {
        let to = b.chunks - usize::from(holds_final(b));
        let _ = seal_upto(key, chunks, b, to);
    };
    std::thread::scope(|scope| {
        let mut lane = Lane::start(scope, threaded, depth, spare);
        let mut pool: Vec<Batch> = Vec::with_capacity(depth);
        let mut outstanding = 0usize;
        let mut next = 0u64;
        let mut read = 0u64;
        let mut held: Option<Batch> = None;
        loop {
            // Read ahead: keep the hashing lane fed with up to `depth` batches.
            while outstanding < depth && next < chunks {
                let left = usize::try_from(chunks - next).unwrap_or(usize::MAX);
                let mut b = pool.pop().unwrap_or_else(|| Batch::new(slots.min(left)));
                b.first = next;
                b.chunks = 0;
                b.sealed = 0;
                while b.chunks < b.capacity() && next < chunks {
                    let plain_len = (len - read).min(CHUNK_SIZE as u64) as usize;
                    let j = b.chunks;
                    let got = read_full(input, &mut b.slot_mut(j)[..plain_len])?;
                    read += got as u64;
                    if got < plain_len {
                        return Err(EnvelopeError::LengthMismatch { declared: len, actual: read });
                    }
                    b.chunks += 1;
                    b.tail = plain_len;
                    next += 1;
                }
                if next == chunks {
                    // Nothing may follow the declared length.
                    let mut probe = [0u8; 1];
                    let extra = read_full(input, &mut probe)?;
                    if extra > 0 {
                        return Err(EnvelopeError::LengthMismatch {
                            declared: len,
                            actual: len + extra as u64,
                        });
                    }
                }
                lane.send(b)?;
                outstanding += 1;
            }
            if outstanding == 0 {
                break;
            }
            // The oldest batch, hashed (and maybe sealed by the helper): seal the rest, write.
            let mut b = lane.recv()?;
            outstanding -= 1;
            let held_back = holds_final(&b);
            let free = b.chunks - usize::from(held_back);
            seal_upto(key, chunks, &mut b, free)?;
            for j in 0..free {
                let start = j * lane::SLOT;
                out.write_all(&b.buf[start..start + b.plain_len(j) + TAG_LEN])?;
            }
            if held_back {
                held = Some(b);
            } else {
                pool.push(b);
            }
        }
        let sha = lane.finish()?;
        if let Some(expected) = hold_final {
            if sha != *expected {
                return Err(EnvelopeError::HashMismatch);
            }
            let Some(mut b) = held else {
                return Err(EnvelopeError::Crypto("final chunk missing"));
            };
            let j = b.chunks - 1;
            let plain_len = b.plain_len(j);
            out.write_all(seal_slot(key, chunks - 1, true, b.slot_mut(j), plain_len)?)?;
        }
        Ok(sha)
    })
}

/// Seal a payload read from `input` (of the declared length and hash) to `output`: the header
/// first, then the payload, chunk by chunk. The payload is hashed on a second thread while this
/// one encrypts, and the final chunk is written only once the payload matched the declared
/// length and hash. Any `Write` will do; for a file, [`seal_seekable`] needs no hash in advance.
pub fn seal<R: Read, W: Write>(
    req: SealRequest<'_>,
    rand: Randomness<'_>,
    mut input: R,
    mut output: W,
) -> Result<SealSummary, EnvelopeError> {
    let (plaintext_len, expect_sha256) = (req.plaintext_len, req.plaintext_sha256);
    let (s, summary) = begin_with_known_hash(req, rand, &mut output)?;
    seal_payload(&s.payload_key, plaintext_len, &mut input, &mut output, Some(&expect_sha256))?;
    output.flush()?;
    Ok(summary)
}

/// Start sealing a payload whose length and SHA-256 are known: the signed header goes out first.
fn begin_with_known_hash<'a, W: Write>(
    req: SealRequest<'a>,
    rand: Randomness<'_>,
    out: &mut W,
) -> Result<(Sealing<'a>, SealSummary), EnvelopeError> {
    let s = Sealing::begin(
        req.recipients,
        req.device,
        req.info,
        req.sealed_at_ms,
        req.plaintext_len,
        rand,
    )?;
    let (header, signature, summary) = s.header(req.plaintext_sha256)?;
    out.write_all(&header)?;
    out.write_all(&signature)?;
    Ok((s, summary))
}

/// Seal a payload read from `input` into a seekable `output` (a file; not opened for append)
/// in one pass, without knowing its SHA-256 first: the header's length is known in advance, so
/// the payload is encrypted at its place after the header while a second thread hashes it, and
/// the header — sealed metadata with the hash, signature — is written last, at the position
/// `output` had on entry. The bytes are those [`seal`] and [`seal_bytes`] give for the same
/// payload and randomness. `output` is left at the envelope's end.
///
/// If sealing fails (a short or long input, a hash that differs from `expect_sha256`, an I/O
/// error) the header is never written, so what was written is not an envelope; to leave
/// nothing at all behind, seal into a [`FileSink`] and commit it on success.
pub fn seal_seekable<R: Read, W: Write + Seek>(
    req: SeekableSealRequest<'_>,
    rand: Randomness<'_>,
    mut input: R,
    mut output: W,
) -> Result<SealSummary, EnvelopeError> {
    let s = Sealing::begin(
        req.recipients,
        req.device,
        req.info,
        req.sealed_at_ms,
        req.plaintext_len,
        rand,
    )?;
    let start = output.stream_position()?;
    output.seek(SeekFrom::Start(start + (s.header_len + SIGNATURE_LEN) as u64))?;
    let sha = seal_payload(&s.payload_key, req.plaintext_len, &mut input, &mut output, None)?;
    if req.expect_sha256.is_some_and(|e| e != sha) {
        return Err(EnvelopeError::HashMismatch);
    }
    let (header, signature, summary) = s.header(sha)?;
    output.seek(SeekFrom::Start(start))?;
    output.write_all(&header)?;
    output.write_all(&signature)?;
    output.seek(SeekFrom::Start(start + summary.envelope_len))?;
    output.flush()?;
    Ok(summary)
}

/// Seal bytes held in memory (a processed photo) and return the envelope. The payload is hashed
/// once (a borrowed slice cannot change, so there is nothing to check it against), its chunks
/// are encrypted straight into the envelope after the header's place, and the header is filled
/// in last.
pub fn seal_bytes(
    plaintext: &[u8],
    info: EvidenceInfo,
    recipients: &[RecipientKey],
    device: &dyn Signer,
    sealed_at_ms: i64,
    rand: Randomness<'_>,
) -> Result<(Vec<u8>, SealSummary), EnvelopeError> {
    let len = plaintext.len() as u64;
    let s = Sealing::begin(recipients, device, info, sealed_at_ms, len, rand)?;
    let body = s.header_len + SIGNATURE_LEN;
    let total = usize::try_from(envelope_len(s.header_len, len))
        .map_err(|_| EnvelopeError::PayloadTooLarge(len))?;
    let mut out = vec![0u8; total];
    let sha = seal_in_memory(&s.payload_key, plaintext, &mut out[body..])?;
    let (header, signature, summary) = s.header(sha)?;
    out[..s.header_len].copy_from_slice(&header);
    out[s.header_len..body].copy_from_slice(&signature);
    Ok((out, summary))
}

/// Encrypt `plaintext` into `payload` (exactly its sealed size) and return its SHA-256. From
/// 1 MiB up a helper thread hashes the whole payload while this thread encrypts chunks from
/// the front, then takes chunks from the back until the two meet: hashing and encrypting (and
/// the page faults of a fresh envelope) are shared between two cores.
fn seal_in_memory(
    key: &LessSafeKey,
    plaintext: &[u8],
    payload: &mut [u8],
) -> Result<[u8; 32], EnvelopeError> {
    let chunks = chunk_count(plaintext.len() as u64);
    let seal_one = |counter: u64, piece: &[u8], slot: &mut [u8]| -> Result<(), EnvelopeError> {
        slot[..piece.len()].copy_from_slice(piece);
        seal_slot(key, counter, counter + 1 == chunks, slot, piece.len()).map(|_| ())
    };
    if !lane::worth_a_thread(plaintext.len() as u64) {
        if plaintext.is_empty() {
            seal_one(0, &[], payload)?;
        }
        for (counter, (piece, slot)) in
            plaintext.chunks(CHUNK_SIZE).zip(payload.chunks_mut(lane::SLOT)).enumerate()
        {
            seal_one(counter as u64, piece, slot)?;
        }
        return Ok(super::photo::sha256(plaintext));
    }
    let jobs: std::collections::VecDeque<(u64, &[u8], &mut [u8])> = plaintext
        .chunks(CHUNK_SIZE)
        .zip(payload.chunks_mut(lane::SLOT))
        .enumerate()
        .map(|(i, (piece, slot))| (i as u64, piece, slot))
        .collect();
    let jobs = std::sync::Mutex::new(jobs);
    let work = |from_back: bool| -> Result<(), EnvelopeError> {
        loop {
            let job = {
                let mut q =
                    jobs.lock().map_err(|_| EnvelopeError::Crypto("sealing thread failed"))?;
                if from_back { q.pop_back() } else { q.pop_front() }
            };
            let Some((counter, piece, slot)) = job else { return Ok(()) };
            seal_one(counter, piece, slot)?;
        }
    };
    std::thread::scope(|scope| {
        let helper =
            std::thread::Builder::new().name("safehome-sha256".into()).spawn_scoped(scope, || {
                let sha = super::photo::sha256(plaintext);
                work(true).map(|()| sha)
            });
        work(false)?;
        match helper {
            Ok(h) => h.join().map_err(|_| EnvelopeError::Crypto("hashing thread stopped"))?,
            Err(_) => Ok(super::photo::sha256(plaintext)),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Reading

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
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
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

fn check_device(header: &Header, expect: Option<&DevicePublicKey>) -> Result<(), EnvelopeError> {
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
/// chunks can only be authenticated by a recipient ([`open`]).
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

/// Where [`open`] writes the payload: nothing written may be used until `commit` is called.
pub trait Sink: Write {
    /// Called once, after the final chunk and the sealed SHA-256 verified.
    fn commit(&mut self) -> io::Result<()>;
    /// Called when opening failed: throw away what was written.
    fn discard(&mut self);
}

/// A sink in memory whose bytes are handed out only once committed.
#[derive(Debug, Default)]
pub struct MemorySink {
    data: Vec<u8>,
    committed: bool,
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
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&temp) {
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
    /// For [`seal_seekable`], which writes the header last.
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

/// What opening established, besides the payload written to the sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub metadata: EvidenceMetadata,
    pub device: DevicePublicKey,
    pub recipients: usize,
    pub envelope_len: u64,
}

/// Open an envelope with `identity`: verify the signature (and the signer, if `expect_device`),
/// unwrap the file key, decrypt and check the metadata, then stream the payload into `sink`,
/// authenticating every chunk; commit the sink only after the final chunk, the absence of
/// trailing data and the sealed SHA-256 all verified. On any error the sink is discarded.
pub fn open<R: Read, S: Sink>(
    r: R,
    identity: &Identity,
    expect_device: Option<&DevicePublicKey>,
    sink: &mut S,
) -> Result<Opened, EnvelopeError> {
    let result = open_inner(r, identity, expect_device, sink);
    match result {
        Ok(o) => match sink.commit() {
            Ok(()) => Ok(o),
            Err(e) => {
                sink.discard();
                Err(e.into())
            }
        },
        Err(e) => {
            sink.discard();
            Err(e)
        }
    }
}

/// Find the stanza this identity opens and unwrap the file key.
fn unwrap_file_key(
    header: &Header,
    identity: &Identity,
) -> Result<Zeroizing<[u8; 32]>, EnvelopeError> {
    let me = identity.recipient();
    for (stanza, (share, wrapped)) in header.stanzas.iter().enumerate() {
        let shared = identity.agree(share).ok_or(EnvelopeError::LowOrderPoint { stanza })?;
        let key = wrap_key(&shared[..], share, me.as_bytes())?;
        let mut buf = Zeroizing::new(*wrapped);
        if let Ok(plain) =
            key.open_in_place(Nonce::assume_unique_for_key(ZERO_NONCE), Aad::empty(), &mut buf[..])
        {
            let mut file_key = Zeroizing::new([0u8; 32]);
            file_key.copy_from_slice(plain);
            return Ok(file_key);
        }
    }
    Err(EnvelopeError::NotARecipient)
}

fn open_inner<R: Read, S: Sink>(
    mut r: R,
    identity: &Identity,
    expect_device: Option<&DevicePublicKey>,
    sink: &mut S,
) -> Result<Opened, EnvelopeError> {
    let header = read_header(&mut r)?;
    check_device(&header, expect_device)?;
    let file_key = unwrap_file_key(&header, identity)?;

    let meta_key = aead_key(&hkdf_sha256(&header.salt, &file_key[..], LABEL_METADATA)?[..])?;
    let mut meta = Zeroizing::new(header.raw[header.metadata_start..].to_vec());
    let plain = meta_key
        .open_in_place(Nonce::assume_unique_for_key(ZERO_NONCE), Aad::empty(), &mut meta[..])
        .map_err(|_| EnvelopeError::MetadataAuthFailed)?;
    let metadata: EvidenceMetadata =
        serde_json::from_slice(plain).map_err(|e| EnvelopeError::BadMetadata(e.to_string()))?;
    if metadata.device != header.device {
        return Err(EnvelopeError::DeviceKeyMismatch);
    }
    if metadata.plaintext_len != header.payload_len {
        return Err(EnvelopeError::MetadataMismatch("payload length"));
    }

    let key = aead_key(&hkdf_sha256(&header.salt, &file_key[..], LABEL_PAYLOAD)?[..])?;
    drop(file_key);
    let sha = open_payload(&key, header.payload_len, &mut r, sink)?;
    if sha != metadata.plaintext_sha256 {
        return Err(EnvelopeError::HashMismatch);
    }
    sink.flush()?;
    Ok(Opened {
        device: header.device,
        recipients: header.stanzas.len(),
        envelope_len: header.envelope_len(),
        metadata,
    })
}

/// Read, authenticate and decrypt the payload chunk by chunk (every read asks for at most one
/// chunk and its tag), writing each chunk's plaintext to `sink` once it authenticated, while a
/// [`Lane`] hashes the plaintext beside; then check that nothing follows the final chunk.
/// Returns the payload's SHA-256, which the caller compares with the sealed one.
fn open_payload<R: Read, W: Write>(
    key: &LessSafeKey,
    len: u64,
    r: &mut R,
    sink: &mut W,
) -> Result<[u8; 32], EnvelopeError> {
    let chunks = chunk_count(len);
    let threaded = lane::worth_a_thread(len);
    let (slots, depth) = if threaded { (lane::BATCH_CHUNKS, lane::DEPTH) } else { (1, 1) };
    std::thread::scope(|scope| {
        let mut lane = Lane::start(scope, threaded, depth, |_: &mut Batch| {});
        let mut outstanding = 0usize;
        let mut next = 0u64;
        let mut left = len;
        while next < chunks {
            let mut b = if outstanding < depth {
                let rest = usize::try_from(chunks - next).unwrap_or(usize::MAX);
                Batch::new(slots.min(rest))
            } else {
                outstanding -= 1;
                lane.recv()?
            };
            b.first = next;
            b.chunks = 0;
            while b.chunks < b.capacity() && next < chunks {
                let plain_len = left.min(CHUNK_SIZE as u64) as usize;
                let want = plain_len + TAG_LEN;
                let j = b.chunks;
                let slot = &mut b.slot_mut(j)[..want];
                if read_full(r, slot)? < want {
                    return Err(EnvelopeError::Truncated { section: "payload", chunk: Some(next) });
                }
                let last = next + 1 == chunks;
                let plain = key
                    .open_in_place(chunk_nonce(next, last), Aad::empty(), slot)
                    .map_err(|_| EnvelopeError::ChunkAuthFailed { chunk: next })?;
                sink.write_all(plain)?;
                b.chunks += 1;
                b.tail = plain_len;
                next += 1;
                left -= plain_len as u64;
            }
            lane.send(b)?;
            outstanding += 1;
        }
        let mut probe = [0u8; 1];
        if read_full(r, &mut probe)? > 0 {
            return Err(EnvelopeError::TrailingData);
        }
        lane.finish()
    })
}

/// Open an envelope held in memory; the payload is returned only if everything verified.
pub fn open_bytes(
    envelope: &[u8],
    identity: &Identity,
    expect_device: Option<&DevicePublicKey>,
) -> Result<(Vec<u8>, Opened), EnvelopeError> {
    // The payload is shorter than the envelope: one allocation, no regrowth.
    let mut sink = MemorySink { data: Vec::with_capacity(envelope.len()), committed: false };
    let opened = open(envelope, identity, expect_device, &mut sink)?;
    let data = sink.into_committed().ok_or(EnvelopeError::Crypto("sink not committed"))?;
    Ok((data, opened))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::clock::SeededEntropy;

    fn info() -> EvidenceInfo {
        EvidenceInfo {
            evidence_id: "00000000-0000-4000-8000-000000000001".into(),
            content_type: "application/octet-stream".into(),
            ..EvidenceInfo::default()
        }
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    #[test]
    fn round_trip_both_randomness_paths() {
        let e = SeededEntropy::new(1);
        let id = Identity::generate(&e);
        let device = DeviceSigningKey::generate(&e).unwrap();
        for len in [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE] {
            let p = payload(len);
            for rand in [Randomness::System, Randomness::Injected(&e)] {
                let (env, s) = seal_bytes(&p, info(), &[id.recipient()], &device, 5, rand).unwrap();
                assert_eq!(env.len() as u64, s.envelope_len);
                assert_eq!(s.chunks, chunk_count(len as u64));
                let (out, opened) = open_bytes(&env, &id, Some(&device.public())).unwrap();
                assert_eq!(out, p);
                assert_eq!(opened.metadata.plaintext_len, len as u64);
                let v = verify(&env[..], Some(&device.public())).unwrap();
                assert_eq!(v.envelope_len, env.len() as u64);
                assert_eq!(v.header_sha256, s.header_sha256);
            }
        }
    }

    /// An attacker who holds the payload key (a recipient) re-flags the full final chunk as
    /// non-final and appends an empty final chunk: the signed length still names the old final
    /// chunk, which no longer authenticates as final.
    #[test]
    fn empty_final_chunk_after_data_is_refused_even_with_the_key() {
        let e = SeededEntropy::new(2);
        let id = Identity::generate(&e);
        let device = DeviceSigningKey::generate(&e).unwrap();
        let p = payload(2 * CHUNK_SIZE);
        let seed = 77;
        let (env, s) = seal_bytes(
            &p,
            info(),
            &[id.recipient()],
            &device,
            5,
            Randomness::Injected(&SeededEntropy::new(seed)),
        )
        .unwrap();
        // The injected stream gives the file key, then the salt.
        let replay = SeededEntropy::new(seed);
        let mut file_key = [0u8; 32];
        let mut salt = [0u8; 16];
        replay.fill(&mut file_key);
        replay.fill(&mut salt);
        let key = aead_key(&hkdf_sha256(&salt, &file_key, LABEL_PAYLOAD).unwrap()[..]).unwrap();
        let body = s.header_len + SIGNATURE_LEN;
        let c1 = body + CHUNK_SIZE + TAG_LEN;
        // Sanity: the derived key opens the real final chunk.
        let mut real = env[c1..].to_vec();
        assert!(key.open_in_place(chunk_nonce(1, true), Aad::empty(), &mut real).is_ok());

        let mut chunk1 = p[CHUNK_SIZE..].to_vec();
        let tag = key
            .seal_in_place_separate_tag(chunk_nonce(1, false), Aad::empty(), &mut chunk1)
            .unwrap();
        chunk1.extend_from_slice(tag.as_ref());
        let mut empty = Vec::new();
        let tag =
            key.seal_in_place_separate_tag(chunk_nonce(2, true), Aad::empty(), &mut empty).unwrap();
        empty.extend_from_slice(tag.as_ref());
        let mut forged = env[..c1].to_vec();
        forged.extend_from_slice(&chunk1);
        forged.extend_from_slice(&empty);
        match open_bytes(&forged, &id, None) {
            Err(EnvelopeError::ChunkAuthFailed { chunk: 1 }) => {}
            other => panic!("{other:?}"),
        }
    }

    /// A sealer that signs a hash the payload does not have (it holds both the device key and
    /// the file key, so every chunk authenticates) is caught at the end: `HashMismatch`, and
    /// nothing is committed — for payloads hashed inline and on the helper thread alike.
    #[test]
    fn a_sealed_hash_that_the_payload_does_not_have_is_refused() {
        let e = SeededEntropy::new(4);
        let id = Identity::generate(&e);
        let device = DeviceSigningKey::generate(&e).unwrap();
        for len in [10, 3 * CHUNK_SIZE, 2 << 20] {
            let p = payload(len);
            let s = Sealing::begin(
                &[id.recipient()],
                &device,
                info(),
                5,
                len as u64,
                Randomness::System,
            )
            .unwrap();
            let mut wrong = crate::evidence::photo::sha256(&p);
            wrong[31] ^= 1;
            let (header, signature, _) = s.header(wrong).unwrap();
            let mut env = header;
            env.extend_from_slice(&signature);
            let sha =
                seal_payload(&s.payload_key, len as u64, &mut &p[..], &mut env, None).unwrap();
            assert_eq!(sha, crate::evidence::photo::sha256(&p));
            let mut sink = MemorySink::new();
            let r = open(&env[..], &id, None, &mut sink);
            assert!(matches!(r, Err(EnvelopeError::HashMismatch)), "{len}: {r:?}");
            assert!(sink.into_committed().is_none());
            // Keyless verification cannot tell: it never sees the plaintext.
            assert!(verify(&env[..], Some(&device.public())).is_ok());
        }
    }

    /// A reader slow enough that the helper thread is always ahead, so it seals every batch it
    /// hashes (but a held final chunk): the bytes are those of a sealer that does all the
    /// encryption on one thread.
    #[test]
    fn chunks_sealed_by_the_helper_are_the_same_bytes() {
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                std::thread::sleep(std::time::Duration::from_micros(300));
                let n = buf.len().min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let len = (1 << 20) + 3 * CHUNK_SIZE + 17;
        let p = payload(len);
        let key = aead_key(&[9u8; 32]).unwrap();
        let mut expected = vec![0u8; envelope_len(0, len as u64) as usize - SIGNATURE_LEN];
        let sha = seal_in_memory(&key, &p, &mut expected).unwrap();
        for hold in [None, Some(&sha)] {
            let mut out = Vec::new();
            let got = seal_payload(&key, len as u64, &mut Slow(&p), &mut out, hold).unwrap();
            assert_eq!(got, sha);
            assert!(out == expected, "hold_final: {}", hold.is_some());
        }
    }

    #[test]
    fn writer_refuses_wrong_length_or_hash() {
        let e = SeededEntropy::new(3);
        let id = Identity::generate(&e);
        let device = DeviceSigningKey::generate(&e).unwrap();
        let r = [id.recipient()];
        let req = |len, sha| SealRequest {
            recipients: &r,
            device: &device,
            info: info(),
            sealed_at_ms: 0,
            plaintext_len: len,
            plaintext_sha256: sha,
        };
        let p = payload(10);
        let sha = crate::evidence::photo::sha256(&p);
        let mut w = EnvelopeWriter::new(req(9, sha), Randomness::Injected(&e), Vec::new()).unwrap();
        assert!(matches!(
            w.update(&p),
            Err(EnvelopeError::LengthMismatch { declared: 9, actual: 10 })
        ));
        let mut w =
            EnvelopeWriter::new(req(11, sha), Randomness::Injected(&e), Vec::new()).unwrap();
        w.update(&p).unwrap();
        assert!(matches!(
            w.finish(),
            Err(EnvelopeError::LengthMismatch { declared: 11, actual: 10 })
        ));
        let mut w =
            EnvelopeWriter::new(req(10, [0u8; 32]), Randomness::Injected(&e), Vec::new()).unwrap();
        w.update(&p).unwrap();
        assert!(matches!(w.finish(), Err(EnvelopeError::HashMismatch)));
        assert!(matches!(
            EnvelopeWriter::new(
                SealRequest { recipients: &[], ..req(10, sha) },
                Randomness::System,
                Vec::new()
            ),
            Err(EnvelopeError::BadRecipientCount(0))
        ));
    }
}
