//! The wire types of the upload protocol (docs/protocol.md), shared by the phone's sync engine
//! and the server, so that the two cannot disagree on a byte: request signing, the submission
//! body and its routing header, the signed team configuration and the signed receipt.
//!
//! Everything here is pure: bytes in, bytes or typed values out. Signed JSON is always RFC 8785
//! canonical JSON behind a domain label (`safehome-receipt-v1\n`, …), so a signature made for one
//! purpose can never be replayed as another.

use ring::digest;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::canonical;
use crate::evidence::keys::{DevicePublicKey, DeviceSigningKey, ServerPublicKey};
use crate::hex;

/// The protocol version this code speaks (`GET /v1/server` answers it).
pub const PROTOCOL_VERSION: u32 = 1;

/// Request signing headers.
pub const H_DEVICE: &str = "SafeHome-Device";
pub const H_TIME: &str = "SafeHome-Time";
pub const H_NONCE: &str = "SafeHome-Nonce";
pub const H_CONTENT_SHA256: &str = "SafeHome-Content-SHA256";
pub const H_SIGNATURE: &str = "SafeHome-Signature";
/// On every response: the server's clock, ms.
pub const H_SERVER_TIME: &str = "SafeHome-Server-Time";

/// How far a request's time may be from the server's.
pub const CLOCK_WINDOW_MS: i64 = 300_000;
/// How long the server remembers a nonce (twice the window: a nonce cannot come back while a
/// request carrying it could still be accepted).
pub const NONCE_TTL_MS: i64 = 2 * CLOCK_WINDOW_MS;

/// Content type of a submission body.
pub const SUBMISSION_CONTENT_TYPE: &str = "application/vnd.safehome.submission";
/// The largest submission body a server must accept.
pub const MAX_SUBMISSION_BODY: usize = 8 << 20;
/// The largest evidence file a server must accept (tus `Tus-Max-Size`).
pub const MAX_EVIDENCE_LEN: u64 = 64 << 20;
/// The largest routing header (JSON) a submission may carry.
pub const MAX_ROUTING_LEN: usize = 256 << 10;

const REQUEST_LABEL: &str = "safehome-request-v1";
const ROUTING_LABEL: &[u8] = b"safehome-routing-v1\n";
const RECEIPT_LABEL: &[u8] = b"safehome-receipt-v1\n";
const CONFIG_LABEL: &[u8] = b"safehome-config-v1\n";
const ROTATION_LABEL: &[u8] = b"safehome-key-rotation-v1\n";
pub const ROTATION_SCHEMA: &str = "safehome.key-rotation.v1";
/// The most key rotations a configuration answer may carry (a phone walks them in order).
pub const MAX_ROTATIONS: usize = 16;
const SUBMISSION_MAGIC: &[u8; 6] = b"SHSUB\x01";

