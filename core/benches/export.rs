//! Analyst export of 10,000 household screenings (1 to 3 children each, about 20,000 child
//! rows; submissions built by the real form session of the built-in template, then varied) to
//! xlsx and to CSV, records streamed from an iterator as the store would hand them over.
//!
//! Prints the median time of each format, then the peak memory (VmHWM) of a child process that
//! does one export of 1,000 and one of 10,000 records: constant-memory sheets should keep the
//! two close. Side by side, the anchor `benches/anchors/openpyxl_write.py` times openpyxl's
//! write-only workbook writing the same rows (read from this run's CSV export); its interpreter
//! is `SAFEHOME_PYTHON` or the one `scripts/python-env.sh` makes (openpyxl comes with pyxform).
//! `SAFEHOME_BENCH_NO_ANCHOR=1` skips the anchor. Criterion's own estimates follow.
//!
//! `cargo bench -p safehome-core --bench export` runs everything; under `cargo test` (no
//! `--bench` argument) 50 records are exported once per format and the rest is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use safehome_core::clock::{FixedClock, SeededEntropy};
use safehome_core::export::{ExportFormat, ExportOptions, ExportRecord, ExportSummary, export};
use safehome_core::form::check::CheckedForm;
use safehome_core::form::risk;
use safehome_core::form::session::Session;
use safehome_core::templates;
use serde_json::{Value as Json, json};

const NOW: i64 = 1_795_924_800_000;

fn form() -> Arc<CheckedForm> {
    templates::load("household_screening").unwrap().unwrap()
}

fn forms(id: &str, version: &str) -> Option<Arc<CheckedForm>> {
    templates::load(id)?.ok().filter(|f| f.form.version == version)
}

/// Five submissions from the example households, with 3, 2, 1, 2 and 2 children.
fn bases() -> Vec<Json> {
    let examples: Vec<Json> = serde_json::from_str(templates::EXAMPLE_HOUSEHOLDS).unwrap();
    examples
        .iter()
        .zip([3usize, 2, 1, 2, 2])
        .map(|(e, n)| {
            let mut a = e["answers"].clone();
            let kids = a["children"].as_array().unwrap().clone();
            let mut kids: Vec<Json> = kids.iter().cycle().take(n).cloned().collect();
            for (i, k) in kids.iter_mut().enumerate() {
                let name = format!("{} {}", k["child_name"].as_str().unwrap(), i + 1);
                k["child_name"] = json!(name);
            }
            a["num_children"] = json!(n);
            a["children"] = json!(kids);
            let mut s = Session::new(
                form(),
                Arc::new(FixedClock::new(NOW, 420)),
                Arc::new(SeededEntropy::new(7)),
            );
            s.load_answers(&a).unwrap();
            let gps = s.output()["household_gps"].clone();
            json!({
                "schema": "safehome.submission.v1", "record_id": "", "kind": "visit",
                "revision": 1, "revision_of": null,
                "form": {"id": "household_screening", "version": "2026.1"},
                "household_code": "", "device_id": "dev-a", "device_public_key": "00",
                "owner_id": "vol-1", "created_at_ms": NOW - 1_200_000, "finalized_at_ms": NOW,
                "instance_name": s.instance_name(), "data": s.output(), "attachments": [],
                "assessment": risk::assess(&s),
                "location": {
                    "path": "household_gps",
                    "fix": {"fix": {"lat": gps["lat"], "lon": gps["lon"], "accuracy_m": 6.0,
                                    "provider": "gps", "time_ms": NOW - 60_000, "mock": false},
                            "received_ms": NOW - 60_000, "age_ms": 0,
                            "over_warning": false, "warning_m": 50.0},
                    "flags": [{"code": "stale_fix", "reason_vi": "Vị trí đã cũ",
                               "reason_en": "The fix is stale", "numbers": {"age_s": 400.0}}],
                    "skipped_checks": [{"check": "outside_area", "reason": "no_assigned_areas"}],
                },
                "timings": s.timings(), "state": s.state(),
            })
        })
        .collect()
}

/// Record `i`: a base varied in id, household (some households visited twice), time and place.
fn record(bases: &[Json], i: usize) -> ExportRecord {
    let mut s = bases[i % bases.len()].clone();
    s["record_id"] = json!(format!("rec-{i:05}"));
    s["household_code"] = json!(format!("HH-{:05}", i % 7_000));
    s["finalized_at_ms"] = json!(NOW + i as i64 * 60_000);
    let d = (i % 1_000) as f64 * 1e-4;
    s["location"]["fix"]["fix"]["lat"] = json!(21.6 + d);
    s["location"]["fix"]["fix"]["lon"] = json!(105.8 + d);
    ExportRecord { submission: s, review_state: "received".into(), decisions: Vec::new() }
}

fn records(bases: &[Json], n: usize) -> impl Iterator<Item = Result<ExportRecord, std::io::Error>> {
    (0..n).map(move |i| Ok(record(bases, i)))
}

