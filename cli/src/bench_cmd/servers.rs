//! The server side of the benchmark: `safehome-server`'s subcommands, each given the bench's
//! `--database` when there is one, the serving processes on loopback ports, and the listing of
//! what they stored.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// The server program and the database its subcommands are pointed at.
#[derive(Debug, Clone)]
pub struct ServerExe {
    pub exe: PathBuf,
    /// `--database` (PostgreSQL's URL); `None`: the SQLite file in the data folder.
    pub database: Option<String>,
}

/// The environment variable the server reads when `--database` is absent. The bench removes it
/// from its servers' environment, so that a "SQLite" column is SQLite whatever the caller's
/// shell has set.
const DATABASE_ENV: &str = "SAFEHOME_DATABASE";

impl ServerExe {
    /// `safehome-server <args> --data <data> [--database <url>]`, not yet run.
    fn command(&self, data: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(args).arg("--data").arg(data).env_remove(DATABASE_ENV).stdin(Stdio::null());
        if let Some(url) = &self.database {
            c.args(["--database", url]);
        }
        c
    }

    /// Run a subcommand to its end; its standard output.
    pub fn run(&self, data: &Path, args: &[&str]) -> Result<String, String> {
        let out = self
            .command(data, args)
            .output()
            .map_err(|e| format!("{}: {e}", self.exe.display()))?;
        if !out.status.success() {
            return Err(format!(
                "safehome-server {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A new data folder with the team `bench` (communes 19001) and its archive key.
    pub fn init(&self, data: &Path, archive: &str) -> Result<(), String> {
        self.run(data, &["init"])?;
        self.run(
            data,
            &["team", "add", "--team", "bench", "--communes", "19001", "--archive-key", archive],
        )?;
        Ok(())
    }

    /// `n` one-time volunteer codes. `safehome-server enroll` makes one code a run, so the runs
    /// go `workers` at a time (each opens the database, writes its code and commits): the
    /// operator's own way of making codes, without a bulk feature the server does not have.
    pub fn enrollment_codes(
        &self,
        data: &Path,
        n: usize,
        workers: usize,
    ) -> Result<Vec<String>, String> {
        let next = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..workers.clamp(1, n.max(1)))
            .map(|_| {
                let (me, data, next) = (self.clone(), data.to_path_buf(), next.clone());
                std::thread::spawn(move || {
                    let mut codes = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < n {
                        codes.push(me.enrollment_code(&data)?);
                    }
                    Ok::<_, String>(codes)
                })
            })
            .collect();
        let mut codes = Vec::with_capacity(n);
        for t in threads {
            codes.extend(t.join().map_err(|_| "a code thread panicked".to_string())??);
        }
        Ok(codes)
    }

    fn enrollment_code(&self, data: &Path) -> Result<String, String> {
        let out =
            self.run(data, &["enroll", "--team", "bench", "--role", "volunteer", "--json"])?;
        let v: Json =
            serde_json::from_str(out.trim()).map_err(|e| format!("enroll --json: {e}"))?;
        v["code"].as_str().map(str::to_string).ok_or_else(|| "enroll --json: no code".into())
    }

    /// What the database holds of `sent` (by `safehome-server records --json`).
    pub fn stored(&self, data: &Path, sent: &HashSet<String>) -> Result<Stored, String> {
        let out = self.run(data, &["records", "--json"])?;
        let rows: Vec<Json> =
            serde_json::from_str(&out).map_err(|e| format!("records --json: {e}"))?;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut stored = Stored::default();
        for row in &rows {
            let Some(id) = row["routing"]["record_id"].as_str() else {
                return Err("records --json: a row without routing.record_id".into());
            };
            // A database given by URL may hold earlier runs' records: only this run's count.
            if let Some(id) = sent.get(id) {
                *seen.entry(id.as_str()).or_default() += 1;
                stored.rows += 1;
                if row["evidence_complete"].as_bool() == Some(true) {
                    stored.evidence_complete += 1;
                }
            }
        }
        stored.once = seen.values().filter(|n| **n == 1).count();
        Ok(stored)
    }

    /// Start `n` serving processes over `data` (and the database), each on its own loopback
    /// port, their logs in `logs`; returns once each answers `/healthz`.
    pub fn serve(&self, data: &Path, logs: &Path, n: usize) -> Result<Servers, String> {
        std::fs::create_dir_all(logs).map_err(|e| format!("{}: {e}", logs.display()))?;
        let mut servers = Servers { processes: Vec::with_capacity(n) };
        for k in 0..n {
            let listen = format!("127.0.0.1:{}", free_port()?);
            let log_path = logs.join(format!("server-{k}.log"));
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .map_err(|e| format!("{}: {e}", log_path.display()))?;
            let child = self
                .command(data, &["serve", "--listen", &listen])
                // Warnings and errors only: a log line per request would be work (and disk)
                // that the measurement counts.
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("cannot start the server: {e}"))?;
            servers.processes.push(ServerProcess {
                child,
                base: format!("http://{listen}"),
                log: log_path,
            });
        }
        for p in &mut servers.processes {
            p.wait_healthy()?;
        }
        Ok(servers)
    }
}

/// What the database holds of the submissions the bench sent.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Stored {
    /// Rows listed for the sent record ids.
    pub rows: usize,
    /// Sent record ids listed exactly once.
    pub once: usize,
    /// Rows whose evidence has all arrived.
    pub evidence_complete: usize,
}

/// The serving processes of one phase of a case.
pub struct Servers {
    pub processes: Vec<ServerProcess>,
}

impl Servers {
    pub fn bases(&self) -> Vec<String> {
        self.processes.iter().map(|p| p.base.clone()).collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.processes.iter().map(|p| p.child.id()).collect()
    }

