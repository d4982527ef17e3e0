//! `safehome enroll`, `sync` and `status` over the real HTTP transport, against a minimal fake
//! server on loopback (signed configuration and receipts; the full protocol is exercised by the
//! core's engine tests, and end to end against `safehome-server` elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use safehome_core::clock::SystemEntropy;
use safehome_core::evidence::keys::{DeviceSigningKey, Identity};
use safehome_core::sync::protocol::{
    CONFIG_SCHEMA, CheckinResponse, ConfigRecipient, RECEIPT_SCHEMA, Receipt, SubmissionBody,
    TeamConfig, server_public,
};
use serde_json::json;

mod common;
use common::{Device, code, stderr, stdout};

/// What the fake server remembers.
#[derive(Default)]
struct Seen {
    device_id: String,
    puts: Vec<String>,
    /// Answer every PUT with this error (status, code) instead.
    refuse_puts: Option<(u16, &'static str)>,
}

struct Server {
    url: String,
    key: String,
    seen: Arc<Mutex<Seen>>,
}

fn server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let signing = DeviceSigningKey::from_seed([5; 32]).unwrap();
    let key = server_public(&signing).to_string();
    let recipient = Identity::generate(&SystemEntropy::default()).recipient().to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = serve(stream, &signing, &recipient, &shared);
        }
    });
    Server { url, key, seen }
}

fn serve(
    stream: TcpStream,
    key: &DeviceSigningKey,
    recipient: &str,
    seen: &Mutex<Seen>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) =
        (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            if n.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64;
    let config = |device_id: &str| {
        TeamConfig {
            schema: CONFIG_SCHEMA.into(),
            team: "tn-05569".into(),
            communes: vec!["05569".into()],
            device_id: device_id.into(),
            role: "volunteer".into(),
            recipients: vec![ConfigRecipient {
                public_key: recipient.into(),
                kind: "archive".into(),
                label: "Archive".into(),
            }],
            devices: Vec::new(),
            server_public_key: server_public(key).to_string(),
            issued_at_ms: now,
        }
        .sign(key)
        .unwrap()
    };
    let (status, answer) = match (method.as_str(), path.as_str()) {
        ("POST", "/v1/enroll") => {
            let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
            if req["code"] != "7KQ4-M9TX-2HPA" {
                (404, json!({"code": "enrollment_code_unknown", "message": "no such code"}))
            } else {
                let id = req["device_id"].as_str().unwrap().to_string();
                seen.lock().unwrap().device_id = id.clone();
                (200, config(&id))
            }
        }
        ("POST", "/v1/checkin") => (
            200,
            serde_json::to_value(CheckinResponse {
                server_time_ms: now,
                last_audit_length: None,
                last_audit_head: None,
                regression: false,
            })
            .unwrap(),
        ),
        ("GET", "/v1/config") => (200, config(&seen.lock().unwrap().device_id)),
        ("PUT", p) if p.starts_with("/v1/submissions/") => {
            let mut s = seen.lock().unwrap();
            if let Some((status, code)) = s.refuse_puts {
                (status, json!({"code": code, "message": "refused by the fake server"}))
            } else {
                let sub = SubmissionBody::decode(&body).unwrap();
                s.puts.push(sub.routing.record_id.clone());
                let receipt = Receipt {
                    schema: RECEIPT_SCHEMA.into(),
                    record_id: sub.routing.record_id.clone(),
                    envelope_sha256: sub.routing.envelope_sha256.clone(),
                    device_id: s.device_id.clone(),
                    received_at_ms: now,
                    seq: s.puts.len() as i64,
                    complete: true,
                    missing_evidence: vec![],
                    issued_at_ms: now,
                };
                (201, receipt.sign(key).unwrap())
            }
        }
        _ => (404, json!({"code": "not_found", "message": "no such route"})),
    };
    let bytes = serde_json::to_vec(&answer).unwrap();
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nSafeHome-Server-Time: {now}\r\nConnection: close\r\n\r\n",
        bytes.len()
    )?;
    out.write_all(&bytes)?;
    out.flush()
}