fn run(bases: &[Json], n: usize, format: ExportFormat, dir: &Path) -> ExportSummary {
    let opts = ExportOptions { format, geojson: true, ..ExportOptions::default() };
    export(records(bases, n), &forms, &opts, dir).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The process's peak resident set (VmHWM), in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // Child mode: one export, then the peak memory, for the parent to read.
    if let Ok(spec) = std::env::var("SAFEHOME_EXPORT_RSS") {
        let (format, n) = spec.split_once(':').unwrap();
        let format = if format == "csv" { ExportFormat::Csv } else { ExportFormat::Xlsx };
        let dir = PathBuf::from(std::env::var("SAFEHOME_EXPORT_DIR").unwrap());
        let b = bases();
        let before = peak_rss_kib().unwrap_or(0);
        run(&b, n.parse().unwrap(), format, &dir);
        println!("RSS {before} {}", peak_rss_kib().unwrap_or(0));
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 10_000 } else { 50 };
    let reps = if full { 5 } else { 1 };
    let tmp = std::env::temp_dir().join(format!("safehome-bench-export-{}", std::process::id()));
    let b = bases();
    // What making the records costs (cloning and varying a submission): part of every run
    // below, as decrypting is part of a real export.
    let gen_runs: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            records(&b, n).for_each(|r| drop(std::hint::black_box(r)));
            t.elapsed()
        })
        .collect();
    let gen_s = median(gen_runs).as_secs_f64();
    println!("making the {n} input records alone: median {:.0} ms", gen_s * 1e3);
    let mut medians = Vec::new();
    for (format, name) in [(ExportFormat::Xlsx, "xlsx"), (ExportFormat::Csv, "csv")] {
        let dir = tmp.join(name);
        let mut summary = None;
        let runs: Vec<Duration> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                summary = Some(run(&b, n, format, &dir));
                t.elapsed()
            })
            .collect();
        let m = median(runs).as_secs_f64();
        let s = summary.unwrap();
        let rows: Vec<u64> = s.tables.iter().map(|t| t.rows).collect();
        let bytes: u64 = s.files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
        println!(
            "safehome export {name}, {n} records (rows per table {rows:?}, {:.1} MB): median {:.0} ms ({reps} runs)",
            bytes as f64 / 1e6,
            m * 1e3
        );
        medians.push((name, m, rows));
    }
    if !full {
        println!(
            "peak memory and anchor: skipped (cargo test; run `cargo bench -p safehome-core --bench export`)"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
        return;
    }

    // Peak memory of one export in a fresh process, at 1,000 and 10,000 records.
    let mut rss = Vec::new();
    for format in ["xlsx", "csv"] {
        for count in [1_000usize, 10_000] {
            let dir = tmp.join(format!("rss-{format}-{count}"));
            let out = Command::new(std::env::current_exe().unwrap())
                .env("SAFEHOME_EXPORT_RSS", format!("{format}:{count}"))
                .env("SAFEHOME_EXPORT_DIR", &dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().find(|l| l.starts_with("RSS ")).unwrap();
            let v: Vec<u64> = line.split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
            println!(
                "peak RSS, {format}, {count} records: {:.1} MiB (before the export: {:.1} MiB)",
                v[1] as f64 / 1024.0,
                v[0] as f64 / 1024.0
            );
            rss.push(
                json!({"format": format, "records": count, "before_kib": v[0], "peak_kib": v[1]}),
            );
        }
    }

    // The anchor: openpyxl write-only, the same rows (from this run's CSV export).
    let anchor = if std::env::var_os("SAFEHOME_BENCH_NO_ANCHOR").is_some() {
        println!("anchor: skipped (SAFEHOME_BENCH_NO_ANCHOR is set)");
        None
    } else {
        let py = safehome_testdata::peer("SAFEHOME_PYTHON", "scripts/python-env.sh");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/anchors/openpyxl_write.py");
        let out = Command::new(py)
            .arg(script)
            .arg(tmp.join("csv"))
            .arg(tmp.join("openpyxl.xlsx"))
            .arg("3")
            .output()
            .unwrap();
        assert!(out.status.success(), "openpyxl: {}", String::from_utf8_lossy(&out.stderr));
        let v: Json = serde_json::from_slice(&out.stdout).unwrap();
        let t = v["median_s"].as_f64().unwrap();
        println!(
            "openpyxl {} write-only, the same {} rows: median {:.0} ms (3 runs); safehome xlsx / openpyxl = {:.2}x",
            v["openpyxl"].as_str().unwrap_or("?"),
            v["rows"],
            t * 1e3,
            medians[0].1 / t
        );
        Some(v)
    };
    println!(
        "BENCH {}",
        json!({
            "name": "export_10000_households",
            "records": n,
            "xlsx_median_s": medians[0].1,
            "csv_median_s": medians[1].1,
            "input_records_median_s": gen_s,
            "rows": medians[0].2,
            "peak_rss": rss,
            "openpyxl_median_s": anchor.as_ref().and_then(|a| a["median_s"].as_f64()),
        })
    );

    // Criterion's own estimates for the same exports.
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("export_10000");
    group.sample_size(10).measurement_time(Duration::from_secs(40));
    for (format, name) in [(ExportFormat::Xlsx, "xlsx"), (ExportFormat::Csv, "csv")] {
        let dir = tmp.join(format!("criterion-{name}"));
        group.bench_function(name, |bench| bench.iter(|| run(&b, n, format, &dir)));
    }
    group.finish();
    c.final_summary();
    std::fs::remove_dir_all(&tmp).unwrap();
}
