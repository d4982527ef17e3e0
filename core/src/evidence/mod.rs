//! Photo evidence: the photo pipeline ([`photo`]) that makes a camera photo upright, small and
//! free of metadata, and the sealed evidence envelope ([`envelope`]) that encrypts it to the
//! team's recipients and signs it with the device key. Neither touches the store; the byte
//! format is documented in `docs/envelope.md`.

pub mod bech32;
pub mod envelope;
pub mod exif;
// The fuzz targets' bodies are for fuzz/ and the proptests only: not part of an app build.
#[cfg(feature = "test-hooks")]
pub mod fuzzing;
pub mod jpeg;
pub mod keys;
pub mod meta;
pub mod photo;

pub use envelope::{EnvelopeError, Randomness, Sink};
pub use exif::{ExifFacts, ExifStatus, GpsPoint};
pub use keys::{DevicePublicKey, DeviceSigningKey, Identity, KeyError, KeyKind, RecipientKey};
pub use meta::{EvidenceInfo, EvidenceMetadata};
pub use photo::{PhotoError, PhotoFormat, PhotoOptions, ProcessedPhoto};

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// 32 bytes from 64 hex digits (either case).
pub fn unhex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let val = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = val(b[2 * i])? << 4 | val(b[2 * i + 1])?;
    }
    Some(out)
}

/// Serde helper: `[u8; 32]` as 64 hex digits.
pub(crate) mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        super::unhex32(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}
