//! The one error type that crosses the FFI, and the one place where every core error maps to it.
//!
//! `ApiError` is a *flat* uniffi error: Kotlin sees `sealed class ApiException` with one subclass
//! per case (`ApiException.InvalidAnswer`, ...), Swift an `enum ApiError: Error`; in both the
//! message is the `Display` text below. The case is the stable code (also `ApiError::code`, the
//! snake_case form used in logs). Messages name form paths, field types and positions, never the
//! volunteer's answers: those may be personal data.
//!
//! Panics never cross the boundary: every export runs inside [`guard`] (or [`call`], which also
//! logs the failure to the app's log sink), which turns a panic into `ApiError::Internal`; a
//! session whose lock was poisoned by such a panic refuses further calls with `Internal` too (its
//! state may be half-updated; the app restores the last saved draft).

use std::panic::{AssertUnwindSafe, catch_unwind};

use safehome_core::crypto::CryptoError;
use safehome_core::evidence::photo::PhotoError;
use safehome_core::form::answers::AnswerError;
use safehome_core::form::check::FormError;
use safehome_core::form::session::SessionError;
use safehome_core::location::{AreasError, FixError};
use safehome_core::store::StoreError;

use crate::logging::{self, LogLevel};

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

    // ----- the store (second slice) -------------------------------------------------------------
    /// The data key does not open this database (another key, or the keystore entry was reset).
    #[error("the data key does not open this database")]
    WrongKey,
    /// The database was written by a newer app version; update the app.
    #[error("the database has schema version {found}; this app supports up to {supported}")]
    NewerSchema { found: i64, supported: i64 },
    /// The device's storage is full; the operation was rolled back.
    #[error("the device's storage is full; nothing was changed")]
    DiskFull,
    /// The database file cannot be written; the operation was rolled back.
    #[error("the database is read-only; nothing was changed")]
    ReadOnly,
    /// The database file, or a value in it, is damaged or not a SafeHome database.
    #[error("{detail}")]
    Corrupt { detail: String },
    /// Another SQLite failure (the message names the statement's problem, never row data).
    #[error("{detail}")]
    Storage { detail: String },
    /// `SafeHomeStore.interrupt()` stopped the running statement; nothing was changed.
    #[error("the operation was interrupted")]
    Interrupted,
    /// `closeStore()` was called: every later call on the store or its sessions fails with this.
    #[error("the store is closed")]
    StoreClosed,
    /// No such profile, household, record, attachment or outbox item — or one the unlocked
    /// profile may not see (reported the same way, so that its existence is not revealed).
    #[error("{entity} {id} not found")]
    NotFound { entity: String, id: String },
    /// The unlocked profile's role may not do this.
    #[error("a {role} may not {action}")]
    Forbidden { role: String, action: String },
    /// A wrong PIN. The message says how many attempts remain before the profile locks.
    #[error("wrong PIN; {attempts_remaining} attempt(s) remaining before lockout")]
    WrongPin { attempts_remaining: i64 },
    /// Too many wrong PINs in a row: wait. The message gives the time of the next attempt.
    #[error("too many wrong PINs; try again at {retry_at_ms} (ms since the epoch)")]
    PinDelay { retry_at_ms: i64 },
    /// Too many wrong PINs: the profile is locked until a supervisor resets its PIN.
    #[error("profile locked after too many wrong PINs; a supervisor must reset its PIN")]
    LockedOut,
    /// A new PIN that is not 4 to 12 digits.
    #[error("a PIN needs 4 to 12 digits")]
    WeakPin,
    /// A malformed request field: a commune code, an empty name, a data key of the wrong length,
    /// a recipient key with a bad checksum. The message names the field.
    #[error("{detail}")]
    InvalidInput { detail: String },
    /// Finalize refused: the filling is not valid. The message gives the number of problems and
    /// the first one's path (`DraftSession.validate()` lists them all).
    #[error("the form is not valid: {count} problem(s), first at {first_path}")]
    NotValid { count: i64, first_path: String },
    /// No archive or supervisor key is configured: nothing could ever open sealed evidence.
    #[error(
        "no recipients configured: add the organisation's archive key and the supervisors' keys first"
    )]
    NoRecipients,
    /// A photo in a format the core does not read (HEIC, text...). JPEG, PNG and WebP are read;
    /// convert HEIC to JPEG on the platform first.
    #[error("{detail}")]
    UnsupportedFormat { detail: String },
    /// A photo that cannot be used: empty, truncated, corrupt, too large, unreadable file.
    #[error("{detail}")]
    Photo { detail: String },
    /// Sealing or reading an evidence envelope failed.
    #[error("{detail}")]
    Envelope { detail: String },
    /// A GPS fix refused by validation (not finite, out of range, null island, absurd accuracy,
    /// stale, in the future) or whose accuracy needs the volunteer's confirmation. The message
    /// starts with the reason's stable code (`stale: ...`) and never repeats the coordinates.
    #[error("{detail}")]
    InvalidFix { detail: String },
    /// Assigned areas that are not valid GeoJSON areas; the message names each feature.
    #[error("{detail}")]
    InvalidAreas { detail: String },
    /// A foreign implementation (log sink, progress listener) threw.
    #[error("a callback failed: {detail}")]
    Callback { detail: String },
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
            ApiError::WrongKey => "wrong_key",
            ApiError::NewerSchema { .. } => "newer_schema",
            ApiError::DiskFull => "disk_full",
            ApiError::ReadOnly => "read_only",
            ApiError::Corrupt { .. } => "corrupt",
            ApiError::Storage { .. } => "storage",
            ApiError::Interrupted => "interrupted",
            ApiError::StoreClosed => "store_closed",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::WrongPin { .. } => "wrong_pin",
            ApiError::PinDelay { .. } => "pin_delay",
            ApiError::LockedOut => "locked_out",
            ApiError::WeakPin => "weak_pin",
            ApiError::InvalidInput { .. } => "invalid_input",
            ApiError::NotValid { .. } => "not_valid",
            ApiError::NoRecipients => "no_recipients",
            ApiError::UnsupportedFormat { .. } => "unsupported_format",
            ApiError::Photo { .. } => "photo",
            ApiError::Envelope { .. } => "envelope",
            ApiError::InvalidFix { .. } => "invalid_fix",
            ApiError::InvalidAreas { .. } => "invalid_areas",
            ApiError::Callback { .. } => "callback",
        }
    }

    /// How loudly a failure is logged: bugs and storage faults are errors, refusals the app
    /// expects (a wrong PIN, a refused answer, an invalid form) are informational.
    pub(crate) fn log_level(&self) -> LogLevel {
        match self {
            ApiError::Internal { .. } | ApiError::Corrupt { .. } | ApiError::Storage { .. } => {
                LogLevel::Error
            }
            ApiError::WrongKey
            | ApiError::NewerSchema { .. }
            | ApiError::DiskFull
            | ApiError::ReadOnly
            | ApiError::Envelope { .. }
            | ApiError::Callback { .. }
            | ApiError::LockedOut
            | ApiError::InvalidState { .. } => LogLevel::Warn,
            _ => LogLevel::Info,
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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let detail = e.to_string();
        match e {
            StoreError::WrongKey => ApiError::WrongKey,
            StoreError::NewerSchema { found, supported } => {
                ApiError::NewerSchema { found, supported }
            }
            StoreError::DiskFull => ApiError::DiskFull,
            StoreError::ReadOnly => ApiError::ReadOnly,
            StoreError::Corrupt | StoreError::BadData(_) => ApiError::Corrupt { detail },
            StoreError::Interrupted => ApiError::Interrupted,
            StoreError::Sqlite(_) => ApiError::Storage { detail },
            // A value that does not decrypt under a key that opened the database was altered.
            StoreError::Crypto(CryptoError::Decrypt { .. }) => ApiError::Corrupt { detail },
            StoreError::Crypto(_) => ApiError::Storage { detail },
            StoreError::NotFound { entity, id } => {
                ApiError::NotFound { entity: entity.to_string(), id }
            }
            StoreError::Forbidden { role, action } => {
                ApiError::Forbidden { role: role.to_string(), action: action.to_string() }
            }
            StoreError::WrongPin { remaining } => {
                ApiError::WrongPin { attempts_remaining: i64::from(remaining) }
            }
            StoreError::PinDelay { retry_at_ms } => ApiError::PinDelay { retry_at_ms },
            StoreError::LockedOut => ApiError::LockedOut,
            StoreError::WeakPin => ApiError::WeakPin,
            StoreError::InvalidState { .. } => ApiError::InvalidState { detail },
            StoreError::Invalid { .. } => ApiError::InvalidInput { detail },
            StoreError::Form(e) => e.into(),
            StoreError::Session(e) => e.into(),
            StoreError::NotValid(violations) => ApiError::NotValid {
                count: i64::try_from(violations.len()).unwrap_or(i64::MAX),
                first_path: violations.first().map(|v| v.path.clone()).unwrap_or_default(),
            },
            StoreError::NoRecipients => ApiError::NoRecipients,
            StoreError::Photo(e) => e.into(),
            StoreError::Envelope(_) => ApiError::Envelope { detail },
            StoreError::Fix(e) => e.into(),
            StoreError::FixNotAccepted(_) => {
                ApiError::InvalidFix { detail: format!("confirmation_required: {detail}") }
            }
            StoreError::Areas(e) => e.into(),
        }
    }
}

