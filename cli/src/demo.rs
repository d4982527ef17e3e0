//! `safehome demo`: the main job. Fills the household screening for a few realistic households
//! (the examples that ship with the templates) and prints each one's validation and explained
//! risk assessment. Later issues extend it with the encrypted store, evidence and sync.

use std::sync::Arc;

use safehome_core::clock::{SystemClock, SystemEntropy};
use safehome_core::form::session::Session;
use safehome_core::risk;
use safehome_core::templates;

use crate::Outcome;
use crate::outln;
use crate::report;

pub fn run(lang: &str) -> Outcome {
    let form = match templates::load("household_screening") {
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            eprintln!("built-in household screening is broken: {e}");
            return Outcome::Unusable;
        }
        None => {
            eprintln!("built-in household screening is missing");
            return Outcome::Unusable;
        }
    };
    let examples: Vec<serde_json::Value> = match serde_json::from_str(templates::EXAMPLE_HOUSEHOLDS)
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("example households are unreadable: {e}");
            return Outcome::Unusable;
        }
    };
    // Vietnam is UTC+7; the phone passes its own offset in the app.
    let clock = Arc::new(SystemClock { offset_minutes: 7 * 60 });
    let title = form.form.text(&form.form.title, lang).unwrap_or("");
    let households = if lang == "vi" { "hộ gia đình" } else { "households" };
    outln!(
        "SafeHome demo — {title} ({} v{}), {} {households}\n",
        form.form.id,
        form.form.version,
        examples.len()
    );
    let mut outcome = Outcome::Ok;
    for (i, ex) in examples.iter().enumerate() {
        let label = ex.get("label").and_then(|l| l.as_str()).unwrap_or("household");
        outln!("== {}. {label}", i + 1);
        let mut session =
            Session::new(Arc::clone(&form), clock.clone(), Arc::new(SystemEntropy::default()));
        if let Err(e) = session.set_language(lang) {
            eprintln!("{e}");
            return Outcome::Unusable;
        }
        let answers = ex.get("answers").cloned().unwrap_or_default();
        if let Err(errs) = session.load_answers(&answers) {
            for e in errs {
                eprintln!("  answer refused: {e}");
            }
            outcome = Outcome::Refused;
            continue;
        }
        report::print_validation(&session, &session.validate());
        match risk::assess(&session) {
            Some(a) => report::print_assessment(&a, lang),
            None => outln!("  (this form has no risk rules)"),
        }
        outln!();
    }
    outcome
}
