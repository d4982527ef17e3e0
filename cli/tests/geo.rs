//! `safehome geo ...` as a user runs it: output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{code, safehome, stderr, stdout};

fn data(name: &str) -> String {
    common::data_in("geo", name)
}

fn temp(name: &str, contents: &str) -> String {
    common::temp("geo", name, contents)
}

const NOW: &str = "1795924800000"; // 2026-11-29T04:00:00Z

#[test]
fn validate_accepts_the_test_communes() {
    let o = safehome(&["geo", "validate", &data("communes.geojson")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "valid: 4 areas, 5 polygons, 35 positions");
    let o = safehome(&["geo", "validate", &data("communes.geojson"), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["areas"][0]["code"], "05569");
}

#[test]
fn validate_names_each_bad_feature() {
    let bad = temp(
        "bad.geojson",
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"code":"A","name":"a"},"geometry":{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,22.0],[105.7,21.9],[105.6,22.0],[105.6,21.9]]]}},
          {"type":"Feature","properties":{"code":"B","name":"b"},"geometry":{"type":"Polygon","coordinates":[[[21.9,105.6],[21.9,105.7],[22.0,105.7],[21.9,105.6]]]}}]}"#,
    );
    let o = safehome(&["geo", "validate", &bad]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("feature 0 (code A): ring 0 of polygon 0 intersects itself"),
        "{out}"
    );
    assert!(lines[1].starts_with("feature 1 (code B): coordinates look swapped"), "{out}");
    let o = safehome(&["geo", "validate", &bad, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["errors"][0]["kind"], "self_intersection");
    assert_eq!(v["errors"][1]["feature"], 1);
    assert_eq!(v["errors"][1]["kind"], "coordinates_swapped");

    let o = safehome(&["geo", "validate", &temp("syntax.geojson", "{\"type\": ")]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).starts_with("malformed JSON at line 1"), "{}", stdout(&o));
    assert_eq!(code(&safehome(&["geo", "validate", "/nonexistent/areas.geojson"])), 2);
    assert_eq!(code(&safehome(&["geo", "validate"])), 2);
}