impl From<PhotoError> for ApiError {
    fn from(e: PhotoError) -> Self {
        let detail = e.to_string();
        match e {
            PhotoError::UnsupportedFormat { .. } => ApiError::UnsupportedFormat { detail },
            _ => ApiError::Photo { detail },
        }
    }
}

impl From<FixError> for ApiError {
    fn from(e: FixError) -> Self {
        ApiError::InvalidFix { detail: format!("{}: {e}", e.code()) }
    }
}

impl From<AreasError> for ApiError {
    fn from(e: AreasError) -> Self {
        ApiError::InvalidAreas { detail: e.to_string() }
    }
}

/// The error of foreign callbacks (log sink, progress listener). `ApiError` cannot be it:
/// uniffi lifts an error coming back from Kotlin or Swift, and a flat error cannot be lifted (it
/// panics). An implementation either throws `CallbackException.Failed` itself, or anything else,
/// which arrives here through `From<UnexpectedUniFFICallbackError>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed { reason: e.reason }
    }
}

impl From<CallbackError> for ApiError {
    fn from(e: CallbackError) -> Self {
        ApiError::Callback { detail: e.to_string() }
    }
}

/// Run one exported call: its errors pass through, a panic becomes `ApiError::Internal`.
/// The panic's own message is not passed on (it could quote data); the panic hook still prints
/// it to the process's stderr / logcat for developers.
pub(crate) fn guard<T>(call: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    let _scope = logging::CallScope::enter();
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|_| {
        Err(ApiError::Internal {
            detail: "the core panicked; the call had no effect that can be relied on".into(),
        })
    })
}

