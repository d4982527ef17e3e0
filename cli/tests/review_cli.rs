//! `safehome review` and the review half of `safehome sync`, as two devices (two databases)
//! and a real safehome-server on loopback: the supervisor pulls a visit, returns it with a
//! comment on a question, and the volunteer's sync reopens it and shows why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use safehome_core::clock::{Clock, SystemClock, SystemEntropy};
use safehome_core::evidence::keys::Identity;
use safehome_server::{Admin, BackgroundServer, Role, ServerConfig};

mod common;
use common::{Device, code, stderr, stdout};

#[test]
fn a_supervisor_returns_a_visit_from_the_command_line_and_the_volunteer_sees_why() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().join("server");
    safehome_server::init(&data).unwrap();
    let now = SystemClock::default().now_ms();
    let mut admin = Admin::open(&data).unwrap();
    let archive_identity = Identity::generate(&SystemEntropy::default());
    let archive = archive_identity.recipient();
    admin.add_team("tn-05569", &["05569".into()], &archive, "Archive", now).unwrap();
    let sup_code =
        admin.create_enrollment_code("tn-05569", Role::Supervisor, 3_600_000, now).unwrap();
    let vol_code =
        admin.create_enrollment_code("tn-05569", Role::Volunteer, 3_600_000, now).unwrap();
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
    let url = server.url();

    let sup = Device::new("review-sup");
    sup.ok("", &["init"]);
    sup.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Hằng"]);
    sup.ok("1111", &["enroll", "--user", "Hằng", "--server", &url, "--code", &sup_code.code]);

    let vol = Device::new("review-vol");
    vol.ok("", &["init"]);
    vol.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Quản lý"]);
    vol.ok("2222", &["user", "add", "--role", "volunteer", "--name", "Toàn", "--user", "Quản lý"]);
    vol.ok("1111", &["enroll", "--user", "Quản lý", "--server", &url, "--code", &vol_code.code]);
    let out = vol.ok(
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
        ],
    );
    let household = out.split_whitespace().next().unwrap().to_string();
    let visit = vol.ok("2222", &["visit", "start", "--user", "Toàn", "--household", &household]);
    let visit = visit.trim();
    let answers = common::temp("review-cli", "answers.json", &serde_json::json!({
        "consent": "yes", "num_children": 1,
        "children": [{"child_name": "Ma Thị Lan", "child_sex": "female", "child_age": 3,
                      "child_disability": "no", "child_lives_with": "both_parents"}],
        "pond_fenced": "no", "well_covered": "yes", "poison_stored": "no", "window_bars": "yes",
        "kitchen_separate": "yes", "hot_items_safe": "yes", "wiring_safe": "yes", "stairs_railing": "na",
        "gate_fence": "yes", "helmet_use": "yes", "play_area": "yes", "child_injured_12m": "no",
        "special_groups": ["none"], "serious_harm": "no"
    }).to_string());
    let fix = format!(
        r#"{{"lat": 21.9052, "lon": 105.6481, "accuracy_m": 7, "time_ms": {}, "provider": "gps"}}"#,
        SystemClock::default().now_ms()
    );
    vol.ok("2222", &["visit", "fix", "--user", "Toàn", visit, "household_gps", &fix]);
    vol.ok("2222", &["visit", "fill", "--user", "Toàn", visit, &answers]);
    vol.ok("2222", &["visit", "finalize", "--user", "Toàn", visit]);
    let out = vol.ok("2222", &["sync", "--user", "Toàn"]);
    assert!(out.contains("1 acknowledged"), "{out}");

    let out = sup.ok("1111", &["sync", "--user", "Hằng"]);
    assert!(out.contains("1 pulled, 0 quarantined"), "{out}");
    let list = sup.ok("1111", &["review", "list", "--user", "Hằng"]);
    assert!(list.contains(visit), "{list}");
    let shown = sup.ok("1111", &["review", "show", "--user", "Hằng", visit]);
    assert!(shown.contains("Ma Thị Lan"), "{shown}");

    // Bad input: a comment without a path, a record that was not pulled.
    let o = sup.run(
        "1111",
        &[
            "review",
            "return",
            "--user",
            "Hằng",
            visit,
            "--note",
            "x",
            "--comment",
            "no equals sign",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = sup.run("1111", &["review", "approve", "--user", "Hằng", "no-such-record"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));

    sup.ok(
        "1111",
        &[
            "review",
            "return",
            "--user",
            "Hằng",
            visit,
            "--note",
            "Xin kiểm tra lại.",
            "--comment",
            "children[1]/child_age=Cháu 3 tuổi hay 4 tuổi?",
        ],
    );
    let out = sup.ok("1111", &["sync", "--user", "Hằng"]);
    assert!(out.contains("1 decision(s) sent, 0 refused"), "{out}");

    let out = vol.ok("2222", &["sync", "--user", "Toàn"]);
    assert!(out.contains("draft revision"), "{out}");
    let why = vol.ok("2222", &["review", "decisions", "--user", "Toàn", visit]);
    assert!(why.contains("Xin kiểm tra lại."), "{why}");
    assert!(why.contains("children[1]/child_age: Cháu 3 tuổi hay 4 tuổi?"), "{why}");

    // Export for analysts from the supervisor's phone: one row per record and per child, in
    // English, with the return in the decision history.
    let out = sup.dir.join("export");
    let o = sup.ok(
        "1111",
        &[
            "export",
            "--user",
            "Hằng",
            "--out",
            out.to_str().unwrap(),
            "--format",
            "csv",
            "--lang",
            "en",
        ],
    );
    assert!(o.contains("1 record(s) exported"), "{o}");
    let tables: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    let main = tables.iter().find(|p| {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        n.starts_with("household_screening") && !n.contains("children") && n.ends_with(".csv")
    });
    let main = std::fs::read_to_string(main.expect("the main table")).unwrap();
    assert!(main.contains(visit) && main.contains("returned"), "{main}");
    assert!(!main.contains("Ma Thị Lan"), "the child's name is on the repeat's table, not here");
    let children = tables.iter().find(|p| p.to_string_lossy().contains("children")).unwrap();
    let children = std::fs::read_to_string(children).unwrap();
    assert_eq!(children.lines().filter(|l| l.contains("Ma Thị Lan")).count(), 1, "{children}");

    // The archive holder exports from the server's data folder with the archive's identity.
    let identity = sup.dir.join("archive.identity");
    std::fs::write(&identity, archive_identity.to_text().as_bytes()).unwrap();
    let out = sup.dir.join("archive-export");
    let o = sup.ok(
        "1111",
        &[
            "export",
            "--identity",
            identity.to_str().unwrap(),
            "--server-data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.contains("1 record(s) exported"), "{o}");
    assert!(out.join("export.xlsx").exists());
    // A wrong identity opens nothing, and says so.
    std::fs::write(&identity, Identity::generate(&SystemEntropy::default()).to_text().as_bytes())
        .unwrap();
    let o = sup.run(
        "1111",
        &[
            "export",
            "--identity",
            identity.to_str().unwrap(),
            "--server-data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stderr(&o).contains("not a recipient"), "{}", stderr(&o));
    server.stop().unwrap();
}
