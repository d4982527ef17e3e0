//! `safehome bench upload`: the upload benchmark. It starts real `safehome-server` processes on
//! loopback ports (one data folder, production durability, one database: the SQLite file in the
//! folder or the `--database` given), enrolls simulated devices, and has a few client threads
//! upload sealed submissions as phones do — evidence by tus, then the submission, then the
//! signed receipt checked — spreading the requests over the processes one request at a time.
//! It reports submissions per second, p50/p99 latency, the servers' CPU per submission, each
//! process's peak memory, the storage per submission (database and evidence apart), and
//! checks that the database holds each submission exactly once; next to ODK Central's figures
//! measured on the same kind of machine (the anchor) where the shape is one of its.
//!
//! `--compare` runs each case on SQLite with one process and with several, and on the
//! `--database` given with several, in one run: one table, a column per setup.
//!
//! Bounded and self-stopping: each case enrolls a fixed number of devices and sends a fixed
//! number of submissions, then the servers are stopped and their folder removed.

mod cases;
mod client;
mod measure;
mod report;
mod servers;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use safehome_core::clock::SystemEntropy;
use safehome_core::evidence::keys::Identity;

use crate::outln;
use cases::{Case, Overrides};
use client::Targets;
use report::Figures;
use servers::{Scratch, ServerExe};

#[derive(Args)]
pub struct UploadBenchArgs {
    /// The server binary (default: `safehome-server` beside this program).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Which cases: `anchor` (ODK Central's three load shapes), `fleet` (many devices, each
    /// submission with a photo), `province` (2,000 devices, two submissions each with a photo,
    /// every upload read back), or `quick` (small versions of the first two, for CI).
    #[arg(long, default_value = "anchor")]
    cases: String,
    /// Print one JSON object per case and setup instead of the table.
    #[arg(long)]
    json: bool,
    /// The database every server subcommand is given (`--database`), e.g.
    /// `postgres://bench@127.0.0.1:5432/safehome_bench`; absent: the SQLite file in the data
    /// folder. For PostgreSQL, each run gets a fresh database created on that server (the URL
    /// names one the user may connect to and create databases from) and dropped after it.
    #[arg(long)]
    database: Option<String>,
    /// Server processes over the one data folder and database, each on its own loopback port
    /// (default 1; 2 with --compare). Requests go to each in turn, one request at a time.
    #[arg(long)]
    processes: Option<usize>,
    /// Run each case on SQLite with 1 process and with --processes (default 2), and on
    /// --database (if given) with --processes, and print them side by side.
    #[arg(long)]
    compare: bool,
    /// Override every selected case's number of devices (Central's figures are then left out).
    #[arg(long)]
    devices: Option<usize>,
    /// Override every selected case's number of submissions.
    #[arg(long)]
    submissions: Option<usize>,
    /// Override every selected case's number of client threads.
    #[arg(long)]
    clients: Option<usize>,
}

/// The most server processes a case starts.
const MAX_PROCESSES: usize = 16;
/// The first failures' messages kept per client thread.
const ERRORS_KEPT: usize = 3;

/// Where a case runs: which database, how many server processes.
#[derive(Debug, Clone)]
struct Setup {
    database: Option<String>,
    processes: usize,
}

fn setups(args: &UploadBenchArgs) -> Result<Vec<Setup>, String> {
    let processes = args.processes.unwrap_or(if args.compare { 2 } else { 1 });
    if processes == 0 || processes > MAX_PROCESSES {
        return Err(format!("--processes must be 1 to {MAX_PROCESSES}"));
    }
    if !args.compare {
        return Ok(vec![Setup { database: args.database.clone(), processes }]);
    }
    if processes < 2 {
        return Err("--compare sets one process against several: --processes 2 or more".into());
    }
    let mut list =
        vec![Setup { database: None, processes: 1 }, Setup { database: None, processes }];
    if let Some(url) = &args.database {
        list.push(Setup { database: Some(url.clone()), processes });
    }
    Ok(list)
}

