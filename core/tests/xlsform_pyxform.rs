//! The XLSForm importer against pyxform (the converter ODK Central, KoboToolbox and Ona run), on
//! pyxform's own test spreadsheets (`testdata/xlsforms/`, BSD-2-Clause).
//!
//! Each `NAME.expected.json` is pyxform's reading of `NAME.xlsx`: every supported form must import
//! with the same fields, types, nesting, conditions, choice lists and languages; every other form
//! must be refused with a problem on the row pyxform's reading names. A second test runs pyxform
//! itself (from `scripts/python-env.sh`'s environment, or `SAFEHOME_PYTHON`) on the same files and
//! compares its XForm's binds with the imported form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use safehome_core::form::check::CheckedForm;
use safehome_core::form::model::{Condition, FieldKind};
use safehome_core::form::xlsform::{self, XlsformError};
use serde_json::{Value, json};

fn fixtures() -> Vec<(String, PathBuf, Value)> {
    let dir = safehome_testdata::xlsforms_dir();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if let Some(stem) = name.strip_suffix(".expected.json") {
            let expected: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let xlsx = dir.join(format!("{stem}.xlsx"));
            assert!(xlsx.is_file(), "{} has no spreadsheet", path.display());
            out.push((stem.to_string(), xlsx, expected));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 30, "expected pyxform's 35 fixtures, found {}", out.len());
    out
}

/// A language as pyxform names it (`French (fr)`), as the importer codes it (`fr`).
fn code(name: &str) -> String {
    match (name.rfind('('), name.ends_with(')')) {
        (Some(i), true) => name[i + 1..name.len() - 1].to_string(),
        _ => name.to_string(),
    }
}

fn condition(c: &Condition) -> Value {
    match c {
        Condition::Always(b) => json!(b),
        Condition::When(_) => json!("expr"),
    }
}

/// The importer's reading in the terms of `NAME.expected.json`.
fn reading(form: &CheckedForm) -> Vec<Value> {
    form.fields
        .iter()
        .map(|f| {
            let d = &f.def;
            let path = f.path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            json!({
                "name": d.name, "type": d.kind.as_str(), "path": path,
                "has_relevant": d.relevant.is_some(), "has_constraint": d.constraint.is_some(),
                "has_calculation": d.calculation.is_some(),
                "required": condition(&d.required), "read_only": condition(&d.read_only),
                "has_default": d.default.is_some(), "has_choice_filter": d.choice_filter.is_some(),
                "has_repeat_count": d.repeat_count.is_some(), "appearance": d.appearance,
                "choices": d.choices, "max_pixels": d.max_pixels,
                "capture_accuracy": d.capture_accuracy, "warning_accuracy": d.warning_accuracy,
                "has_label": !d.label.is_empty(), "has_hint": !d.hint.is_empty(),
            })
        })
        .collect()
}