/// Why protocol bytes were refused. `field` names what, in the document's terms.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("{field}: {message}")]
    Malformed { field: &'static str, message: String },
    #[error("{what}: the signature does not verify")]
    BadSignature { what: &'static str },
}

pub(crate) fn malformed(field: &'static str, message: impl Into<String>) -> ProtocolError {
    ProtocolError::Malformed { field, message: message.into() }
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

// ---------------------------------------------------------------------------------------------
// Request signing

/// The signing headers of one request, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    pub device_id: String,
    pub time_ms: i64,
    /// 32 hex characters.
    pub nonce: String,
    /// Hex SHA-256 of the body.
    pub content_sha256: String,
    /// Hex Ed25519 signature.
    pub signature: String,
}

impl RequestAuth {
    /// Sign a request: `path` is the path and query exactly as sent.
    pub fn sign(
        key: &DeviceSigningKey,
        device_id: &str,
        method: &str,
        path: &str,
        body: &[u8],
        time_ms: i64,
        nonce: [u8; 16],
    ) -> RequestAuth {
        let nonce = hex::encode(&nonce);
        let content_sha256 = sha256_hex(body);
        let message = request_message(method, path, device_id, time_ms, &nonce, &content_sha256);
        RequestAuth {
            device_id: device_id.into(),
            time_ms,
            nonce,
            content_sha256,
            signature: hex::encode(&key.sign(&message)),
        }
    }

    /// The headers to send, in order.
    pub fn headers(&self) -> [(&'static str, String); 5] {
        [
            (H_DEVICE, self.device_id.clone()),
            (H_TIME, self.time_ms.to_string()),
            (H_NONCE, self.nonce.clone()),
            (H_CONTENT_SHA256, self.content_sha256.clone()),
            (H_SIGNATURE, self.signature.clone()),
        ]
    }

    /// Read the headers (`get` returns a header's value by name); `Ok(None)` when none of
    /// them is present (an unsigned request).
    pub fn from_headers(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<RequestAuth>, ProtocolError> {
        let names = [H_DEVICE, H_TIME, H_NONCE, H_CONTENT_SHA256, H_SIGNATURE];
        let values: Vec<Option<String>> = names.iter().map(|n| get(n)).collect();
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let need = |i: usize, field: &'static str| {
            values[i].clone().ok_or_else(|| malformed(field, "missing"))
        };
        let device_id = need(0, H_DEVICE)?;
        let time_ms = need(1, H_TIME)?
            .trim()
            .parse::<i64>()
            .map_err(|_| malformed(H_TIME, "not an integer of milliseconds"))?;
        let nonce = need(2, H_NONCE)?;
        if nonce.len() != 32 || hex::decode(&nonce).is_err() {
            return Err(malformed(H_NONCE, "must be 32 hex characters"));
        }
        let content_sha256 = need(3, H_CONTENT_SHA256)?;
        hex::decode_array::<32>(&content_sha256)
            .map_err(|_| malformed(H_CONTENT_SHA256, "must be 64 hex characters"))?;
        let signature = need(4, H_SIGNATURE)?;
        hex::decode_array::<64>(&signature)
            .map_err(|_| malformed(H_SIGNATURE, "must be 128 hex characters"))?;
        if device_id.is_empty() || device_id.len() > 64 {
            return Err(malformed(H_DEVICE, "must be 1 to 64 characters"));
        }
        Ok(Some(RequestAuth { device_id, time_ms, nonce, content_sha256, signature }))
    }

    /// Check the body's hash and the signature under `key`. (The time window and the nonce are
    /// the server's to check: they need its clock and memory.)
    pub fn verify(
        &self,
        key: &DevicePublicKey,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(), ProtocolError> {
        if sha256_hex(body) != self.content_sha256 {
            return Err(malformed(H_CONTENT_SHA256, "does not match the body"));
        }
        let message = request_message(
            method,
            path,
            &self.device_id,
            self.time_ms,
            &self.nonce,
            &self.content_sha256,
        );
        let signature = hex::decode_array::<64>(&self.signature)
            .map_err(|_| malformed(H_SIGNATURE, "must be 128 hex characters"))?;
        if key.verify(&message, &signature) {
            Ok(())
        } else {
            Err(ProtocolError::BadSignature { what: "request" })
        }
    }
}

/// The message a request signature covers (docs/protocol.md, "Request signing").
pub fn request_message(
    method: &str,
    path: &str,
    device_id: &str,
    time_ms: i64,
    nonce: &str,
    content_sha256: &str,
) -> Vec<u8> {
    format!(
        "{REQUEST_LABEL}\n{}\n{path}\n{device_id}\n{time_ms}\n{nonce}\n{content_sha256}",
        method.to_ascii_uppercase()
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Errors on the wire

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    /// Further fields some codes carry (`field`, `server_time_ms`, `envelope_sha256`, ...).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Json>,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> ErrorBody {
        ErrorBody { code: code.into(), message: message.into(), extra: Default::default() }
    }
    pub fn with(mut self, key: &str, value: impl Into<Json>) -> ErrorBody {
        self.extra.insert(key.into(), value.into());
        self
    }
}

/// What a client does about an error response (docs/protocol.md, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Will not succeed by retrying: keep the item, stop sending it, show the code.
    Park,
    /// Try again later with backoff.
    Retry,
    /// Correct the clock from the response and retry once now.
    ClockSkew,
    /// Nothing more can be sent by this device until a person acts (enroll, revoked).
    Stop,
}

/// Classify an error response by its status and code.
pub fn classify(status: u16, code: &str) -> ErrorClass {
    match (status, code) {
        (401, "clock_skew") => ErrorClass::ClockSkew,
        (401, "replayed") => ErrorClass::Retry,
        (401, _) | (403, "device_revoked") => ErrorClass::Stop,
        (409, "offset_mismatch") | (410, "upload_gone") | (460, _) => ErrorClass::Retry,
        // The body did not arrive in the server's time: a slow network, not a bad item.
        (408, _) => ErrorClass::Retry,
        (429, _) | (500..=599, _) => ErrorClass::Retry,
        (404, "not_found") => ErrorClass::Retry,
        (400..=499, _) => ErrorClass::Park,
        _ => ErrorClass::Retry,
    }
}

// ---------------------------------------------------------------------------------------------
// Enrollment and configuration

/// `POST /v1/enroll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub code: String,
    pub device_id: String,
    /// `shdevice1…`
    pub device_public_key: String,
    /// `shrecip1…`, for a device that opens submissions (supervisor, archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_key: Option<String>,
    pub app_version: String,
}

/// One key submissions are sealed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRecipient {
    /// `shrecip1…`
    pub public_key: String,
    /// `archive` or `supervisor`.
    pub kind: String,
    pub label: String,
}

