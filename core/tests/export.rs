//! The analyst export on submissions built by the real form session of the built-in household
//! screening (and the nested-repeat test form): tables and row counts, parent keys, labels in
//! Vietnamese and English, formula-like text, unknown forms, malformed input and the GeoJSON.
//! The xlsx files are read back with calamine, which proves they open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use calamine::{Data, Reader, Xlsx, open_workbook};
use common::TempDir;
use safehome_core::clock::{FixedClock, SeededEntropy};
use safehome_core::export::{
    ExportDecision, ExportError, ExportFormat, ExportOptions, ExportRecord, ExportSummary,
    Language, export,
};
use safehome_core::form::check::CheckedForm;
use safehome_core::form::risk;
use safehome_core::form::session::Session;
use safehome_core::location::{
    AcceptedFix, Fix, FlagCode, QualityFlag, SkipReason, SkippedCheck, ValidFix,
};
use safehome_core::templates;
use serde_json::{Value as Json, json};

/// 2026-11-29T04:00:00Z.
const NOW: i64 = 1_795_924_800_000;
const ROSTER: &str = include_str!("data/roster.json");

fn screening() -> Arc<CheckedForm> {
    templates::load("household_screening").unwrap().unwrap()
}

fn roster() -> Arc<CheckedForm> {
    Arc::new(CheckedForm::from_json(ROSTER).unwrap())
}

/// The built-in templates and the test roster form, by id and version.
fn forms(id: &str, version: &str) -> Option<Arc<CheckedForm>> {
    let f = if id == "roster_test" { Some(roster()) } else { templates::load(id)?.ok() }?;
    (f.form.version == version).then_some(f)
}

fn examples() -> Vec<Json> {
    let all: Vec<Json> = serde_json::from_str(templates::EXAMPLE_HOUSEHOLDS).unwrap();
    all.into_iter().map(|e| e["answers"].clone()).collect()
}

/// The example household `i` with only its first `n` children.
fn household(i: usize, n: usize) -> Json {
    let mut a = examples()[i].clone();
    a["num_children"] = json!(n);
    let kids: Vec<Json> = a["children"].as_array().unwrap().iter().take(n).cloned().collect();
    a["children"] = json!(kids);
    a
}

/// A location review as finalize seals it: the platform fix, one flag, one skipped check.
fn location_review(lat: f64, lon: f64) -> Json {
    let fix = AcceptedFix {
        fix: ValidFix {
            fix: Fix::new(lat, lon, 6.0, NOW - 60_000),
            received_ms: NOW - 60_000,
            age_ms: 0,
        },
        over_warning: false,
        warning_m: Some(50.0),
    };
    let flag = QualityFlag {
        code: FlagCode::StaleFix,
        reason_vi: "Vị trí đã cũ".into(),
        reason_en: "The fix is stale".into(),
        numbers: BTreeMap::from([("age_s".to_string(), 400.0)]),
        subject: None,
    };
    json!({
        "path": "household_gps",
        "fix": fix,
        "flags": [flag],
        "skipped_checks": [SkippedCheck::new(FlagCode::OutsideArea, SkipReason::NoAssignedAreas)],
    })
}

/// The submission document finalize signs, built from a real session of `form` on `answers`.
fn submission(
    form: Arc<CheckedForm>,
    answers: &Json,
    record_id: &str,
    household: &str,
    at: i64,
) -> Json {
    let clock = Arc::new(FixedClock::new(at, 420));
    let mut s = Session::new(form, clock, Arc::new(SeededEntropy::new(7)));
    s.load_answers(answers).unwrap();
    let f = &s.form().form;
    let gps = s.output().get("household_gps").cloned();
    let location =
        gps.map(|g| location_review(g["lat"].as_f64().unwrap(), g["lon"].as_f64().unwrap()));
    json!({
        "schema": "safehome.submission.v1",
        "record_id": record_id,
        "kind": "visit",
        "revision": 1,
        "revision_of": null,
        "form": {"id": f.id, "version": f.version},
        "household_code": household,
        "device_id": "dev-a",
        "device_public_key": "00",
        "owner_id": "vol-1",
        "created_at_ms": at - 1_200_000,
        "finalized_at_ms": at,
        "instance_name": s.instance_name(),
        "data": s.output(),
        "attachments": [],
        "assessment": risk::assess(&s),
        "location": location,
        "timings": s.timings(),
        "state": s.state(),
    })
}

