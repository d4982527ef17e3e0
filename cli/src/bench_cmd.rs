//! `safehome bench upload`: the upload benchmark. It starts a real `safehome-server` process on a
//! loopback port (its own data folder, production durability), enrolls simulated devices, and
//! has a few client threads upload sealed submissions as phones do — evidence by tus, then the
//! submission, then the signed receipt checked — and reports submissions per second, p50/p99
//! latency, the server's CPU per submission, its peak memory and its storage per submission,
//! next to ODK Central's figures measured on the same kind of machine (the anchor).
//!
//! Bounded and self-stopping: each case sends a fixed number of submissions, then the server is
//! stopped and its folder removed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use safehome_core::clock::{Entropy, SystemEntropy};
use safehome_core::evidence::envelope::{Randomness, seal_bytes};
use safehome_core::evidence::keys::{DeviceSigningKey, Identity, RecipientKey, ServerPublicKey};
use safehome_core::evidence::meta::EvidenceInfo;
use safehome_core::sync::base64;
use safehome_core::sync::protocol::{
    EnrollRequest, ROUTING_SCHEMA, Receipt, RequestAuth, RoutingEvidence, RoutingForm,
    RoutingHeader, SUBMISSION_CONTENT_TYPE, SubmissionBody, TeamConfig, sha256_hex,
};
use serde_json::Value as Json;

use crate::outln;

#[derive(Args)]
pub struct UploadBenchArgs {
    /// The server binary (default: `safehome-server` beside this program).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Which cases: `anchor` (ODK Central's three load shapes), `fleet` (many devices, each
    /// submission with a photo), or `quick` (small versions of both, for CI).
    #[arg(long, default_value = "anchor")]
    cases: String,
    /// Print one JSON object per case instead of the table.
    #[arg(long)]
    json: bool,
}

/// One load shape.
#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    clients: usize,
    devices: usize,
    submissions: usize,
    photo_bytes: usize,
    /// ODK Central on a 2-core machine (the anchor's figures, copied: docs/protocol.md):
    /// submissions/s range, p50 ms range, p99 ms range, node peak RSS MiB range.
    anchor: Option<Anchor>,
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    per_s: (f64, f64),
    p50_ms: (f64, f64),
    p99_ms: (f64, f64),
    rss_mib: (f64, f64),
}

/// The record's sealed payload: the size of a 12-child household screening submission.
const SUBMISSION_PLAIN_BYTES: usize = 3_133;

fn cases(which: &str) -> Result<Vec<Case>, String> {
    let central_1 = Anchor {
        per_s: (57.5, 98.1),
        p50_ms: (8.3, 11.5),
        p99_ms: (19.5, 65.2),
        rss_mib: (321.0, 330.0),
    };
    let central_8 = Anchor {
        per_s: (111.4, 158.1),
        p50_ms: (48.2, 71.0),
        p99_ms: (111.6, 125.5),
        rss_mib: (343.0, 380.0),
    };
    let central_photo = Anchor {
        per_s: (54.9, 66.5),
        p50_ms: (55.6, 68.2),
        p99_ms: (121.5, 132.3),
        rss_mib: (393.0, 432.0),
    };
    let photo = 309_570;
    Ok(match which {
        "anchor" => vec![
            Case {
                name: "1 client, 1,000 submissions",
                clients: 1,
                devices: 10,
                submissions: 1_000,
                photo_bytes: 0,
                anchor: Some(central_1),
            },
            Case {
                name: "8 clients, 2,000 submissions",
                clients: 8,
                devices: 80,
                submissions: 2_000,
                photo_bytes: 0,
                anchor: Some(central_8),
            },
            Case {
                name: "4 clients, 500 with a 302 KiB photo",
                clients: 4,
                devices: 40,
                submissions: 500,
                photo_bytes: photo,
                anchor: Some(central_photo),
            },
        ],
        "fleet" => vec![Case {
            name: "200 devices x 20, each with a 302 KiB photo (8 clients)",
            clients: 8,
            devices: 200,
            submissions: 4_000,
            photo_bytes: photo,
            anchor: Some(central_photo),
        }],
        "quick" => vec![
            Case {
                name: "quick: 2 clients, 100 submissions",
                clients: 2,
                devices: 4,
                submissions: 100,
                photo_bytes: 0,
                anchor: Some(central_8),
            },
            Case {
                name: "quick: 2 clients, 40 with a photo",
                clients: 2,
                devices: 4,
                submissions: 40,
                photo_bytes: photo,
                anchor: Some(central_photo),
            },
        ],
        other => return Err(format!("--cases: unknown '{other}' (anchor, fleet or quick)")),
    })
}

