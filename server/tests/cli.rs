//! The `safehome-server` command line, run as the built binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;
use safehome_server::{BackgroundServer, ServerConfig};
use safehome_testdata::pg_scratch::ScratchDb;
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_safehome-server")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `init --data d`, on the suite's PostgreSQL database when it runs on one (kept alive by the
/// returned value).
fn init(d: &str) -> (String, Option<ScratchDb>) {
    let pg = ScratchDb::create();
    let mut args = vec!["init", "--data", d];
    if let Some(db) = &pg {
        args.extend(["--database", db.url()]);
    }
    (ok(&args), pg)
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).unwrap()
}

#[test]
fn an_operator_sets_up_a_server_and_lists_what_arrived_while_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (out, _pg) = init(d);
    assert!(out.contains("shserver1"), "{out}");
    // A second init refuses and leaves the key alone.
    let key = std::fs::read(data.join("server.key")).unwrap();
    assert!(!run(&["init", "--data", d]).status.success());
    assert_eq!(std::fs::read(data.join("server.key")).unwrap(), key);

    let archive = archive().recipient().to_string();
    ok(&[
        "team",
        "add",
        "--data",
        d,
        "--team",
        TEAM,
        "--communes",
        "19001,19002",
        "--archive-key",
        &archive,
    ]);
    assert!(
        !run(&[
            "team",
            "add",
            "--data",
            d,
            "--team",
            TEAM,
            "--communes",
            "1",
            "--archive-key",
            &archive
        ])
        .status
        .success()
    );
    let text = ok(&["enroll", "--data", d, "--team", TEAM, "--role", "volunteer"]);
    assert!(text.contains("enrollment code:"), "{text}");
    assert!(text.contains('█') || text.contains('▀') || text.contains('▄'), "a QR code: {text}");
    let code = json(&["enroll", "--data", d, "--team", TEAM, "--role", "volunteer", "--json"]);
    let code_text = code["code"].as_str().unwrap().to_string();
    assert_eq!(code_text.len(), 14);
    assert!(code["expires_at_ms"].as_i64().unwrap() > now_ms() + 23 * 3_600_000);
    assert!(
        !run(&["enroll", "--data", d, "--team", "nope", "--role", "volunteer"]).status.success()
    );

    // The CLI works while the server serves.
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
    let phone = Phone::new(&server.url(), 1);
    let r = phone.enroll(&code_text, None);
    assert_eq!(r.status, 200, "{}", r.text());
    let id = record_id(1);
    let file = evidence(&phone.key, "ev-1", b"photo");
    let body = submission(&phone, routing(&phone, &id, &[("ev-1", &file)]), b"answers");
    assert_eq!(phone.put_submission(&id, &body).status, 201);

    let records = json(&["records", "--data", d, "--json"]);
    let r = &records[0];
    assert_eq!(r["routing"]["record_id"], id.as_str());
    assert_eq!(r["routing"]["household_code"], "19001-0042");
    assert_eq!(r["seq"], 1);
    assert_eq!(r["evidence_complete"], false);
    assert_eq!(r["missing_evidence"][0], safehome_core::sync::protocol::sha256_hex(&file));
    let text = ok(&["records", "--data", d]);
    assert!(text.contains(&id) && text.contains("missing 1 of 1"), "{text}");

    let devices = json(&["devices", "--data", d, "--json"]);
    assert_eq!(devices[0]["device_id"], phone.device_id.as_str());
    assert_eq!(devices[0]["role"], "volunteer");
    assert_eq!(devices[0]["revoked_at_ms"], Value::Null);
    assert_eq!(devices[0]["regression"], false);
    assert_eq!(devices[0]["app_version"], "0.1.0");
    ok(&["revoke", "--data", d, &phone.device_id]);
    let res = phone.send("GET", "/v1/config", b"", &[]);
    assert_eq!(res.code(), "device_revoked");
    assert!(json(&["devices", "--data", d, "--json"])[0]["revoked_at_ms"].is_i64());
    assert!(!run(&["revoke", "--data", d, "no-such-device"]).status.success());
    server.stop().unwrap();
}

#[test]
fn commands_on_a_missing_data_directory_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("none");
    let out = run(&["devices", "--data", d.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("init"));
    assert!(!Path::new(&d).join("server.db").exists());
}

#[test]
fn serve_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (_, _pg) = init(d);
    let (mut child, addr, lines) = spawn_serve(&data);
    let res = raw(&agent(), &format!("http://{addr}"), "GET", "/healthz", &[], b"");
    assert_eq!((res.status, res.text().as_str()), (200, "ok"));
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("answered") && l.contains("200")), "{rest:?}");
}

#[test]
fn console_users_areas_and_communes_are_set_up_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (_, _pg) = init(d);
    // The password from a file, from standard input; a short one and a wrong role shape refused.
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "một mật khẩu đủ dài\n").unwrap();
    ok(&[
        "user",
        "add",
        "--data",
        d,
        "--username",
        "admin",
        "--role",
        "admin",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_safehome-server"))
        .args([
            "user",
            "add",
            "--data",
            d,
            "--username",
            "xa1",
            "--role",
            "commune",
            "--communes",
            "05569",
        ])
        .env_remove("SAFEHOME_CONSOLE_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"another long password\n").unwrap();
    assert!(child.wait().unwrap().success());
    std::fs::write(&pw, "short\n").unwrap();
    let short = run(&[
        "user",
        "add",
        "--data",
        d,
        "--username",
        "x",
        "--role",
        "admin",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(!short.status.success() && String::from_utf8_lossy(&short.stderr).contains("12"));
    std::fs::write(&pw, "a long enough password\n").unwrap();
    let two = run(&[
        "user",
        "add",
        "--data",
        d,
        "--username",
        "y",
        "--role",
        "commune",
        "--communes",
        "05569,05662",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(!two.status.success());
    let users = json(&["user", "list", "--data", d, "--json"]);
    assert_eq!(users[1]["username"], "xa1");
    assert_eq!(users[1]["communes"], serde_json::json!(["05569"]));
    assert!(!ok(&["user", "list", "--data", d]).contains("argon2"), "never the hash");
    ok(&["user", "unlock", "--data", d, "xa1"]);
    ok(&["user", "disable", "--data", d, "xa1"]);
    assert_eq!(json(&["user", "list", "--data", d, "--json"])[1]["disabled"], true);

    let areas = dir.path().join("communes.geojson");
    std::fs::write(&areas, common::console::AREAS).unwrap();
    assert!(ok(&["areas", "import", "--data", d, areas.to_str().unwrap()]).contains("3 communes"));
    ok(&["commune", "set", "--data", d, "--commune", "19001", "--registered", "1834"]);
    assert!(
        !run(&["commune", "set", "--data", d, "--commune", "19001", "--registered", "-1"])
            .status
            .success()
    );
    let conn = safehome_server::DataDir::new(&data).open_db().unwrap();
    let (name, registered, geometry): (String, i64, bool) = conn
        .query_row(
            "SELECT name, registered_households, geometry IS NOT NULL FROM communes WHERE commune = '19001'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((name.as_str(), registered, geometry), ("Xã Định Hóa", 1834, true));
}
