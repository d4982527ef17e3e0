//! A case's figures, as JSON and as a table: one column per setup (database and number of
//! processes), and ODK Central's figures for the same shape when there are any.

use std::collections::BTreeMap;

use super::cases::Case;
use crate::outln;

/// Figures of one case on one setup.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    pub case: String,
    /// `sqlite`, or the `--database` URL without its password.
    pub database: String,
    /// Server processes sharing the database.
    pub processes: usize,
    pub devices: usize,
    /// Submissions uploaded and acknowledged by a checked receipt.
    pub submissions: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// All processes' CPU over the timed phase, per submission.
    pub server_cpu_ms_per_submission: f64,
    /// PostgreSQL's own CPU over the timed phase, per submission (PostgreSQL setups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_cpu_ms_per_submission: Option<f64>,
    /// The processes' peak resident memories added up (one process: its peak).
    pub server_peak_rss_mib: f64,
    /// Each process's peak resident memory (VmHWM), in the order of `answers_per_process`.
    pub process_peak_rss_mib: Vec<f64>,
    /// The data folder's growth over the timed phase (database, evidence, keys) and, on
    /// PostgreSQL, the database's, per submission.
    pub storage_bytes_per_submission: f64,
    /// The database's growth over the timed phase, per submission; `null`: not measurable here
    /// (PostgreSQL without `psql`).
    pub database_bytes_per_submission: Option<f64>,
    /// The evidence store's growth over the timed phase, per submission.
    pub evidence_bytes_per_submission: f64,
    /// HTTP answers each process gave during the timed phase.
    pub answers_per_process: Vec<usize>,
    /// Rows the database lists for the submissions sent; ids listed exactly once; rows whose
    /// evidence is all there.
    pub stored: super::servers::Stored,
    pub failures: usize,
    /// The first few failures' messages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Making the codes and enrolling the devices (not timed with the uploads), s.
    pub setup_seconds: f64,
    /// Of which making the codes (`safehome-server enroll`, once per device), s.
    pub codes_seconds: f64,
    /// Median time of each request of a submission, ms (`create`, `patch`, `last patch`,
    /// `head`, `put`, `receipt`).
    pub step_p50_ms: BTreeMap<String, f64>,
}

impl Figures {
    /// The column's heading: `SQLite x2`, `PostgreSQL x2`.
    pub fn label(&self) -> String {
        let kind = if self.database == "sqlite" {
            "SQLite"
        } else if super::measure::is_postgres(&self.database) {
            "PostgreSQL"
        } else {
            "database"
        };
        format!("{kind} x{}", self.processes)
    }
}

fn range(r: (f64, f64)) -> String {
    format!("{:.1}–{:.1}", r.0, r.1)
}

fn or_na(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.0}"))
}

fn joined<T: std::fmt::Display>(values: &[T], fmt: impl Fn(&T) -> String) -> String {
    values.iter().map(fmt).collect::<Vec<_>>().join(" / ")
}

/// The table of one case: a column per setup, then Central's column.
pub fn print_case(case: &Case, figures: &[Figures]) {
    outln!("\n== {}", case.name);
    if let [f] = figures {
        if f.processes > 1 || f.database != "sqlite" {
            outln!("   {} ({})", f.label(), f.database);
        }
    } else {
        for f in figures {
            outln!("   {}: {}", f.label(), f.database);
        }
    }
    let a = case.anchor;
    let headings: Vec<String> = if figures.len() == 1 {
        vec!["SafeHome".into()]
    } else {
        figures.iter().map(Figures::label).collect()
    };
    let row = |name: &str, cells: Vec<String>, central: String| {
        let cells: String = cells.iter().map(|c| format!(" {c:>17}")).collect();
        outln!("{name:<30}{cells} {central:>20}");
    };
    let each = |f: &dyn Fn(&Figures) -> String| figures.iter().map(f).collect::<Vec<_>>();
    row("", headings, "ODK Central".into());
    row(
        "submissions/s",
        each(&|f| format!("{:.1}", f.per_second)),
        a.map_or("-".into(), |a| range(a.per_s)),
    );
    row(
        "p50 latency, ms",
        each(&|f| format!("{:.2}", f.p50_ms)),
        a.map_or("-".into(), |a| range(a.p50_ms)),
    );
    row(
        "p99 latency, ms",
        each(&|f| format!("{:.2}", f.p99_ms)),
        a.map_or("-".into(), |a| range(a.p99_ms)),
    );
    row(
        "server CPU per submission, ms",
        each(&|f| format!("{:.2}", f.server_cpu_ms_per_submission)),
        "12.6–30.9 (node+pg)".into(),
    );
    if figures.iter().any(|f| f.database_cpu_ms_per_submission.is_some()) {
        row(
            "PostgreSQL CPU per sub., ms",
            each(&|f| f.database_cpu_ms_per_submission.map_or("-".into(), |c| format!("{c:.2}"))),
            "-".into(),
        );
    }
    row(
        "server peak RSS, MiB",
        each(&|f| joined(&f.process_peak_rss_mib, |v| format!("{v:.1}"))),
        a.map_or("-".into(), |a| range(a.rss_mib)),
    );
    row(
        "storage per submission, B",
        each(&|f| format!("{:.0}", f.storage_bytes_per_submission)),
        "3.3–3.5 KB / 328.5 KB".into(),
    );
    row(
        "  database per submission, B",
        each(&|f| or_na(f.database_bytes_per_submission)),
        "-".into(),
    );
    row(
        "  evidence per submission, B",
        each(&|f| format!("{:.0}", f.evidence_bytes_per_submission)),
        "-".into(),
    );
    row(
        "answers per process",
        each(&|f| joined(&f.answers_per_process, |v| v.to_string())),
        "-".into(),
    );
    row(
        "stored once / sent",
        each(&|f| format!("{} / {}", f.stored.once, f.submissions + f.failures)),
        "-".into(),
    );
    row(
        "setup: codes + enrollment, s",
        each(&|f| format!("{:.1} + {:.1}", f.codes_seconds, f.setup_seconds - f.codes_seconds)),
        "-".into(),
    );
    for f in figures {
        let steps: Vec<String> = f.step_p50_ms.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
        let who = if figures.len() == 1 { String::new() } else { format!(" ({})", f.label()) };
        outln!("{:<30} {}", format!("p50 per request{who}, ms"), steps.join(", "));
    }
    if let (Some(a), [f]) = (a, figures) {
        outln!(
            "{:<30} {:>17}",
            "ratio to Central (best run)",
            format!("{:.1}x", f.per_second / a.per_s.1)
        );
    }
}
