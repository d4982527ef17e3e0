//! uniffi bindings of the SafeHome core for Kotlin and Swift: proc-macros only, thin by design.
//!
//! Objects wrap core types and delegate in one line; records and enums mirror core types
//! (`records`); answers cross as `AnswerValue` (`answer`); every error becomes one `ApiError`
//! (`errors`), and every export runs inside a panic guard. See `docs/bindings.md`.

uniffi::setup_scaffolding!();

mod answer;
mod errors;
mod form;
mod records;
mod session;

pub use answer::AnswerValue;
pub use errors::ApiError;
pub use form::{FormDefinition, list_builtin_forms};
pub use records::*;
pub use session::FormSession;

/// Version of the core this library was built from.
#[uniffi::export]
pub fn core_version() -> Result<String, ApiError> {
    errors::guard(|| Ok(safehome_core::VERSION.to_string()))
}