    /// SIGTERM to every process, then wait for each: a server finishes its requests and closes
    /// its database (SQLite: the last one out checkpoints the WAL into the file), so the data
    /// folder then holds what the stored submissions really cost.
    pub fn stop(mut self) -> Result<(), String> {
        for p in &self.processes {
            let _ = Command::new("kill").args(["-TERM", &p.child.id().to_string()]).status();
        }
        let mut failed = Vec::new();
        for p in &mut self.processes {
            match p.child.wait() {
                Ok(s) if s.success() => {}
                Ok(s) => failed.push(format!("{} exited with {s}: {}", p.base, p.log_tail())),
                Err(e) => failed.push(format!("{}: {e}", p.base)),
            }
        }
        if failed.is_empty() { Ok(()) } else { Err(failed.join("; ")) }
    }

    /// The end of each process's log, for an error message.
    pub fn log_tails(&self) -> String {
        self.processes
            .iter()
            .map(|p| format!("{}: {}", p.base, p.log_tail()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub struct ServerProcess {
    child: Child,
    base: String,
    log: PathBuf,
}

impl ServerProcess {
    fn wait_healthy(&mut self) -> Result<(), String> {
        let agent = super::client::agent();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the server on {} exited ({status}): {}",
                    self.base,
                    self.log_tail()
                ));
            }
            if let Ok(r) = agent.get(format!("{}/healthz", self.base)).call() {
                if r.status().as_u16() == 200 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("the server on {} did not answer /healthz within 20 s", self.base))
    }

    /// The last lines of the process's log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        if tail.is_empty() { "(no log)".into() } else { tail }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Stopped already, or a case that failed half-way: nothing may outlive the bench.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// A case's temporary folder (the server's data folder and its logs), removed when dropped;
/// if the case failed, the logs are kept (the data, which may be gigabytes, is not).
pub struct Scratch {
    pub root: PathBuf,
    pub keep: bool,
}

impl Scratch {
    pub fn new(n: usize) -> Scratch {
        let root = std::env::temp_dir().join(format!("safehome-bench-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        Scratch { root, keep: false }
    }
    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(if self.keep { self.data() } else { self.root.clone() });
    }
}