/// One enrolled device of the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDevice {
    pub device_id: String,
    /// `volunteer`, `supervisor` or `health_worker`.
    pub role: String,
    /// `shdevice1…`: the key its submissions and decisions are signed with.
    pub public_key: String,
    /// `shrecip1…`: the device's inbox, which decisions about its records are sealed to.
    pub inbox_key: Option<String>,
    /// When the team's administrator revoked it (server time): what it sent before stays
    /// verifiable; nothing it signs after is accepted.
    pub revoked_at_ms: Option<i64>,
}

impl ConfigDevice {
    /// Whether the device was enrolled and not revoked at `at_ms` (server time).
    pub fn trusted_at(&self, at_ms: i64) -> bool {
        self.revoked_at_ms.is_none_or(|r| at_ms < r)
    }
}

impl TeamConfig {
    /// The enrolled device `device_id`, if the configuration lists it.
    pub fn device(&self, device_id: &str) -> Option<&ConfigDevice> {
        self.devices.iter().find(|d| d.device_id == device_id)
    }
}

/// The team configuration a server gives an enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamConfig {
    pub schema: String,
    pub team: String,
    pub communes: Vec<String>,
    pub device_id: String,
    /// `volunteer`, `supervisor` or `health_worker`.
    pub role: String,
    pub recipients: Vec<ConfigRecipient>,
    /// The team's enrolled devices (revoked ones with the time): whose signatures a device
    /// accepts on a pulled submission or a decision, and the inbox key a decision is sealed to.
    #[serde(default)]
    pub devices: Vec<ConfigDevice>,
    /// `shserver1…`
    pub server_public_key: String,
    pub issued_at_ms: i64,
}

pub const CONFIG_SCHEMA: &str = "safehome.config.v1";
pub const RECEIPT_SCHEMA: &str = "safehome.receipt.v1";
pub const ROUTING_SCHEMA: &str = "safehome.routing.v1";

/// The canonical bytes of `value` behind `label`.
fn labelled(label: &[u8], value: &Json) -> Result<Vec<u8>, ProtocolError> {
    let bytes = canonical::to_vec(value).map_err(|e| malformed("json", e.to_string()))?;
    let mut message = label.to_vec();
    message.extend_from_slice(&bytes);
    Ok(message)
}

pub(crate) fn sign_document<T: Serialize>(
    key: &DeviceSigningKey,
    label: &[u8],
    name: &str,
    value: &T,
) -> Result<Json, ProtocolError> {
    let value = serde_json::to_value(value).map_err(|e| malformed("json", e.to_string()))?;
    let signature = hex::encode(&key.sign(&labelled(label, &value)?));
    Ok(serde_json::json!({ name: value, "signature": signature }))
}

pub(crate) fn verify_document<T: for<'de> Deserialize<'de>>(
    key: &ServerPublicKey,
    label: &[u8],
    name: &'static str,
    document: &Json,
) -> Result<T, ProtocolError> {
    let value = document.get(name).ok_or_else(|| malformed(name, "missing"))?;
    let signature = document
        .get("signature")
        .and_then(Json::as_str)
        .ok_or_else(|| malformed("signature", "missing"))?;
    let signature = hex::decode_array::<64>(signature)
        .map_err(|_| malformed("signature", "must be 128 hex characters"))?;
    if !key.verify(&labelled(label, value)?, &signature) {
        return Err(ProtocolError::BadSignature { what: name });
    }
    serde_json::from_value(value.clone()).map_err(|e| malformed(name, e.to_string()))
}

