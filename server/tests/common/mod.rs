//! Shared test helpers: a server in a temporary data directory, and a phone that signs its
//! requests as docs/protocol.md says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use safehome_core::clock::{Clock, Entropy, SystemClock, SystemEntropy, new_uuid};
use safehome_core::evidence::envelope::{Randomness, seal_bytes};
use safehome_core::evidence::keys::{DeviceSigningKey, Identity, RecipientKey, ServerPublicKey};
use safehome_core::evidence::meta::EvidenceInfo;
use safehome_core::sync::protocol::{
    EnrollRequest, H_SERVER_TIME, ROUTING_SCHEMA, RequestAuth, RoutingEvidence, RoutingForm,
    RoutingHeader, SUBMISSION_CONTENT_TYPE, SubmissionBody, TeamConfig,
};
use safehome_server::{Admin, BackgroundServer, Role, ServerConfig};
use safehome_testdata::pg_scratch::ScratchDb;
use serde_json::Value;

pub mod console;

pub const TEAM: &str = "tn-19001";

pub fn now_ms() -> i64 {
    SystemClock::default().now_ms()
}

/// The archive's identity (fixed seed).
pub fn archive() -> Identity {
    Identity::from_bytes([7; 32])
}

/// A server with one team, in its own temporary directory.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub server: Option<BackgroundServer>,
    pub public: ServerPublicKey,
    /// The PostgreSQL database, when the suite runs against PostgreSQL (dropped last).
    pub pg: Option<ScratchDb>,
}

/// A new data directory at `data`, on PostgreSQL when the suite runs against it
/// (`SAFEHOME_TEST_POSTGRES`), else on SQLite: every test that starts a server goes through
/// here, so the whole suite runs on either engine.
pub fn init_data(data: &Path) -> (ServerPublicKey, Option<ScratchDb>) {
    let pg = ScratchDb::create();
    let public = safehome_server::init_with(data, pg.as_ref().map(ScratchDb::url)).unwrap();
    (public, pg)
}

/// Whether this run is on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(safehome_testdata::pg_scratch::ENV).is_ok_and(|v| !v.trim().is_empty())
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    pub fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (public, pg) = init_data(&data);
        Admin::open(&data)
            .unwrap()
            .add_team(
                TEAM,
                &["19001".into(), "19002".into()],
                &archive().recipient(),
                "Archive",
                now_ms(),
            )
            .unwrap();
        let mut config = ServerConfig::new(&data);
        tune(&mut config);
        let server = BackgroundServer::start(config, "127.0.0.1:0").unwrap();
        TestServer { dir, server: Some(server), public, pg }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self) -> String {
        self.server.as_ref().unwrap().url()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().unwrap().addr()
    }

    pub fn code(&self, role: Role) -> String {
        Admin::open(&self.data())
            .unwrap()
            .create_enrollment_code(TEAM, role, 86_400_000, now_ms())
            .unwrap()
            .code
    }

    pub fn admin(&self) -> Admin {
        Admin::open(&self.data()).unwrap()
    }

    /// A phone enrolled as a volunteer.
    pub fn volunteer(&self, seed: u8) -> Phone {
        let phone = Phone::new(&self.url(), seed);
        let res = phone.enroll(&self.code(Role::Volunteer), None);
        assert_eq!(res.status, 200, "{}", res.text());
        phone
    }

    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().unwrap();
        }
    }
}

