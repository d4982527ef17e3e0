//! `safehome bench upload` with two `safehome-server` processes over one SQLite file: every
//! request goes to the other process than the one before, so a device enrolled by one uploads
//! through both, and its upload is read back from either. Small enough for every CI run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value as Json;

/// `safehome-server` beside `safehome`, built (or found up to date) by cargo in the same
/// target folder and profile: `cargo test -p safehome-cli` builds only this package's
/// programs, and the bench runs the server's own.
fn server_exe() -> PathBuf {
    let safehome = PathBuf::from(env!("CARGO_BIN_EXE_safehome"));
    let profile_dir = safehome.parent().expect("a folder");
    let target_dir = profile_dir.parent().expect("the target folder");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // Without the variables cargo set for this test (CARGO_MANIFEST_DIR, CARGO_PKG_…): a build
    // script that watches one of them (ring's) would otherwise rebuild half the tree each time.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_tests = ["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_CRATE_", "CARGO_BIN_"]
            .iter()
            .any(|p| name.starts_with(p))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*name);
        if set_for_tests {
            build.env_remove(&*name);
        }
    }
    build
        .args(["build", "--quiet", "--locked", "-p", "safehome-server", "--bin", "safehome-server"])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    assert!(build.status().expect("cargo runs").success(), "building safehome-server");
    profile_dir.join("safehome-server")
}

#[test]
fn two_processes_over_one_sqlite_file_store_each_submission_once_and_both_serve() {
    let server = server_exe();
    let out = Command::new(env!("CARGO_BIN_EXE_safehome"))
        .args(["bench", "upload", "--cases", "province", "--json"])
        .args(["--devices", "20", "--submissions", "40", "--clients", "4", "--processes", "2"])
        .arg("--server")
        .arg(&server)
        .env_remove("SAFEHOME_DATABASE")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one case on one setup: {stdout}");
    let f: Json = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(f["database"], "sqlite");
    assert_eq!(f["processes"], 2);
    assert_eq!(f["devices"], 20);
    assert_eq!(f["failures"], 0, "{f}");
    // Each acknowledged (its receipt checked twice, from either process) and stored once,
    // with its photo.
    assert_eq!(f["submissions"], 40, "{f}");
    assert_eq!(f["stored"]["rows"], 40, "{f}");
    assert_eq!(f["stored"]["once"], 40, "{f}");
    assert_eq!(f["stored"]["evidence_complete"], 40, "{f}");
    // Both processes answered, in turn: create, 2 chunks, head, put, receipt per submission.
    let answers: Vec<u64> =
        f["answers_per_process"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(answers.len(), 2, "{f}");
    assert_eq!(answers.iter().sum::<u64>(), 40 * 6, "{f}");
    assert!(answers.iter().all(|a| *a >= 40 * 2), "both processes serve: {answers:?}");
    let rss = f["process_peak_rss_mib"].as_array().unwrap();
    assert!(rss.len() == 2 && rss.iter().all(|v| v.as_f64().unwrap() > 0.0), "{f}");
    let db = f["database_bytes_per_submission"].as_f64().unwrap();
    let evidence = f["evidence_bytes_per_submission"].as_f64().unwrap();
    assert!(db > 0.0 && evidence > 300_000.0, "{f}");
    assert_eq!(f["step_p50_ms"].as_object().unwrap().len(), 6, "{f}");
}
