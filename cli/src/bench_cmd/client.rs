//! The simulated phones: enrollment over HTTP, sealed submissions prepared before the clock
//! starts, and the upload of one record as a phone does it. Every request goes to the next
//! server process in turn ([`Targets`]), so the requests of one upload land on different
//! processes: what one wrote, the next must find in the shared database.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use safehome_core::clock::{Entropy, SystemEntropy};
use safehome_core::evidence::envelope::{Randomness, seal_bytes};
use safehome_core::evidence::keys::{DeviceSigningKey, RecipientKey, ServerPublicKey};
use safehome_core::evidence::meta::EvidenceInfo;
use safehome_core::sync::base64;
use safehome_core::sync::protocol::{
    EnrollRequest, ROUTING_SCHEMA, Receipt, RequestAuth, RoutingEvidence, RoutingForm,
    RoutingHeader, SUBMISSION_CONTENT_TYPE, SubmissionBody, TeamConfig, sha256_hex,
};
use serde_json::Value as Json;

/// The record's sealed payload: the size of a 12-child household screening submission.
const SUBMISSION_PLAIN_BYTES: usize = 3_133;

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// The server processes' base URLs, taken in turn one request at a time, and how many answers
/// each gave.
pub struct Targets {
    bases: Vec<String>,
    next: AtomicUsize,
    answers: Vec<AtomicUsize>,
}

impl Targets {
    pub fn new(bases: Vec<String>) -> Targets {
        let answers = bases.iter().map(|_| AtomicUsize::new(0)).collect();
        Targets { bases, next: AtomicUsize::new(0), answers }
    }

    fn pick(&self) -> (usize, &str) {
        let k = self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len().max(1);
        (k, self.bases.get(k).map_or("", String::as_str))
    }

    /// Answers (of any status) per process, in the order of the processes.
    pub fn answers(&self) -> Vec<usize> {
        self.answers.iter().map(|a| a.load(Ordering::Relaxed)).collect()
    }
}

/// A simulated device: its key, id, and the server key it pinned.
pub struct Device {
    id: String,
    key: DeviceSigningKey,
    server: ServerPublicKey,
    team: String,
}

struct Answer {
    status: u16,
    location: Option<String>,
    upload_offset: Option<String>,
    body: Vec<u8>,
}

