//! Where forms and answer files come from: `builtin:ID` or a path.

use std::path::Path;
use std::sync::Arc;

use safehome_core::form::check::{CheckedForm, FormError};
use safehome_core::form::xlsform::{self, XlsformError};
use safehome_core::templates;

/// A form's JSON text, from `builtin:ID` or a file.
pub fn form_json(spec: &str) -> Result<String, String> {
    match spec.strip_prefix("builtin:") {
        Some(id) => templates::source(id).map(str::to_string).ok_or_else(|| {
            let ids: Vec<_> = templates::TEMPLATES.iter().map(|t| t.id).collect();
            format!("no built-in form `{id}` (built-ins: {})", ids.join(", "))
        }),
        None => read(Path::new(spec)),
    }
}

pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn json_file(path: &Path) -> Result<serde_json::Value, String> {
    let text = read(path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Load and check a form; definition problems are printed one per line as `path: message`
/// (`sheet!CELL: message` for a spreadsheet).
pub fn checked_form(spec: &str) -> Result<Arc<CheckedForm>, (super::Outcome, Vec<String>)> {
    if spec.strip_prefix("builtin:").is_none() && xlsform::is_xlsx_path(Path::new(spec)) {
        return spreadsheet(Path::new(spec)).map(Arc::new);
    }
    let json = form_json(spec).map_err(|e| (super::Outcome::Unusable, vec![e]))?;
    CheckedForm::from_json(&json).map(Arc::new).map_err(|e| match e {
        FormError::Parse(p) => (super::Outcome::Refused, vec![format!("form: {p}")]),
        FormError::Definition(errs) => {
            (super::Outcome::Refused, errs.iter().map(ToString::to_string).collect())
        }
    })
}

/// Import an XLSForm spreadsheet: exit 2 (unusable) when the file cannot be read as .xlsx,
/// exit 1 (refused) with one `sheet!CELL: message` line per problem.
pub fn spreadsheet(path: &Path) -> Result<CheckedForm, (super::Outcome, Vec<String>)> {
    xlsform::import_path(path).map_err(|e| match e {
        XlsformError::Unreadable(m) => {
            (super::Outcome::Unusable, vec![format!("{}: {m}", path.display())])
        }
        XlsformError::Problems(p) => {
            (super::Outcome::Refused, p.iter().map(ToString::to_string).collect())
        }
    })
}