fn record(submission: Json) -> ExportRecord {
    ExportRecord { submission, review_state: "received".into(), decisions: Vec::new() }
}

fn ok(records: Vec<ExportRecord>) -> impl Iterator<Item = Result<ExportRecord, std::io::Error>> {
    records.into_iter().map(Ok)
}

fn run(records: Vec<ExportRecord>, options: &ExportOptions, dir: &Path) -> ExportSummary {
    export(ok(records), &forms, options, dir).unwrap()
}

/// Three households with 2, 1 and 0 children.
fn three_households() -> Vec<ExportRecord> {
    vec![
        record(submission(screening(), &household(0, 2), "rec-1", "HH-001", NOW)),
        record(submission(screening(), &household(1, 1), "rec-2", "HH-002", NOW + 1_000)),
        record(submission(screening(), &household(2, 0), "rec-3", "HH-003", NOW + 2_000)),
    ]
}

type Sheet = Vec<Vec<Data>>;

fn read_xlsx(path: &Path) -> BTreeMap<String, Sheet> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let names = wb.sheet_names();
    names
        .into_iter()
        .map(|n| {
            let range = wb.worksheet_range(&n).unwrap();
            let rows = range.rows().map(<[Data]>::to_vec).collect();
            (n, rows)
        })
        .collect()
}

fn text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => format!("{f}"),
        Data::Int(i) => format!("{i}"),
        other => format!("{other:?}"),
    }
}

/// The column of `header` (row 0).
fn col(sheet: &Sheet, header: &str) -> usize {
    sheet[0].iter().position(|d| text(d) == header).unwrap_or_else(|| panic!("no column {header}"))
}

fn column(sheet: &Sheet, header: &str, skip: usize) -> Vec<String> {
    let c = col(sheet, header);
    sheet.iter().skip(skip).map(|r| r.get(c).map(text).unwrap_or_default()).collect()
}

/// A minimal RFC 4180 reader (quoted fields, doubled quotes, CRLF), for the CSV tests.
fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with("\u{FEFF}".as_bytes()), "{} starts with a BOM", path.display());
    let s = std::str::from_utf8(&bytes[3..]).unwrap();
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, s.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(row.is_empty() && field.is_empty(), "the file ends with CRLF");
    rows
}

fn csv_column(rows: &[Vec<String>], header: &str) -> Vec<String> {
    let c =
        rows[0].iter().position(|h| h == header).unwrap_or_else(|| panic!("no column {header}"));
    rows.iter().skip(1).map(|r| r[c].clone()).collect()
}

fn csv_options(language: Language) -> ExportOptions {
    ExportOptions { format: ExportFormat::Csv, language, ..ExportOptions::default() }
}

// ----- tables, rows and keys ---------------------------------------------------------------------