fn send(
    agent: &ureq::Agent,
    targets: &Targets,
    device: &Device,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<Answer, String> {
    let mut nonce = [0u8; 16];
    SystemEntropy::default().fill(&mut nonce);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let auth = RequestAuth::sign(&device.key, &device.id, method, path, body, now, nonce);
    let (k, base) = targets.pick();
    let url = format!("{base}{path}");
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    for (k, v) in auth.headers().iter().map(|(k, v)| (*k, v.clone())).chain(headers.iter().cloned())
    {
        req = req.header(k, v);
    }
    let req = req.body(body.to_vec()).map_err(|e| e.to_string())?;
    let mut resp = agent.run(req).map_err(|e| format!("{method} {url}: {e}"))?;
    if let Some(a) = targets.answers.get(k) {
        a.fetch_add(1, Ordering::Relaxed);
    }
    let header =
        |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (location, upload_offset) = (header("location"), header("upload-offset"));
    let mut out = Vec::new();
    resp.body_mut().as_reader().take(1 << 20).read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(Answer { status: resp.status().as_u16(), location, upload_offset, body: out })
}

/// Enroll a new device with `code` by `POST /v1/enroll`, as a phone does.
pub fn enroll(agent: &ureq::Agent, targets: &Targets, code: &str) -> Result<Device, String> {
    let key = DeviceSigningKey::generate(&SystemEntropy::default()).map_err(|e| e.to_string())?;
    let id = safehome_core::clock::new_uuid(&SystemEntropy::default());
    let request = EnrollRequest {
        code: code.into(),
        device_id: id.clone(),
        device_public_key: key.public().to_string(),
        recipient_key: None,
        app_version: safehome_core::VERSION.into(),
    };
    let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
    // Until enrolled, the device signs with the key it enrolls; the server has no other.
    let unpinned = Device {
        id: id.clone(),
        key,
        server: ServerPublicKey::from_bytes([0; 32]),
        team: String::new(),
    };
    let a = send(
        agent,
        targets,
        &unpinned,
        "POST",
        "/v1/enroll",
        &[("Content-Type", "application/json".into())],
        &body,
    )?;
    if a.status != 200 {
        return Err(format!("enroll: {} {}", a.status, String::from_utf8_lossy(&a.body)));
    }
    let doc: Json = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    let (config, server): (TeamConfig, ServerPublicKey) =
        TeamConfig::verify_first(&doc, None).map_err(|e| e.to_string())?;
    Ok(Device { id, key: unpinned.key, server, team: config.team })
}

/// One submission ready to send: its photo envelope (if any) and its body.
pub struct Prepared {
    pub record_id: String,
    photo: Option<(String, Vec<u8>)>,
    body: Vec<u8>,
    envelope_sha256: String,
}

/// Seal the `i`th submission of `device` (the phone's work, done before the clock starts).
pub fn prepare(
    device: &Device,
    recipients: &[RecipientKey],
    i: usize,
    photo_bytes: usize,
) -> Result<Prepared, String> {
    let entropy = SystemEntropy::default();
    let record_id = safehome_core::clock::new_uuid(&entropy);
    let seal = |plain: &[u8], content_type: &str, id: &str| {
        let info = EvidenceInfo {
            evidence_id: id.to_string(),
            content_type: content_type.to_string(),
            captured_at_ms: None,
            gps: None,
            original_sha256: None,
            width: None,
            height: None,
        };
        seal_bytes(plain, info, recipients, &device.key, 0, Randomness::System)
            .map(|(bytes, _)| bytes)
            .map_err(|e| e.to_string())
    };
    let photo = if photo_bytes > 0 {
        // Unique bytes per photo: the server stores identical files once.
        let mut plain = vec![0u8; photo_bytes];
        entropy.fill(&mut plain);
        let id = safehome_core::clock::new_uuid(&entropy);
        Some((id.clone(), seal(&plain, "image/jpeg", &id)?))
    } else {
        None
    };
    let mut plain = vec![b'x'; SUBMISSION_PLAIN_BYTES];
    plain[..8].copy_from_slice(&(i as u64).to_be_bytes());
    let envelope = seal(&plain, "application/vnd.safehome.submission+json", &record_id)?;
    let routing = RoutingHeader {
        schema: ROUTING_SCHEMA.into(),
        record_id: record_id.clone(),
        kind: "visit".into(),
        form: RoutingForm { id: "household_screening".into(), version: "1".into() },
        team: device.team.clone(),
        commune: Some("19001".into()),
        household_code: Some(format!("19001-{:04}", i % 10_000)),
        risk_level: Some("low".into()),
        due_at_ms: None,
        finalized_at_ms: 0,
        clock_offset_ms: 0,
        device_id: device.id.clone(),
        revision: 1,
        revision_of: None,
        envelope_sha256: String::new(),
        envelope_len: 0,
        evidence: photo
            .iter()
            .map(|(id, bytes)| RoutingEvidence {
                id: id.clone(),
                sha256: sha256_hex(bytes),
                len: bytes.len() as i64,
            })
            .collect(),
    };
    let body = SubmissionBody::build(routing, envelope, &device.key).map_err(|e| e.to_string())?;
    Ok(Prepared {
        record_id,
        envelope_sha256: body.routing.envelope_sha256.clone(),
        photo,
        body: body.encode(),
    })
}

/// The path of a tus `Location`, which may be absolute (`http://host:port/v1/…`) or not.
fn location_path(location: &str) -> &str {
    match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => location,
    }
}

