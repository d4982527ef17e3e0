//! The wire types of the supervisor's loop (docs/protocol.md, "Review"): the team's submission
//! index a supervisor pulls, a supervisor's decision (a signed header the server routes by, and
//! an envelope only the originating device and the team's recipients can open), the server's
//! signed decision receipt, and the decision feed a device syncs down.

use serde::{Deserialize, Serialize};

use super::{
    Frame, ProtocolError, canonical_header, frame, malformed, sha256_hex, sign_document, unframe,
    verify_document,
};
use crate::canonical;
use crate::evidence::keys::{DevicePublicKey, DeviceSigningKey, ServerPublicKey};

/// Content type of a decision body.
pub const DECISION_CONTENT_TYPE: &str = "application/vnd.safehome.decision";
/// The content type sealed inside a decision's envelope (its canonical JSON).
pub const DECISION_ENVELOPE_TYPE: &str = "application/vnd.safehome.decision+json";
pub const DECISION_SCHEMA: &str = "safehome.decision.v1";
pub const DECISION_RECEIPT_SCHEMA: &str = "safehome.decision-receipt.v1";
/// The largest decision body a server accepts (a comment per question of a long form fits).
pub const MAX_DECISION_BODY: usize = 256 << 10;
/// The most items a page of the team index or of the decision feed carries.
pub const MAX_PAGE: usize = 500;
/// A page of the decision feed stops adding items past this many bytes of bodies, so that it
/// stays under the client's JSON limit.
pub const FEED_PAGE_BYTES: usize = 128 << 10;

const DECISION_LABEL: &[u8] = b"safehome-decision-v1\n";
const DECISION_RECEIPT_LABEL: &[u8] = b"safehome-decision-receipt-v1\n";
const DECISION_MAGIC: &[u8; 6] = b"SHDEC\x01";

/// What a supervisor decides about a record (defined once, with the store's column).
pub use crate::store::decisions::{DecisionContent, DecisionKind, HouseholdMerge, QuestionComment};

/// All the server learns about a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionHeader {
    pub schema: String,
    pub decision_id: String,
    /// The record decided on.
    pub record_id: String,
    /// The envelope SHA-256 of the record as the supervisor saw it.
    pub record_envelope_sha256: String,
    pub team: String,
    /// The supervisor's device.
    pub device_id: String,
    pub kind: DecisionKind,
    /// For a verdict: the record's current verdict as the supervisor saw it (`None`: none yet).
    pub base: Option<String>,
    /// The supervisor device's clock, plus its known offset to the server's.
    pub decided_at_ms: i64,
    /// For `act`: when the action was taken, as the supervisor states it. In the header
    /// because the district's console audits the 12-hour rule from it; what was done stays
    /// in the envelope.
    pub action_at_ms: Option<i64>,
    /// For a merge, and only a merge: the household codes (the decided record's household, and
    /// the one it is merged into). Absent from every other decision, so their bytes are as
    /// before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<HouseholdMerge>,
    pub envelope_sha256: String,
    pub envelope_len: i64,
}

impl DecisionHeader {
    pub fn to_canonical(&self) -> Result<Vec<u8>, ProtocolError> {
        let value = serde_json::to_value(self).map_err(|e| malformed("decision", e.to_string()))?;
        canonical::to_vec(&value).map_err(|e| malformed("decision", e.to_string()))
    }
}

/// A decision as sent: header, the supervisor device's signature over it, the sealed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionBody {
    pub header_bytes: Vec<u8>,
    pub header: DecisionHeader,
    pub signature: [u8; 64],
    pub envelope: Vec<u8>,
}

impl DecisionBody {
    /// Build and sign a body; the header's envelope hash and length are set from `envelope`.
    pub fn build(
        mut header: DecisionHeader,
        envelope: Vec<u8>,
        device: &DeviceSigningKey,
    ) -> Result<DecisionBody, ProtocolError> {
        header.envelope_sha256 = sha256_hex(&envelope);
        header.envelope_len = envelope.len() as i64;
        let header_bytes = header.to_canonical()?;
        let signature = device.sign(&labelled(&header_bytes));
        Ok(DecisionBody { header_bytes, header, signature, envelope })
    }

    pub fn encode(&self) -> Vec<u8> {
        frame(DECISION_MAGIC, &self.header_bytes, &self.signature, &self.envelope)
    }

    /// Parse a body (structure and header shape; no signature checked yet).
    pub fn decode(bytes: &[u8]) -> Result<DecisionBody, ProtocolError> {
        let Frame { header, signature, envelope } = unframe(
            bytes,
            DECISION_MAGIC,
            "a SafeHome decision (SHDEC, version 1)",
            ("header_len", "decision"),
        )?;
        let parsed: DecisionHeader = canonical_header(header, "decision")?;
        if parsed.schema != DECISION_SCHEMA {
            return Err(malformed("decision.schema", format!("expected {DECISION_SCHEMA}")));
        }
        // A merge names its two households, and nothing else does: a merge without them could
        // not be applied, and codes on another kind would be applied as nothing.
        match (&parsed.merge, parsed.kind) {
            (None, DecisionKind::Merge) => {
                return Err(malformed("decision.merge", "a merge names its two households"));
            }
            (Some(_), k) if k != DecisionKind::Merge => {
                return Err(malformed("decision.merge", "only a merge names households"));
            }
            (Some(m), _) => {
                if let Err(e) = m.check() {
                    return Err(malformed("decision.merge", e.to_string()));
                }
            }
            (None, _) => {}
        }
        Ok(DecisionBody {
            header_bytes: header.to_vec(),
            header: parsed,
            signature,
            envelope: envelope.to_vec(),
        })
    }

