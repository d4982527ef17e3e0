//! The one error type that crosses the FFI, and the one place where every core error maps to it.
//!
//! `ApiError` is a *flat* uniffi error: Kotlin sees `sealed class ApiException` with one subclass
//! per case (`ApiException.InvalidAnswer`, ...), Swift an `enum ApiError: Error`; in both the
//! message is the `Display` text below. The case is the stable code (also `ApiError::code`, the
//! snake_case form used in logs). Messages name form paths, field types and positions, never the
//! volunteer's answers: those may be personal data.
//!
//! Panics never cross the boundary: every export runs inside [`guard`], which turns a panic into
//! `ApiError::Internal`; a session whose lock was poisoned by such a panic refuses further calls
//! with `Internal` too (its state may be half-updated; the app restores the last saved draft).

use std::panic::{AssertUnwindSafe, catch_unwind};

use safehome_core::form::answers::AnswerError;
use safehome_core::form::check::FormError;
use safehome_core::form::session::SessionError;

/// Why a call into the SafeHome core failed. The case is the stable code; the message says what
/// and where (form path, JSON line and column) without echoing personal data.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum ApiError {
    /// No built-in form has this id.
    #[error("no built-in form `{id}`")]
    UnknownForm { id: String },
    /// A form definition that is not valid JSON or not a valid form.
    #[error("{detail}")]
    InvalidForm { detail: String },
    /// A path that names no field, no repeat instance, or the wrong kind of node.
    #[error("{detail}")]
    InvalidPath { detail: String },
    /// A value that the field cannot take (wrong type, not a choice, out of range).
    #[error("{detail}")]
    InvalidAnswer { detail: String },
    /// A well-formed request the form forbids: a read-only or computed field, a repeat whose
    /// count the form sets, a repeat already at its maximum.
    #[error("{detail}")]
    NotAllowed { detail: String },
    /// A language the form has no labels for.
    #[error("language `{language}` is not one of the form's languages")]
    UnknownLanguage { language: String },
    /// Saved session state that cannot be restored: not JSON, wrong shape, another form.
    #[error("{detail}")]
    InvalidState { detail: String },
    /// A bug in the core (a caught panic, a session left unusable by one). Report it.
    #[error("internal error: {detail}")]
    Internal { detail: String },
}

impl ApiError {
    /// The stable code of this error, as documented in `docs/bindings.md`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::UnknownForm { .. } => "unknown_form",
            ApiError::InvalidForm { .. } => "invalid_form",
            ApiError::InvalidPath { .. } => "invalid_path",
            ApiError::InvalidAnswer { .. } => "invalid_answer",
            ApiError::NotAllowed { .. } => "not_allowed",
            ApiError::UnknownLanguage { .. } => "unknown_language",
            ApiError::InvalidState { .. } => "invalid_state",
            ApiError::Internal { .. } => "internal",
        }
    }

    pub(crate) fn unknown_form(id: &str) -> ApiError {
        ApiError::UnknownForm { id: id.to_string() }
    }

    /// A session whose lock a panic poisoned.
    pub(crate) fn poisoned() -> ApiError {
        ApiError::Internal {
            detail: "the session is unusable after an earlier internal error; restore it from \
                     the last saved state"
                .into(),
        }
    }

    /// Saved state that is not JSON or not shaped like a session state. Only the position and
    /// the kind of problem are reported: serde's own message can quote the saved answers.
    pub(crate) fn bad_state_json(e: &serde_json::Error) -> ApiError {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax => "not valid JSON",
            Category::Eof => "truncated JSON",
            Category::Data => "JSON not shaped like a saved session",
            Category::Io => "unreadable",
        };
        ApiError::InvalidState {
            detail: format!("saved state is {what} (line {}, column {})", e.line(), e.column()),
        }
    }

    /// Serializing the core's own data failed: cannot happen for plain data, so a bug.
    pub(crate) fn serialize(e: &serde_json::Error) -> ApiError {
        ApiError::Internal { detail: format!("serializing to JSON failed: {e}") }
    }
}