/// The time of each request of an upload, by the name of its step.
pub type Steps = Vec<(&'static str, Duration)>;

/// What a phone does for one record: the photo by tus (create, then 256 KiB chunks), the
/// submission, and the receipt checked against the pinned key. With `read_back`, the photo's
/// offset is asked again (`HEAD`) after its last chunk and the receipt fetched again (`GET`)
/// after the submission, each from whichever process is next.
pub fn upload(
    agent: &ureq::Agent,
    targets: &Targets,
    d: &Device,
    p: &Prepared,
    read_back: bool,
    steps: &mut Steps,
) -> Result<(), String> {
    let tus = ("Tus-Resumable", "1.0.0".to_string());
    let mut t = Instant::now();
    let mut step = |name: &'static str, t: &mut Instant| {
        steps.push((name, t.elapsed()));
        *t = Instant::now();
    };
    if let Some((evidence_id, bytes)) = &p.photo {
        let meta = format!(
            "record_id {},evidence_id {},sha256 {}",
            base64::encode(p.record_id.as_bytes()),
            base64::encode(evidence_id.as_bytes()),
            base64::encode(sha256_hex(bytes).as_bytes())
        );
        let a = send(
            agent,
            targets,
            d,
            "POST",
            "/v1/evidence/",
            &[tus.clone(), ("Upload-Length", bytes.len().to_string()), ("Upload-Metadata", meta)],
            &[],
        )?;
        let location = match (a.status, a.location) {
            (201, Some(l)) => l,
            (s, _) => return Err(format!("tus create: {s} {}", String::from_utf8_lossy(&a.body))),
        };
        step("create", &mut t);
        let path = location_path(&location).to_string();
        let mut offset = 0usize;
        for chunk in bytes.chunks(safehome_core::sync::CHUNK_LEN) {
            let a = send(
                agent,
                targets,
                d,
                "PATCH",
                &path,
                &[
                    tus.clone(),
                    ("Upload-Offset", offset.to_string()),
                    ("Content-Type", "application/offset+octet-stream".into()),
                ],
                chunk,
            )?;
            if a.status != 204 {
                return Err(format!(
                    "tus patch at {offset}: {} {}",
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ));
            }
            offset += chunk.len();
            step(if offset == bytes.len() { "last patch" } else { "patch" }, &mut t);
        }
        if read_back {
            let a = send(agent, targets, d, "HEAD", &path, std::slice::from_ref(&tus), &[])?;
            let expected = bytes.len().to_string();
            if a.status != 200 || a.upload_offset.as_deref() != Some(expected.as_str()) {
                return Err(format!(
                    "tus head: {} at offset {:?}, expected {expected}",
                    a.status, a.upload_offset
                ));
            }
            step("head", &mut t);
        }
    }
    let path = format!("/v1/submissions/{}", p.record_id);
    let a = send(
        agent,
        targets,
        d,
        "PUT",
        &path,
        &[("Content-Type", SUBMISSION_CONTENT_TYPE.into())],
        &p.body,
    )?;
    if a.status != 201 && a.status != 200 {
        return Err(format!("put: {} {}", a.status, String::from_utf8_lossy(&a.body)));
    }
    check_receipt(&a.body, d, p)?;
    step("put", &mut t);
    if read_back {
        let a = send(agent, targets, d, "GET", &format!("{path}/receipt"), &[], &[])?;
        if a.status != 200 {
            return Err(format!("get receipt: {} {}", a.status, String::from_utf8_lossy(&a.body)));
        }
        check_receipt(&a.body, d, p)?;
        step("receipt", &mut t);
    }
    Ok(())
}

/// The receipt is signed by the pinned key, for this submission, with all its evidence.
fn check_receipt(body: &[u8], d: &Device, p: &Prepared) -> Result<(), String> {
    let doc: Json = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let receipt = Receipt::verify(&doc, &d.server).map_err(|e| e.to_string())?;
    if receipt.record_id != p.record_id || receipt.envelope_sha256 != p.envelope_sha256 {
        return Err("a receipt for another submission".into());
    }
    if !receipt.complete {
        return Err("the receipt is not complete".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_gives_its_path_with_or_without_the_host() {
        assert_eq!(location_path("/v1/evidence/abc"), "/v1/evidence/abc");
        assert_eq!(location_path("http://127.0.0.1:9/v1/evidence/abc"), "/v1/evidence/abc");
        assert_eq!(location_path("https://h"), "/");
    }

    #[test]
    fn targets_are_taken_in_turn() {
        let t = Targets::new(vec!["a".into(), "b".into()]);
        let picked: Vec<&str> = (0..4).map(|_| t.pick().1).collect();
        assert_eq!(picked, ["a", "b", "a", "b"]);
    }
}
