//! The metadata sealed inside every envelope (encrypted with the file key, signed as part of the
//! header). Serialised as one compact JSON object whose fields appear in the order below.

use serde::{Deserialize, Serialize};

use super::exif::GpsPoint;
use super::keys::DevicePublicKey;
use super::photo::{OUTPUT_CONTENT_TYPE, ProcessedPhoto};

/// What the caller knows about a piece of evidence before it is sealed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvidenceInfo {
    /// A UUID naming this piece of evidence (the store's attachment id).
    pub evidence_id: String,
    /// MIME type of the payload (`image/jpeg` for processed photos).
    pub content_type: String,
    /// When the photo was taken, if known (EXIF time with offset, or GPS time).
    pub captured_at_ms: Option<i64>,
    /// Where, from the original's EXIF. Kept only inside the envelope.
    pub gps: Option<GpsPoint>,
    /// SHA-256 of the original file, before processing.
    pub original_sha256: Option<[u8; 32]>,
    /// Pixel size of the payload, for images.
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl EvidenceInfo {
    /// The info of a processed photo.
    pub fn for_photo(evidence_id: impl Into<String>, photo: &ProcessedPhoto) -> Self {
        EvidenceInfo {
            evidence_id: evidence_id.into(),
            content_type: OUTPUT_CONTENT_TYPE.to_string(),
            captured_at_ms: photo.exif.captured_at_ms,
            gps: photo.exif.gps,
            original_sha256: Some(photo.original.sha256),
            width: Some(photo.width),
            height: Some(photo.height),
        }
    }
}

/// The sealed metadata, as recovered by a recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceMetadata {
    pub evidence_id: String,
    pub content_type: String,
    pub captured_at_ms: Option<i64>,
    pub sealed_at_ms: i64,
    pub plaintext_len: u64,
    #[serde(with = "crate::hex::serde32")]
    pub plaintext_sha256: [u8; 32],
    #[serde(with = "crate::hex::serde_opt32")]
    pub original_sha256: Option<[u8; 32]>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub gps: Option<GpsPoint>,
    /// The device that sealed the envelope (`shdevice1…`); must equal the header's key.
    #[serde(with = "device_text")]
    pub device: DevicePublicKey,
}

impl EvidenceMetadata {
    pub fn new(
        info: EvidenceInfo,
        sealed_at_ms: i64,
        plaintext_len: u64,
        plaintext_sha256: [u8; 32],
        device: DevicePublicKey,
    ) -> Self {
        EvidenceMetadata {
            evidence_id: info.evidence_id,
            content_type: info.content_type,
            captured_at_ms: info.captured_at_ms,
            sealed_at_ms,
            plaintext_len,
            plaintext_sha256,
            original_sha256: info.original_sha256,
            width: info.width,
            height: info.height,
            gps: info.gps,
            device,
        }
    }

    /// The compact JSON that is sealed.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Pretty JSON for people (the CLI's `--meta` file).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

mod device_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::DevicePublicKey;

    pub fn serialize<S: Serializer>(v: &DevicePublicKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DevicePublicKey, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