pub fn run(args: &UploadBenchArgs) -> Result<(), String> {
    let exe = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this program: {e}"))?
            .with_file_name("safehome-server"),
    };
    if !exe.exists() {
        return Err(format!(
            "{} not found: build it (cargo build --release -p safehome-server) or pass --server",
            exe.display()
        ));
    }
    let overrides =
        Overrides { devices: args.devices, submissions: args.submissions, clients: args.clients };
    let cases = cases::cases(&args.cases, &overrides)?;
    let setups = setups(args)?;
    if !args.json {
        outln!(
            "Upload benchmark: safehome-server on loopback, durable (fsync before every answer)"
        );
        outln!(
            "Anchor: ODK Central v2026.2.2 + PostgreSQL 15 on a 2-core machine (ranges over runs)"
        );
    }
    let mut failed = Vec::new();
    let mut n = 0;
    for case in &cases {
        let mut figures = Vec::new();
        for setup in &setups {
            n += 1;
            // PostgreSQL: a fresh database of its own on the server given, dropped afterwards.
            let scratch_db = match &setup.database {
                Some(url) if measure::is_postgres(url) => Some(ScratchPg::create(url, n)?),
                _ => None,
            };
            let database = scratch_db.as_ref().map(|d| d.url.clone()).or(setup.database.clone());
            let server = ServerExe { exe: exe.clone(), database };
            let f = run_case(&server, case, setup.processes, n);
            drop(scratch_db);
            let f = f?;
            if args.json {
                outln!("{}", serde_json::to_string(&f).map_err(|e| e.to_string())?);
            }
            if f.failures > 0 || f.stored.once != f.submissions {
                failed.push(format!(
                    "{} on {}: {} submission(s) failed, {} of {} stored exactly once{}",
                    case.name,
                    f.label(),
                    f.failures,
                    f.stored.once,
                    f.submissions,
                    f.errors.first().map_or(String::new(), |e| format!(" (first: {e})"))
                ));
            }
            figures.push(f);
        }
        if !args.json {
            report::print_case(case, &figures);
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(failed.join("\n")) }
}

/// A PostgreSQL database made for one run on the server the bench was given, dropped when the
/// run ends (so `--database` may name any database the user can create databases from, and a
/// run never meets the last one's rows).
struct ScratchPg {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchPg {
    fn create(admin_url: &str, n: usize) -> Result<ScratchPg, String> {
        let name = format!("safehome_bench_{}_{n}", std::process::id());
        safehome_server::db::create_pg_database(admin_url, &name)
            .map_err(|e| format!("creating the bench's database {name}: {e}"))?;
        let url = safehome_server::db::pg_url_for(admin_url, &name);
        Ok(ScratchPg { admin_url: admin_url.to_string(), name, url })
    }
}

impl Drop for ScratchPg {
    fn drop(&mut self) {
        if let Err(e) = safehome_server::db::drop_pg_database(&self.admin_url, &self.name) {
            eprintln!("bench upload: dropping {}: {e}", self.name);
        }
    }
}

/// One case on one setup; its scratch folder is kept (and named in the error) if it fails.
fn run_case(
    server: &ServerExe,
    case: &Case,
    processes: usize,
    n: usize,
) -> Result<Figures, String> {
    let mut scratch = Scratch::new(n);
    let result = measure_case(server, case, processes, &scratch);
    match result {
        Ok(f) if f.failures == 0 => Ok(f),
        Ok(f) => {
            scratch.keep = true;
            eprintln!("bench upload: server logs kept in {}", scratch.logs().display());
            Ok(f)
        }
        Err(e) if scratch.logs().exists() => {
            scratch.keep = true;
            Err(format!("{e} (server logs kept in {})", scratch.logs().display()))
        }
        Err(e) => Err(e),
    }
}

/// What one timed phase gave back: per client thread, the latencies, the steps' times, the
/// record ids acknowledged, the failures and their first messages.
#[derive(Default)]
struct Load {
    latencies: Vec<Duration>,
    steps: BTreeMap<&'static str, Vec<Duration>>,
    acknowledged: HashSet<String>,
    failures: usize,
    errors: Vec<String>,
}

fn measure_case(
    server: &ServerExe,
    case: &Case,
    processes: usize,
    scratch: &Scratch,
) -> Result<Figures, String> {
    let (data, logs) = (scratch.data(), scratch.logs());
    let archive = Identity::generate(&SystemEntropy::default());
    server.init(&data, &archive.recipient().to_string())?;

    // Setup, not timed: codes, then each device enrolled over HTTP by the client threads.
    let setup_started = Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get() * 2).min(8);
    let codes = server.enrollment_codes(&data, case.devices, workers)?;
    let codes_seconds = setup_started.elapsed().as_secs_f64();
    let servers = server.serve(&data, &logs, processes)?;
    let targets = Arc::new(Targets::new(servers.bases()));
    let devices = enroll_all(&targets, codes, case.clients)
        .map_err(|e| format!("{e}; logs: {}", servers.log_tails()))?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    // Restarted for the timed phase: the sizes before it are measured with the database
    // closed (SQLite's WAL checkpointed), as they are after it, and the peak memory is the
    // uploads' own.
    servers.stop()?;
    let before = Sizes::measure(server, &data)?;
    let servers = server.serve(&data, &logs, processes)?;
    let targets = Arc::new(Targets::new(servers.bases()));
    let pids = servers.pids();
    let cpu_before = pids.iter().map(|p| measure::process_cpu_ms(*p)).sum::<Result<f64, _>>()?;
    let on_postgres = server.database.as_deref().is_some_and(measure::is_postgres);
    let pg_cpu_before = measure::postgres_cpu_ms();