/// A `safehome-server serve` process over `data` on a free loopback port: the child, its
/// address, and the rest of its log (info level) after the line that named the address.
pub fn spawn_serve(
    data: &Path,
) -> (std::process::Child, String, std::io::Lines<std::io::BufReader<std::process::ChildStderr>>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_safehome-server"))
        .args(["serve", "--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server exited").unwrap();
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    (child, addr, lines)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The error code of an error body.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
    pub fn server_time(&self) -> i64 {
        self.header(H_SERVER_TIME).expect("SafeHome-Server-Time").parse().unwrap()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Send a request as is.
pub fn raw(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Resp {
    let mut req = ureq::http::Request::builder().method(method).uri(format!("{base}{path}"));
    for (n, v) in headers {
        req = req.header(n.as_str(), v.as_str());
    }
    let mut res = agent.run(req.body(body).unwrap()).unwrap();
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        res.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap()
    };
    Resp { status, headers, body }
}

pub fn nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    SystemEntropy::default().fill(&mut n);
    n
}

/// A phone: a device id, a signing key from a fixed seed, and its estimate of the server's clock.
pub struct Phone {
    pub base: String,
    pub agent: ureq::Agent,
    pub device_id: String,
    pub key: DeviceSigningKey,
    /// Added to the system clock when signing.
    pub offset_ms: AtomicI64,
}

impl Phone {
    pub fn new(base: &str, seed: u8) -> Phone {
        Phone {
            base: base.to_string(),
            agent: agent(),
            device_id: new_uuid(&safehome_core::clock::SeededEntropy::new(u64::from(seed))),
            key: DeviceSigningKey::from_seed([seed; 32]).unwrap(),
            offset_ms: AtomicI64::new(0),
        }
    }

    pub fn auth(&self, method: &str, path: &str, body: &[u8]) -> RequestAuth {
        let time = now_ms() + self.offset_ms.load(Ordering::SeqCst);
        RequestAuth::sign(&self.key, &self.device_id, method, path, body, time, nonce())
    }

    /// A signed request.
    pub fn send(&self, method: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> Resp {
        let auth = self.auth(method, path, body);
        self.send_as(&auth, method, path, body, extra)
    }

    /// A request with the given signature headers.
    pub fn send_as(
        &self,
        auth: &RequestAuth,
        method: &str,
        path: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Resp {
        let mut headers: Vec<(String, String)> =
            auth.headers().iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        raw(&self.agent, &self.base, method, path, &headers, body)
    }

    pub fn json(&self, method: &str, path: &str, body: &Value) -> Resp {
        let bytes = serde_json::to_vec(body).unwrap();
        self.send(method, path, &bytes, &[("Content-Type", "application/json")])
    }

    pub fn enroll_request(&self, code: &str, recipient: Option<&RecipientKey>) -> Vec<u8> {
        serde_json::to_vec(&EnrollRequest {
            code: code.into(),
            device_id: self.device_id.clone(),
            device_public_key: self.key.public().to_string(),
            recipient_key: recipient.map(ToString::to_string),
            app_version: "0.1.0".into(),
        })
        .unwrap()
    }

    pub fn enroll(&self, code: &str, recipient: Option<&RecipientKey>) -> Resp {
        let body = self.enroll_request(code, recipient);
        self.send("POST", "/v1/enroll", &body, &[("Content-Type", "application/json")])
    }

    pub fn put_submission(&self, record_id: &str, body: &[u8]) -> Resp {
        self.send(
            "PUT",
            &format!("/v1/submissions/{record_id}"),
            body,
            &[("Content-Type", SUBMISSION_CONTENT_TYPE)],
        )
    }

    pub fn tus(&self, method: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> Resp {
        let mut headers = vec![("Tus-Resumable", "1.0.0")];
        headers.extend_from_slice(extra);
        self.send(method, path, body, &headers)
    }

    /// `POST /v1/evidence/`; returns the response (Location names the upload).
    pub fn create_upload(&self, record_id: &str, evidence_id: &str, file: &[u8]) -> Resp {
        let sha = safehome_core::sync::protocol::sha256_hex(file);
        let meta = format!(
            "record_id {},evidence_id {},sha256 {}",
            b64(record_id),
            b64(evidence_id),
            b64(&sha)
        );
        let len = file.len().to_string();
        self.tus(
            "POST",
            "/v1/evidence/",
            b"",
            &[("Upload-Length", &len), ("Upload-Metadata", &meta)],
        )
    }

    pub fn patch(&self, location: &str, offset: usize, chunk: &[u8]) -> Resp {
        let offset = offset.to_string();
        self.tus(
            "PATCH",
            location,
            chunk,
            &[("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", &offset)],
        )
    }
}

pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// Verify an enrollment answer as a phone would (the key it names, expected to be `public`).
pub fn verify_config(res: &Resp, public: &ServerPublicKey) -> TeamConfig {
    TeamConfig::verify_first(&res.json(), Some(public)).unwrap().0
}

/// An evidence envelope sealed to the archive by `device`, with `plaintext` inside.
pub fn evidence(device: &DeviceSigningKey, evidence_id: &str, plaintext: &[u8]) -> Vec<u8> {
    let info = EvidenceInfo {
        evidence_id: evidence_id.into(),
        content_type: "image/jpeg".into(),
        ..EvidenceInfo::default()
    };
    seal_bytes(plaintext, info, &[archive().recipient()], device, now_ms(), Randomness::System)
        .unwrap()
        .0
}

/// A routing header for a record of `phone`'s team.
pub fn routing(phone: &Phone, record_id: &str, evidence: &[(&str, &[u8])]) -> RoutingHeader {
    RoutingHeader {
        schema: ROUTING_SCHEMA.into(),
        record_id: record_id.into(),
        kind: "visit".into(),
        form: RoutingForm { id: "household_screening".into(), version: "2024.1".into() },
        team: TEAM.into(),
        commune: Some("19001".into()),
        household_code: Some("19001-0042".into()),
        risk_level: Some("urgent".into()),
        due_at_ms: Some(now_ms() + 86_400_000),
        finalized_at_ms: now_ms(),
        clock_offset_ms: 0,
        device_id: phone.device_id.clone(),
        revision: 1,
        revision_of: None,
        envelope_sha256: String::new(),
        envelope_len: 0,
        evidence: evidence
            .iter()
            .map(|(id, file)| RoutingEvidence {
                id: (*id).into(),
                sha256: safehome_core::sync::protocol::sha256_hex(file),
                len: file.len() as i64,
            })
            .collect(),
    }
}

/// A submission body: `routing` signed by the phone, over an envelope with `plaintext` inside.
pub fn submission(phone: &Phone, routing: RoutingHeader, plaintext: &[u8]) -> Vec<u8> {
    let envelope = evidence(&phone.key, &routing.record_id, plaintext);
    SubmissionBody::build(routing, envelope, &phone.key).unwrap().encode()
}

pub fn record_id(n: u64) -> String {
    new_uuid(&safehome_core::clock::SeededEntropy::new(1000 + n))
}

/// Every file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Send a signed request's head announcing `content_length` bytes, send none of them, and
/// return what the server answers (as text).
pub fn declare_only(
    server: &TestServer,
    phone: &Phone,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    content_length: usize,
) -> String {
    use std::io::{Read, Write};
    let auth = phone.auth(method, path, b"");
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {content_length}\r\n");
    for (n, v) in auth.headers().iter() {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    for (n, v) in extra {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut tcp = std::net::TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the head and a short body are in (the server may keep the connection open).
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&answer);
        if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The Python of the interoperability and browser tests: `SAFEHOME_PYTHON`, or the one
/// `scripts/python-env.sh` makes (tuspy, cryptography and Selenium pinned, in build/pyenv).
pub fn python() -> String {
    if let Ok(p) = std::env::var("SAFEHOME_PYTHON") {
        return p;
    }
    let out = std::process::Command::new("bash")
        .arg(repo().join("scripts/python-env.sh"))
        .output()
        .expect("bash runs scripts/python-env.sh");
    assert!(
        out.status.success(),
        "scripts/python-env.sh failed (the Python peers are needed for this test): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