/// Figures of one case.
#[derive(Debug, Clone, serde::Serialize)]
struct Figures {
    case: String,
    submissions: usize,
    seconds: f64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_ms_per_submission: f64,
    server_peak_rss_mib: f64,
    storage_bytes_per_submission: f64,
    failures: usize,
    /// Median time of each request of a submission, ms (`create`, `patch`, `last patch`, `put`).
    step_p50_ms: std::collections::BTreeMap<String, f64>,
}

pub fn run(args: &UploadBenchArgs) -> Result<(), String> {
    let server = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this program: {e}"))?
            .with_file_name("safehome-server"),
    };
    if !server.exists() {
        return Err(format!(
            "{} not found: build it (cargo build --release -p safehome-server) or pass --server",
            server.display()
        ));
    }
    if !args.json {
        outln!(
            "Upload benchmark: safehome-server on loopback, durable (fsync before every answer)"
        );
        outln!(
            "Anchor: ODK Central v2026.2.2 + PostgreSQL 15 on a 2-core machine (ranges over runs)"
        );
    }
    for case in cases(&args.cases)? {
        let f = run_case(&server, &case)?;
        if args.json {
            outln!("{}", serde_json::to_string(&f).map_err(|e| e.to_string())?);
        } else {
            print_case(&case, &f);
        }
        if f.failures > 0 {
            return Err(format!("{}: {} submission(s) failed", case.name, f.failures));
        }
    }
    Ok(())
}

fn print_case(case: &Case, f: &Figures) {
    outln!("\n== {}", case.name);
    let range = |r: (f64, f64)| format!("{:.1}–{:.1}", r.0, r.1);
    let a = case.anchor;
    outln!("{:<28} {:>14} {:>18}", "", "SafeHome", "ODK Central");
    outln!(
        "{:<28} {:>14.1} {:>18}",
        "submissions/s",
        f.per_second,
        a.map_or("-".into(), |a| range(a.per_s))
    );
    outln!(
        "{:<28} {:>14.2} {:>18}",
        "p50 latency, ms",
        f.p50_ms,
        a.map_or("-".into(), |a| range(a.p50_ms))
    );
    outln!(
        "{:<28} {:>14.2} {:>18}",
        "p99 latency, ms",
        f.p99_ms,
        a.map_or("-".into(), |a| range(a.p99_ms))
    );
    outln!(
        "{:<28} {:>14.2} {:>18}",
        "server CPU per submission, ms",
        f.server_cpu_ms_per_submission,
        "12.6–30.9 (node+pg)"
    );
    outln!(
        "{:<28} {:>14.1} {:>18}",
        "server peak RSS, MiB",
        f.server_peak_rss_mib,
        a.map_or("-".into(), |a| range(a.rss_mib))
    );
    outln!(
        "{:<28} {:>14.0} {:>18}",
        "storage per submission, B",
        f.storage_bytes_per_submission,
        "3.3–3.5 KB / 328.5 KB"
    );
    let steps: Vec<String> = f.step_p50_ms.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
    outln!("{:<28} {}", "p50 per request, ms", steps.join(", "));
    if let Some(a) = a {
        outln!(
            "{:<28} {:>14}",
            "ratio to Central (best run)",
            format!("{:.1}x", f.per_second / a.per_s.1)
        );
    }
}