    let started = Instant::now();
    let load = upload_all(&targets, Arc::new(devices), &archive, case)?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu =
        pids.iter().map(|p| measure::process_cpu_ms(*p)).sum::<Result<f64, _>>()? - cpu_before;
    let pg_cpu = measure::postgres_cpu_ms() - pg_cpu_before;
    let rss = pids.iter().map(|p| measure::peak_rss_mib(*p)).collect::<Result<Vec<_>, _>>()?;
    let log_tails = servers.log_tails();
    servers.stop()?;
    let after = Sizes::measure(server, &data)?;
    let stored = server.stored(&data, &load.acknowledged)?;

    let mut latencies = load.latencies;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let done = latencies.len().max(1) as f64;
    let mut errors = load.errors;
    if load.failures > 0 {
        errors.push(format!("server logs: {log_tails}"));
    }
    Ok(Figures {
        case: case.name.clone(),
        database: server.database.as_deref().map_or_else(|| "sqlite".into(), measure::redact),
        processes,
        devices: case.devices,
        submissions: latencies.len(),
        seconds,
        per_second: latencies.len() as f64 / seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        server_cpu_ms_per_submission: cpu / done,
        database_cpu_ms_per_submission: on_postgres.then_some(pg_cpu / done),
        server_peak_rss_mib: rss.iter().sum(),
        process_peak_rss_mib: rss,
        // The folder, and a PostgreSQL database's own growth (SQLite's is in the folder).
        storage_bytes_per_submission: (after.folder.saturating_sub(before.folder)
            + if on_postgres {
                after.database.unwrap_or(0).saturating_sub(before.database.unwrap_or(0))
            } else {
                0
            }) as f64
            / done,
        database_bytes_per_submission: before
            .database
            .zip(after.database)
            .map(|(b, a)| a.saturating_sub(b) as f64 / done),
        evidence_bytes_per_submission: after.evidence.saturating_sub(before.evidence) as f64 / done,
        answers_per_process: targets.answers(),
        stored,
        failures: load.failures,
        errors,
        setup_seconds,
        codes_seconds,
        step_p50_ms: load
            .steps
            .into_iter()
            .map(|(name, mut v)| {
                v.sort();
                (name.to_string(), v.get(v.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0))
            })
            .collect(),
    })
}

/// The sizes a case compares before and after its timed phase, servers stopped.
struct Sizes {
    folder: u64,
    evidence: u64,
    database: Option<u64>,
}

impl Sizes {
    fn measure(server: &ServerExe, data: &std::path::Path) -> Result<Sizes, String> {
        let database = match measure::database_bytes(data, server.database.as_deref()) {
            Ok(size) => size,
            Err(e) => {
                // A figure missing is better than a run lost at its end.
                eprintln!("bench upload: the database's size is not known: {e}");
                None
            }
        };
        Ok(Sizes {
            folder: measure::dir_size(data),
            evidence: measure::dir_size(&data.join("blobs")),
            database,
        })
    }
}