impl From<FormError> for ApiError {
    fn from(e: FormError) -> Self {
        ApiError::InvalidForm { detail: e.to_string() }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        let detail = e.to_string();
        match e {
            SessionError::UnknownField { .. }
            | SessionError::BadPath { .. }
            | SessionError::NoSuchInstance { .. }
            | SessionError::NotARepeat { .. } => ApiError::InvalidPath { detail },
            // The core quotes the rejected choice name; it came from the user, so drop it.
            SessionError::Answer { path, error: AnswerError::NotAChoice(_) } => {
                ApiError::InvalidAnswer {
                    detail: format!("{path}: not one of the field's choices"),
                }
            }
            // Notes, calculations, groups: answering them is not a bad value but a bad request.
            SessionError::Answer { error: AnswerError::NotAnswerable(_), .. } => {
                ApiError::NotAllowed { detail }
            }
            SessionError::Answer { .. } => ApiError::InvalidAnswer { detail },
            SessionError::ReadOnly { .. }
            | SessionError::FixedRepeat { .. }
            | SessionError::TooManyInstances { .. } => ApiError::NotAllowed { detail },
            SessionError::UnknownLanguage(language) => ApiError::UnknownLanguage { language },
            SessionError::FormMismatch { .. } => ApiError::InvalidState { detail },
            // The core's text names the refused answer and can quote it: withhold it.
            SessionError::BadState(_) => ApiError::InvalidState {
                detail: "saved state holds answers or fields that the form refuses".into(),
            },
        }
    }
}

/// Run one exported call: its errors pass through, a panic becomes `ApiError::Internal`.
/// The panic's own message is not passed on (it could quote data); the panic hook still prints
/// it to the process's stderr / logcat for developers.
pub(crate) fn guard<T>(call: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|_| {
        Err(ApiError::Internal {
            detail: "the core panicked; the call had no effect that can be relied on".into(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal() {
        #[allow(clippy::panic)]
        let r: Result<(), ApiError> = guard(|| panic!("boom"));
        assert_eq!(r.map_err(|e| e.code()), Err("internal"));
    }

    #[test]
    fn errors_pass_through_the_guard() {
        let r: Result<(), ApiError> = guard(|| Err(ApiError::unknown_form("x")));
        assert_eq!(r, Err(ApiError::UnknownForm { id: "x".into() }));
    }

    #[test]
    fn a_rejected_choice_is_not_echoed() {
        let e = SessionError::Answer {
            path: "consent".into(),
            error: AnswerError::NotAChoice("Nguyen Van A".into()),
        };
        let api = ApiError::from(e);
        assert_eq!(api.code(), "invalid_answer");
        assert!(!api.to_string().contains("Nguyen"), "{api}");
    }

    #[test]
    fn state_json_errors_do_not_quote_the_input() {
        let bad: Result<Vec<u32>, _> = serde_json::from_str("[\"Nguyen Van A\"]");
        let Err(e) = bad else { unreachable!("a string is not a u32") };
        let api = ApiError::bad_state_json(&e);
        assert_eq!(api.code(), "invalid_state");
        assert!(!api.to_string().contains("Nguyen"), "{api}");
    }

    #[test]
    fn session_errors_map_to_stable_codes() {
        let cases = [
            (SessionError::UnknownField { path: "x".into() }, "invalid_path"),
            (SessionError::NotARepeat { path: "x".into() }, "invalid_path"),
            (SessionError::ReadOnly { path: "x".into() }, "not_allowed"),
            (
                SessionError::Answer {
                    path: "x".into(),
                    error: AnswerError::NotAnswerable("note"),
                },
                "not_allowed",
            ),
            (SessionError::FixedRepeat { path: "x".into() }, "not_allowed"),
            (SessionError::UnknownLanguage("fr".into()), "unknown_language"),
            (SessionError::BadState("x".into()), "invalid_state"),
        ];
        for (e, code) in cases {
            assert_eq!(ApiError::from(e).code(), code);
        }
    }
}
