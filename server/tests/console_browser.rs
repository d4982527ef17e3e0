//! The oversight console in a real browser (`console_browser/browser_test.py`): Debian's
//! headless Chromium through chromium-driver, driven by Selenium from the project's Python
//! environment (`scripts/python-env.sh`). This test runs the server, uploads records as phones
//! do, starts the script, enrolls a phone with the code the script makes in the console, syncs
//! with the phone the script revokes (refused), and checks the audit log afterwards.
//! Screenshots at desktop and phone widths land in `build/screenshots/` (or
//! `SAFEHOME_SCREENSHOTS`).
//!
//! It fails, not skips, without chromium-driver: `scripts/test.sh` installs `chromium` and
//! `chromium-driver` when they are missing; `SAFEHOME_CHROMEDRIVER` names another driver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::console::*;
use common::*;
use serde_json::{Value, json};

fn chromedriver() -> String {
    let path =
        std::env::var("SAFEHOME_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: install Debian's chromium and chromium-driver (scripts/test.sh does)"
    );
    path
}

#[test]
fn the_console_works_in_chromium_at_desktop_and_phone_widths() {
    let driver = chromedriver();
    let screens = std::env::var("SAFEHOME_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("build/screenshots"));
    let server = console_server(|_| {});
    let phone = server.volunteer(1);
    let hour = 3_600_000;
    let overdue = upload(&phone, 1, TEAM, "19001", "19001-0007", Some("urgent"), Some(-3 * hour));
    upload(&phone, 2, TEAM, "19001", "19001-0008", Some("urgent"), Some(7 * hour));
    let acted = upload(&phone, 3, TEAM, "19002", "19002-0001", Some("urgent"), Some(-hour));
    server
        .admin()
        .record_case_action(&acted, "visited", now_ms() - 20 * 60_000, None, now_ms())
        .unwrap();
    for (n, (commune, household, level)) in [
        ("19001", "19001-0007", "high"),
        ("19001", "19001-0009", "low"),
        ("19002", "19002-0002", "medium"),
        ("19002", "19002-0003", "low"),
    ]
    .into_iter()
    .enumerate()
    {
        upload(&phone, 10 + n as u64, TEAM, commune, household, Some(level), None);
    }
    let other = phone_b(&server, 2);
    upload(&other, 20, TEAM_B, "19003", "19003-0001", Some("urgent"), Some(2 * hour));

    let mut child = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console_browser/browser_test.py"))
        .args(["--url", &server.url(), "--driver", &driver, "--password", PASSWORD])
        .args(["--overdue-record", &overdue, "--team", TEAM])
        .arg("--screens")
        .arg(&screens)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_script = child.stdin.take().unwrap();
    let mut from_script = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let mut hear = || -> Value {
        let mut line = String::new();
        from_script.read_line(&mut line).unwrap();
        if line.is_empty() {
            let mut err = String::new();
            stderr.read_to_string(&mut err).unwrap();
            panic!("the browser script stopped:\n{err}");
        }
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };

    // The script made a code in the console: a new phone enrolls with it.
    let code = hear()["code"].as_str().unwrap().to_string();
    let new_phone = Phone::new(&server.url(), 9);
    let enrolled = new_phone.enroll(&code, None);
    assert_eq!(enrolled.status, 200, "{}", enrolled.text());
    upload(&new_phone, 30, TEAM, "19002", "19002-0004", Some("low"), None);
    writeln!(to_script, "{}", json!({ "device": new_phone.device_id })).unwrap();

    // The script revoked it: its next sync is refused.
    assert_eq!(hear()["revoked"], new_phone.device_id.as_str());
    let id = record_id(31);
    let body = submission(&new_phone, routing(&new_phone, &id, &[]), b"x");
    let refused = new_phone.put_submission(&id, &body);
    assert_eq!((refused.status, refused.code().as_str()), (403, "device_revoked"));
    let config = new_phone.send("GET", "/v1/config", b"", &[]);
    assert_eq!(config.status, 403);
    writeln!(to_script, "{}", json!({ "refused": true })).unwrap();

    assert_eq!(hear()["done"], true);
    let status = child.wait().unwrap();
    assert!(status.success(), "the browser script failed");

    // What the browser did is in the audit log, the refusals too.
    let mut admin = Client::signed_in(&server.url(), "admin");
    let audit = admin.get("/console/audit").text();
    for needle in ["revoke_device", "create_code", "missing or wrong CSRF token", "view_commune"] {
        assert!(audit.contains(needle), "{needle} in {audit}");
    }
    for name in ["overview", "urgent", "enrollment", "devices", "other-commune-refused"] {
        for width in ["desktop", "phone"] {
            let shot = screens.join(format!("{name}-{width}.png"));
            let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
            assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000, "{}", shot.display());
        }
    }
}