/// Enroll a device per code, `clients` at a time, each request to the next process.
fn enroll_all(
    targets: &Arc<Targets>,
    codes: Vec<String>,
    clients: usize,
) -> Result<Vec<client::Device>, String> {
    let codes = Arc::new(codes);
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (targets, codes, next) = (targets.clone(), codes.clone(), next.clone());
            std::thread::spawn(move || {
                let agent = client::agent();
                let mut devices = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(code) = codes.get(i) else { break };
                    devices.push((i, client::enroll(&agent, &targets, code)?));
                }
                Ok::<_, String>(devices)
            })
        })
        .collect();
    let mut devices = Vec::with_capacity(codes.len());
    for t in threads {
        devices.extend(t.join().map_err(|_| "an enrollment thread panicked".to_string())??);
    }
    // In the codes' order, so that submission i goes to device i mod n whatever the threads did.
    devices.sort_by_key(|(i, _)| *i);
    Ok(devices.into_iter().map(|(_, d)| d).collect())
}

/// The timed phase: `case.submissions` uploads by `case.clients` threads, submission `i` from
/// device `i mod devices`.
fn upload_all(
    targets: &Arc<Targets>,
    devices: Arc<Vec<client::Device>>,
    archive: &Identity,
    case: &Case,
) -> Result<Load, String> {
    if devices.is_empty() {
        return Err("no device enrolled".into());
    }
    let recipients = vec![archive.recipient()];
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..case.clients)
        .map(|_| {
            let (next, devices, targets, recipients) =
                (next.clone(), devices.clone(), targets.clone(), recipients.clone());
            let (total, photo, read_back) = (case.submissions, case.photo_bytes, case.read_back);
            std::thread::spawn(move || {
                let agent = client::agent();
                let mut load = Load::default();
                let mut steps = client::Steps::new();
                let fail = |load: &mut Load, e: String| {
                    load.failures += 1;
                    if load.errors.len() < ERRORS_KEPT {
                        load.errors.push(e);
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let Some(device) = devices.get(i % devices.len()) else { break };
                    // Sealing is the phone's work, done before the clock starts.
                    let prepared = match client::prepare(device, &recipients, i, photo) {
                        Ok(p) => p,
                        Err(e) => {
                            fail(&mut load, e);
                            continue;
                        }
                    };
                    let t = Instant::now();
                    match client::upload(&agent, &targets, device, &prepared, read_back, &mut steps)
                    {
                        Ok(()) => {
                            load.latencies.push(t.elapsed());
                            load.acknowledged.insert(prepared.record_id);
                        }
                        Err(e) => fail(&mut load, e),
                    }
                }
                for (name, d) in steps {
                    load.steps.entry(name).or_default().push(d);
                }
                load
            })
        })
        .collect();
    let mut all = Load::default();
    for t in threads {
        let load = t.join().map_err(|_| "a client thread panicked".to_string())?;
        all.latencies.extend(load.latencies);
        for (name, mut v) in load.steps {
            all.steps.entry(name).or_default().append(&mut v);
        }
        all.acknowledged.extend(load.acknowledged);
        all.failures += load.failures;
        all.errors.extend(load.errors);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(compare: bool, processes: Option<usize>, database: Option<&str>) -> UploadBenchArgs {
        UploadBenchArgs {
            server: None,
            cases: "province".into(),
            json: false,
            database: database.map(str::to_string),
            processes,
            compare,
            devices: None,
            submissions: None,
            clients: None,
        }
    }

    #[test]
    fn compare_puts_one_process_next_to_several_and_the_database_given() {
        let s = setups(&args(true, None, Some("postgres://b@127.0.0.1/db"))).unwrap_or_default();
        let shape: Vec<(Option<&str>, usize)> =
            s.iter().map(|s| (s.database.as_deref(), s.processes)).collect();
        assert_eq!(shape, [(None, 1), (None, 2), (Some("postgres://b@127.0.0.1/db"), 2)]);
        assert!(setups(&args(true, Some(1), None)).is_err());
        assert!(setups(&args(false, Some(0), None)).is_err());
        assert_eq!(setups(&args(false, None, None)).map(|s| s[0].processes), Ok(1));
    }
}
