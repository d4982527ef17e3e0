//! Export then import gives the same form: the built-in templates, forms generated at random,
//! and the templates' spreadsheets checked in under `docs/forms/` (which must be current).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use safehome_core::form::model::{Choice, Condition, Field, FieldKind, Form, Text};
use safehome_core::form::risk::{Category, ResponseHours, RiskRule, RiskSpec, Thresholds};
use safehome_core::form::xlsform;
use safehome_core::templates;

fn round_trip(form: &Form) -> Form {
    let bytes = xlsform::export(form).unwrap();
    match xlsform::import_bytes(&bytes, "unused") {
        Ok(checked) => checked.form,
        Err(e) => panic!("{} did not import back: {e:?}", form.id),
    }
}

#[test]
fn built_in_templates_round_trip() {
    for t in templates::TEMPLATES {
        let form = templates::load(t.id).unwrap().unwrap().form.clone();
        assert_eq!(round_trip(&form), form, "{}", t.id);
    }
}

#[test]
fn export_is_deterministic() {
    let form = templates::load("household_screening").unwrap().unwrap().form.clone();
    assert_eq!(xlsform::export(&form).unwrap(), xlsform::export(&form).unwrap());
}

/// `docs/forms/ID.xlsx` is what `scripts/forms-xlsx.sh` writes for each template: regenerate
/// with that script when a template changes.
#[test]
fn docs_spreadsheets_are_current() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/forms");
    for t in templates::TEMPLATES {
        let path = docs.join(format!("{}.xlsx", t.id));
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{} missing ({e}): run scripts/forms-xlsx.sh", path.display())
        });
        let form = templates::load(t.id).unwrap().unwrap().form.clone();
        let fresh = xlsform::export(&form).unwrap();
        assert!(on_disk == fresh, "{} is not current: run scripts/forms-xlsx.sh", path.display());
        assert_eq!(xlsform::import_path(&path).unwrap().form, form, "{}", t.id);
    }
}

const WORDS: &[&str] = &[
    "Họ và tên",
    "Số trẻ em",
    "Có ao hồ gần nhà?",
    "Name",
    "How many children?",
    "Nhà có trẻ dưới 6 tuổi",
    "Ghi chú: ${f0}",
    "Điện giật",
    "A = B",
];

fn text(langs: &[String], seed: usize) -> Text {
    langs
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), format!("{} {}", WORDS[(seed + i) % WORDS.len()], seed)))
        .collect()
}

/// A field of `kind` named `f{n}`, with attributes chosen by `bits`; `first` is a top-level text
/// field every expression may read.
fn field(n: usize, kind: FieldKind, bits: u32, langs: &[String], lists: &[String]) -> Field {
    let mut f = Field { name: format!("f{n}"), kind, label: text(langs, n), ..Field::default() };
    let bit = |i: u32| bits & (1 << i) != 0;
    if bit(0) && n > 0 {
        f.relevant = Some("${f0} != ''".into());
    }
    if kind.is_question() {
        if bit(1) {
            f.hint = text(langs, n + 3);
        }
        if bit(2) {
            f.required = if bit(3) {
                Condition::Always(true)
            } else {
                Condition::When("${f0} = 'x'".into())
            };
            f.required_message = text(langs, n + 5);
        }
        if bit(4) && n > 0 {
            f.read_only = Condition::Always(true);
        }
        if bit(9) {
            f.appearance = Some("minimal".into());
        }
    }
    match kind {
        FieldKind::Integer if bit(5) => {
            f.constraint = Some(". >= 0 and . < 120".into());
            f.constraint_message = text(langs, n + 7);
            f.default = Some(if bit(6) { "3".into() } else { "1 + 2".into() });
        }
        FieldKind::Text if bit(5) && n > 0 => {
            f.default = Some(if bit(6) { "'không'".into() } else { "concat('a', ${f0})".into() });
        }
        FieldKind::Date if bit(5) => f.default = Some("today()".into()),
        FieldKind::SelectOne | FieldKind::SelectMultiple => {
            f.choices = Some(lists[n % lists.len()].clone());
            if bit(7) {
                f.choice_filter = Some("commune = ${f0} or commune = ''".into());
            }
        }
        FieldKind::Calculate => f.calculation = Some("string-length(${f0}) * 2".into()),
        FieldKind::Geopoint if bit(5) => {
            f.capture_accuracy = Some(5.5);
            f.warning_accuracy = Some(20.0);
        }
        FieldKind::Image if bit(5) => f.max_pixels = Some(1024),
        _ => {}
    }
    f
}