    /// The header's signature under the deciding device's key, and its envelope hash and length.
    pub fn verify(&self, device: &DevicePublicKey) -> Result<(), ProtocolError> {
        if !device.verify(&labelled(&self.header_bytes), &self.signature) {
            return Err(ProtocolError::BadSignature { what: "decision header" });
        }
        if self.header.envelope_len != self.envelope.len() as i64 {
            return Err(malformed("decision.envelope_len", "does not match the envelope"));
        }
        if self.header.envelope_sha256 != sha256_hex(&self.envelope) {
            return Err(malformed("decision.envelope_sha256", "does not match the envelope"));
        }
        Ok(())
    }
}

fn labelled(header: &[u8]) -> Vec<u8> {
    let mut message = DECISION_LABEL.to_vec();
    message.extend_from_slice(header);
    message
}

/// The server's receipt for a decision: it is stored, with its place in the team's feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionReceipt {
    pub schema: String,
    pub decision_id: String,
    pub record_id: String,
    pub envelope_sha256: String,
    pub seq: i64,
    pub received_at_ms: i64,
    pub issued_at_ms: i64,
}

impl DecisionReceipt {
    pub fn sign(&self, server: &DeviceSigningKey) -> Result<serde_json::Value, ProtocolError> {
        sign_document(server, DECISION_RECEIPT_LABEL, "decision_receipt", self)
    }

    pub fn verify(
        document: &serde_json::Value,
        server: &ServerPublicKey,
    ) -> Result<DecisionReceipt, ProtocolError> {
        let r: DecisionReceipt =
            verify_document(server, DECISION_RECEIPT_LABEL, "decision_receipt", document)?;
        if r.schema != DECISION_RECEIPT_SCHEMA {
            return Err(malformed(
                "decision_receipt.schema",
                format!("expected {DECISION_RECEIPT_SCHEMA}"),
            ));
        }
        Ok(r)
    }
}

/// Where a record stands on the server, as a `409` about a decision reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordStanding {
    pub record_id: String,
    /// The current verdict: its decision id, kind and deciding device.
    pub verdict: Option<StandingVerdict>,
    /// The revision that replaced the record, if any.
    pub superseded_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandingVerdict {
    pub decision_id: String,
    pub kind: DecisionKind,
    pub device_id: String,
    pub decided_at_ms: i64,
}

/// One line of `GET /v1/team/submissions`: what a supervisor needs to order its pull (urgent
/// first, then the newest). The body, fetched next, is what is verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexItem {
    pub seq: i64,
    pub record_id: String,
    pub device_id: String,
    pub kind: String,
    pub risk_level: Option<String>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: i64,
    pub received_at_ms: i64,
    /// Body bytes, and the bytes of its evidence.
    pub body_len: i64,
    pub evidence_len: i64,
}

/// A page of the team index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPage {
    pub items: Vec<IndexItem>,
    /// The cursor for the next page (the last item's `seq`, or the request's).
    pub next_after: i64,
    pub more: bool,
}

/// One decision of the feed: the body as the deciding device sent it (base64), and the server's
/// sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedItem {
    pub seq: i64,
    pub received_at_ms: i64,
    pub body: String,
}

/// A page of `GET /v1/decisions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    pub next_after: i64,
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededEntropy;

    fn header() -> DecisionHeader {
        DecisionHeader {
            schema: DECISION_SCHEMA.into(),
            decision_id: "d-1".into(),
            record_id: "r-1".into(),
            record_envelope_sha256: "ab".repeat(32),
            team: "tn".into(),
            device_id: "dev-s".into(),
            kind: DecisionKind::Return,
            base: None,
            decided_at_ms: 1_700_000_000_000,
            action_at_ms: None,
            merge: None,
            envelope_sha256: String::new(),
            envelope_len: 0,
        }
    }

    #[test]
    fn a_decision_round_trips_and_its_signature_binds_every_byte() {
        let key = DeviceSigningKey::generate(&SeededEntropy::new(7)).unwrap();
        let body = DecisionBody::build(header(), b"sealed".to_vec(), &key).unwrap();
        let bytes = body.encode();
        let back = DecisionBody::decode(&bytes).unwrap();
        assert_eq!(back, body);
        back.verify(&key.public()).unwrap();
        // Another key, a changed envelope, a changed header: each refused.
        let other = DeviceSigningKey::generate(&SeededEntropy::new(8)).unwrap();
        assert!(matches!(back.verify(&other.public()), Err(ProtocolError::BadSignature { .. })));
        let mut tail = bytes.clone();
        *tail.last_mut().unwrap() ^= 1;
        assert!(DecisionBody::decode(&tail).unwrap().verify(&key.public()).is_err());
        let mut kind = body.clone();
        kind.header_bytes = String::from_utf8(kind.header_bytes)
            .unwrap()
            .replace("\"return\"", "\"approve\"")
            .into_bytes();
        assert!(kind.verify(&key.public()).is_err());
        // A submission's magic is not a decision's.
        let mut sub = bytes;
        sub[..6].copy_from_slice(b"SHSUB\x01");
        assert!(matches!(
            DecisionBody::decode(&sub),
            Err(ProtocolError::Malformed { field: "magic", .. })
        ));
    }

    #[test]
    fn only_verdicts_conflict() {
        assert!(DecisionKind::Approve.is_verdict());
        assert!(DecisionKind::Return.is_verdict());
        assert!(DecisionKind::Escalate.is_verdict());
        assert!(!DecisionKind::Act.is_verdict());
        assert!(!DecisionKind::Merge.is_verdict());
        for &k in <DecisionKind as crate::store::StoredEnum>::ALL {
            assert_eq!(k.as_str().parse::<DecisionKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!("Merge".parse::<DecisionKind>().is_err());
    }
}
