//! `safehome bench review`: the supervisor's pull. A volunteer's phone (a real store) finalizes
//! N screening visits, each with a photo, and uploads them to a real server (in this process,
//! on a loopback port); then the supervisor's phone pulls them in its own process — `safehome
//! sync` on its database, as a phone would run it: the team index, every body fetched, verified
//! and opened, every photo fetched and checked — and the figures are its wall time and its peak
//! resident memory. Then every record and photo is opened on the supervisor's store (what
//! showing them costs). The volunteer's upload of the same records, measured in the same run,
//! is printed beside it for scale.
//!
//! Bounded and self-stopping: N records, then everything is removed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use safehome_core::clock::{Clock, Entropy, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::location::{Fix, Provider};
use safehome_core::store::households::NewHousehold;
use safehome_core::store::profiles::Role;
use safehome_core::store::{Store, StoreConfig};
use safehome_core::sync::{self, NoProgress};
use safehome_core::templates;
use safehome_server::{Admin, BackgroundServer, ServerConfig};
use serde_json::Value;

use crate::outln;
use crate::transport::HttpTransport;

const PHOTO: &[u8] = include_bytes!("../../testdata/photos/camera/DSCN0010.jpg");
const TEAM: &str = "bench-team";
const PIN: &str = "975310";

#[derive(Args)]
pub struct ReviewBenchArgs {
    /// Records to pull (each with a photo).
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Print the figures as one JSON object.
    #[arg(long)]
    json: bool,
}

fn store_at(path: &Path, key: [u8; 32]) -> Result<Store, String> {
    Store::open(
        path,
        &DataKey::from_bytes(key),
        Arc::new(SystemClock { offset_minutes: 420 }),
        Arc::new(SystemEntropy::default()),
        // The PIN check is not what is measured.
        StoreConfig { pin_iterations: 10_000, ..StoreConfig::default() },
    )
    .map_err(|e| e.to_string())
}

fn key() -> [u8; 32] {
    let mut k = [0u8; 32];
    SystemEntropy::default().fill(&mut k);
    k
}