#[test]
fn xlsx_has_a_sheet_per_form_and_repeat_with_a_row_per_record_and_per_instance() {
    let dir = TempDir::new("export-xlsx");
    let summary = run(three_households(), &ExportOptions::default(), &dir.0);
    assert_eq!(summary.records, 3);
    let tables: Vec<(&str, Option<&str>, u64)> =
        summary.tables.iter().map(|t| (t.name.as_str(), t.repeat.as_deref(), t.rows)).collect();
    assert_eq!(
        tables,
        [
            ("household_screening 2026.1", None, 3),
            ("children (household_screening)", Some("household/roster/children"), 3),
        ]
    );
    assert_eq!(summary.files, [dir.0.join("export.xlsx")]);

    let book = read_xlsx(&dir.0.join("export.xlsx"));
    let names: Vec<&str> = book.keys().map(String::as_str).collect();
    assert_eq!(names, ["children (household_screening)", "codebook", "household_screening 2026.1"]);
    let main = &book["household_screening 2026.1"];
    let kids = &book["children (household_screening)"];
    // Two header rows (paths, labels), then one row per record / per child.
    assert_eq!(main.len(), 2 + 3);
    assert_eq!(kids.len(), 2 + 3);
    assert_eq!(column(main, "KEY", 2), ["rec-1", "rec-2", "rec-3"]);
    assert_eq!(column(main, "household_code", 2), ["HH-001", "HH-002", "HH-003"]);
    assert_eq!(
        column(kids, "KEY", 2),
        [
            "rec-1/household/roster/children[1]",
            "rec-1/household/roster/children[2]",
            "rec-2/household/roster/children[1]",
        ]
    );
    assert_eq!(column(kids, "PARENT_KEY", 2), ["rec-1", "rec-1", "rec-2"]);
    // Each child row carries its own answers (first household: Hà 10, Hùng 7).
    assert_eq!(column(kids, "child_age", 2), ["10", "7", "3"]);
    // Numbers are numbers, so analysts can sum them.
    assert!(
        matches!(main[2][col(main, "household-roster-num_children")], Data::Float(n) if n == 2.0)
    );
    // The codebook lists every column of both sheets, with its label.
    let codebook = &book["codebook"];
    assert_eq!(
        codebook[0].iter().map(text).collect::<Vec<_>>(),
        ["table", "column", "label", "content"]
    );
    assert_eq!(codebook.len() - 1, main[0].len() + kids[0].len());
}

#[test]
fn nested_repeats_link_to_the_instance_they_are_in() {
    let dir = TempDir::new("export-nested");
    let answers = json!({
        "consent": "yes", "commune": "05569", "village": "ban_pieng", "head": "Hoàng Văn Dũng",
        "num_children": 2,
        "children": [
            {"child_name": "Mai", "age": 3, "sex": "f", "injuries": [{"injury_kind": "bỏng"}]},
            {"child_name": "Nam", "age": 9, "sex": "m", "in_school": "yes",
             "injuries": [{"injury_kind": "ngã"}, {"injury_kind": "chó cắn"}]}
        ],
        "hazards": ["pond", "well"], "pond_fenced": "no"
    });
    let recs = vec![record(submission(roster(), &answers, "r1", "HH-9", NOW))];
    let summary = run(recs, &csv_options(Language::Vi), &dir.0);
    let rows: Vec<(&str, u64)> = summary.tables.iter().map(|t| (t.name.as_str(), t.rows)).collect();
    assert_eq!(
        rows,
        [
            ("roster_test-1.csv", 1),
            ("roster_test-1-children.csv", 2),
            ("roster_test-1-injuries.csv", 3),
        ]
    );
    let injuries = read_csv(&dir.0.join("roster_test-1-injuries.csv"));
    assert_eq!(
        csv_column(&injuries, "PARENT_KEY"),
        ["r1/main/children[1]", "r1/main/children[2]", "r1/main/children[2]"]
    );
    assert_eq!(
        csv_column(&injuries, "KEY"),
        [
            "r1/main/children[1]/injuries[1]",
            "r1/main/children[2]/injuries[1]",
            "r1/main/children[2]/injuries[2]"
        ]
    );
    assert_eq!(csv_column(&injuries, "injury_kind"), ["bỏng", "ngã", "chó cắn"]);
    let children = read_csv(&dir.0.join("roster_test-1-children.csv"));
    assert_eq!(csv_column(&children, "KEY"), ["r1/main/children[1]", "r1/main/children[2]"]);
    assert_eq!(csv_column(&children, "PARENT_KEY"), ["r1", "r1"]);
    // The codebook and nothing else besides the tables; no part file is left behind.
    let mut files: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "codebook.csv",
            "roster_test-1-children.csv",
            "roster_test-1-injuries.csv",
            "roster_test-1.csv"
        ]
    );
}

// ----- labels -----------------------------------------------------------------------------------

