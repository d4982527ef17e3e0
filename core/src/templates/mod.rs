//! Built-in form templates, embedded at compile time. Vietnamese first, English second; built on
//! the domain notes (Safe Home criteria, Law on Children Art. 10, Decree 56/2017, MOH injury card).

use std::sync::Arc;

use crate::form::check::{CheckedForm, FormError};

/// A built-in template: its id and JSON source.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub id: &'static str,
    pub json: &'static str,
}

/// Every built-in template, in the order the CLI lists them.
pub const TEMPLATES: &[Template] = &[
    Template { id: "household_screening", json: include_str!("household_screening.json") },
    Template { id: "injury_incident", json: include_str!("injury_incident.json") },
    Template { id: "household_followup", json: include_str!("household_followup.json") },
];

/// The JSON source of template `id`.
pub fn source(id: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|t| t.id == id).map(|t| t.json)
}

/// Load and check template `id`. `None` if there is no such template.
pub fn load(id: &str) -> Option<Result<Arc<CheckedForm>, FormError>> {
    source(id).map(|json| CheckedForm::from_json(json).map(Arc::new))
}

/// Realistic household answer sets for the household screening, used by `safehome demo` and
/// the tests: a JSON array of `{"label", "answers", "expected_level"}`.
pub const EXAMPLE_HOUSEHOLDS: &str = include_str!("examples/households.json");