impl TeamConfig {
    /// `{"config": …, "signature": …}` signed by the server's key.
    pub fn sign(&self, server: &DeviceSigningKey) -> Result<Json, ProtocolError> {
        sign_document(server, CONFIG_LABEL, "config", self)
    }
    /// Verify a signed configuration under `server` (the pinned key, or on enrollment the key
    /// the configuration names: see [`TeamConfig::verify_first`]).
    pub fn verify(document: &Json, server: &ServerPublicKey) -> Result<TeamConfig, ProtocolError> {
        let config: TeamConfig = verify_document(server, CONFIG_LABEL, "config", document)?;
        if config.server_public_key != server.to_string() {
            return Err(malformed("config.server_public_key", "is not the signing key"));
        }
        if config.schema != CONFIG_SCHEMA {
            return Err(malformed("config.schema", format!("expected {CONFIG_SCHEMA}")));
        }
        Ok(config)
    }
    /// On enrollment, with no key pinned yet: the configuration must be signed by the key it
    /// names (and by `expect`, if the operator gave the key `safehome-server init` printed).
    pub fn verify_first(
        document: &Json,
        expect: Option<&ServerPublicKey>,
    ) -> Result<(TeamConfig, ServerPublicKey), ProtocolError> {
        let named = document
            .get("config")
            .and_then(|c| c.get("server_public_key"))
            .and_then(Json::as_str)
            .ok_or_else(|| malformed("config.server_public_key", "missing"))?;
        let key: ServerPublicKey =
            named.parse().map_err(|e| malformed("config.server_public_key", format!("{e}")))?;
        if let Some(expect) = expect {
            if *expect != key {
                return Err(malformed(
                    "config.server_public_key",
                    "is not the server key given to check against",
                ));
            }
        }
        Ok((TeamConfig::verify(document, &key)?, key))
    }
}

// ---------------------------------------------------------------------------------------------
// Key rotation

/// A rotation of the server's key, signed by the key it replaces: a phone that pinned
/// `previous_key` re-pins `new_key` on the strength of that signature (docs/protocol.md, "Key
/// rotation"). The configuration answer carries every rotation, oldest first, under
/// `key_rotations`, so that a phone pinned to any earlier key walks to the current one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    pub schema: String,
    /// `shserver1…`
    pub previous_key: String,
    /// `shserver1…`
    pub new_key: String,
    pub rotated_at_ms: i64,
}

impl KeyRotation {
    /// `{"rotation": …, "signature": …}` signed by the previous key.
    pub fn sign(&self, previous: &DeviceSigningKey) -> Result<Json, ProtocolError> {
        sign_document(previous, ROTATION_LABEL, "rotation", self)
    }

    /// The key a phone pinned to `pinned` should pin next, from a configuration answer's
    /// `key_rotations` (`None` when no rotation starts from `pinned`). Each step must be signed
    /// by the key it replaces; a step that does not verify ends the walk with an error, so a
    /// forged rotation is never followed.
    pub fn follow(
        document: &Json,
        pinned: &ServerPublicKey,
    ) -> Result<Option<ServerPublicKey>, ProtocolError> {
        let Some(list) = document.get("key_rotations") else { return Ok(None) };
        let list = list.as_array().ok_or_else(|| malformed("key_rotations", "must be a list"))?;
        if list.len() > MAX_ROTATIONS {
            return Err(malformed("key_rotations", format!("at most {MAX_ROTATIONS}")));
        }
        let mut current = *pinned;
        let mut moved = false;
        for item in list {
            let named = item
                .get("rotation")
                .and_then(|r| r.get("previous_key"))
                .and_then(Json::as_str)
                .ok_or_else(|| malformed("key_rotations.previous_key", "missing"))?;
            if named != current.to_string() {
                continue; // a rotation before the phone's pin
            }
            let rotation: KeyRotation =
                verify_document(&current, ROTATION_LABEL, "rotation", item)?;
            if rotation.schema != ROTATION_SCHEMA {
                return Err(malformed(
                    "key_rotations.schema",
                    format!("expected {ROTATION_SCHEMA}"),
                ));
            }
            current = rotation
                .new_key
                .parse()
                .map_err(|e| malformed("key_rotations.new_key", format!("{e}")))?;
            moved = true;
        }
        Ok(moved.then_some(current))
    }
}

