//! Form engine benchmarks on the household screening with a 12-child roster:
//! - `load_and_check`: parse the template JSON and run every definition check;
//! - `fill_12_children`: a new session answering every question (each answer recomputes);
//! - `one_answer/*`: one answer on a filled session, with incremental recompute;
//! - `assess`: the risk assessment of the filled session.
//!
//! Targets (issue 2): one answer <= 50 µs median, load <= 2 ms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use safehome_core::clock::{FixedClock, SeededEntropy};
use safehome_core::form::check::CheckedForm;
use safehome_core::form::risk;
use safehome_core::form::session::Session;
use safehome_core::templates;
use serde_json::{Value, json};

const NOW: i64 = 1_795_924_800_000; // 2026-11-29T04:00:00Z

fn twelve_children() -> Value {
    let examples: Vec<Value> = serde_json::from_str(templates::EXAMPLE_HOUSEHOLDS).unwrap();
    let mut answers = examples
        .iter()
        .map(|e| e["answers"].clone())
        .find(|a| a["children"].as_array().is_some_and(|c| !c.is_empty()))
        .expect("an example household with children");
    let kids: Vec<Value> = (0..12)
        .map(|i| {
            let age = (i * 5 + 2) % 16;
            let mut kid = json!({
                "child_name": format!("Nguyễn Văn Con {}", i + 1),
                "child_sex": if i % 2 == 0 { "male" } else { "female" },
                "child_age": age,
                "child_disability": "no",
                "child_lives_with": "both_parents"
            });
            if age >= 6 {
                kid["child_in_school"] = json!("yes");
            }
            kid
        })
        .collect();
    answers["num_children"] = json!(12);
    answers["play_area"] = json!("yes");
    answers["children"] = Value::Array(kids);
    answers
}

fn new_session(form: &Arc<CheckedForm>) -> Session {
    Session::new(
        Arc::clone(form),
        Arc::new(FixedClock::new(NOW, 420)),
        Arc::new(SeededEntropy::new(1)),
    )
}

fn benches(c: &mut Criterion) {
    let src = templates::source("household_screening").expect("template");
    let form = Arc::new(CheckedForm::from_json(src).expect("valid template"));
    let answers = twelve_children();

    c.bench_function("load_and_check", |b| {
        b.iter(|| CheckedForm::from_json(black_box(src)).expect("valid"))
    });

    c.bench_function("fill_12_children", |b| {
        b.iter(|| {
            let mut s = new_session(&form);
            s.load_answers(black_box(&answers)).expect("answers load");
            s
        })
    });

    let mut filled = new_session(&form);
    filled.load_answers(&answers).expect("answers load");
    assert!(filled.validate().is_valid(), "{:?}", filled.validate());

    let mut group = c.benchmark_group("one_answer");
    // A child's age feeds the per-child relevance, the under-6 sum, and what depends on it.
    let mut flip = false;
    group.bench_function("child_age", |b| {
        b.iter(|| {
            flip = !flip;
            let age = if flip { json!(4) } else { json!(9) };
            filled.set_answer(black_box("children[7]/child_age"), &age).expect("answer")
        })
    });
    group.bench_function("hazard_top_level", |b| {
        b.iter(|| {
            flip = !flip;
            let v = if flip { json!("no") } else { json!("yes") };
            filled.set_answer(black_box("pond_fenced"), &v).expect("answer")
        })
    });
    group.bench_function("child_name_text", |b| {
        b.iter(|| {
            flip = !flip;
            let v = if flip { json!("Nguyễn Thị Hoa") } else { json!("Nguyễn Thị Huệ") };
            filled.set_answer(black_box("children[3]/child_name"), &v).expect("answer")
        })
    });
    group.finish();

    c.bench_function("assess", |b| b.iter(|| risk::assess(black_box(&filled))));
    c.bench_function("validate", |b| b.iter(|| black_box(&filled).validate()));
}

criterion_group!(form_engine, benches);
criterion_main!(form_engine);
