//! The bodies of the protocol's fuzz targets (`fuzz/fuzz_targets/protocol_reader.rs`), kept
//! here so that `core/tests/sync_fuzz.rs` runs the same code on stable in CI. These are the
//! readers of bytes a server takes from any client, and a phone from any server: each must
//! return normally for every input. Not an API.

use serde_json::Value as Json;

use super::protocol::{
    ROUTING_SCHEMA, Receipt, RequestAuth, RoutingEvidence, RoutingForm, RoutingHeader,
    SubmissionBody, TeamConfig, server_public,
};
use crate::evidence::keys::DeviceSigningKey;

/// A valid submission body to mutate, with `envelope` as its (unchecked) envelope bytes.
pub fn valid_submission(envelope: &[u8]) -> Vec<u8> {
    let Ok(key) = DeviceSigningKey::from_seed([9u8; 32]) else { return Vec::new() };
    let routing = RoutingHeader {
        schema: ROUTING_SCHEMA.into(),
        record_id: "00000000-0000-4000-8000-000000000001".into(),
        kind: "visit".into(),
        form: RoutingForm { id: "household_screening".into(), version: "1".into() },
        team: "tn".into(),
        commune: Some("19001".into()),
        household_code: Some("19001-0001".into()),
        risk_level: Some("urgent".into()),
        due_at_ms: Some(1),
        finalized_at_ms: 0,
        clock_offset_ms: -3,
        device_id: "d".into(),
        revision: 1,
        revision_of: None,
        envelope_sha256: String::new(),
        envelope_len: 0,
        evidence: vec![RoutingEvidence { id: "e".into(), sha256: "00".repeat(32), len: 7 }],
    };
    SubmissionBody::build(routing, envelope.to_vec(), &key).map(|b| b.encode()).unwrap_or_default()
}

/// Every reader of protocol bytes on `data`: the submission body (what a server decodes first),
/// request signing headers, and signed receipts and configurations (what a phone reads).
pub fn protocol_reader(data: &[u8]) {
    if let Ok(body) = SubmissionBody::decode(data) {
        // The format has one encoding: what decodes re-encodes to the same bytes.
        assert_eq!(body.encode(), data, "a submission body that does not re-encode");
        if let Ok(key) = DeviceSigningKey::from_seed([9u8; 32]) {
            let _ = body.verify(&key.public());
        }
    }
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\n');
    let fields: Vec<String> = (0..5).map(|_| parts.next().unwrap_or("").to_string()).collect();
    if let Ok(Some(auth)) = RequestAuth::from_headers(|name| {
        let i = match name {
            "SafeHome-Device" => 0,
            "SafeHome-Time" => 1,
            "SafeHome-Nonce" => 2,
            "SafeHome-Content-SHA256" => 3,
            _ => 4,
        };
        Some(fields[i].clone())
    }) {
        if let Ok(key) = DeviceSigningKey::from_seed([9u8; 32]) {
            let _ = auth.verify(&key.public(), "PUT", "/v1/submissions/x", data);
        }
    }
    if let Ok(doc) = serde_json::from_slice::<Json>(data) {
        if let Ok(key) = DeviceSigningKey::from_seed([7u8; 32]) {
            let _ = Receipt::verify(&doc, &server_public(&key));
            let _ = TeamConfig::verify(&doc, &server_public(&key));
        }
        let _ = TeamConfig::verify_first(&doc, None);
    }
}