/// `POST /v1/checkin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinRequest {
    pub audit_length: i64,
    /// Hex hash of the last audit entry (empty for an empty chain).
    pub audit_head: String,
    pub pending: i64,
    pub parked: i64,
    pub app_version: String,
    pub device_time_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinResponse {
    pub server_time_ms: i64,
    pub last_audit_length: Option<i64>,
    pub last_audit_head: Option<String>,
    pub regression: bool,
}

// ---------------------------------------------------------------------------------------------
// Submissions

/// One evidence file a submission lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingEvidence {
    pub id: String,
    /// Hex SHA-256 of the evidence envelope.
    pub sha256: String,
    pub len: i64,
}

/// The form a record was filled on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingForm {
    pub id: String,
    pub version: String,
}

/// All the server learns about a record (docs/protocol.md, "routing header").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingHeader {
    pub schema: String,
    pub record_id: String,
    /// `visit` or `incident`.
    pub kind: String,
    pub form: RoutingForm,
    pub team: String,
    pub commune: Option<String>,
    pub household_code: Option<String>,
    /// `low`, `medium`, `high`, `urgent`, or none.
    pub risk_level: Option<String>,
    pub due_at_ms: Option<i64>,
    /// The device's clock.
    pub finalized_at_ms: i64,
    /// Server time minus device time as the device knew it when it sealed the record.
    pub clock_offset_ms: i64,
    pub device_id: String,
    pub revision: i64,
    pub revision_of: Option<String>,
    pub envelope_sha256: String,
    pub envelope_len: i64,
    pub evidence: Vec<RoutingEvidence>,
}

impl RoutingHeader {
    /// Its canonical bytes.
    pub fn to_canonical(&self) -> Result<Vec<u8>, ProtocolError> {
        let value = serde_json::to_value(self).map_err(|e| malformed("routing", e.to_string()))?;
        canonical::to_vec(&value).map_err(|e| malformed("routing", e.to_string()))
    }
}

/// A submission body: routing header, its signature, the sealed envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionBody {
    /// The routing header's canonical bytes, as signed.
    pub routing_bytes: Vec<u8>,
    pub routing: RoutingHeader,
    pub signature: [u8; 64],
    pub envelope: Vec<u8>,
}

impl SubmissionBody {
    /// Build and sign a body. The routing header's `envelope_sha256` and `envelope_len` are
    /// set from `envelope`.
    pub fn build(
        mut routing: RoutingHeader,
        envelope: Vec<u8>,
        device: &DeviceSigningKey,
    ) -> Result<SubmissionBody, ProtocolError> {
        routing.envelope_sha256 = sha256_hex(&envelope);
        routing.envelope_len = envelope.len() as i64;
        let routing_bytes = routing.to_canonical()?;
        let mut message = ROUTING_LABEL.to_vec();
        message.extend_from_slice(&routing_bytes);
        let signature = device.sign(&message);
        Ok(SubmissionBody { routing_bytes, routing, signature, envelope })
    }

    /// The bytes sent.
    pub fn encode(&self) -> Vec<u8> {
        frame(SUBMISSION_MAGIC, &self.routing_bytes, &self.signature, &self.envelope)
    }

    /// Parse a body (structure and routing header shape; no signature checked yet).
    pub fn decode(bytes: &[u8]) -> Result<SubmissionBody, ProtocolError> {
        let frame = unframe(
            bytes,
            SUBMISSION_MAGIC,
            "a SafeHome submission (SHSUB, version 1)",
            ("routing_len", "routing"),
        )?;
        let routing: RoutingHeader = canonical_header(frame.header, "routing")?;
        if routing.schema != ROUTING_SCHEMA {
            return Err(malformed("routing.schema", format!("expected {ROUTING_SCHEMA}")));
        }
        Ok(SubmissionBody {
            routing_bytes: frame.header.to_vec(),
            routing,
            signature: frame.signature,
            envelope: frame.envelope.to_vec(),
        })
    }

