//! Each definition check, triggered on its own, reported with the field path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use safehome_core::form::check::{CheckedForm, DefinitionError, DefinitionErrorKind, FormError};
use safehome_core::form::expr::ExprErrorKind;
use serde_json::{Value, json};

fn form_with(fields: Value, extra: Value) -> String {
    let mut f = json!({
        "id": "t", "version": "1", "title": {"en": "T"}, "languages": ["en"],
        "choices": {"yn": [{"name": "yes", "label": {"en": "Yes"}}, {"name": "no", "label": {"en": "No"}}]},
        "fields": fields
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut f, extra) {
        o.extend(e);
    }
    f.to_string()
}

fn errors(fields: Value) -> Vec<DefinitionError> {
    errors_with(fields, json!({}))
}

fn errors_with(fields: Value, extra: Value) -> Vec<DefinitionError> {
    match CheckedForm::from_json(&form_with(fields, extra)) {
        Err(FormError::Definition(e)) => e,
        Err(other) => panic!("expected definition errors, got {other}"),
        Ok(_) => panic!("expected definition errors, form was accepted"),
    }
}

fn one(fields: Value) -> DefinitionError {
    let e = errors(fields);
    assert_eq!(e.len(), 1, "expected exactly one error: {e:?}");
    e.into_iter().next().unwrap()
}

fn text(name: &str) -> Value {
    json!({"name": name, "type": "text", "label": {"en": name}})
}

#[test]
fn a_valid_form_passes() {
    let ok = form_with(
        json!([text("a"), {"name": "b", "type": "integer", "relevant": "${a} != ''"}]),
        json!({}),
    );
    let f = CheckedForm::from_json(&ok).unwrap();
    assert_eq!(f.fields.len(), 2);
}

#[test]
fn duplicate_names_anywhere_in_the_tree() {
    let e = one(json!([text("a"), {"name": "g", "type": "group", "children": [text("a")]}]));
    assert_eq!(e.path, "g/a");
    assert!(matches!(e.kind, DefinitionErrorKind::DuplicateName { ref first, .. } if first == "a"));
}

#[test]
fn invalid_names() {
    let e = one(json!([text("1abc")]));
    assert!(matches!(e.kind, DefinitionErrorKind::InvalidName(_)));
    let e = one(json!([text("has space")]));
    assert!(matches!(e.kind, DefinitionErrorKind::InvalidName(_)));
}

#[test]
fn unknown_field_reference_with_column() {
    let e = one(
        json!([text("a"), {"name": "b", "type": "text", "relevant": "${a} = 'x' and ${zz} = 1"}]),
    );
    assert_eq!(e.path, "b");
    match e.kind {
        DefinitionErrorKind::UnknownField { attribute, name, col } => {
            assert_eq!((attribute, name.as_str(), col), ("relevant", "zz", 16));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        one(json!([{"name": "b", "type": "integer", "constraint": ". < ${max}"}])).to_string(),
        "b: constraint column 5: reference to unknown field ${max}"
    );
}

#[test]
fn unknown_function_and_arity_and_syntax() {
    let e = one(json!([{"name": "c", "type": "calculate", "calculation": "foo(1)"}]));
    assert!(matches!(
        e.kind,
        DefinitionErrorKind::Expression { attribute: "calculation", ref error }
            if matches!(error.kind, ExprErrorKind::UnknownFunction(_)) && error.col == 1
    ));
    let e = one(json!([{"name": "c", "type": "calculate", "calculation": "if(1, 2)"}]));
    assert!(matches!(
        e.kind,
        DefinitionErrorKind::Expression { ref error, .. } if matches!(error.kind, ExprErrorKind::Arity { .. })
    ));
    let e = one(json!([{"name": "c", "type": "calculate", "calculation": "1 + * 2"}]));
    assert!(
        matches!(
            e.kind,
            DefinitionErrorKind::Expression { ref error, .. } if error.col == 5
        ),
        "{e}"
    );
}

#[test]
fn bad_regex_literal() {
    let e = one(json!([{"name": "t", "type": "text", "constraint": "regex(., '[0-9')"}]));
    assert!(matches!(
        e.kind,
        DefinitionErrorKind::Expression { attribute: "constraint", ref error }
            if matches!(error.kind, ExprErrorKind::BadRegex { .. })
    ));
}

#[test]
fn choice_lists() {
    let e = one(json!([{"name": "s", "type": "select_one", "choices": "nope"}]));
    assert!(matches!(e.kind, DefinitionErrorKind::MissingChoiceList(ref l) if l == "nope"));
    let e = one(json!([{"name": "s", "type": "select_multiple"}]));
    assert!(matches!(e.kind, DefinitionErrorKind::NoChoiceList("select_multiple")));
    let e = errors_with(
        json!([text("a")]),
        json!({"choices": {"x": [{"name": "a", "label": {}}, {"name": "a", "label": {}}, {"name": "b c", "label": {}}], "e": []}}),
    );
    let kinds: Vec<_> = e.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
    assert!(kinds.contains(&("choices/e", &DefinitionErrorKind::EmptyChoiceList)));
    assert!(kinds.contains(&("choices/x", &DefinitionErrorKind::DuplicateChoice("a".into()))));
    assert!(kinds.contains(&("choices/x", &DefinitionErrorKind::BadChoiceName("b c".into()))));
}

#[test]
fn cycles_are_named_along_the_cycle() {
    let e = one(json!([
        {"name": "a", "type": "calculate", "calculation": "${b} + 1"},
        {"name": "b", "type": "calculate", "calculation": "${c} + 1"},
        {"name": "c", "type": "calculate", "calculation": "${a} + 1"}
    ]));
    match e.kind {
        DefinitionErrorKind::Cycle(c) => {
            assert!(["a", "b", "c"].iter().all(|n| c.contains(n)), "{c}");
            assert_eq!(c.matches("->").count(), 3);
        }
        other => panic!("{other:?}"),
    }
    // Relevance and defaults take part too; a group cannot depend on its own contents.
    let e = one(json!([{"name": "g", "type": "group", "relevant": "${x} = 1", "children": [
        {"name": "x", "type": "integer"}]}]));
    assert!(matches!(e.kind, DefinitionErrorKind::Cycle(_)));
    let e = one(json!([
        {"name": "a", "type": "integer", "default": "${b}"},
        {"name": "b", "type": "integer", "relevant": "${a} > 1"}
    ]));
    assert!(matches!(e.kind, DefinitionErrorKind::Cycle(_)));
    // A constraint reading another field is not a computation and makes no cycle.
    let ok = form_with(
        json!([{"name": "a", "type": "integer", "constraint": ". < ${b}"}, {"name": "b", "type": "integer", "constraint": ". > ${a}"}]),
        json!({}),
    );
    assert!(CheckedForm::from_json(&ok).is_ok());
}

#[test]
fn repeat_misuse() {
    let e = one(json!([{"name": "r", "type": "repeat", "children": []}]));
    assert!(matches!(e.kind, DefinitionErrorKind::RepeatMisuse(_)));
    let e = one(
        json!([{"name": "r", "type": "repeat", "min_repeats": 3, "max_repeats": 1, "children": [text("a")]}]),
    );
    assert!(matches!(e.kind, DefinitionErrorKind::RepeatMisuse(_)));
    let e = one(
        json!([text("n"), {"name": "r", "type": "repeat", "repeat_count": "${n}", "max_repeats": 4, "children": [text("a")]}]),
    );
    assert!(matches!(e.kind, DefinitionErrorKind::RepeatMisuse(_)));
    let e = errors(
        json!([{"name": "r", "type": "repeat", "repeat_count": "${a}", "children": [{"name": "a", "type": "integer"}]}]),
    );
    assert!(
        e.iter().any(|e| e.path == "r" && matches!(e.kind, DefinitionErrorKind::RepeatMisuse(_))),
        "{e:?}"
    );
}

#[test]
fn attributes_that_do_not_apply() {
    let e =
        one(json!([{"name": "n", "type": "note", "constraint": ". > 1", "label": {"en": "x"}}]));
    assert!(matches!(
        e.kind,
        DefinitionErrorKind::NotApplicable { attribute: "constraint", kind: "note" }
    ));
    let e = one(json!([{"name": "t", "type": "text", "choices": "yn"}]));
    assert!(matches!(e.kind, DefinitionErrorKind::NotApplicable { attribute: "choices", .. }));
    let e = one(json!([{"name": "t", "type": "text", "children": [text("u")]}]));
    assert!(matches!(e.kind, DefinitionErrorKind::NotApplicable { attribute: "children", .. }));
    let e = one(json!([{"name": "c", "type": "calculate"}]));
    assert!(matches!(e.kind, DefinitionErrorKind::BadValue(_)));
    let e = one(
        json!([{"name": "p", "type": "geopoint", "capture_accuracy": 50, "warning_accuracy": 10}]),
    );
    assert!(matches!(e.kind, DefinitionErrorKind::BadValue(_)));
}

#[test]
fn labels_in_undeclared_languages() {
    let e = one(json!([{"name": "t", "type": "text", "label": {"en": "x", "fr": "y"}}]));
    assert_eq!(e.kind, DefinitionErrorKind::UnknownLanguage("fr".into()));
}

#[test]
fn empty_form_and_no_languages() {
    match CheckedForm::from_json(
        r#"{"id":"t","version":"1","title":{},"languages":[],"fields":[]}"#,
    ) {
        Err(FormError::Definition(e)) => {
            assert!(e.iter().any(|e| e.kind == DefinitionErrorKind::NoFields));
            assert!(e.iter().any(|e| e.kind == DefinitionErrorKind::NoLanguages));
        }
        _ => panic!("accepted"),
    }
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let e = errors(
        json!([text("a"), text("a"), {"name": "b", "type": "text", "relevant": "${q}"}, {"name": "s", "type": "select_one"}]),
    );
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn malformed_json_and_unknown_keys_are_parse_errors_with_position() {
    match CheckedForm::from_json("{\"id\": \"t\",\n \"version\": 1") {
        Err(FormError::Parse(p)) => assert_eq!(p.line, 2),
        other => panic!("{other:?}"),
    }
    let typo = form_with(json!([{"name": "a", "type": "text", "relevent": "1"}]), json!({}));
    assert!(matches!(CheckedForm::from_json(&typo), Err(FormError::Parse(_))));
    let badtype = form_with(json!([{"name": "a", "type": "texte"}]), json!({}));
    assert!(matches!(CheckedForm::from_json(&badtype), Err(FormError::Parse(_))));
}

#[test]
fn risk_section_checks() {
    let e = errors_with(
        json!([text("a"), {"name": "r", "type": "repeat", "children": [text("b")]}]),
        json!({"risk": {"thresholds": {"medium": 5, "high": 3}, "rules": [
            {"id": "x", "category": "drowning", "points": 1, "when": "${zz} = 1", "reason": {"en": "r"}},
            {"id": "x", "category": "falls", "points": 1, "when": "1", "reason": {"en": "r"}},
            {"id": "y", "category": "falls", "points": 1, "when": "1", "repeat": "a", "reason": {"en": "r"}},
            {"id": "z", "category": "falls", "points": 0, "when": "1", "reason": {"en": "r"}}
        ]}}),
    );
    let paths: Vec<_> = e.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"risk/thresholds"));
    assert_eq!(paths.iter().filter(|p| **p == "risk/x").count(), 2, "{e:?}");
    assert!(paths.contains(&"risk/y"));
    assert!(paths.contains(&"risk/z"));
}

#[test]
fn bare_names_only_in_choice_filters() {
    let e = one(
        json!([{"name": "a", "type": "integer"}, {"name": "b", "type": "text", "relevant": "a > 1"}]),
    );
    assert!(
        matches!(e.kind, DefinitionErrorKind::BareName { attribute: "relevant", col: 1, .. }),
        "{e}"
    );
    let ok = form_with(
        json!([{"name": "s", "type": "select_one", "choices": "yn", "choice_filter": "name != 'no'"}]),
        json!({}),
    );
    assert!(CheckedForm::from_json(&ok).is_ok());
}

#[test]
fn repeat_functions_need_their_repeats() {
    let e = one(json!([{"name": "p", "type": "calculate", "calculation": "position(..)"}]));
    assert!(
        matches!(e.kind, DefinitionErrorKind::RepeatMisuse(ref m) if m.contains("position")),
        "{e}"
    );
    let e = one(json!([
        {"name": "r", "type": "repeat", "children": [{"name": "a", "type": "integer"}]},
        {"name": "other", "type": "repeat", "children": [text("b")]},
        {"name": "x", "type": "calculate", "calculation": "indexed-repeat(${a}, ${other}, 1)"}
    ]));
    assert!(
        matches!(e.kind, DefinitionErrorKind::RepeatMisuse(ref m) if m.contains("other")),
        "{e}"
    );
    let ok = form_with(
        json!([
            {"name": "r", "type": "repeat", "children": [{"name": "a", "type": "integer"},
                {"name": "pos", "type": "calculate", "calculation": "position(..)"}]},
            {"name": "x", "type": "calculate", "calculation": "indexed-repeat(${a}, ${r}, 1)"}
        ]),
        json!({}),
    );
    assert!(CheckedForm::from_json(&ok).is_ok());
}