/// A finalized visit by the volunteer.
fn finalized_visit(d: &Device) -> String {
    let out = d.ok(
        "2222",
        &[
            "household",
            "add",
            "--user",
            "Toàn",
            "--commune",
            "05569",
            "--village",
            "Thôn Khuôn Tát",
            "--head",
            "Ma Văn Hùng",
            // Each visit of this fixture is of its own household, whatever the name.
            "--not-duplicate",
        ],
    );
    let household = out.split_whitespace().next().unwrap().to_string();
    let visit = d.ok("2222", &["visit", "start", "--user", "Toàn", "--household", &household]);
    let visit = visit.trim().to_string();
    let answers = d.dir.join("answers.json");
    std::fs::write(
        &answers,
        json!({
            "consent": "yes", "commune_code": "05569", "village": "Thôn Khuôn Tát", "head_name": "Ma Văn Hùng",
            "household_gps": {"lat": 21.905, "lon": 105.648, "alt": 120, "accuracy": 6},
            "num_children": 1,
            "children": [{"child_name": "Ma Thị Lan", "child_sex": "female", "child_age": 3,
                          "child_disability": "no", "child_lives_with": "both_parents"}],
            "pond_fenced": "no", "well_covered": "yes", "poison_stored": "no", "window_bars": "yes",
            "kitchen_separate": "yes", "hot_items_safe": "yes", "wiring_safe": "yes", "stairs_railing": "na",
            "gate_fence": "yes", "helmet_use": "yes", "play_area": "yes", "child_injured_12m": "no",
            "special_groups": ["none"], "serious_harm": "no"
        })
        .to_string(),
    )
    .unwrap();
    d.ok("2222", &["visit", "fill", "--user", "Toàn", &visit, answers.to_str().unwrap()]);
    d.ok("2222", &["visit", "finalize", "--user", "Toàn", &visit]);
    visit
}

#[test]
fn enroll_sync_and_status_against_a_server() {
    let srv = server();
    let d = Device::new("e2e");
    d.ok("", &["init"]);
    d.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Hằng"]);
    d.ok("2222", &["user", "add", "--role", "volunteer", "--name", "Toàn", "--user", "Hằng"]);
    assert!(d.ok("", &["status"]).contains("not enrolled with a server"));

    // Not enrolled: sync cannot start.
    let o = d.run("2222", &["sync", "--user", "Toàn"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A wrong code, and a server key other than the server's: refused.
    let o = d.run("1111", &["enroll", "--user", "Hằng", "--server", &srv.url, "--code", "NOPE"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("enrollment_code_unknown"), "{}", stderr(&o));
    let other = server_public(&DeviceSigningKey::from_seed([6; 32]).unwrap()).to_string();
    let o = d.run(
        "1111",
        &[
            "enroll",
            "--user",
            "Hằng",
            "--server",
            &srv.url,
            "--code",
            "7KQ4-M9TX-2HPA",
            "--server-key",
            &other,
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));

    let out = d.ok(
        "1111",
        &[
            "enroll",
            "--user",
            "Hằng",
            "--server",
            &srv.url,
            "--code",
            "7KQ4-M9TX-2HPA",
            "--server-key",
            &srv.key,
        ],
    );
    assert!(out.contains("team tn-05569"), "{out}");
    let visit = finalized_visit(&d);

    let out = d.ok("2222", &["sync", "--user", "Toàn"]);
    assert!(out.contains("1 acknowledged"), "{out}");
    assert_eq!(srv.seen.lock().unwrap().puts, [visit]);
    let status = d.ok("", &["status"]);
    assert!(status.contains(&format!("server {}", srv.url)), "{status}");
    assert!(status.contains("last sync at"), "{status}");
    assert!(status.contains("outbox  acknowledged  1"), "{status}");
    assert!(status.contains("regression flag: no"), "{status}");

    // A refused record is parked: sync exits 1 and says why; status counts it.
    let parked = finalized_visit(&d);
    srv.seen.lock().unwrap().refuse_puts = Some((409, "submission_conflict"));
    let o = d.run("2222", &["sync", "--user", "Toàn"]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("parked       {parked}: submission_conflict")),
        "{}",
        stdout(&o)
    );
    let status: serde_json::Value = serde_json::from_str(&d.ok("", &["status", "--json"])).unwrap();
    assert_eq!(status["sync"]["enrolled"], true);
    let parked_count = status["outbox_by_state"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "parked")
        .map(|c| c["count"].as_i64().unwrap());
    assert_eq!(parked_count, Some(1));

    // Resolved on the server; an operator unparks it; the next sync sends it.
    srv.seen.lock().unwrap().refuse_puts = None;
    let list = d.ok("", &["outbox", "list"]);
    let line = list.lines().find(|l| l.contains("(submission_conflict)")).unwrap();
    let outbox_id = line.split_whitespace().next().unwrap();
    d.ok("1111", &["outbox", "unpark", "--user", "Hằng", outbox_id]);
    let out = d.ok("2222", &["sync", "--user", "Toàn", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["acknowledged"][0]["record_id"], parked.as_str());
}

#[test]
fn a_server_out_of_reach_is_reported() {
    let d = Device::new("unreachable");
    d.ok("", &["init"]);
    d.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Hằng"]);
    // Port 1 on loopback: nothing listens.
    let o = d.run(
        "1111",
        &["enroll", "--user", "Hằng", "--server", "http://127.0.0.1:1", "--code", "7KQ4-M9TX-2HPA"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot be reached"), "{}", stderr(&o));
    let o = d.run("1111", &["enroll", "--user", "Hằng", "--server", "ftp://x", "--code", "X"]);
    assert_eq!(code(&o), 2);
}