const KINDS: &[FieldKind] = &[
    FieldKind::Text,
    FieldKind::Integer,
    FieldKind::Decimal,
    FieldKind::SelectOne,
    FieldKind::SelectMultiple,
    FieldKind::Date,
    FieldKind::Datetime,
    FieldKind::Time,
    FieldKind::Geopoint,
    FieldKind::Image,
    FieldKind::Note,
    FieldKind::Calculate,
    FieldKind::Acknowledge,
];

/// A form from a list of (shape, bits): shape 0..13 a field kind, 13 opens a group, 14 opens a
/// repeat, 15 closes the innermost container.
fn generated(nlangs: usize, rows: &[(u8, u32)], risk: bool) -> Form {
    let langs: Vec<String> = ["vi", "en", "tay"][..nlangs].iter().map(|s| s.to_string()).collect();
    let lists = vec!["yes_no".to_string(), "communes".to_string()];
    let mut choices = BTreeMap::new();
    for (i, list) in lists.iter().enumerate() {
        let items = (0..2 + i)
            .map(|j| Choice {
                name: format!("c{j}"),
                label: text(&langs, j + 10 * i),
                filter: if i == 1 {
                    [("commune".to_string(), format!("0{j}"))].into()
                } else {
                    BTreeMap::new()
                },
            })
            .collect();
        choices.insert(list.clone(), items);
    }
    let mut roots = vec![Field {
        name: "f0".into(),
        kind: FieldKind::Text,
        label: text(&langs, 0),
        ..Field::default()
    }];
    let mut stack: Vec<Field> = Vec::new();
    let mut repeats = 0;
    for (n, &(shape, bits)) in (1..).zip(rows) {
        let add = |stack: &mut Vec<Field>, roots: &mut Vec<Field>, f: Field| match stack.last_mut()
        {
            Some(p) => p.children.push(f),
            None => roots.push(f),
        };
        match shape {
            13 | 14 => {
                let kind = if shape == 13 || stack.len() >= 3 || repeats >= 3 {
                    FieldKind::Group
                } else {
                    repeats += 1;
                    FieldKind::Repeat
                };
                let mut f = field(n, kind, bits, &langs, &lists);
                if kind == FieldKind::Repeat && bits & 1 << 8 != 0 {
                    f.min_repeats = Some(1);
                    f.max_repeats = Some(5);
                }
                // A container needs a field inside; the next rows add more.
                f.children.push(Field {
                    name: format!("f{n}_first"),
                    kind: FieldKind::Text,
                    label: text(&langs, n),
                    ..Field::default()
                });
                stack.push(f);
            }
            15 => {
                if let Some(f) = stack.pop() {
                    add(&mut stack, &mut roots, f);
                }
            }
            k => {
                let kind = KINDS[usize::from(k) % KINDS.len()];
                let f = field(n, kind, bits, &langs, &lists);
                add(&mut stack, &mut roots, f);
            }
        }
    }
    while let Some(f) = stack.pop() {
        match stack.last_mut() {
            Some(p) => p.children.push(f),
            None => roots.push(f),
        }
    }
    let risk = risk.then(|| RiskSpec {
        rules: vec![
            RiskRule {
                id: "r1".into(),
                category: Category::Drowning,
                when: "${f0} = 'ao'".into(),
                points: 4,
                urgent: false,
                reason: text(&langs, 20),
                repeat: None,
                max_points: None,
            },
            RiskRule {
                id: "r2".into(),
                category: Category::ViolenceAbuse,
                when: "${f0} = 'x'".into(),
                points: 0,
                urgent: true,
                reason: text(&langs, 21),
                repeat: None,
                max_points: None,
            },
        ],
        thresholds: Thresholds { medium: 3, high: 7 },
        response_hours: ResponseHours { medium: Some(720), low: None, ..ResponseHours::default() },
    });
    Form {
        id: "generated".into(),
        version: "2026.1".into(),
        title: text(&langs, 99),
        languages: langs,
        instance_name: Some("concat(${f0}, ' – ', 'hộ')".into()),
        choices,
        fields: roots,
        risk,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn generated_forms_round_trip(
        nlangs in 1usize..=3,
        rows in proptest::collection::vec((0u8..16, any::<u32>()), 0..40),
        risk in any::<bool>(),
    ) {
        let form = generated(nlangs, &rows, risk);
        safehome_core::form::check::check(form.clone())
            .map_err(|e| format!("generator made an invalid form: {e:?}"))
            .unwrap();
        prop_assert_eq!(round_trip(&form), form);
    }
}
