//! A fake team server for the engine's tests: a small in-memory implementation of
//! docs/protocol.md (request signatures with the time window and nonces, enrollment, checkin,
//! signed configurations and receipts, tus uploads, idempotent submissions), plus scripted
//! faults: an error answer, a connection cut before or after the server acted, a chunk cut
//! part-way, the network down.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::json;

use crate::clock::FixedClock;
use crate::evidence::keys::{DevicePublicKey, DeviceSigningKey};
use crate::sync::base64;
use crate::sync::protocol::*;
use crate::sync::transport::{HttpRequest, HttpResponse, Transport, TransportError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer this error (status, code) without acting.
    Error(u16, &'static str),
    /// The connection is cut before the request reaches the server.
    CutBefore,
    /// The server acts, then the connection is cut before the answer arrives.
    CutAfter,
    /// A PATCH: the server keeps the first n bytes of the chunk, then the connection is cut.
    Partial(usize),
    /// No connection at all.
    Down,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    /// The request path starts with this.
    pub path: &'static str,
    /// Matching requests let through before the fault applies.
    pub skip: u32,
    /// How many matching requests it applies to after that.
    pub times: u32,
    pub action: FaultAction,
}

impl Fault {
    pub fn new(method: &'static str, path: &'static str, action: FaultAction) -> Fault {
        Fault { method, path, skip: 0, times: 1, action }
    }
    pub fn skip(mut self, n: u32) -> Fault {
        self.skip = n;
        self
    }
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub upload_offset: Option<u64>,
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
struct Upload {
    len: u64,
    sha256_b64: String,
    data: Vec<u8>,
    complete: bool,
}

#[derive(Debug, Clone)]
pub struct Stored {
    pub envelope_sha256: String,
    pub seq: i64,
    pub received_at_ms: i64,
    pub evidence: Vec<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct ServerState {
    pub device: Option<(String, DevicePublicKey)>,
    pub revoked: bool,
    pub recipients: Vec<ConfigRecipient>,
    pub communes: Vec<String>,
    nonces: HashSet<String>,
    uploads: HashMap<String, Upload>,
    next_upload: u32,
    /// Complete evidence files by hex SHA-256.
    pub files: HashMap<String, Vec<u8>>,
    pub submissions: HashMap<String, Stored>,
    seq: i64,
    audit: Option<(i64, String)>,
}

impl ServerState {
    /// Lose a complete evidence file, and every upload (as a server restored from a backup).
    pub fn lose(&mut self, sha256: &str) {
        self.files.remove(sha256);
        self.uploads.clear();
    }
}

pub struct FakeServer {
    /// The seed of the server's key.
    pub seed: u8,
    /// Receipts and configurations are signed with the key of this seed instead, if set.
    pub forger: Cell<Option<u8>>,
    clock: Arc<FixedClock>,
    /// Server time minus the device's clock.
    pub skew_ms: Cell<i64>,
    pub code: String,
    pub state: RefCell<ServerState>,
    pub faults: RefCell<Vec<Fault>>,
    pub seen: RefCell<Vec<Seen>>,
}

impl FakeServer {
    pub fn new(seed: u8, clock: Arc<FixedClock>, recipients: Vec<ConfigRecipient>) -> FakeServer {
        FakeServer {
            seed,
            forger: Cell::new(None),
            clock,
            skew_ms: Cell::new(0),
            code: "7KQ4-M9TX-2HPA".into(),
            state: RefCell::new(ServerState {
                recipients,
                communes: vec!["05569".into()],
                ..ServerState::default()
            }),
            faults: RefCell::new(Vec::new()),
            seen: RefCell::new(Vec::new()),
        }
    }

    pub fn fault(&self, f: Fault) {
        self.faults.borrow_mut().push(f);
    }

    pub fn now(&self) -> i64 {
        use crate::clock::Clock;
        self.clock.now_ms() + self.skew_ms.get()
    }

    /// The requests seen with this method, in order.
    pub fn seen(&self, method: &str) -> Vec<Seen> {
        self.seen.borrow().iter().filter(|s| s.method == method).cloned().collect()
    }

    fn signer(&self) -> DeviceSigningKey {
        let seed = self.forger.get().unwrap_or(self.seed);
        DeviceSigningKey::from_seed([seed; 32]).unwrap()
    }

    /// The server's own public key text.
    pub fn public_key(&self) -> String {
        server_public(&DeviceSigningKey::from_seed([self.seed; 32]).unwrap()).to_string()
    }

    fn take_fault(&self, r: &HttpRequest) -> Option<FaultAction> {
        let mut faults = self.faults.borrow_mut();
        for f in faults.iter_mut() {
            if f.method == r.method && r.path.starts_with(f.path) && f.times > 0 {
                if f.skip > 0 {
                    f.skip -= 1;
                    return None;
                }
                f.times -= 1;
                return Some(f.action);
            }
        }
        None
    }

    fn answer(&self, status: u16, body: serde_json::Value) -> HttpResponse {
        let bytes = if body.is_null() { Vec::new() } else { serde_json::to_vec(&body).unwrap() };
        HttpResponse {
            status,
            headers: vec![
                (H_SERVER_TIME.to_string(), self.now().to_string()),
                ("Tus-Resumable".into(), "1.0.0".into()),
            ],
            body: bytes,
        }
    }

    fn error(&self, status: u16, code: &str) -> HttpResponse {
        let mut body = ErrorBody::new(code, format!("fake server: {code}"));
        if code == "clock_skew" {
            body = body.with("server_time_ms", self.now());
        }
        self.answer(status, serde_json::to_value(body).unwrap())
    }

    fn config(&self, device_id: &str) -> serde_json::Value {
        let st = self.state.borrow();
        TeamConfig {
            schema: CONFIG_SCHEMA.into(),
            team: "tn-05569".into(),
            communes: st.communes.clone(),
            device_id: device_id.into(),
            role: "volunteer".into(),
            recipients: st.recipients.clone(),
            devices: Vec::new(),
            server_public_key: self.signer_public(),
            issued_at_ms: self.now(),
        }
        .sign(&self.signer())
        .unwrap()
    }

    fn signer_public(&self) -> String {
        server_public(&self.signer()).to_string()
    }

    fn receipt(&self, record_id: &str) -> serde_json::Value {
        let st = self.state.borrow();
        let s = &st.submissions[record_id];
        let missing: Vec<String> =
            s.evidence.iter().filter(|e| !st.files.contains_key(*e)).cloned().collect();
        let (device_id, _) = st.device.clone().unwrap();
        Receipt {
            schema: RECEIPT_SCHEMA.into(),
            record_id: record_id.into(),
            envelope_sha256: s.envelope_sha256.clone(),
            device_id,
            received_at_ms: s.received_at_ms,
            seq: s.seq,
            complete: missing.is_empty(),
            missing_evidence: missing,
            issued_at_ms: self.now(),
        }
        .sign(&self.signer())
        .unwrap()
    }

    fn serve(&self, r: &HttpRequest, partial: Option<usize>) -> HttpResponse {
        let header = |n: &str| {
            r.headers.iter().find(|(h, _)| h.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone())
        };
        if r.method == "POST" && r.path == "/v1/enroll" {
            let req: EnrollRequest = serde_json::from_slice(&r.body).unwrap();
            if req.code != self.code {
                return self.error(404, "enrollment_code_unknown");
            }
            let key: DevicePublicKey = req.device_public_key.parse().unwrap();
            let auth = RequestAuth::from_headers(header).unwrap().unwrap();
            if auth.verify(&key, &r.method, &r.path, &r.body).is_err() {
                return self.error(401, "bad_signature");
            }
            if (auth.time_ms - self.now()).abs() > CLOCK_WINDOW_MS {
                return self.error(401, "clock_skew");
            }
            self.state.borrow_mut().device = Some((req.device_id.clone(), key));
            return self.answer(200, self.config(&req.device_id));
        }
        // Every other request is signed by the enrolled device.
        let Ok(Some(auth)) = RequestAuth::from_headers(header) else {
            return self.error(401, "unsigned");
        };
        let Some((device_id, key)) = self.state.borrow().device.clone() else {
            return self.error(401, "unknown_device");
        };
        if auth.device_id != device_id {
            return self.error(401, "unknown_device");
        }
        if self.state.borrow().revoked {
            return self.error(403, "device_revoked");
        }
        if auth.verify(&key, &r.method, &r.path, &r.body).is_err() {
            return self.error(401, "bad_signature");
        }
        if (auth.time_ms - self.now()).abs() > CLOCK_WINDOW_MS {
            return self.error(401, "clock_skew");
        }
        if !self.state.borrow_mut().nonces.insert(auth.nonce.clone()) {
            return self.error(401, "replayed");
        }
        let path = r.path.as_str();
        match (r.method.as_str(), path) {
            ("POST", "/v1/checkin") => {
                let c: CheckinRequest = serde_json::from_slice(&r.body).unwrap();
                let mut st = self.state.borrow_mut();
                let last = st.audit.clone();
                let regression = match &last {
                    Some((len, head)) => {
                        c.audit_length < *len || (c.audit_length == *len && c.audit_head != *head)
                    }
                    None => false,
                };
                st.audit = Some((c.audit_length, c.audit_head));
                self.answer(
                    200,
                    serde_json::to_value(CheckinResponse {
                        server_time_ms: self.now(),
                        last_audit_length: last.as_ref().map(|l| l.0),
                        last_audit_head: last.map(|l| l.1),
                        regression,
                    })
                    .unwrap(),
                )
            }
            ("GET", "/v1/config") => self.answer(200, self.config(&device_id)),
            ("POST", "/v1/evidence/") => {
                let len: u64 = header("Upload-Length").unwrap().parse().unwrap();
                let meta = header("Upload-Metadata").unwrap();
                let sha =
                    meta.split(',').find_map(|p| p.strip_prefix("sha256 ")).unwrap().to_string();
                let mut st = self.state.borrow_mut();
                st.next_upload += 1;
                let id = format!("u{}", st.next_upload);
                // Content-addressed: a file already held makes a complete upload.
                let held = st.files.keys().any(|k| base64::encode(k.as_bytes()) == sha);
                let up = Upload { len, sha256_b64: sha, data: Vec::new(), complete: held };
                st.uploads.insert(id.clone(), up);
                let mut resp = self.answer(201, serde_json::Value::Null);
                resp.headers.push(("Location".into(), format!("/v1/evidence/{id}")));
                resp
            }
            ("HEAD", p) if p.starts_with("/v1/evidence/") => {
                let st = self.state.borrow();
                let Some(u) = st.uploads.get(&p["/v1/evidence/".len()..]) else {
                    return self.error(404, "not_found");
                };
                let offset = if u.complete { u.len } else { u.data.len() as u64 };
                let mut resp = self.answer(200, serde_json::Value::Null);
                resp.headers.push(("Upload-Offset".into(), offset.to_string()));
                resp.headers.push(("Upload-Length".into(), u.len.to_string()));
                resp
            }
            ("PATCH", p) if p.starts_with("/v1/evidence/") => {
                let mut st = self.state.borrow_mut();
                let Some(u) = st.uploads.get_mut(&p["/v1/evidence/".len()..]) else {
                    return self.error(404, "not_found");
                };
                let offset: u64 = header("Upload-Offset").unwrap().parse().unwrap();
                let current = if u.complete { u.len } else { u.data.len() as u64 };
                if offset != current {
                    let body = ErrorBody::new("offset_mismatch", "offset").with("offset", current);
                    return self.answer(409, serde_json::to_value(body).unwrap());
                }
                let digest = ring::digest::digest(&ring::digest::SHA256, &r.body);
                let want = format!("sha256 {}", base64::encode(digest.as_ref()));
                if header("Upload-Checksum").as_deref() != Some(want.as_str()) {
                    return self.error(460, "checksum_mismatch");
                }
                let keep = partial.unwrap_or(r.body.len()).min(r.body.len());
                u.data.extend_from_slice(&r.body[..keep]);
                let new = u.data.len() as u64;
                if new == u.len {
                    let sha = sha256_hex(&u.data);
                    assert_eq!(base64::encode(sha.as_bytes()), u.sha256_b64, "declared sha256");
                    u.complete = true;
                    let data = std::mem::take(&mut u.data);
                    st.files.insert(sha, data);
                }
                let mut resp = self.answer(204, serde_json::Value::Null);
                resp.headers.push(("Upload-Offset".into(), new.to_string()));
                resp
            }
            ("PUT", p) if p.starts_with("/v1/submissions/") => {
                let id = &p["/v1/submissions/".len()..];
                let body = SubmissionBody::decode(&r.body).unwrap();
                body.verify(&key).unwrap();
                assert_eq!(body.routing.record_id, id);
                assert_eq!(body.routing.device_id, device_id);
                let sha = body.routing.envelope_sha256.clone();
                let status = {
                    let mut st = self.state.borrow_mut();
                    match st.submissions.get(id) {
                        Some(s) if s.envelope_sha256 == sha => 200,
                        Some(_) => return self.error(409, "submission_conflict"),
                        None => {
                            st.seq += 1;
                            let stored = Stored {
                                envelope_sha256: sha,
                                seq: st.seq,
                                received_at_ms: self.now(),
                                evidence: body
                                    .routing
                                    .evidence
                                    .iter()
                                    .map(|e| e.sha256.clone())
                                    .collect(),
                                body: r.body.clone(),
                            };
                            st.submissions.insert(id.to_string(), stored);
                            201
                        }
                    }
                };
                self.answer(status, self.receipt(id))
            }
            ("GET", p) if p.starts_with("/v1/submissions/") && p.ends_with("/receipt") => {
                let id = &p["/v1/submissions/".len()..p.len() - "/receipt".len()];
                if !self.state.borrow().submissions.contains_key(id) {
                    return self.error(404, "not_found");
                }
                self.answer(200, self.receipt(id))
            }
            _ => self.answer(404, json!({"code": "not_found", "message": "no such route"})),
        }
    }
}

impl Transport for FakeServer {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let fault = self.take_fault(r);
        let offset =
            r.headers.iter().find(|(h, _)| h == "Upload-Offset").and_then(|(_, v)| v.parse().ok());
        let mut seen = Seen {
            method: r.method.clone(),
            path: r.path.clone(),
            status: None,
            upload_offset: offset,
            body: r.body.clone(),
        };
        let result = match fault {
            Some(FaultAction::Down) => Err(TransportError::Connect("fake: network down".into())),
            Some(FaultAction::CutBefore) => Err(TransportError::Interrupted("fake: cut".into())),
            Some(FaultAction::Error(status, code)) => Ok(self.error(status, code)),
            Some(FaultAction::Partial(n)) => {
                let _ = self.serve(r, Some(n));
                Err(TransportError::Interrupted("fake: cut mid-chunk".into()))
            }
            Some(FaultAction::CutAfter) => {
                let resp = self.serve(r, None);
                seen.status = Some(resp.status);
                Err(TransportError::Interrupted("fake: cut after the server acted".into()))
            }
            None => Ok(self.serve(r, None)),
        };
        if let Ok(resp) = &result {
            seen.status = Some(resp.status);
        }
        self.seen.borrow_mut().push(seen);
        result
    }
}