#[test]
fn labels_and_choice_labels_follow_the_chosen_language() {
    for (lang, consent_label, agrees, sex, level, groups) in [
        (
            Language::Vi,
            "Gia đình có đồng ý tham gia khảo sát không?",
            "Đồng ý",
            "Nữ",
            "Thấp",
            "Không có trẻ nào thuộc các nhóm trên",
        ),
        (
            Language::En,
            "Does the household agree to take part?",
            "Agrees",
            "Female",
            "Low",
            "No child is in any of these groups",
        ),
    ] {
        let dir = TempDir::new("export-lang");
        let opts = ExportOptions { language: lang, ..ExportOptions::default() };
        run(
            vec![record(submission(screening(), &household(0, 2), "rec-1", "HH-1", NOW))],
            &opts,
            &dir.0,
        );
        let book = read_xlsx(&dir.0.join("export.xlsx"));
        let main = &book["household_screening 2026.1"];
        // Row 2 holds the labels.
        assert_eq!(text(&main[1][col(main, "consent")]), consent_label, "{lang:?}");
        assert_eq!(column(main, "consent", 2), [agrees]);
        assert_eq!(
            column(main, "risk_level", 2),
            ["low"],
            "the code does not depend on the language"
        );
        assert_eq!(column(main, "risk_level_label", 2), [level]);
        // select_multiple: the labels joined, and one 0/1 column per choice.
        assert_eq!(column(main, "household-protection-special_groups", 2), [groups]);
        assert_eq!(column(main, "household-protection-special_groups/none", 2), ["1"]);
        assert_eq!(column(main, "household-protection-special_groups/a", 2), ["0"]);
        let kids = &book["children (household_screening)"];
        assert_eq!(column(kids, "child_sex", 2)[0], sex);
    }
}

#[test]
fn geopoints_split_into_four_numeric_columns_and_flags_and_decisions_are_on_the_row() {
    let dir = TempDir::new("export-meta");
    let mut r = record(submission(screening(), &household(1, 2), "rec-1", "HH-1", NOW));
    r.review_state = "returned".into();
    r.decisions = vec![
        ExportDecision {
            at_ms: NOW + 3_600_000,
            kind: "returned".into(),
            by_device: "sup-dev".into(),
            note: Some("Thiếu ngày sinh, bổ sung".into()),
        },
        ExportDecision {
            at_ms: NOW + 7_200_000,
            kind: "approved".into(),
            by_device: "sup-dev".into(),
            note: None,
        },
    ];
    run(vec![r], &csv_options(Language::En), &dir.0);
    let rows = read_csv(&dir.0.join("household_screening-2026.1.csv"));
    assert_eq!(rows.len(), 2, "one header row, one record");
    let get = |h: &str| csv_column(&rows, h).remove(0);
    assert_eq!(get("household-household_gps-Latitude"), "21.6612");
    assert_eq!(get("household-household_gps-Longitude"), "105.8921");
    assert_eq!(get("household-household_gps-Accuracy"), "8");
    // Local times with their offset (finalized 04:00Z is 11:00 in Vietnam).
    assert_eq!(get("finalized_at"), "2026-11-29T11:00:00.000+07:00");
    assert_eq!(get("created_at"), "2026-11-29T10:40:00.000+07:00");
    assert_eq!(get("review_state"), "returned");
    assert_eq!(get("risk_level"), "high");
    assert!(!get("risk_rules").is_empty() && !get("risk_reasons").is_empty());
    assert_eq!(get("location_flags"), "stale_fix");
    assert_eq!(get("location_flag_reasons"), "The fix is stale");
    assert_eq!(get("location_unchecked"), "outside_area (no_assigned_areas)");
    assert_eq!(get("decision_count"), "2");
    assert_eq!(get("last_decision"), "approved");
    assert_eq!(get("last_decision_at"), "2026-11-29T13:00:00.000+07:00");
    assert_eq!(
        get("decision_history"),
        "2026-11-29T12:00:00.000+07:00 returned (sup-dev): Thiếu ngày sinh, bổ sung\n\
         2026-11-29T13:00:00.000+07:00 approved (sup-dev)"
    );
    // The CSV has a codebook with the labels in the chosen language.
    let book = read_csv(&dir.0.join("codebook.csv"));
    let consent = book
        .iter()
        .find(|r| r[0] == "household_screening-2026.1.csv" && r[1] == "consent")
        .unwrap();
    assert_eq!(consent[2], "Does the household agree to take part?");
    assert_eq!(consent[3], "select_one consent (label)");
}

