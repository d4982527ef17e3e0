//! XLSForm import: a 500-row form (25 groups of 20 questions, with selects, relevance,
//! constraints, calculations, two languages, a repeat) read from its .xlsx by
//! `xlsform::import_path` (read, bound, parse, build, definition check), against pyxform
//! converting the same spreadsheet to an XForm in the same run (`benches/anchors/
//! pyxform_convert.py`, pyxform from `scripts/python-env.sh` or `SAFEHOME_PYTHON`). Prints the
//! medians, the ratio (target: <= 0.1x pyxform) and a `BENCH {json}` line.
//!
//! `cargo bench -p safehome-core --bench xlsform` runs it; under `cargo test` (no `--bench`
//! argument) the import runs once and the anchor is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use safehome_core::form::model::{Choice, Condition, Field, FieldKind, Form, Text};
use safehome_core::form::xlsform;

fn text(vi: &str, en: &str) -> Text {
    [("vi".to_string(), vi.to_string()), ("en".to_string(), en.to_string())].into()
}

/// 25 groups of 20 fields: 500 survey rows of questions plus the group rows.
fn form_of_500_rows() -> Form {
    let mut choices = BTreeMap::new();
    choices.insert(
        "yes_no".to_string(),
        vec![
            Choice { name: "yes".into(), label: text("Có", "Yes"), filter: BTreeMap::new() },
            Choice { name: "no".into(), label: text("Không", "No"), filter: BTreeMap::new() },
        ],
    );
    let mut groups = Vec::new();
    for g in 0..25 {
        let mut children = Vec::new();
        for q in 0..20 {
            let name = format!("g{g}_q{q}");
            let mut f = Field {
                name: name.clone(),
                label: text(
                    &format!("Câu hỏi {q} của phần {g}"),
                    &format!("Question {q} of part {g}"),
                ),
                ..Field::default()
            };
            match q % 5 {
                0 => {
                    f.kind = FieldKind::SelectOne;
                    f.choices = Some("yes_no".into());
                    f.required = Condition::Always(true);
                }
                1 => {
                    f.kind = FieldKind::Integer;
                    f.constraint = Some(". >= 0 and . <= 120".into());
                    f.constraint_message = text("Từ 0 đến 120", "From 0 to 120");
                    f.relevant = Some(format!("${{g{g}_q{}}} = 'yes'", q - 1));
                }
                2 => {
                    f.kind = FieldKind::Text;
                    f.hint = text("Ghi rõ", "Be specific");
                }
                3 => {
                    f.kind = FieldKind::Calculate;
                    f.label = Text::new();
                    f.calculation = Some(format!("coalesce(${{g{g}_q{}}}, 0) * 2", q - 2));
                }
                _ => {
                    f.kind = FieldKind::Date;
                    f.default = Some("today()".into());
                }
            }
            children.push(f);
        }
        let kind = if g == 24 { FieldKind::Repeat } else { FieldKind::Group };
        groups.push(Field {
            name: format!("part{g}"),
            kind,
            label: text(&format!("Phần {g}"), &format!("Part {g}")),
            children,
            ..Field::default()
        });
    }
    Form {
        id: "bench_500".into(),
        version: "1".into(),
        title: text("Biểu mẫu 500 dòng", "A 500-row form"),
        languages: vec!["vi".into(), "en".into()],
        instance_name: None,
        choices,
        fields: groups,
        risk: None,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let dir = std::env::temp_dir().join(format!("safehome-bench-xlsform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("bench_500.xlsx");
    let form = form_of_500_rows();
    std::fs::write(&path, xlsform::export(&form).unwrap()).unwrap();
    let imported = xlsform::import_path(&path).unwrap();
    assert_eq!(imported.form, form);
    let rows = imported.fields.len();

    let reps = if full { 31 } else { 1 };
    let runs: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let f = xlsform::import_path(&path).unwrap();
            let d = t.elapsed();
            std::hint::black_box(f);
            d
        })
        .collect();
    let ours = median(runs).as_secs_f64();
    println!("safehome xlsform import, {rows} fields: median {:.2} ms ({reps} runs)", ours * 1e3);

    let anchor = if full {
        let py = safehome_testdata::peer("SAFEHOME_PYTHON", "scripts/python-env.sh");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/anchors/pyxform_convert.py");
        let out = Command::new(py).arg(script).arg(&path).arg("11").output().unwrap();
        assert!(out.status.success(), "pyxform: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(v)
    } else {
        println!(
            "anchor: skipped (cargo test; run `cargo bench -p safehome-core --bench xlsform`)"
        );
        None
    };
    let theirs = anchor.as_ref().and_then(|a| a["median_s"].as_f64());
    let theirs_read = anchor.as_ref().and_then(|a| a["read_median_s"].as_f64());
    if let (Some(a), Some(t)) = (&anchor, theirs) {
        println!(
            "pyxform {} convert of the same file: median {:.2} ms (11 runs); ratio {:.3}x (target <= 0.1x)",
            a["pyxform"].as_str().unwrap_or("?"),
            t * 1e3,
            ours / t
        );
    }
    if let Some(r) = theirs_read {
        println!(
            "pyxform reading alone (parse_file_to_json, no XForm): median {:.2} ms; ratio {:.3}x",
            r * 1e3,
            ours / r
        );
    }
    println!(
        "BENCH {}",
        serde_json::json!({
            "name": "xlsform_import_500",
            "fields": rows,
            "safehome_median_s": ours,
            "pyxform_median_s": theirs,
            "ratio": theirs.map(|t| ours / t),
            "pyxform_read_median_s": theirs_read,
        })
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
