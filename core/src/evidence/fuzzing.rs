//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly), kept here so that the
//! proptests in `core/tests/evidence_fuzz.rs` run the very same code on stable in CI. Each body
//! must return normally for every input; its assertions state what must hold when the input is
//! accepted. Not an API.

use super::envelope::{self, Randomness};
use super::jpeg;
use super::keys::{DeviceSigningKey, Identity};
use super::meta::EvidenceInfo;
use super::photo::{self, PhotoOptions};
use crate::clock::SeededEntropy;

/// The identity the envelope target opens with.
pub fn fuzz_identity() -> Identity {
    Identity::from_bytes([7u8; 32])
}

/// An envelope to `fuzz_identity()` with a payload from `seed_payload`, for mutation.
pub fn valid_envelope(seed_payload: &[u8]) -> Vec<u8> {
    let id = fuzz_identity();
    let Ok(device) = DeviceSigningKey::from_seed([9u8; 32]) else { return Vec::new() };
    let e = SeededEntropy::new(seed_payload.len() as u64);
    let info = EvidenceInfo {
        evidence_id: "00000000-0000-4000-8000-00000000f022".into(),
        content_type: "application/octet-stream".into(),
        ..EvidenceInfo::default()
    };
    envelope::seal_bytes(
        seed_payload,
        info,
        &[id.recipient()],
        &device,
        0,
        Randomness::Injected(&e),
    )
    .map(|(env, _)| env)
    .unwrap_or_default()
}

/// Envelope reader. Input byte 0 picks the mode: even, the rest is read as an envelope; odd, a
/// valid envelope is built (payload from bytes 1..=`len`, `len` from byte 1) and then mutated by
/// the remaining bytes, read as (position: u16 BE, xor: u8) triples; a final lone byte truncates.
pub fn envelope_reader(data: &[u8]) {
    let bytes = match data.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => {
            let len = usize::from(rest.first().copied().unwrap_or(0)) * 600;
            let payload: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(29)).collect();
            let mut env = valid_envelope(&payload);
            let muts = rest.get(1..).unwrap_or(&[]);
            for m in muts.chunks(3) {
                match m {
                    [a, b, x] if !env.is_empty() => {
                        let at = usize::from(u16::from_be_bytes([*a, *b])) % env.len();
                        env[at] ^= *x;
                    }
                    [cut] | [cut, _] => {
                        let keep = env.len() * usize::from(*cut) / 256;
                        env.truncate(keep);
                    }
                    _ => {}
                }
            }
            env
        }
        _ => data.get(1..).unwrap_or(&[]).to_vec(),
    };
    let id = fuzz_identity();
    let _ = envelope::read_header(&mut &bytes[..]);
    let verified = envelope::verify(&bytes[..], None);
    if let Ok((payload, opened)) = envelope::open_bytes(&bytes, &id, None) {
        assert_eq!(payload.len() as u64, opened.metadata.plaintext_len);
        assert_eq!(photo::sha256(&payload), opened.metadata.plaintext_sha256);
        assert_eq!(opened.metadata.device, opened.device);
        // What opens also verifies without keys.
        assert!(verified.is_ok());
    }
}

/// Small limits so that one fuzz case stays cheap.
pub fn fuzz_photo_options() -> PhotoOptions {
    PhotoOptions {
        max_pixels: 256,
        thumbnail_pixels: 64,
        max_megapixels: 4,
        // 16 MiB of the pipeline's fixed overhead, and room for the seeds' pixels.
        memory_budget: 48 << 20,
        ..PhotoOptions::default()
    }
}

/// Photo pipeline: any bytes are processed or refused; what is produced is a whole,
/// metadata-free JPEG within the size limits.
pub fn photo_pipeline(data: &[u8]) {
    let opts = fuzz_photo_options();
    if let Ok(p) = photo::process(data, &opts) {
        assert!(p.width.max(p.height) <= opts.max_pixels);
        assert!(p.thumbnail_width.max(p.thumbnail_height) <= opts.thumbnail_pixels);
        for out in [&p.jpeg, &p.thumbnail] {
            let layout = jpeg::parse(out);
            assert!(layout.as_ref().is_ok_and(|l| l.metadata_segments().next().is_none()));
        }
        assert_eq!(photo::sha256(&p.jpeg), p.sha256);
    }
}
