//! `FormDefinition`: a checked form, shared (read-only) by any number of sessions.

use std::sync::Arc;

use safehome_core::form::check::CheckedForm;
use safehome_core::form::model::pick_text;
use safehome_core::form::xlsform;
use safehome_core::templates;

use crate::errors::ApiError;
use crate::guard::guard;
use crate::records::FormInfo;

/// The built-in forms, in the order the app lists them.
#[uniffi::export]
pub fn list_builtin_forms() -> Result<Vec<FormInfo>, ApiError> {
    guard(|| {
        templates::TEMPLATES.iter().map(|t| Ok(FormInfo::from(&*load_builtin(t.id)?))).collect()
    })
}

fn load_builtin(id: &str) -> Result<Arc<CheckedForm>, ApiError> {
    Ok(templates::load(id).ok_or_else(|| ApiError::unknown_form(id))??)
}

/// A form definition whose expressions and references have been checked. Immutable.
#[derive(Debug, uniffi::Object)]
pub struct FormDefinition {
    pub(crate) form: Arc<CheckedForm>,
}

#[uniffi::export]
impl FormDefinition {
    /// A built-in form by id (see `listBuiltinForms`).
    #[uniffi::constructor]
    pub fn builtin(id: String) -> Result<Arc<Self>, ApiError> {
        guard(|| Ok(Arc::new(FormDefinition { form: load_builtin(&id)? })))
    }

    /// A form from its JSON definition (`docs/forms.md`).
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, ApiError> {
        guard(|| Ok(Arc::new(FormDefinition { form: Arc::new(CheckedForm::from_json(&json)?) })))
    }

    /// A form from an XLSForm spreadsheet (.xlsx) at `path` (docs/forms.md, "XLSForm
    /// spreadsheets"). A file that is not a readable .xlsx, or a form with problems, is
    /// `ApiError::InvalidForm`: `path` the first problem's cell (`survey!F14`), `detail` every
    /// problem, one `sheet!CELL: message` per line.
    #[uniffi::constructor]
    pub fn from_xlsform(path: String) -> Result<Arc<Self>, ApiError> {
        guard(|| {
            let form = xlsform::import_path(std::path::Path::new(&path))?;
            Ok(Arc::new(FormDefinition { form: Arc::new(form) }))
        })
    }

    /// Stable identifier, e.g. `household_screening`.
    pub fn id(&self) -> Result<String, ApiError> {
        guard(|| Ok(self.form.form.id.clone()))
    }

    /// Version string; saved state is restored only into the same id and version.
    pub fn version(&self) -> Result<String, ApiError> {
        guard(|| Ok(self.form.form.version.clone()))
    }

    /// Label languages, the first being the default.
    pub fn languages(&self) -> Result<Vec<String>, ApiError> {
        guard(|| Ok(self.form.form.languages.clone()))
    }

    /// The title in `language`, falling back to the default language.
    pub fn title(&self, language: String) -> Result<String, ApiError> {
        guard(|| {
            Ok(pick_text(&self.form.form.title, &language, Some(self.form.default_language()))
                .unwrap_or_default()
                .to_string())
        })
    }

    /// Whether the form scores risk (`FormSession.riskAssessment` is then never null).
    pub fn has_risk_rules(&self) -> Result<bool, ApiError> {
        guard(|| Ok(self.form.risk.is_some()))
    }
}