#[test]
fn locate_prints_area_or_distance_per_point() {
    let o = safehome(&[
        "geo",
        "locate",
        "--areas",
        &data("communes.geojson"),
        "--points",
        &data("points.csv"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "id,area,distance_m,nearest");
    assert_eq!(lines[1], "inside_dinh_hoa,05569,,");
    assert_eq!(lines[2], "in_the_lake,05570,,");
    assert_eq!(lines[3], "in_trai_cau,05662,,");
    assert_eq!(lines[4], "shared_edge,05569,,");
    assert_eq!(lines[5], "island,05692,,");
    let last: Vec<&str> = lines[6].split(',').collect();
    assert_eq!((last[0], last[1], last[3]), ("outside_east", "", "05692"));
    let d: f64 = last[2].parse().unwrap();
    assert!((d - 5_164.0).abs() < 20.0, "{d}");

    let o = safehome(&[
        "geo",
        "locate",
        "--areas",
        &data("communes.geojson"),
        "--points",
        &data("points.csv"),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[3]["on_boundary"], true);
    assert_eq!(v[5]["nearest"], "05692");
    assert!(v[5]["distance_m"].as_f64().unwrap() > 5_000.0);
}

#[test]
fn locate_refuses_bad_points_with_the_line() {
    let areas = data("communes.geojson");
    let pts = temp("pts.csv", "lon,id,lat\n105.62,\"a, quoted\",21.92\n105.62,b,north\n");
    let o = safehome(&["geo", "locate", "--areas", &areas, "--points", &pts]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("line 3: lat is not a number"), "{}", stderr(&o));
    let pts = temp("pts2.csv", "lon,id,lat\n105.62,\"a, quoted\",21.92\n");
    let o = safehome(&["geo", "locate", "--areas", &areas, "--points", &pts]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o).lines().nth(1), Some("\"a, quoted\",05569,,"));
    let pts = temp("pts3.csv", "id,lat\nx,21.9\n");
    let o = safehome(&["geo", "locate", "--areas", &areas, "--points", &pts]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no `lon` column"), "{}", stderr(&o));
    let pts = temp("pts4.csv", "id,lat,lon\nx,91,105\n");
    assert_eq!(code(&safehome(&["geo", "locate", "--areas", &areas, "--points", &pts])), 1);
    // Invalid areas are refused before any point is read.
    let bad = temp("empty.geojson", r#"{"type":"FeatureCollection","features":[]}"#);
    let o = safehome(&["geo", "locate", "--areas", &bad, "--points", &data("points.csv")]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no features"), "{}", stderr(&o));
    let o = safehome(&["geo", "locate", "--areas", &areas, "--points", "/nonexistent.csv"]);
    assert_eq!(code(&o), 2);
    assert_eq!(code(&safehome(&["geo", "locate", "--areas", &areas])), 2);
}

#[test]
fn check_fix_valid_with_area_and_flags() {
    let fix = temp(
        "fix.json",
        r#"{"lat":21.95,"lon":105.75,"accuracy_m":45,"time_ms":1795924790000,"provider":"gps"}"#,
    );
    let o = safehome(&[
        "geo",
        "check-fix",
        &fix,
        "--areas",
        &data("communes.geojson"),
        "--assigned",
        "05569",
        "--now",
        NOW,
        "--lang",
        "en",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("valid: accuracy 45 m, age 10.0 s, provider gps\n"), "{out}");
    assert!(out.contains("area: 05662 (Xã Trại Cau)"), "{out}");
    assert!(out.contains("flag low_accuracy: GPS accuracy 45 m is worse than 30 m."), "{out}");
    assert!(
        out.contains("flag outside_area: The position is outside the assigned area 05569"),
        "{out}"
    );
    assert!(out.contains("distance_m=5"), "{out}");

    // Vietnamese by default; ISO time for --now.
    let o = safehome(&["geo", "check-fix", &fix, "--now", "2026-11-29T04:00:00Z"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("Độ chính xác GPS 45 m"), "{}", stdout(&o));
    // A --now without an offset is the device's local time (--utc-offset, Vietnam by default):
    // 11:00 in Vietnam is 04:00Z, ten seconds after the fix; 11:00 UTC is seven hours after it.
    let o = safehome(&["geo", "check-fix", &fix, "--now", "2026-11-29T11:00:00", "--lang", "en"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("age 10.0 s"), "{}", stdout(&o));
    let o = safehome(&[
        "geo",
        "check-fix",
        &fix,
        "--now",
        "2026-11-29T11:00:00",
        "--utc-offset",
        "+00:00",
        "--json",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["error"]["code"], "stale", "{v}");

    let o = safehome(&["geo", "check-fix", &fix, "--now", NOW, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["flags"][0]["code"], "low_accuracy");
    assert_eq!(v["flags"][0]["numbers"]["accuracy_m"], 45.0);
}

#[test]
fn check_fix_with_visit_context() {
    let visit = temp(
        "visit.json",
        r#"{"fix":{"lat":21.95,"lon":105.75,"accuracy_m":8,"time_ms":1795924800000,"mock":true},
            "household":{"location":{"lat":21.96,"lon":105.75},"accuracy_m":5},
            "previous_visit":{"location":{"lat":22.5,"lon":105.75},"accuracy_m":5,"time_ms":1795924740000},
            "photos":[{"id":"p1","location":{"lat":21.95,"lon":105.75},"time_ms":1795910400000}],
            "assigned_area":"05662","capture_accuracy":5,"warning_accuracy":20}"#,
    );
    let o = safehome(&[
        "geo",
        "check-fix",
        &visit,
        "--areas",
        &data("communes.geojson"),
        "--now",
        NOW,
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let codes: Vec<&str> =
        v["flags"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        ["mock_provider", "far_from_household", "impossible_travel", "photo_time_far"]
    );
    assert_eq!(v["decision"], "accept_on_request");
    assert_eq!(v["placement"]["area"], "05662");
}

#[test]
fn check_fix_refusals_and_usage() {
    let null_island =
        temp("null.json", r#"{"lat":0,"lon":0,"accuracy_m":5,"time_ms":1795924800000}"#);
    let o = safehome(&["geo", "check-fix", &null_island, "--now", NOW]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).starts_with("invalid: latitude and longitude are both 0"), "{}", stdout(&o));
    let o = safehome(&["geo", "check-fix", &null_island, "--now", NOW, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["error"]["code"], "null_island");

    let stale =
        temp("stale.json", r#"{"lat":21.9,"lon":105.7,"accuracy_m":5,"time_ms":1795924000000}"#);
    let o = safehome(&["geo", "check-fix", &stale, "--now", NOW]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("old (limit 300000 ms)"), "{}", stdout(&o));

    let poor = temp(
        "poor.json",
        r#"{"fix":{"lat":21.9,"lon":105.7,"accuracy_m":80,"time_ms":1795924800000},"warning_accuracy":50}"#,
    );
    let o = safehome(&["geo", "check-fix", &poor, "--now", NOW]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("must confirm"), "{}", stdout(&o));

    let typo = temp("typo.json", r#"{"lat":21.9,"lon":105.7,"accuracy":5,"time_ms":1}"#);
    assert_eq!(code(&safehome(&["geo", "check-fix", &typo, "--now", NOW])), 1);
    let ok =
        temp("ok.json", r#"{"lat":21.95,"lon":105.75,"accuracy_m":5,"time_ms":1795924800000}"#);
    let o = safehome(&[
        "geo",
        "check-fix",
        &ok,
        "--now",
        NOW,
        "--areas",
        &data("communes.geojson"),
        "--assigned",
        "99999",
    ]);
    assert_eq!(code(&o), 1);
    assert_eq!(code(&safehome(&["geo", "check-fix", &ok, "--now", "yesterday"])), 2);
    assert_eq!(code(&safehome(&["geo", "check-fix", &ok, "--assigned", "05569"])), 2);
    assert_eq!(code(&safehome(&["geo", "check-fix", "/nonexistent.json"])), 2);
    assert_eq!(code(&safehome(&["geo", "check-fix", &ok, "--now", NOW, "--lang", "fr"])), 2);
    let o = safehome(&["geo", "check-fix", &ok, "--now", NOW, "--lang", "en"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("flags: none"), "{}", stdout(&o));
}