/// [`guard`] for the store's calls: a failure is also reported to the app's log sink as
/// `<operation> failed: <code>: <message>` (messages carry no personal data). The log is written
/// after every lock the call took is released, so a sink may call back into the API.
pub(crate) fn call<T>(
    operation: &'static str,
    body: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let result = guard(body);
    if let Err(e) = &result {
        logging::emit(e.log_level(), operation, || format!("failed: {}: {e}", e.code()));
    }
    result
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

    #[test]
    fn store_errors_map_to_stable_codes() {
        use safehome_core::form::session::{Violation, ViolationCode};
        let violation = Violation {
            path: "children[2]/child_age".into(),
            code: ViolationCode::Required,
            message: "Cần nhập tuổi của Lò Văn Páo".into(),
        };
        let cases: Vec<(StoreError, &str)> = vec![
            (StoreError::WrongKey, "wrong_key"),
            (StoreError::NewerSchema { found: 9, supported: 2 }, "newer_schema"),
            (StoreError::DiskFull, "disk_full"),
            (StoreError::ReadOnly, "read_only"),
            (StoreError::Corrupt, "corrupt"),
            (StoreError::BadData("JSON at line 1".into()), "corrupt"),
            (StoreError::Crypto(CryptoError::Decrypt { table: "t", column: "c" }), "corrupt"),
            (StoreError::Interrupted, "interrupted"),
            (StoreError::Sqlite("disk I/O error".into()), "storage"),
            (StoreError::NotFound { entity: "record", id: "r1".into() }, "not_found"),
            (StoreError::Forbidden { role: "volunteer", action: "review" }, "forbidden"),
            (StoreError::WrongPin { remaining: 4 }, "wrong_pin"),
            (StoreError::PinDelay { retry_at_ms: 1_000 }, "pin_delay"),
            (StoreError::LockedOut, "locked_out"),
            (StoreError::WeakPin, "weak_pin"),
            (
                StoreError::InvalidState {
                    entity: "record",
                    id: "r1".into(),
                    state: "queued".into(),
                    action: "edit",
                },
                "invalid_state",
            ),
            (
                StoreError::Invalid { field: "commune_code", message: "5 digits".into() },
                "invalid_input",
            ),
            (StoreError::NotValid(vec![violation]), "not_valid"),
            (StoreError::NoRecipients, "no_recipients"),
            (
                StoreError::Photo(PhotoError::UnsupportedFormat { format: "HEIC".into() }),
                "unsupported_format",
            ),
            (StoreError::Photo(PhotoError::Empty), "photo"),
            (
                StoreError::Envelope(safehome_core::evidence::EnvelopeError::NotAnEnvelope),
                "envelope",
            ),
            (SessionError::UnknownField { path: "x".into() }.into(), "invalid_path"),
            (StoreError::Areas(AreasError::Empty), "invalid_areas"),
        ];
        for (e, code) in cases {
            let api = ApiError::from(e);
            assert_eq!(api.code(), code, "{api:?}");
            // The violation's message names the child: only the count and path cross.
            assert!(!api.to_string().contains("Páo"), "{api}");
        }
        let e = ApiError::from(StoreError::WrongPin { remaining: 4 });
        assert_eq!(e.to_string(), "wrong PIN; 4 attempt(s) remaining before lockout");
        let e = ApiError::from(StoreError::PinDelay { retry_at_ms: 1_795_924_830_000 });
        assert!(e.to_string().contains("1795924830000"), "{e}");
    }

    #[test]
    fn not_valid_gives_count_and_first_path() {
        use safehome_core::form::session::{Violation, ViolationCode};
        let v = |p: &str| Violation {
            path: p.into(),
            code: ViolationCode::Required,
            message: String::new(),
        };
        let e = ApiError::from(StoreError::NotValid(vec![v("consent"), v("head_name")]));
        assert_eq!(e.to_string(), "the form is not valid: 2 problem(s), first at consent");
    }

    #[test]
    fn fix_errors_start_with_their_code_and_hide_the_position() {
        let e = ApiError::from(FixError::Stale { age_ms: 420_000, max_age_ms: 300_000 });
        assert_eq!(e.code(), "invalid_fix");
        assert!(e.to_string().starts_with("stale: "), "{e}");
        let cb = ApiError::from(CallbackError::Failed { reason: "gone".into() });
        assert_eq!(cb.code(), "callback");
    }
}