    /// Check the routing signature under the device's key and that the routing header names
    /// this envelope.
    pub fn verify(&self, device: &DevicePublicKey) -> Result<(), ProtocolError> {
        let mut message = ROUTING_LABEL.to_vec();
        message.extend_from_slice(&self.routing_bytes);
        if !device.verify(&message, &self.signature) {
            return Err(ProtocolError::BadSignature { what: "routing header" });
        }
        if self.routing.envelope_len != self.envelope.len() as i64 {
            return Err(malformed("routing.envelope_len", "does not match the envelope"));
        }
        if self.routing.envelope_sha256 != sha256_hex(&self.envelope) {
            return Err(malformed("routing.envelope_sha256", "does not match the envelope"));
        }
        Ok(())
    }
}

/// The server's receipt for a submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub schema: String,
    pub record_id: String,
    pub envelope_sha256: String,
    pub device_id: String,
    pub received_at_ms: i64,
    pub seq: i64,
    pub complete: bool,
    /// Hex SHA-256 of each listed evidence file not yet received.
    pub missing_evidence: Vec<String>,
    pub issued_at_ms: i64,
}

impl Receipt {
    /// `{"receipt": …, "signature": …}` signed by the server's key.
    pub fn sign(&self, server: &DeviceSigningKey) -> Result<Json, ProtocolError> {
        sign_document(server, RECEIPT_LABEL, "receipt", self)
    }
    /// Verify a signed receipt under the pinned server key.
    pub fn verify(document: &Json, server: &ServerPublicKey) -> Result<Receipt, ProtocolError> {
        let receipt: Receipt = verify_document(server, RECEIPT_LABEL, "receipt", document)?;
        if receipt.schema != RECEIPT_SCHEMA {
            return Err(malformed("receipt.schema", format!("expected {RECEIPT_SCHEMA}")));
        }
        Ok(receipt)
    }
}

// ---------------------------------------------------------------------------------------------
// Framing shared by submissions and decisions: magic, header length, canonical JSON header,
// the device's signature over it, the sealed envelope.

/// The parts of a framed body, borrowed from it.
pub(crate) struct Frame<'a> {
    pub header: &'a [u8],
    pub signature: [u8; 64],
    pub envelope: &'a [u8],
}

pub(crate) fn frame(
    magic: &[u8; 6],
    header: &[u8],
    signature: &[u8; 64],
    envelope: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + 4 + header.len() + 64 + envelope.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(signature);
    out.extend_from_slice(envelope);
    out
}

pub(crate) fn unframe<'a>(
    bytes: &'a [u8],
    magic: &[u8; 6],
    what: &str,
    (len_field, header_field): (&'static str, &'static str),
) -> Result<Frame<'a>, ProtocolError> {
    let rest = bytes
        .strip_prefix(magic.as_slice())
        .ok_or_else(|| malformed("magic", format!("not {what}")))?;
    let (len, rest) =
        rest.split_first_chunk::<4>().ok_or_else(|| malformed(len_field, "truncated"))?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_ROUTING_LEN {
        return Err(malformed(len_field, format!("{len} is over {MAX_ROUTING_LEN}")));
    }
    if rest.len() < len + 64 {
        return Err(malformed(header_field, "truncated"));
    }
    let (header, rest) = rest.split_at(len);
    let (signature, envelope) = rest.split_at(64);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(signature);
    Ok(Frame { header, signature: sig, envelope })
}

/// Parse a header that must be canonical JSON (RFC 8785) of type `T`.
pub(crate) fn canonical_header<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    field: &'static str,
) -> Result<T, ProtocolError> {
    let value: Json = serde_json::from_slice(bytes).map_err(|e| malformed(field, e.to_string()))?;
    let canonical_bytes = canonical::to_vec(&value).map_err(|e| malformed(field, e.to_string()))?;
    if canonical_bytes != bytes {
        return Err(malformed(field, "is not canonical JSON (RFC 8785)"));
    }
    serde_json::from_value(value).map_err(|e| malformed(field, e.to_string()))
}

/// The server's key as a [`ServerPublicKey`].
pub fn server_public(key: &DeviceSigningKey) -> ServerPublicKey {
    ServerPublicKey::from_bytes(*key.public().as_bytes())
}

mod review;
pub use review::*;

#[cfg(test)]
mod tests;
