//! Duplicate households from the command line: `household add` refuses a likely duplicate (exit
//! 1, listing it with its id and code) unless `--not-duplicate`; the supervisor's `review
//! duplicates` lists two volunteers' registrations of one family after a sync, `review merge`
//! merges them, and the volunteer's `household list` shows the merge after its sync.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use safehome_core::clock::{Clock, SystemClock, SystemEntropy};
use safehome_core::evidence::keys::Identity;
use safehome_server::{Admin, BackgroundServer, Role, ServerConfig};

mod common;
use common::{Device, code, stderr, stdout};

/// A volunteer's phone enrolled in the team, with its volunteer Toàn.
fn volunteer(tag: &str, url: &str, code: &str) -> Device {
    let d = Device::new(tag);
    d.ok("", &["init"]);
    d.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Quản lý"]);
    d.ok("2222", &["user", "add", "--role", "volunteer", "--name", "Toàn", "--user", "Quản lý"]);
    d.ok("1111", &["enroll", "--user", "Quản lý", "--server", url, "--code", code]);
    d
}

fn add(d: &Device, head: &str, lat: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "household",
        "add",
        "--user",
        "Toàn",
        "--commune",
        "05569",
        "--village",
        "Thôn Khuôn Tát",
        "--head",
        head,
        "--lat",
        lat,
        "--lon",
        "105.648",
    ];
    args.extend_from_slice(extra);
    d.run("2222", &args)
}

