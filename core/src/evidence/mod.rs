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
