//! The `safehome` command as a user runs it: output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{code, safehome, stderr, stdout};

fn data(name: &str) -> String {
    common::data_in("", name)
}

fn temp(name: &str, contents: &str) -> String {
    common::temp("forms", name, contents)
}

#[test]
fn form_list_names_every_builtin() {
    let o = safehome(&["form", "list"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    for id in ["household_screening", "injury_incident", "household_followup"] {
        assert!(out.contains(&format!("builtin:{id}")), "{out}");
    }
    assert!(!out.contains("BROKEN"), "{out}");
}

#[test]
fn form_validate_exit_codes() {
    let o = safehome(&["form", "validate", &data("roster.json")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("valid: roster_test"));

    let bad = temp(
        "bad.json",
        r#"{"id":"b","version":"1","title":{"en":"B"},"languages":["en"],"fields":[
            {"name":"a","type":"text"},{"name":"a","type":"integer","relevant":"${zz} > 1"}]}"#,
    );
    let o = safehome(&["form", "validate", &bad]);
    assert_eq!(code(&o), 1);
    let lines: Vec<_> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with("a: ")), "{lines:?}");

    let o = safehome(&["form", "validate", "/nonexistent/form.json"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn form_fill_reports_violations_and_risk() {
    let answers = temp(
        "answers.json",
        r#"{"consent":"yes","commune":"05569","head":"Lò Văn Sáng","num_children":2,
            "children":[{"child_name":"Lò Thị Hoa","age":4},{"child_name":"Lò Văn Minh","age":10,"in_school":"no"}],
            "hazards":["pond"],"pond_fenced":"no"}"#,
    );
    let o =
        safehome(&["form", "fill", &data("roster.json"), "--answers", &answers, "--lang", "en"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Risk level: high (6 points;"), "{out}");
    assert!(out.contains("Lò Văn Minh is not in school"), "{out}");

    let o = safehome(&["form", "fill", &data("roster.json"), "--answers", &answers, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json output");
    assert_eq!(v["valid"], true);
    assert_eq!(v["assessment"]["level"], "high");
    assert_eq!(v["assessment"]["total_points"], 6);
    assert_eq!(v["data"]["young"], 1);

    let incomplete = temp("incomplete.json", r#"{"consent":"yes","num_children":1}"#);
    let o = safehome(&["form", "fill", &data("roster.json"), "--answers", &incomplete]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("children[1]/child_name:"), "{}", stdout(&o));

    let wrong = temp("wrong.json", r#"{"consent":"yes","num_children":"many"}"#);
    let o = safehome(&["form", "fill", &data("roster.json"), "--answers", &wrong]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("num_children"), "{}", stderr(&o));

    let o = safehome(&["form", "fill", "builtin:nope", "--answers", &wrong]);
    assert_eq!(code(&o), 2);
}

#[test]
fn form_show_prints_labels_in_the_chosen_language() {
    let o = safehome(&["form", "show", &data("roster.json"), "--lang", "en"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Head of household"));
    let o = safehome(&["form", "show", &data("roster.json")]);
    assert!(stdout(&o).contains("Chủ hộ"));
    let o = safehome(&["form", "show", "builtin:household_screening", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["id"], "household_screening");
}

#[test]
fn expr_prints_json_values_and_columns_of_errors() {
    let vars = temp("vars.json", r#"{"age": 4, "ages": [3, 9, 12]}"#);
    let o = safehome(&["expr", "if(${age} < 6, 'young', 'older')", "--vars", &vars]);
    assert_eq!((code(&o), stdout(&o).trim()), (0, "\"young\""));
    let o = safehome(&["expr", "sum(${ages}) div count(${ages})", "--vars", &vars]);
    assert_eq!(stdout(&o).trim(), "8");
    let o = safehome(&["expr", "1 + + "]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("column"), "{}", stderr(&o));
    let o = safehome(&["expr", "${nope}"]);
    assert_eq!(code(&o), 1);
    let o = safehome(&["expr"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn demo_assesses_realistic_households() {
    let o = safehome(&["demo", "--lang", "en"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    for level in ["low", "high", "urgent"] {
        assert!(out.contains(&format!("Risk level: {level}")), "missing {level}: {out}");
    }
}