/// Register a household and finalize a visit of it; returns (household id, code).
fn household_with_visit(d: &Device, head: &str, lat: &str) -> (String, String) {
    let o = add(d, head, lat, &[]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let mut words = out.split_whitespace();
    let (id, hh_code) = (words.next().unwrap().to_string(), words.next().unwrap().to_string());
    let visit = d.ok("2222", &["visit", "start", "--user", "Toàn", "--household", &id]);
    let visit = visit.trim();
    let answers = common::temp(
        "dup-cli",
        "answers.json",
        &serde_json::json!({
            "consent": "yes", "num_children": 1,
            "children": [{"child_name": "Ma Thị Lan", "child_sex": "female", "child_age": 3,
                          "child_disability": "no", "child_lives_with": "both_parents"}],
            "pond_fenced": "no", "well_covered": "yes", "poison_stored": "no", "window_bars": "yes",
            "kitchen_separate": "yes", "hot_items_safe": "yes", "wiring_safe": "yes",
            "stairs_railing": "na", "gate_fence": "yes", "helmet_use": "yes", "play_area": "yes",
            "child_injured_12m": "no", "special_groups": ["none"], "serious_harm": "no"
        })
        .to_string(),
    );
    d.ok("2222", &["visit", "fill", "--user", "Toàn", visit, &answers]);
    d.ok("2222", &["visit", "finalize", "--user", "Toàn", visit]);
    (id, hh_code)
}

#[test]
fn household_add_refuses_a_likely_duplicate_unless_told_it_is_another_family() {
    let d = Device::new("dup-refuse");
    d.ok("", &["init"]);
    d.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Quản lý"]);
    d.ok("2222", &["user", "add", "--role", "volunteer", "--name", "Toàn", "--user", "Quản lý"]);
    let first = add(&d, "Ma Văn Hùng", "21.905", &[]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let first = stdout(&first);
    let (id, hh_code) = first.split_once(' ').unwrap();
    let hh_code = hh_code.trim();

    // 2 m north, typed without diacritics: refused, the existing one listed with id and code.
    let o = add(&d, "Ma Van Hung", "21.905018", &[]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let listed = stdout(&o);
    assert!(listed.starts_with(&format!("{id} {hh_code} Ma Văn Hùng")), "{listed}");
    assert!(listed.contains("cách 2 m / 2 m apart"), "{listed}");
    assert!(listed.contains("tên giống 100% / name 100% alike"), "{listed}");
    assert!(stderr(&o).contains("--not-duplicate"), "{}", stderr(&o));
    let list = d.ok("2222", &["household", "list", "--user", "Toàn"]);
    assert_eq!(list.lines().count(), 1, "nothing was added: {list}");

    // Another family next door, or the volunteer's word: added.
    let o = add(&d, "Trần Thị Bình", "21.905018", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = add(&d, "Ma Van Hung", "21.905018", &["--not-duplicate"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let list = d.ok("2222", &["household", "list", "--user", "Toàn"]);
    assert_eq!(list.lines().count(), 3, "{list}");
}

#[test]
fn the_supervisor_lists_two_volunteers_registrations_of_one_family_and_merges_them() {
    let data = tempfile::tempdir().unwrap();
    let data = data.path().join("server");
    safehome_server::init(&data).unwrap();
    let now = SystemClock::default().now_ms();
    let mut admin = Admin::open(&data).unwrap();
    let archive = Identity::generate(&SystemEntropy::default()).recipient();
    admin.add_team("tn-05569", &["05569".into()], &archive, "Archive", now).unwrap();
    let code_for = |admin: &mut Admin, role| {
        admin.create_enrollment_code("tn-05569", role, 3_600_000, now).unwrap().code
    };
    let sup_code = code_for(&mut admin, Role::Supervisor);
    let vol1_code = code_for(&mut admin, Role::Volunteer);
    let vol2_code = code_for(&mut admin, Role::Volunteer);
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
    let url = server.url();

    let sup = Device::new("dup-sup");
    sup.ok("", &["init"]);
    sup.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Hằng"]);
    sup.ok("1111", &["enroll", "--user", "Hằng", "--server", &url, "--code", &sup_code]);
    let vol1 = volunteer("dup-vol1", &url, &vol1_code);
    let vol2 = volunteer("dup-vol2", &url, &vol2_code);
    let (_, kept) = household_with_visit(&vol1, "Ma Văn Hùng", "21.905");
    let (merged_id, merged) = household_with_visit(&vol2, "Ma Van Hung", "21.905018");
    for v in [&vol1, &vol2] {
        assert!(v.ok("2222", &["sync", "--user", "Toàn"]).contains("1 acknowledged"));
    }

    sup.ok("1111", &["sync", "--user", "Hằng"]);
    let pairs = sup.ok("1111", &["review", "duplicates", "--user", "Hằng"]);
    assert!(pairs.starts_with("1 cặp hộ có thể trùng / likely duplicate pair(s)"), "{pairs}");
    assert!(pairs.contains(&format!("{kept} ↔ {merged}: cách 2 m / 2 m apart")), "{pairs}");
    assert!(!pairs.contains("same device"), "{pairs}");

    // Merging needs a reason, and households the supervisor's phone holds.
    let o = sup.run(
        "1111",
        &[
            "review", "merge", "--user", "Hằng", "--keep", &kept, "--merge", "no-such", "--reason",
            "x",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = sup.ok(
        "1111",
        &[
            "review",
            "merge",
            "--user",
            "Hằng",
            "--keep",
            &kept,
            "--merge",
            &merged,
            "--reason",
            "Cùng một hộ, đăng ký hai lần",
        ],
    );
    assert!(out.contains(&format!("household {merged} merged into {kept}")), "{out}");
    let out = sup.ok("1111", &["sync", "--user", "Hằng"]);
    assert!(out.contains("1 decision(s) sent, 0 refused"), "{out}");
    let pairs = sup.ok("1111", &["review", "duplicates", "--user", "Hằng"]);
    assert!(pairs.starts_with("0 cặp"), "{pairs}");

    vol2.ok("2222", &["sync", "--user", "Toàn"]);
    let list = vol2.ok("2222", &["household", "list", "--user", "Toàn"]);
    assert!(list.contains(&format!("{merged_id} {merged}")), "{list}");
    assert!(list.contains(&format!("(đã gộp vào {kept} / merged into {kept})")), "{list}");
    let list = vol1.ok("2222", &["household", "list", "--user", "Toàn"]);
    assert!(!list.contains("gộp"), "the kept household is unchanged: {list}");
    server.stop().unwrap();
}