// ----- safety -----------------------------------------------------------------------------------

#[test]
fn formula_like_text_is_never_a_formula() {
    let evil = ["=HYPERLINK(\"http://x\",\"bấm\")", "+1", "-2+3", "@SUM(A1)"];
    let recs: Vec<ExportRecord> = evil
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut a = household(0, 1);
            a["notes"] = json!(e);
            a["children"][0]["child_name"] = json!(e);
            record(submission(screening(), &a, &format!("rec-{i}"), "HH-1", NOW + i as i64))
        })
        .collect();
    // CSV: a leading apostrophe.
    let dir = TempDir::new("export-formula-csv");
    run(recs.clone(), &csv_options(Language::Vi), &dir.0);
    let rows = read_csv(&dir.0.join("household_screening-2026.1.csv"));
    let expected: Vec<String> = evil.iter().map(|e| format!("'{e}")).collect();
    assert_eq!(csv_column(&rows, "household-notes"), expected);
    let kids = read_csv(&dir.0.join("household_screening-2026.1-children.csv"));
    assert_eq!(csv_column(&kids, "child_name"), expected);
    // xlsx: the text as it was, in string cells, and no formula anywhere.
    let dir = TempDir::new("export-formula-xlsx");
    run(recs, &ExportOptions::default(), &dir.0);
    let path = dir.0.join("export.xlsx");
    let book = read_xlsx(&path);
    let main = &book["household_screening 2026.1"];
    let c = col(main, "household-notes");
    for (row, e) in main.iter().skip(2).zip(evil) {
        assert_eq!(row[c], Data::String(e.to_string()));
    }
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    for name in wb.sheet_names() {
        let formulas = wb.worksheet_formula(&name).unwrap();
        assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formula in {name}");
    }
}

// ----- unknown forms and malformed input ---------------------------------------------------------

#[test]
fn a_record_of_an_unknown_form_is_skipped_and_reported() {
    let dir = TempDir::new("export-unknown");
    let mut recs = three_households();
    let mut other = submission(screening(), &household(0, 1), "rec-x", "HH-9", NOW);
    other["form"]["version"] = json!("1999.1");
    recs.insert(1, record(other));
    let summary = run(recs, &ExportOptions::default(), &dir.0);
    assert_eq!(summary.records, 3);
    assert_eq!(summary.skipped.len(), 1);
    assert_eq!(summary.skipped[0].record_id, "rec-x");
    assert_eq!(summary.skipped[0].form_version, "1999.1");
    assert_eq!(summary.tables[0].rows, 3);
}

fn malformed(change: impl Fn(&mut Json)) -> ExportError {
    let dir = TempDir::new("export-malformed");
    let mut bad = submission(screening(), &household(0, 2), "rec-bad", "HH-1", NOW);
    change(&mut bad);
    let good = submission(screening(), &household(1, 1), "rec-good", "HH-2", NOW);
    for format in [ExportFormat::Xlsx, ExportFormat::Csv] {
        let opts = ExportOptions { format, ..ExportOptions::default() };
        let recs = vec![record(good.clone()), record(bad.clone())];
        assert!(export(ok(recs), &forms, &opts, &dir.0).is_err());
        // Nothing that looks like a finished export is left behind.
        let left: Vec<PathBuf> =
            std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(left.is_empty(), "{format:?} left {left:?}");
    }
    export(ok(vec![record(good), record(bad)]), &forms, &ExportOptions::default(), &dir.0)
        .unwrap_err()
}

