//! The CLI acting as a device: a volunteer's visit with a GPS fix from a mock provider, and the
//! location quality flags the supervisor then sees.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use std::process::Command;

use common::{Device, code, stderr};

#[test]
fn a_mock_fix_is_kept_and_flagged_at_finalize() {
    let d = Device::new("fix");
    d.ok("", &["init"]);
    d.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Hằng"]);
    d.ok("2222", &["user", "add", "--role", "volunteer", "--name", "Toàn", "--user", "Hằng"]);
    let out = d.ok(
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
            "--lat",
            "21.905",
            "--lon",
            "105.648",
            "--accuracy",
            "6",
        ],
    );
    let household = out.split_whitespace().next().unwrap().to_string();
    let visit = d.ok("2222", &["visit", "start", "--user", "Toàn", "--household", &household]);
    let visit = visit.trim();

    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let fix = format!(
        r#"{{"lat": 21.9052, "lon": 105.6481, "accuracy_m": 7, "time_ms": {now}, "provider": "gps", "mock": true}}"#
    );
    // Refused input: exit 1 with a one-line reason, and the draft keeps its answer.
    for bad in [
        r#"{"lat": 0, "lon": 0, "accuracy_m": 7, "time_ms": 1}"#.to_string(),
        r#"{"lat": 21.9, "lon": 105.6}"#.to_string(),
        fix.replace(r#""accuracy_m": 7"#, r#""accuracy_m": 90"#), // over the warning, unconfirmed
    ] {
        let o = d.run("2222", &["visit", "fix", "--user", "Toàn", visit, "household_gps", &bad]);
        assert_eq!(code(&o), 1, "{bad}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    }
    let out = d.ok("2222", &["visit", "fix", "--user", "Toàn", visit, "household_gps", &fix]);
    assert!(out.contains("fix accepted, accuracy 7 m"), "{out}");

    let answers = common::temp("device-fix", "answers.json", &serde_json::json!({
        "consent": "yes", "num_children": 1,
        "children": [{"child_name": "Ma Thị Lan", "child_sex": "female", "child_age": 3,
                      "child_disability": "no", "child_lives_with": "both_parents"}],
        "pond_fenced": "no", "well_covered": "yes", "poison_stored": "no", "window_bars": "yes",
        "kitchen_separate": "yes", "hot_items_safe": "yes", "wiring_safe": "yes", "stairs_railing": "na",
        "gate_fence": "yes", "helmet_use": "yes", "play_area": "yes", "child_injured_12m": "no",
        "special_groups": ["none"], "serious_harm": "no"
    }).to_string());
    // An answers file that is not JSON is the user's bad input, not unreadable stored data.
    let broken = common::temp("device-fix", "broken.json", r#"{"consent": "#);
    let o = d.run("2222", &["visit", "fill", "--user", "Toàn", visit, &broken]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).starts_with("answers: EOF while parsing"), "{}", stderr(&o));
    d.ok("2222", &["visit", "fill", "--user", "Toàn", visit, &answers]);
    d.ok("2222", &["visit", "finalize", "--user", "Toàn", visit]);

    let shown = d.ok("1111", &["visit", "show", "--user", "Hằng", visit]);
    let flags: Vec<&str> = shown.lines().filter(|l| l.trim_start().starts_with("flag ")).collect();
    assert_eq!(flags.len(), 1, "{shown}");
    assert!(flags[0].contains("mock_provider"), "{shown}");
    let json = d.ok("1111", &["visit", "show", "--user", "Hằng", visit, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["quality_flags"][0]["code"], "mock_provider");
}

/// Each command is its own process: the areas a supervisor set once are what a later process's
/// finalize checks the visit against.
#[test]
fn assigned_areas_set_once_are_checked_by_every_later_finalize() {
    let d = Device::new("areas");
    d.ok("", &["init"]);
    d.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Hằng"]);
    d.ok("2222", &["user", "add", "--role", "volunteer", "--name", "Toàn", "--user", "Hằng"]);

    let commune = |west: f64, east: f64| {
        serde_json::json!({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"code": "05569", "name": "Xã Khuôn Tát"},
            "geometry": {"type": "Polygon", "coordinates": [[
                [west, 21.86], [east, 21.86], [east, 21.95], [west, 21.95], [west, 21.86]]]}
        }]})
        .to_string()
    };
    let areas = common::temp("device-areas", "areas.geojson", &commune(105.60, 105.70));
    let unclosed = common::temp(
        "device-areas",
        "unclosed.geojson",
        &commune(105.60, 105.70).replace("[105.6,21.86]]]", "[105.6,21.9]]]"),
    );
    // Refused with the feature named, and nothing stored.
    let o = d.run("1111", &["team", "set-areas", "--user", "Hằng", &unclosed]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("feature 0 (code 05569)"), "{}", stderr(&o));
    let shown: serde_json::Value = serde_json::from_str(&d.ok("", &["team", "show"])).unwrap();
    assert_eq!(shown["assigned_areas"], serde_json::Value::Null);
    // A volunteer may not change them.
    let o = d.run("2222", &["team", "set-areas", "--user", "Toàn", "--clear"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));

    let out = d.ok("1111", &["team", "set-areas", "--user", "Hằng", &areas]);
    assert_eq!(out.trim(), "assigned areas: 1 (05569)");
    let shown: serde_json::Value = serde_json::from_str(&d.ok("", &["team", "show"])).unwrap();
    assert_eq!(shown["assigned_areas"][0]["code"], "05569", "{shown}");

    let household = d.ok(
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
            "--lat",
            "21.905",
            "--lon",
            "105.648",
            "--accuracy",
            "6",
        ],
    );
    let household = household.split_whitespace().next().unwrap().to_string();
    let visit = d.ok("2222", &["visit", "start", "--user", "Toàn", "--household", &household]);
    let visit = visit.trim();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    // 6 km north of the household, outside its commune, with a good accuracy.
    let fix = format!(
        r#"{{"lat": 21.96, "lon": 105.648, "accuracy_m": 8, "time_ms": {now}, "provider": "gps"}}"#
    );
    d.ok("2222", &["visit", "fix", "--user", "Toàn", visit, "household_gps", &fix]);
    let answers = common::temp("device-areas", "answers.json", &serde_json::json!({
        "consent": "yes", "num_children": 1,
        "children": [{"child_name": "Ma Thị Lan", "child_sex": "female", "child_age": 3,
                      "child_disability": "no", "child_lives_with": "both_parents"}],
        "pond_fenced": "no", "well_covered": "yes", "poison_stored": "no", "window_bars": "yes",
        "kitchen_separate": "yes", "hot_items_safe": "yes", "wiring_safe": "yes", "stairs_railing": "na",
        "gate_fence": "yes", "helmet_use": "yes", "play_area": "yes", "child_injured_12m": "no",
        "special_groups": ["none"], "serious_harm": "no"
    }).to_string());
    d.ok("2222", &["visit", "fill", "--user", "Toàn", visit, &answers]);
    d.ok("2222", &["visit", "finalize", "--user", "Toàn", visit]);

    let json = d.ok("1111", &["visit", "show", "--user", "Hằng", visit, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let codes: Vec<&str> = v["quality_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["outside_area", "far_from_household"], "{json}");

    assert_eq!(
        d.ok("1111", &["team", "set-areas", "--user", "Hằng", "--clear"]).trim(),
        "assigned areas cleared"
    );
}

/// The store's clock runs in the device's offset (`--utc-offset`): `today()` in a constraint is
/// the local date there. A date that is already today at +14:00 is still tomorrow at -12:00 (26
/// hours apart, so the check cannot race midnight).
#[test]
fn the_store_reads_today_in_the_utc_offset() {
    use safehome_core::form::expr::{format_iso_date, local_day};

    let d = Device::new("tz");
    d.ok("", &["init"]);
    d.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Hằng"]);
    d.ok("3333", &["user", "add", "--role", "health_worker", "--name", "Khải", "--user", "Hằng"]);
    let record = d.ok("3333", &["incident", "start", "--user", "Khải"]);
    let record = record.trim();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let today_east = format_iso_date(local_day(now.as_millis() as i64, 14 * 60));
    let answer = |offset: &str| {
        let args = ["--utc-offset", offset, "visit", "answer", "--user", "Khải", record];
        d.ok("3333", &[&args[..], &["incident_date", &today_east]].concat())
    };
    let west = answer("-12:00");
    assert!(west.contains("incident_date: saved, but the answer does not meet"), "{west}");
    let east = answer("+14:00");
    assert!(!east.contains("constraint"), "{east}");
}

/// Issue 14's CLI items: a misspelled `--db` creates nothing, a directory is a usage error,
/// files named on the command line are read with a limit, acknowledging by hand is a
/// supervisor's act, and a supervisor can lift a lockout with a new PIN.
#[test]
fn the_device_commands_refuse_what_could_lose_or_forge_data() {
    let d = Device::new("guards");
    // Before `init`: no database, and a command other than init does not make one.
    let o = d.run("1111", &["user", "list"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("no database there"), "{}", stderr(&o));
    assert!(!d.dir.join("safehome.db").exists(), "a database appeared");
    d.ok("", &["init"]);
    d.ok("1111", &["user", "add", "--role", "supervisor", "--name", "Hằng"]);
    d.ok("2222", &["user", "add", "--role", "volunteer", "--name", "Toàn", "--user", "Hằng"]);

    // `--db DIRECTORY` is a usage error.
    let o = Command::new(env!("CARGO_BIN_EXE_safehome"))
        .args(["user", "list", "--db"])
        .arg(&d.dir)
        .env("SAFEHOME_KEY_FILE", d.dir.join("data.key"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));

    // A key file or a fix file that never ends is refused after its limit.
    #[cfg(unix)]
    {
        let o = Command::new(env!("CARGO_BIN_EXE_safehome"))
            .args(["user", "list"])
            .env("SAFEHOME_DB", d.dir.join("safehome.db"))
            .env("SAFEHOME_KEY_FILE", "/dev/zero")
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("over 65536 bytes"), "{}", stderr(&o));
        let o =
            d.run("2222", &["visit", "fix", "--user", "Toàn", "no-such-visit", "f", "@/dev/zero"]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains("over 65536 bytes"), "{}", stderr(&o));
    }

    // Acknowledging by hand: refused to a volunteer, whatever the hash.
    let o = d.run("2222", &["outbox", "ack", "--user", "Toàn", &"ab".repeat(32)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).to_lowercase().contains("volunteer"), "{}", stderr(&o));

    // Three wrong PINs lock Toàn into a delay; the supervisor sets a new PIN and lifts it.
    for _ in 0..4 {
        let _ = d.run("9999", &["household", "list", "--user", "Toàn"]);
    }
    let o = d.run("2222", &["household", "list", "--user", "Toàn"]);
    assert_ne!(code(&o), 0, "the right PIN during the delay is refused");
    // The retry time reads as a time, not as raw milliseconds.
    let why = stderr(&o);
    assert!(why.contains("try again after 20") && why.trim_end().ends_with('Z'), "{why}");
    d.ok("3333", &["user", "reset-pin", "--user", "Hằng", "Toàn"]);
    d.ok("3333", &["household", "list", "--user", "Toàn"]);
    let o = d.run("2222", &["household", "list", "--user", "Toàn"]);
    assert_eq!(code(&o), 1, "the old PIN no longer opens the profile: {}", stderr(&o));
}
