//! Bodies of the form fuzz targets (`fuzz/fuzz_targets/form_json.rs`, `expression.rs`), shared
//! with the property tests that run them on stable Rust in every test run
//! (`core/tests/form_fuzz.rs`). Each takes any bytes and must return (never panic, never
//! allocate without bound): what a hostile form file or expression can make the engine do.

use std::sync::Arc;

use serde_json::Value as Json;

use super::check::CheckedForm;
use super::expr::{self, MapEnv};
use super::session::Session;
use crate::clock::{FixedClock, SeededEntropy};

/// A form definition as `form validate` and `form fill` read it: checked, then, if it passes,
/// a session started on it, every top-level field answered with a few kinds of values, and its
/// output built (what a submission would carry).
pub fn form_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(form) = CheckedForm::from_json(text) else { return };
    let names: Vec<String> = form.form.fields.iter().map(|f| f.name.clone()).collect();
    let mut s = Session::new(
        Arc::new(form),
        Arc::new(FixedClock::new(1_795_924_800_000, 420)),
        Arc::new(SeededEntropy::new(7)),
    );
    let values = [Json::from(3), Json::from("yes"), Json::from("2026-12-05"), Json::Null];
    for (i, name) in names.iter().enumerate() {
        let _ = s.set_answer(name, &values[i % values.len()]);
    }
    let _ = s.output();
}

/// An expression as `expr` and every form's `relevant`, `constraint` and `calculation` read
/// it: parsed, then evaluated with a few variables of each type.
pub fn expression(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(parsed) = expr::parse(text) else { return };
    let vars = serde_json::json!({
        "n": 3, "x": 2.5, "s": "Ma Văn Hùng", "d": "2026-12-05", "sel": "a b c", "empty": ""
    });
    let Ok(env) = MapEnv::from_json(&vars) else { return };
    let env = env.with_now_ms(1_795_924_800_000);
    let _ = expr::eval(&parsed, &env);
}