/// A simulated device: its key, id, and the server key it pinned.
struct Device {
    id: String,
    key: DeviceSigningKey,
    server: ServerPublicKey,
    team: String,
}

struct ServerProcess {
    child: Child,
    base: String,
    data: PathBuf,
}

impl ServerProcess {
    /// SIGTERM and wait: the server finishes, closes its database (checkpointing the WAL into
    /// it), so the data folder then holds what a stored submission really costs.
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn run_case(server_exe: &Path, case: &Case) -> Result<Figures, String> {
    let data = std::env::temp_dir().join(format!("safehome-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let archive = Identity::generate(&SystemEntropy::default());
    let server = start_server(server_exe, &data, &archive.recipient().to_string())?;
    let codes = (0..case.devices)
        .map(|_| enrollment_code(server_exe, &data))
        .collect::<Result<Vec<_>, _>>()?;
    let enroll_agent = agent();
    let devices = codes
        .iter()
        .map(|code| enroll(&enroll_agent, &server.base, code))
        .collect::<Result<Vec<_>, _>>()?;
    let recipients = vec![archive.recipient()];
    let devices = Arc::new(devices);
    let before_bytes = dir_size(&server.data);
    let before_cpu = process_cpu_ms(server.child.id())?;

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut threads = Vec::new();
    for _ in 0..case.clients {
        let (next, devices, base, recipients) =
            (next.clone(), devices.clone(), server.base.clone(), recipients.clone());
        let (total, photo) = (case.submissions, case.photo_bytes);
        threads.push(std::thread::spawn(move || {
            let agent = agent();
            let mut latencies = Vec::new();
            let mut steps = Vec::new();
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let device = &devices[i % devices.len()];
                // Sealing is the phone's work, done before the clock starts.
                let prepared = match prepare(device, &recipients, i, photo) {
                    Ok(p) => p,
                    Err(_) => {
                        failures += 1;
                        continue;
                    }
                };
                let t = Instant::now();
                match upload(&agent, &base, device, &prepared, &mut steps) {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(_) => failures += 1,
                }
            }
            (latencies, steps, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut by_step: std::collections::BTreeMap<&'static str, Vec<Duration>> = Default::default();
    let mut failures = 0;
    for t in threads {
        let (l, s, f) = t.join().map_err(|_| "a client thread panicked".to_string())?;
        latencies.extend(l);
        for (name, d) in s {
            by_step.entry(name).or_default().push(d);
        }
        failures += f;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = process_cpu_ms(server.child.id())? - before_cpu;
    let rss = peak_rss_mib(server.child.id())?;
    let mut server = server;
    server.stop();
    let after_bytes = dir_size(&server.data);
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let done = latencies.len().max(1);
    Ok(Figures {
        case: case.name.into(),
        submissions: latencies.len(),
        seconds,
        per_second: latencies.len() as f64 / seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        server_cpu_ms_per_submission: cpu / done as f64,
        server_peak_rss_mib: rss,
        storage_bytes_per_submission: (after_bytes.saturating_sub(before_bytes)) as f64
            / done as f64,
        failures,
        step_p50_ms: by_step
            .into_iter()
            .map(|(name, mut v)| {
                v.sort();
                (name.to_string(), v[v.len() / 2].as_secs_f64() * 1000.0)
            })
            .collect(),
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn run_server_cmd(exe: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "safehome-server {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn start_server(exe: &Path, data: &Path, archive: &str) -> Result<ServerProcess, String> {
    let d = data.to_string_lossy().to_string();
    run_server_cmd(exe, &["init", "--data", &d])?;
    run_server_cmd(
        exe,
        &[
            "team",
            "add",
            "--data",
            &d,
            "--team",
            "bench",
            "--communes",
            "19001",
            "--archive-key",
            archive,
        ],
    )?;
    let port = free_port()?;
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(exe)
        .args(["serve", "--data", &d, "--listen", &listen])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let server = ServerProcess { child, base: format!("http://{listen}"), data: data.into() };
    let agent = agent();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = agent.get(format!("{}/healthz", server.base)).call() {
            if r.status().as_u16() == 200 {
                return Ok(server);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the server did not answer /healthz within 20 s".into())
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn enrollment_code(exe: &Path, data: &Path) -> Result<String, String> {
    let d = data.to_string_lossy().to_string();
    let out = run_server_cmd(
        exe,
        &["enroll", "--data", &d, "--team", "bench", "--role", "volunteer", "--json"],
    )?;
    let v: Json = serde_json::from_str(out.trim()).map_err(|e| format!("enroll --json: {e}"))?;
    v["code"].as_str().map(str::to_string).ok_or_else(|| "enroll --json: no code".into())
}

struct Answer {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

fn send(
    agent: &ureq::Agent,
    base: &str,
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
    let url = format!("{base}{path}");
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    for (k, v) in auth.headers().iter().map(|(k, v)| (*k, v.clone())).chain(headers.iter().cloned())
    {
        req = req.header(k, v);
    }
    let req = req.body(body.to_vec()).map_err(|e| e.to_string())?;
    let mut resp = agent.run(req).map_err(|e| e.to_string())?;
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut out = Vec::new();
    resp.body_mut().as_reader().take(1 << 20).read_to_end(&mut out).map_err(|e| e.to_string())?;
    Ok(Answer { status: resp.status().as_u16(), location, body: out })
}

fn enroll(agent: &ureq::Agent, base: &str, code: &str) -> Result<Device, String> {
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
        base,
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
struct Prepared {
    record_id: String,
    photo: Option<(String, Vec<u8>)>,
    body: Vec<u8>,
    envelope_sha256: String,
}

fn prepare(
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

/// What a phone does for one record: the photo by tus (create, then 256 KiB chunks), the
/// submission, and the receipt checked against the pinned key.
fn upload(
    agent: &ureq::Agent,
    base: &str,
    d: &Device,
    p: &Prepared,
    steps: &mut Vec<(&'static str, Duration)>,
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
            base,
            d,
            "POST",
            "/v1/evidence/",
            &[tus.clone(), ("Upload-Length", bytes.len().to_string()), ("Upload-Metadata", meta)],
            &[],
        )?;
        let location = match (a.status, a.location) {
            (201, Some(l)) => l,
            (s, _) => return Err(format!("tus create: {s}")),
        };
        step("create", &mut t);
        let path = location.strip_prefix(base).unwrap_or(&location).to_string();
        let mut offset = 0usize;
        for chunk in bytes.chunks(safehome_core::sync::CHUNK_LEN) {
            let a = send(
                agent,
                base,
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
                return Err(format!("tus patch: {}", a.status));
            }
            offset += chunk.len();
            step(if offset == bytes.len() { "last patch" } else { "patch" }, &mut t);
        }
    }
    let path = format!("/v1/submissions/{}", p.record_id);
    let a = send(
        agent,
        base,
        d,
        "PUT",
        &path,
        &[("Content-Type", SUBMISSION_CONTENT_TYPE.into())],
        &p.body,
    )?;
    if a.status != 201 && a.status != 200 {
        return Err(format!("put: {} {}", a.status, String::from_utf8_lossy(&a.body)));
    }
    let doc: Json = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    let receipt = Receipt::verify(&doc, &d.server).map_err(|e| e.to_string())?;
    if receipt.record_id != p.record_id || receipt.envelope_sha256 != p.envelope_sha256 {
        return Err("a receipt for another submission".into());
    }
    if !receipt.complete {
        return Err("the receipt is not complete".into());
    }
    step("put", &mut t);
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// User + system CPU time of a process, ms (Linux: /proc, 100 ticks per second).
fn process_cpu_ms(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    Ok((ticks(11) + ticks(12)) * 10.0)
}

/// Peak resident memory of a process (VmHWM), MiB.
fn peak_rss_mib(pid: u32) -> Result<f64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .ok_or_else(|| "no VmHWM".into())
}
