//! The envelope's constants (magic, version, suite, sizes, limits, labels), its error type, the
//! randomness and signer that sealing takes, and the key derivation and AEAD helpers that
//! sealing and opening share. `docs/envelope.md` specifies the bytes.

use std::io;

use ring::aead::{AES_256_GCM, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::clock::Entropy;
use crate::evidence::keys::{DevicePublicKey, DeviceSigningKey};

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
    pub(super) fn fill(&self, rng: &SystemRandom, buf: &mut [u8]) -> Result<(), EnvelopeError> {
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

pub(super) fn aead_key(key: &[u8]) -> Result<LessSafeKey, EnvelopeError> {
    let k = UnboundKey::new(&AES_256_GCM, key).map_err(|_| EnvelopeError::Crypto("aes key"))?;
    Ok(LessSafeKey::new(k))
}

pub(super) fn wrap_key(
    shared: &[u8],
    share: &[u8; 32],
    recipient: &[u8; 32],
) -> Result<LessSafeKey, EnvelopeError> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(share);
    salt[32..].copy_from_slice(recipient);
    aead_key(&hkdf_sha256(&salt, shared, LABEL_WRAP)?[..])
}

pub(super) const ZERO_NONCE: [u8; 12] = [0u8; 12];

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
