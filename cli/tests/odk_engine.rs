//! The household screening, as its spreadsheet (`docs/forms/household_screening.xlsx`), filled
//! through ODK's own tools and through SafeHome: pyxform turns the spreadsheet into an XForm,
//! ODK's JavaScript engine (`@getodk/xforms-engine`, the engine of ODK Web Forms) fills it with
//! each example household's answers (`scripts/odk/fill.mjs`), and `safehome form fill` fills the
//! same spreadsheet with the same answers. Every calculated value must agree.
//!
//! The peers come from `scripts/python-env.sh` (pyxform) and `scripts/odk-engine.sh` (the
//! engine, with npm into build/odk); `SAFEHOME_PYTHON` and `SAFEHOME_ODK_ENGINE` name ready
//! ones (scripts/test.sh sets both). A missing peer fails the test, never skips it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{code, safehome, stderr, stdout};
use safehome_core::form::xlsform;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A value as text; numbers compare by value (ODK prints `6`, `6.0` or `6.000001` variously).
fn same(ours: &str, theirs: &str) -> bool {
    match (ours.parse::<f64>(), theirs.parse::<f64>()) {
        (Ok(a), Ok(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
        _ => ours == theirs,
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.iter().map(|x| text(Some(x))).collect::<Vec<_>>().join(" "),
        Some(other) => other.to_string(),
    }
}

/// SafeHome's output value at a path of names and 1-based repeat indices
/// (`children[2]/age_group`).
fn lookup<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    let mut at = data;
    for seg in path.split('/') {
        at = match seg.split_once('[') {
            Some((name, idx)) => {
                let i: usize = idx.trim_end_matches(']').parse().unwrap();
                at.get(name)?.get(i - 1)?
            }
            None => at.get(seg)?,
        };
    }
    Some(at)
}

#[test]
fn household_form_calculates_the_same_in_odk_and_safehome() {
    let python = safehome_testdata::peer("SAFEHOME_PYTHON", "scripts/python-env.sh");
    let engine = safehome_testdata::peer("SAFEHOME_ODK_ENGINE", "scripts/odk-engine.sh");
    let xlsx = repo().join("docs/forms/household_screening.xlsx");
    let dir = std::env::temp_dir().join(format!("safehome-odk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xform = dir.join("household_screening.xml");
    run(Command::new(&python).arg("-c").arg(format!(
        "from pyxform.xls2xform import convert\nopen({:?}, 'w').write(convert(xlsform={:?}).xform)",
        xform.display().to_string(),
        xlsx.display().to_string()
    )));

    let form = xlsform::import_path(&xlsx).unwrap();
    let calculated: Vec<&str> = form
        .fields
        .iter()
        .filter(|f| f.def.calculation.is_some())
        .map(|f| f.def.name.as_str())
        .collect();
    assert!(calculated.len() >= 3, "the household form has calculations: {calculated:?}");

    let households: Value =
        serde_json::from_str(safehome_core::templates::EXAMPLE_HOUSEHOLDS).unwrap();
    let mut compared = 0;
    let mut failures = Vec::new();
    for (h, household) in households.as_array().unwrap().iter().enumerate() {
        let answers = dir.join(format!("answers-{h}.json"));
        std::fs::write(&answers, household["answers"].to_string()).unwrap();
        let odk: Value = serde_json::from_str(&run(Command::new("node")
            .arg(repo().join("scripts/odk/fill.mjs"))
            .arg(&engine)
            .arg(&xform)
            .arg(&answers)))
        .unwrap();
        let o = safehome(&[
            "form",
            "fill",
            xlsx.to_str().unwrap(),
            "--answers",
            answers.to_str().unwrap(),
            "--json",
        ]);
        assert!(code(&o) <= 1, "{}", stderr(&o));
        let ours: Value = serde_json::from_str(&stdout(&o)).unwrap();
        // The instance name (settings' instance_name) is a calculation in the XForm too.
        let name_ours = text(ours.get("instance_name"));
        let name_theirs = odk["instanceName"].as_str().unwrap_or_default();
        if name_ours != name_theirs {
            failures.push(format!(
                "household {h} instance name: SafeHome {name_ours:?}, ODK {name_theirs:?}"
            ));
        }
        for (path, theirs) in odk.as_object().unwrap() {
            let name = path.rsplit('/').next().unwrap();
            let name = name.split('[').next().unwrap();
            if !calculated.contains(&name) {
                continue;
            }
            compared += 1;
            let mine = text(lookup(&ours["data"], path));
            if !same(&mine, theirs.as_str().unwrap_or_default()) {
                failures.push(format!("household {h} {path}: SafeHome {mine:?}, ODK {theirs}"));
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        compared >= 3 * households.as_array().unwrap().len(),
        "only {compared} values compared"
    );
}
