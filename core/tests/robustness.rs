//! Malformed forms and answers give typed errors, never a panic: random mutations of the
//! built-in templates, random answer files, random operations on live sessions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use proptest::prelude::*;
use safehome_core::clock::{FixedClock, SeededEntropy};
use safehome_core::form::check::CheckedForm;
use safehome_core::form::risk;
use safehome_core::form::session::Session;
use safehome_core::templates;
use serde_json::{Value, json};

const NOW: i64 = 1_795_924_800_000;

fn session(form: Arc<CheckedForm>) -> Session {
    Session::new(form, Arc::new(FixedClock::new(NOW, 420)), Arc::new(SeededEntropy::new(3)))
}

/// Values that stress coercion and expressions: wrong types, huge numbers, odd text.
fn wild_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("json", |f| f.is_finite()).prop_map(Value::from),
        "[a-z0-9 ${}()'.,:-]{0,24}".prop_map(Value::from),
        Just(json!("2026-02-30")),
        Just(json!("9999-99-99T99:99")),
        Just(json!("${consent} = 'yes'")),
        Just(json!("if(")),
        Just(json!({"lat": 91, "lon": 0})),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,10}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replace the value at a random place in `v` (chosen by `path`) with `new`.
fn mutate(v: &mut Value, path: u64, new: Value) {
    let descend = !path.is_multiple_of(4);
    let pick = (path / 4) as usize;
    match v {
        Value::Object(m) if descend && !m.is_empty() => {
            let k = m.keys().nth(pick % m.len()).cloned().unwrap();
            mutate(m.get_mut(&k).unwrap(), path / 7, new);
        }
        Value::Array(a) if descend && !a.is_empty() => {
            let i = pick % a.len();
            mutate(&mut a[i], path / 7, new);
        }
        _ => *v = new,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mutated_templates_never_panic(which in 0usize..3, edits in proptest::collection::vec((any::<u64>(), wild_value()), 1..4)) {
        let t = &templates::TEMPLATES[which];
        let mut v: Value = serde_json::from_str(t.json).unwrap();
        for (path, new) in edits {
            mutate(&mut v, path, new);
        }
        if let Ok(form) = CheckedForm::from_json(&v.to_string()) {
            // A mutation that still checks must run.
            let mut s = session(Arc::new(form));
            let _ = s.load_answers(&json!({"consent": "yes", "num_children": 2}));
            let _ = s.validate();
            let _ = risk::assess(&s);
            let _ = s.visible_prompts();
        }
    }

    #[test]
    fn arbitrary_text_is_not_a_form(text in "\\PC{0,200}") {
        prop_assert!(CheckedForm::from_json(&text).is_err());
    }

    #[test]
    fn random_answers_never_panic(which in 0usize..3, answers in proptest::collection::btree_map("[a-z_]{1,22}", wild_value(), 0..12)) {
        let form = templates::load(templates::TEMPLATES[which].id).unwrap().unwrap();
        let mut s = session(form);
        let mut obj: serde_json::Map<String, Value> = answers.into_iter().collect();
        // Also aim at real field names, with wild values.
        for (i, f) in s.form().fields.clone().iter().enumerate().take(60) {
            if i % 3 == 0 {
                obj.insert(f.name().to_string(), json!(i));
            }
        }
        let _ = s.load_answers(&Value::Object(obj));
        let _ = s.validate();
        let _ = risk::assess(&s);
        let state = s.state();
        let _ = serde_json::to_string(&state).unwrap();
    }

    #[test]
    fn random_paths_get_typed_errors(path in "[a-z_\\[\\]0-9/]{0,30}", value in wild_value()) {
        let form = templates::load("household_screening").unwrap().unwrap();
        let mut s = session(form);
        let _ = s.set_answer(&path, &value);
        let _ = s.add_repeat(&path);
        let _ = s.remove_repeat(&path);
        let _ = s.go_to(&path);
        let _ = s.prompt_at(&path);
    }
}

#[test]
fn a_runaway_repeat_count_is_bounded() {
    let form = json!({
        "id": "t", "version": "1", "title": {"en": "t"}, "languages": ["en"],
        "fields": [
            {"name": "n", "type": "integer"},
            {"name": "r", "type": "repeat", "repeat_count": "${n}", "children": [{"name": "a", "type": "text"}]}
        ]
    });
    let mut s = session(Arc::new(CheckedForm::from_json(&form.to_string()).unwrap()));
    s.set_answer("n", &json!(1_000_000_000)).unwrap();
    let n = s.output()["r"].as_array().map(Vec::len).unwrap();
    assert_eq!(n, safehome_core::form::session::MAX_REPEAT_INSTANCES);
}

/// A typed answer is bounded: up to `MAX_ANSWER_BYTES` is kept, one byte more is refused with
/// a typed error naming the field, and the earlier answer stays.
#[test]
fn an_oversized_text_answer_is_refused_and_the_earlier_one_kept() {
    use safehome_core::form::answers::AnswerError;
    use safehome_core::form::limits::MAX_ANSWER_BYTES;
    use safehome_core::form::session::SessionError;

    let form = json!({
        "id": "t", "version": "1", "title": {"en": "t"}, "languages": ["en"],
        "fields": [{"name": "notes", "type": "text"}]
    });
    let mut s = session(Arc::new(CheckedForm::from_json(&form.to_string()).unwrap()));
    // "ệ" is 3 bytes: the limit counts bytes, not characters.
    let fits = "ệ".repeat(MAX_ANSWER_BYTES / 3);
    s.set_answer("notes", &json!(fits)).unwrap();
    let over = format!("{fits}ệệ");
    match s.set_answer("notes", &json!(over)) {
        Err(SessionError::Answer { path, error: AnswerError::TooLong { len, max } }) => {
            assert_eq!((path.as_str(), len, max), ("notes", over.len(), MAX_ANSWER_BYTES));
        }
        other => panic!("expected TooLong, got {other:?}"),
    }
    assert_eq!(s.output()["notes"].as_str().map(str::len), Some(fits.len()));
}
