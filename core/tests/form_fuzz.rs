#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The form fuzz targets' bodies (`fuzz/fuzz_targets/form_json.rs`, `expression.rs`) on random
//! and mutated inputs, so that CI exercises on stable Rust what a hostile form file or
//! expression can make the engine do. The seeds are the built-in templates and the
//! expressions they contain.

use proptest::prelude::*;
use safehome_core::form::fuzzing;
use safehome_core::templates;
use safehome_testdata::mutate;

fn template(i: usize) -> Vec<u8> {
    let t = &templates::TEMPLATES[i % templates::TEMPLATES.len()];
    t.json.as_bytes().to_vec()
}

/// One expression per line (the fuzz script seeds its corpus from the same file).
const EXPRESSIONS: &str = include_str!("data/expressions.txt");

fn expression(i: usize) -> Vec<u8> {
    let lines: Vec<&str> = EXPRESSIONS.lines().collect();
    lines[i % lines.len()].as_bytes().to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        fuzzing::form_json(&data);
        fuzzing::expression(&data);
    }

    #[test]
    fn mutated_templates_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        fuzzing::form_json(&mutate(template(which), &flips, cut));
    }

    #[test]
    fn mutated_expressions_never_panic(
        which in any::<usize>(),
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..4),
        cut in proptest::option::of(any::<usize>()),
    ) {
        fuzzing::expression(&mutate(expression(which), &flips, cut));
    }
}

/// The seeds themselves are valid: the mutations start from inputs that reach deep.
#[test]
fn the_seeds_are_valid() {
    for i in 0..templates::TEMPLATES.len() {
        let text = String::from_utf8(template(i)).unwrap();
        safehome_core::form::check::CheckedForm::from_json(&text).unwrap();
        fuzzing::form_json(text.as_bytes());
    }
    for e in EXPRESSIONS.lines() {
        safehome_core::form::expr::parse(e).unwrap();
        fuzzing::expression(e.as_bytes());
    }
}