fn assert_malformed(e: ExportError, record: &str, field: &str) {
    match &e {
        ExportError::Malformed { record: r, field: f, .. } => {
            assert_eq!((r.as_str(), f.as_str()), (record, field), "{e}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn malformed_submissions_give_typed_errors_naming_the_record_and_field() {
    assert_malformed(
        malformed(|s| s["data"]["children"] = json!("two")),
        "rec-bad",
        "household/roster/children",
    );
    assert_malformed(
        malformed(|s| s["data"]["children"][1] = json!(7)),
        "rec-bad",
        "household/roster/children[2]",
    );
    assert_malformed(
        malformed(|s| s["data"]["children"][1]["child_age"] = json!("seven")),
        "rec-bad",
        "household/roster/children[2]/child_age",
    );
    assert_malformed(
        malformed(|s| s["data"]["num_children"] = json!("2")),
        "rec-bad",
        "household/roster/num_children",
    );
    assert_malformed(
        malformed(|s| s["data"]["special_groups"] = json!([1])),
        "rec-bad",
        "household/protection/special_groups",
    );
    assert_malformed(
        malformed(|s| s["data"]["household_gps"] = json!({"lat": "x"})),
        "rec-bad",
        "household/household_gps",
    );
    assert_malformed(malformed(|s| s["data"] = json!([])), "rec-bad", "data");
    assert_malformed(
        malformed(|s| s["assessment"]["level"] = json!("dire")),
        "rec-bad",
        "assessment/level",
    );
    assert_malformed(
        malformed(|s| s["location"]["flags"] = json!({})),
        "rec-bad",
        "location/flags",
    );
    assert_malformed(
        malformed(|s| s["finalized_at_ms"] = json!("today")),
        "rec-bad",
        "finalized_at_ms",
    );
    // Without a readable id the record is named by its position.
    assert_malformed(malformed(|s| s["record_id"] = json!(null)), "#2", "record_id");
    assert_malformed(malformed(|s| *s = json!("not an object")), "#2", "(submission)");
    assert_malformed(
        malformed(|s| s["form"] = json!({"id": "household_screening"})),
        "rec-bad",
        "form/version",
    );
    // The message names the record and field, and carries no answer.
    let e = malformed(|s| s["data"]["head_name"] = json!(["Nguyễn Văn An"]));
    assert_eq!(e.to_string(), "record rec-bad: `household/head_name` is not text");
}

#[test]
fn a_failing_source_and_bad_options_are_typed_errors() {
    let dir = TempDir::new("export-source");
    let items: Vec<Result<ExportRecord, std::io::Error>> = vec![
        Ok(record(submission(screening(), &household(0, 1), "rec-1", "HH-1", NOW))),
        Err(std::io::Error::other("decryption failed")),
    ];
    match export(items, &forms, &ExportOptions::default(), &dir.0) {
        Err(ExportError::Source { index: 2, .. }) => {}
        other => panic!("expected Source #2, got {other:?}"),
    }
    let opts = ExportOptions { coordinate_decimals: 9, ..ExportOptions::default() };
    assert!(matches!(export(ok(Vec::new()), &forms, &opts, &dir.0), Err(ExportError::Options(_))));
}

// ----- GeoJSON ----------------------------------------------------------------------------------

#[test]
fn geojson_has_one_rounded_point_per_household_at_its_latest_visit_and_no_names() {
    let dir = TempDir::new("export-geojson");
    let mut superseded =
        record(submission(screening(), &household(3, 2), "rec-4", "HH-001", NOW + 9_000));
    superseded.review_state = "superseded".into();
    let recs = vec![
        record(submission(screening(), &household(0, 2), "rec-1", "HH-001", NOW)),
        record(submission(screening(), &household(1, 2), "rec-2", "HH-002", NOW)),
        // A later visit to HH-001 (the high-risk answers) is the one on the map...
        record(submission(screening(), &household(1, 2), "rec-3", "HH-001", NOW + 5_000)),
        // ...not a superseded revision, however late.
        superseded,
    ];
    let opts =
        ExportOptions { geojson: true, format: ExportFormat::Csv, ..ExportOptions::default() };
    let summary = run(recs, &opts, &dir.0);
    assert_eq!(summary.households, Some(2));
    let path = dir.0.join("households.geojson");
    assert!(summary.files.contains(&path));
    let raw = std::fs::read_to_string(&path).unwrap();
    let g: Json = serde_json::from_str(&raw).unwrap();
    let features = g["features"].as_array().unwrap();
    assert_eq!(features.len(), 2);
    let hh1 = features.iter().find(|f| f["properties"]["code"] == "HH-001").unwrap();
    // The second example's point (21.6612, 105.8921) at 4 decimals.
    assert_eq!(hh1["geometry"]["coordinates"], json!([105.8921, 21.6612]));
    assert_eq!(hh1["properties"]["risk_level"], "high");
    assert_eq!(hh1["properties"]["last_visit"], "2026-11-29T11:00:05.000+07:00");
    assert_eq!(hh1["properties"]["flags"], json!(["stale_fix"]));
    for name in ["Nguyễn", "Hoàng", "Thôn", "Xóm"] {
        assert!(!raw.contains(name), "no names or places in the GeoJSON ({name})");
    }
    // Two decimals round further.
    let dir2 = TempDir::new("export-geojson-2");
    let opts = ExportOptions { coordinate_decimals: 2, ..opts };
    run(
        vec![record(submission(screening(), &household(0, 1), "rec-1", "HH-001", NOW))],
        &opts,
        &dir2.0,
    );
    let g: Json =
        serde_json::from_str(&std::fs::read_to_string(dir2.0.join("households.geojson")).unwrap())
            .unwrap();
    assert_eq!(g["features"][0]["geometry"]["coordinates"], json!([105.64, 21.91]));
}

/// Every node of the parts the export reads (top-level fields, data, assessment, location)
/// replaced in turn by each odd value: the export succeeds or gives `Malformed`, never panics.
#[test]
fn no_shape_of_submission_makes_the_export_panic() {
    fn paths(v: &Json, at: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        match v {
            Json::Object(o) => o.iter().for_each(|(k, x)| {
                let mut p = at.clone();
                p.push(k.clone());
                paths(x, p, out);
            }),
            Json::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
                let mut p = at.clone();
                p.push(i.to_string());
                paths(x, p, out);
            }),
            _ => {}
        }
    }
    fn at<'a>(v: &'a mut Json, path: &[String]) -> &'a mut Json {
        path.iter().fold(v, |v, k| match v {
            Json::Array(a) => &mut a[k.parse::<usize>().unwrap()],
            other => &mut other[k.as_str()],
        })
    }
    let base = submission(screening(), &household(1, 2), "rec-1", "HH-1", NOW);
    let mut all = Vec::new();
    paths(&base, Vec::new(), &mut all);
    let read = [
        "record_id",
        "form",
        "household_code",
        "revision",
        "created_at_ms",
        "finalized_at_ms",
        "instance_name",
        "data",
        "assessment",
        "location",
    ];
    let targets: Vec<&Vec<String>> = all
        .iter()
        .filter(|p| p.first().is_some_and(|k| read.contains(&k.as_str())))
        .filter(|p| {
            !(p.len() > 2 && p[0] == "assessment" && p[1] != "triggered" && p[1] != "level")
        })
        .collect();
    assert!(targets.len() > 50, "{} paths", targets.len());
    let odd =
        [json!(null), json!(-1.5), json!("=x"), json!([]), json!({}), json!([1, "a"]), json!(true)];
    let dir = TempDir::new("export-shapes");
    let opts = ExportOptions { geojson: true, ..csv_options(Language::En) };
    let mut malformed = 0;
    for path in targets {
        for v in &odd {
            let mut s = base.clone();
            *at(&mut s, path) = v.clone();
            match export(ok(vec![record(s)]), &forms, &opts, &dir.0) {
                Ok(_) => {}
                Err(ExportError::Malformed { .. }) => malformed += 1,
                Err(e) => panic!("{path:?} = {v}: {e:?}"),
            }
        }
    }
    assert!(malformed > 0);
}