pub fn run(args: &ReviewBenchArgs) -> Result<(), String> {
    let n = args.records.max(1);
    let dir = BenchDir::new()?;
    let data = dir.path().join("server");
    safehome_server::init(&data).map_err(|e| e.to_string())?;
    let now = SystemClock::default().now_ms();
    let mut admin = Admin::open(&data).map_err(|e| e.to_string())?;
    let archive = safehome_core::evidence::keys::Identity::generate(&SystemEntropy::default());
    admin
        .add_team(TEAM, &["05569".into()], &archive.recipient(), "Archive", now)
        .map_err(|e| e.to_string())?;
    let code = |role| {
        Admin::open(&data)
            .and_then(|mut a| a.create_enrollment_code(TEAM, role, 3_600_000, now))
            .map(|c| c.code)
            .map_err(|e| e.to_string())
    };
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0")
        .map_err(|e| e.to_string())?;
    let url = server.url();
    let transport = HttpTransport::new(&url)?;

    // The supervisor's phone: enrolled first (its inbox is a recipient of what follows), then
    // closed, for its own process to open.
    let sup_db = dir.path().join("supervisor.db");
    let sup_key = key();
    {
        let s = store_at(&sup_db, sup_key)?;
        let p =
            s.create_profile(None, "Officer", Role::Supervisor, PIN).map_err(|e| e.to_string())?;
        let officer = s.unlock(&p.id, PIN).map_err(|e| e.to_string())?;
        let c = code(safehome_server::Role::Supervisor)?;
        sync::enroll(&s, &officer, &transport, &url, &c, None, None).map_err(|e| e.to_string())?;
    }
    let key_file = dir.path().join("supervisor.key");
    std::fs::write(&key_file, safehome_core::hex::encode(&sup_key)).map_err(|e| e.to_string())?;

    // The volunteer's phone: N visits with a photo each.
    let vol_store = store_at(&dir.path().join("volunteer.db"), key())?;
    let lead = vol_store
        .create_profile(None, "Lead", Role::Supervisor, PIN)
        .and_then(|p| vol_store.unlock(&p.id, PIN))
        .map_err(|e| e.to_string())?;
    let vol = vol_store
        .create_profile(Some(&lead), "Volunteer", Role::Volunteer, PIN)
        .and_then(|p| vol_store.unlock(&p.id, PIN))
        .map_err(|e| e.to_string())?;
    let c = code(safehome_server::Role::Volunteer)?;
    sync::enroll(&vol_store, &lead, &transport, &url, &c, None, None).map_err(|e| e.to_string())?;
    let examples: Vec<Value> =
        serde_json::from_str(templates::EXAMPLE_HOUSEHOLDS).map_err(|e| e.to_string())?;
    let photo = dir.path().join("photo.jpg");
    std::fs::write(&photo, PHOTO).map_err(|e| e.to_string())?;
    outln!("bench review: {n} visits with a photo on the volunteer's phone...");
    for i in 0..n {
        let ex = &examples[i % examples.len()]["answers"];
        let h = vol_store
            .add_household(
                &vol,
                &NewHousehold {
                    commune_code: "05569".into(),
                    village: ex["village"].as_str().unwrap_or("").to_string(),
                    address: None,
                    head_name: format!("{} {i}", ex["head_name"].as_str().unwrap_or("")),
                    members: Vec::new(),
                    location: None,
                    volunteer_id: None,
                },
            )
            .map_err(|e| e.to_string())?;
        let mut d =
            vol_store.start_visit(&vol, &h.id, "household_screening").map_err(|e| e.to_string())?;
        vol_store
            .edit(&mut d, |s| s.load_answers(ex).map_err(|mut errs| errs.remove(0)))
            .map_err(|e| e.to_string())?;
        let gps = &ex["household_gps"];
        let mut fix = Fix::new(
            gps["lat"].as_f64().unwrap_or(21.9),
            gps["lon"].as_f64().unwrap_or(105.6),
            6.0,
            vol_store.now_ms() - 2_000,
        );
        fix.provider = Provider::Gps;
        vol_store
            .answer_fix(&vol, &mut d, "household_gps", &fix, true)
            .map_err(|e| e.to_string())?;
        vol_store.attach_photo(&vol, &mut d, "hazard_photo", &photo).map_err(|e| e.to_string())?;
        vol_store.finalize(&vol, &d).map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let up = sync::run(&vol_store, &vol, &transport, &NoProgress).map_err(|e| e.to_string())?;
    let upload_s = started.elapsed().as_secs_f64();
    if up.acknowledged.len() != n {
        return Err(format!("{} of {n} records uploaded", up.acknowledged.len()));
    }

    // The pull, in the supervisor phone's own process.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["sync", "--user", "Officer", "--evidence-budget", "1000000000000", "--json"])
        .env("SAFEHOME_DB", &sup_db)
        .env("SAFEHOME_KEY_FILE", &key_file)
        .env("SAFEHOME_PIN", PIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id();
    let mut peak_kib = 0u64;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let pull_s = started.elapsed().as_secs_f64();
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        use std::io::Read;
        let _ = o.read_to_string(&mut out);
    }
    if !status.success() {
        return Err(format!("the supervisor's sync failed: {out}"));
    }
    let report: Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    let pulled = report["review"]["pulled"].as_i64().unwrap_or(0);
    let photos = report["review"]["evidence_fetched"].as_i64().unwrap_or(0);
    let photo_bytes = report["review"]["evidence_bytes"].as_i64().unwrap_or(0);
    if pulled != n as i64 || photos != n as i64 {
        return Err(format!("pulled {pulled} records and {photos} photos of {n}"));
    }

    // Opening each record and its photo, as the review screen does.
    let sup = store_at(&sup_db, sup_key)?;
    let officer = sup
        .profiles()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|p| p.name == "Officer")
        .ok_or("no officer")
        .and_then(|p| sup.unlock(&p.id, PIN).map_err(|_| "unlock"))?;
    let started = Instant::now();
    let queue = sup.received_queue(&officer, n + 10).map_err(|e| e.to_string())?;
    let queue_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut open_ms = Vec::with_capacity(queue.len());
    for q in &queue {
        let t = Instant::now();
        let view = sup.received_record(&officer, &q.record_id).map_err(|e| e.to_string())?;
        for e in &view.evidence {
            let (jpeg, _) = sup
                .open_received_evidence(&officer, &q.record_id, &e.id)
                .map_err(|e| e.to_string())?;
            if !jpeg.starts_with(&[0xFF, 0xD8]) {
                return Err("an opened photo is not a JPEG".into());
            }
        }
        open_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    open_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| open_ms[((open_ms.len() - 1) as f64 * p).round() as usize];
    let db_bytes = std::fs::metadata(&sup_db).map(|m| m.len()).unwrap_or(0);
    server.stop().map_err(|e| e.to_string())?;
    let figures = serde_json::json!({
        "records": n,
        "photo_bytes": photo_bytes,
        "pull_seconds": pull_s,
        "pull_records_per_second": n as f64 / pull_s,
        "pull_peak_rss_mib": peak_kib as f64 / 1024.0,
        "upload_seconds_same_records": upload_s,
        "queue_ms": queue_ms,
        "open_record_and_photo_ms_p50": pct(0.5),
        "open_record_and_photo_ms_p99": pct(0.99),
        "supervisor_db_bytes_per_record": db_bytes as f64 / n as f64,
    });
    if args.json {
        outln!("{figures}");
    } else {
        outln!(
            "pull of {n} records with a photo each ({photo_bytes} photo bytes), supervisor's phone process:"
        );
        outln!(
            "  {:.2} s ({:.0} records/s), peak RSS {:.1} MiB",
            pull_s,
            n as f64 / pull_s,
            peak_kib as f64 / 1024.0
        );
        outln!("  (the volunteer's upload of the same records: {upload_s:.2} s)");
        outln!("  review queue of {} records: {queue_ms:.1} ms", queue.len());
        outln!("  open one record and its photo: p50 {:.2} ms, p99 {:.2} ms", pct(0.5), pct(0.99));
        outln!("  supervisor's database: {:.1} KB per record", db_bytes as f64 / n as f64 / 1000.0);
    }
    Ok(())
}

/// The bench's working folder, removed when it ends.
struct BenchDir(std::path::PathBuf);

impl BenchDir {
    fn new() -> Result<BenchDir, String> {
        let p = std::env::temp_dir().join(format!("safehome-bench-review-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(BenchDir(p))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Peak resident memory of a running process (VmHWM), KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