fn number_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn compare_supported(name: &str, form: &CheckedForm, expected: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let f = &form.form;
    if f.id != expected["id"].as_str().unwrap() {
        diffs.push(format!("id {} vs pyxform {}", f.id, expected["id"]));
    }
    let version = expected["version"].as_str().unwrap_or("1");
    if f.version != version {
        diffs.push(format!("version {} vs pyxform {version}", f.version));
    }
    let default = f.languages.first().cloned().unwrap_or_default();
    if f.title.get(&default).map(String::as_str) != expected["title"].as_str() {
        diffs.push(format!("title {:?} vs pyxform {}", f.title, expected["title"]));
    }
    // One unnamed language in pyxform is SafeHome's `default` (or the settings' choice).
    let mut langs: BTreeSet<String> = expected["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| code(l.as_str().unwrap()))
        .collect();
    let want_default = expected["default_language"].as_str().map(code);
    if langs.is_empty() {
        langs.insert(want_default.clone().unwrap_or_else(|| "default".into()));
    }
    let got: BTreeSet<String> = f.languages.iter().cloned().collect();
    if got != langs {
        diffs.push(format!("{name}: languages {:?} vs pyxform {langs:?}", f.languages));
    }
    if let Some(d) = want_default {
        if default != d {
            diffs.push(format!("default language {default} vs pyxform {d}"));
        }
    }
    if f.instance_name.is_some() != expected["instance_name"].as_bool().unwrap() {
        diffs.push("instance_name differs".into());
    }
    for (list, n) in expected["choices"].as_object().unwrap() {
        let got = f.choices.get(list).map(Vec::len);
        if got != n.as_u64().map(|n| n as usize) {
            diffs.push(format!("choice list {list}: {got:?} choices vs pyxform {n}"));
        }
    }
    let ours = reading(form);
    let theirs = expected["fields"].as_array().unwrap();
    if ours.len() != theirs.len() {
        diffs.push(format!(
            "{} fields vs pyxform {}: {:?} vs {:?}",
            ours.len(),
            theirs.len(),
            ours.iter().map(|f| f["name"].clone()).collect::<Vec<_>>(),
            theirs.iter().map(|f| f["name"].clone()).collect::<Vec<_>>()
        ));
    }
    for (o, t) in ours.iter().zip(theirs) {
        for (key, value) in o.as_object().unwrap() {
            if !number_eq(value, &t[key]) {
                diffs.push(format!(
                    "{name}: field {}: {key} {value} vs pyxform {}",
                    o["name"], t[key]
                ));
            }
        }
    }
    diffs
}

#[test]
fn pyxform_test_spreadsheets_read_as_pyxform_reads_them() {
    let mut failures = Vec::new();
    let (mut read, mut refused) = (0, 0);
    for (name, xlsx, expected) in fixtures() {
        let result = xlsform::import_path(&xlsx);
        if expected["unsupported"].as_bool() == Some(true) {
            refused += 1;
            let problems = match result {
                Err(XlsformError::Problems(p)) => p,
                other => {
                    failures.push(format!("{name}: should be refused, got {other:?}"));
                    continue;
                }
            };
            for u in expected["all_unsupported"].as_array().unwrap() {
                let sheet = u["sheet"].as_str().unwrap();
                let row = u["row"].as_u64().unwrap().to_string();
                let named = problems.iter().any(|p| {
                    p.sheet.eq_ignore_ascii_case(sheet)
                        && p.cell.trim_start_matches(|c: char| c.is_ascii_alphabetic()) == row
                });
                if !named {
                    failures.push(format!(
                        "{name}: {} on {sheet} row {row} not named; problems: {}",
                        u["feature"],
                        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                    ));
                }
            }
            continue;
        }
        read += 1;
        match result {
            Ok(form) => failures.extend(compare_supported(&name, &form, &expected)),
            Err(e) => failures.push(format!(
                "{name}: refused: {}",
                match e {
                    XlsformError::Problems(p) =>
                        p.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
                    other => other.to_string(),
                }
            )),
        }
    }
    assert!(failures.is_empty(), "{} difference(s):\n{}", failures.len(), failures.join("\n"));
    assert!(read >= 25 && refused >= 7, "{read} read, {refused} refused");
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// pyxform itself, run now on every supported spreadsheet: the XForm's binds (which field has
/// which of relevant / constraint / calculate / required / readonly, and each field's type)
/// must match the imported form.
#[test]
fn pyxform_run_now_agrees_on_binds() {
    let script = repo().join("core/tests/xlsform/pyxform_binds.py");
    let supported: Vec<(String, PathBuf)> = fixtures()
        .into_iter()
        .filter(|(_, _, e)| e["unsupported"].as_bool() != Some(true))
        .map(|(n, p, _)| (n, p))
        .collect();
    let python = safehome_testdata::peer("SAFEHOME_PYTHON", "scripts/python-env.sh");
    let out =
        Command::new(python).arg(&script).args(supported.iter().map(|(_, p)| p)).output().unwrap();
    assert!(
        out.status.success(),
        "pyxform failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut failures = Vec::new();
    for (name, path) in &supported {
        let form = xlsform::import_path(path).unwrap();
        let binds = theirs[name.as_str()].as_object().unwrap();
        for f in &form.fields {
            let d = &f.def;
            if d.kind.is_container() || d.kind == FieldKind::Note && d.relevant.is_none() {
                continue;
            }
            let Some(b) = binds.get(&d.name) else {
                failures.push(format!("{name}: pyxform has no bind for {}", d.name));
                continue;
            };
            let ours = json!({
                "relevant": d.relevant.is_some(),
                "constraint": d.constraint.is_some(),
                "calculate": d.calculation.is_some(),
                "required": d.required != Condition::Always(false),
                "readonly": d.read_only != Condition::Always(false) || d.kind == FieldKind::Note,
            });
            for (k, v) in ours.as_object().unwrap() {
                if b[k] != *v {
                    failures.push(format!("{name}: {} {k}: ours {v}, pyxform {}", d.name, b[k]));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The built-in templates' spreadsheets (`docs/forms/`, written by export) are XLSForms that
/// pyxform converts without a warning: authors can take them to ODK's tools as well.
#[test]
fn exported_templates_convert_with_pyxform() {
    let python = safehome_testdata::peer("SAFEHOME_PYTHON", "scripts/python-env.sh");
    for t in safehome_core::templates::TEMPLATES {
        let xlsx = repo().join(format!("docs/forms/{}.xlsx", t.id));
        let script = format!(
            "from pyxform.xls2xform import convert\nr = convert(xlsform={:?})\n\
             assert '<h:html' in r.xform\nassert not r.warnings, r.warnings",
            xlsx.display().to_string()
        );
        let out = Command::new(&python).arg("-c").arg(script).output().unwrap();
        assert!(out.status.success(), "{}: {}", t.id, String::from_utf8_lossy(&out.stderr));
    }
}
