//! The one error type that crosses the FFI, and the one place where every core error maps to it.
//!
//! `ApiError` is a *rich* uniffi error: Kotlin sees `sealed class ApiException` with one subclass
//! per case (`ApiException.WrongPin`, ...) carrying the case's fields, Swift an
//! `enum ApiError: Error` whose cases have those fields as associated values. The case is the
//! stable code (also `ApiError::code`, the snake_case form used in logs). The fields are what an
//! app acts on: attempts left, a retry time, a count and a path, the reason a GPS fix was refused.
//!
//! Every case also has `detail`, the readable message for logs (and the `Display` text). It is
//! always built here, in the constructors below or from the very core error that gave the typed
//! fields, so it cannot say something other than the fields. (`detail`, not `message`: Kotlin's
//! exceptions already have a `message`, which uniffi generates from all the fields as
//! `name=value, ...`; a field named `message` would clash with it and not compile.) Messages name
//! form paths, field types and positions, never the volunteer's answers: those may be personal
//! data.
//!
//! Panics never cross the boundary: every export runs inside `guard::guard` (or `logging::call`,
//! which also logs the failure to the app's log sink), which turns a panic into
//! `ApiError::Internal`; a session whose lock was poisoned by such a panic refuses further calls
//! with `Internal` too (its state may be half-updated; the app restores the last saved draft).
//!
//! This module depends on nothing else in the bindings (`guard` and `logging` build on it).

use safehome_core::crypto::CryptoError;
use safehome_core::evidence::photo::PhotoError;
use safehome_core::form::answers::AnswerError;
use safehome_core::form::check::FormError;
use safehome_core::form::session::SessionError;
use safehome_core::form::xlsform::XlsformError;
use safehome_core::location::{AcceptError, AreasError, FixError};
use safehome_core::store::StoreError;
use safehome_core::sync::SyncError;

/// Why a call into the SafeHome core failed. The case is the stable code; its fields are what an
/// app acts on; `detail` is the message for logs, which says what and where (form path, JSON
/// line and column) without echoing personal data.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum ApiError {
    /// No built-in form has this id.
    #[error("{detail}")]
    UnknownForm { id: String, detail: String },
    /// A form definition that is not valid JSON or not a valid form. A JSON error gives its
    /// `line` and `column` (1-based); a definition problem the `path` it concerns (a field path,
    /// `form`, `choices/LIST`, `risk/RULE`; the first of several).
    #[error("{detail}")]
    InvalidForm { line: Option<i32>, column: Option<i32>, path: Option<String>, detail: String },
    /// A path that names no field, no repeat instance, or the wrong kind of node.
    #[error("{detail}")]
    InvalidPath { path: String, detail: String },
    /// A value that the field at `path` cannot take (wrong type, not a choice, out of range).
    #[error("{detail}")]
    InvalidAnswer { path: String, detail: String },
    /// A well-formed request the form forbids at `path`: a read-only or computed field, a repeat
    /// whose count the form sets, a repeat already at its maximum, a note or calculation.
    #[error("{detail}")]
    NotAllowed { path: String, detail: String },
    /// A language the form has no labels for.
    #[error("{detail}")]
    UnknownLanguage { language: String, detail: String },
    /// Saved session state that cannot be restored (not JSON, wrong shape, another form), or a
    /// record in a state that forbids the change (finalized, queued).
    #[error("{detail}")]
    InvalidState { detail: String },
    /// A bug in the core (a caught panic, a session left unusable by one). Report it.
    #[error("{detail}")]
    Internal { detail: String },

    // ----- the store -------------------------------------------------------------------------
    /// The data key does not open this database (another key, or the keystore entry was reset).
    #[error("{detail}")]
    WrongKey { detail: String },
    /// The database was written by a newer app version (schema `found`, this app reads up to
    /// `supported`); update the app.
    #[error("{detail}")]
    NewerSchema { found: i64, supported: i64, detail: String },
    /// The device's storage is full; the operation was rolled back.
    #[error("{detail}")]
    DiskFull { detail: String },
    /// The database file cannot be written; the operation was rolled back.
    #[error("{detail}")]
    ReadOnly { detail: String },
    /// The database file, or a value in it, is damaged or not a SafeHome database.
    #[error("{detail}")]
    Corrupt { detail: String },
    /// Another SQLite failure (the message names the statement's problem, never row data).
    #[error("{detail}")]
    Storage { detail: String },
    /// `SafeHomeStore.interrupt()` stopped the running statement; nothing was changed.
    #[error("{detail}")]
    Interrupted { detail: String },
    /// `closeStore()` was called: every later call on the store or its sessions fails with this.
    #[error("{detail}")]
    StoreClosed { detail: String },
    /// No such profile, household, record, attachment or outbox item — or one the unlocked
    /// profile may not see (reported the same way, so that its existence is not revealed).
    /// `entity` is the kind (`profile`, `household`, `record`, ...), `id` the id asked for.
    #[error("{detail}")]
    NotFound { entity: String, id: String, detail: String },
    /// The unlocked profile's `role` (`volunteer`, `supervisor`, ...) may not do `action`.
    #[error("{detail}")]
    Forbidden { role: String, action: String, detail: String },
    /// A wrong PIN; `attempts_remaining` more wrong PINs lock the profile.
    #[error("{detail}")]
    WrongPin { attempts_remaining: i32, detail: String },
    /// Too many wrong PINs in a row: no attempt is checked before `retry_at_ms` (ms since the
    /// epoch, on the store's clock), not even the right PIN.
    #[error("{detail}")]
    PinDelay { retry_at_ms: i64, detail: String },
    /// Too many wrong PINs: the profile is locked until a supervisor resets its PIN.
    #[error("{detail}")]
    LockedOut { detail: String },
    /// A new PIN that is not 4 to 12 digits.
    #[error("{detail}")]
    WeakPin { detail: String },
    /// A malformed request field: a commune code, an empty name, a data key of the wrong length,
    /// a recipient key with a bad checksum. The message names the field.
    #[error("{detail}")]
    InvalidInput { detail: String },
    /// Finalize refused: the filling is not valid. `count` problems, the first at `first_path`
    /// (`DraftSession.validate()` lists them all, with their messages).
    #[error("{detail}")]
    NotValid { count: i32, first_path: String, detail: String },
    /// No archive or supervisor key is configured: nothing could ever open sealed evidence.
    #[error("{detail}")]
    NoRecipients { detail: String },
    /// A photo in a format the core does not read: `format` names it when the core recognised
    /// it (`HEIC`, `AVIF`, `GIF`, ...), else `unknown`. JPEG, PNG and WebP are read; convert HEIC
    /// to JPEG on the platform first.
    #[error("{detail}")]
    UnsupportedFormat { format: String, detail: String },
    /// A photo that cannot be used: empty, truncated, corrupt, too large, unreadable file.
    #[error("{detail}")]
    Photo { detail: String },
    /// Sealing or reading an evidence envelope failed.
    #[error("{detail}")]
    Envelope { detail: String },
    /// A GPS fix refused by validation, or whose accuracy needs the volunteer's confirmation:
    /// `reason` says which. The message starts with the reason's code (`stale: ...`) and never
    /// repeats the coordinates.
    #[error("{detail}")]
    InvalidFix { reason: FixRefusal, detail: String },
    /// Assigned areas that are not valid GeoJSON areas. When features are at fault, the first
    /// one's `feature_index` (0-based) and its `feature_code` if it has one; the message names
    /// each bad feature (up to five).
    #[error("{detail}")]
    InvalidAreas { feature_index: Option<i32>, feature_code: Option<String>, detail: String },
    /// Another copy of this draft saved since this copy was opened (another process changed
    /// the database): nothing was saved. Reopen the draft. `ProfileSession.openDraft` hands out
    /// one shared copy per record, so an app that opens drafts only through it never sees this.
    #[error("{detail}")]
    StaleDraft { record_id: String, detail: String },
    /// A row of the database whose security fields (a profile's role, PIN verifier, failure
    /// counter, lockout) were changed outside the app: refused, and reported by `verifyAudit`.
    /// The device's database cannot be trusted; the app should stop and tell a supervisor.
    #[error("{detail}")]
    Tampered { table: String, row: String, detail: String },
    /// The database is an older copy than the one the app last saw (`keepAuditAnchor`): its
    /// audit chain has `foundLength` entries, the kept anchor `keptLength`. Work done since that
    /// copy is missing from this phone; the app should stop and tell a supervisor.
    #[error("{detail}")]
    RolledBack { kept_length: i64, found_length: i64, detail: String },
    /// A foreign implementation (log sink, progress listener) threw.
    #[error("{detail}")]
    Callback { detail: String },
    /// Sync needs the device enrolled with a server first (`enrollWithServer`).
    #[error("{detail}")]
    NotEnrolled { detail: String },
    /// The server refused for good: `code` is the server's stable code (`device_revoked`,
    /// `unknown_device`, `enrollment_code_used`, `enrollment_code_expired`,
    /// `enrollment_code_unknown`, ...), `status` its HTTP status. Show it; retrying will not help.
    #[error("{detail}")]
    ServerRefused { status: i32, code: String, detail: String },
    /// The server cannot take the request now (`storage_full`, `unavailable`, `internal`,
    /// `rate_limited`): nothing was lost; sync again later.
    #[error("{detail}")]
    ServerUnavailable { status: i32, code: String, detail: String },
    /// No answer from the server (no network, a cut connection): nothing was lost.
    #[error("{detail}")]
    ServerUnreachable { detail: String },
    /// An answer that is not from the pinned server or does not follow the protocol (a
    /// configuration or receipt signed by another key, a malformed answer): nothing from it was
    /// applied.
    #[error("{detail}")]
    ServerUntrusted { detail: String },
}

/// Why a GPS fix was refused (`ApiError::InvalidFix.reason`). Each has a stable code, which also
/// starts the error's message: `not_finite`, `out_of_range`, ... `confirmation_required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FixRefusal {
    /// A coordinate, altitude or accuracy that is NaN or infinite.
    NotFinite,
    /// Latitude or longitude outside its range.
    OutOfRange,
    /// Latitude and longitude both 0: a receiver that has no fix yet.
    NullIsland,
    /// An accuracy of 0 m or less.
    AccuracyNotPositive,
    /// An accuracy too large to be a real fix.
    AccuracyAbsurd,
    /// A fix time ahead of the clock.
    InFuture,
    /// A fix too old to describe where the volunteer is now.
    Stale,
    /// Accuracy worse than the question's warning threshold: valid, but the volunteer must
    /// confirm it (`answerFix(..., confirmed = true)`).
    ConfirmationRequired,
}

impl FixRefusal {
    /// The stable code, as in `safehome_core::location::FixError::code`.
    pub fn code(self) -> &'static str {
        match self {
            FixRefusal::NotFinite => "not_finite",
            FixRefusal::OutOfRange => "out_of_range",
            FixRefusal::NullIsland => "null_island",
            FixRefusal::AccuracyNotPositive => "accuracy_not_positive",
            FixRefusal::AccuracyAbsurd => "accuracy_absurd",
            FixRefusal::InFuture => "in_future",
            FixRefusal::Stale => "stale",
            FixRefusal::ConfirmationRequired => "confirmation_required",
        }
    }
}

impl From<&FixError> for FixRefusal {
    fn from(e: &FixError) -> Self {
        match e {
            FixError::NotFinite { .. } => FixRefusal::NotFinite,
            FixError::OutOfRange { .. } => FixRefusal::OutOfRange,
            FixError::NullIsland => FixRefusal::NullIsland,
            FixError::AccuracyNotPositive { .. } => FixRefusal::AccuracyNotPositive,
            FixError::AccuracyAbsurd { .. } => FixRefusal::AccuracyAbsurd,
            FixError::InFuture { .. } => FixRefusal::InFuture,
            FixError::Stale { .. } => FixRefusal::Stale,
        }
    }
}

/// A count or position for the FFI (`i32`, as every count there), saturating.
fn small(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
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
            ApiError::WrongKey { .. } => "wrong_key",
            ApiError::NewerSchema { .. } => "newer_schema",
            ApiError::DiskFull { .. } => "disk_full",
            ApiError::ReadOnly { .. } => "read_only",
            ApiError::Corrupt { .. } => "corrupt",
            ApiError::Storage { .. } => "storage",
            ApiError::Interrupted { .. } => "interrupted",
            ApiError::StoreClosed { .. } => "store_closed",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::WrongPin { .. } => "wrong_pin",
            ApiError::PinDelay { .. } => "pin_delay",
            ApiError::LockedOut { .. } => "locked_out",
            ApiError::WeakPin { .. } => "weak_pin",
            ApiError::InvalidInput { .. } => "invalid_input",
            ApiError::NotValid { .. } => "not_valid",
            ApiError::NoRecipients { .. } => "no_recipients",
            ApiError::UnsupportedFormat { .. } => "unsupported_format",
            ApiError::Photo { .. } => "photo",
            ApiError::Envelope { .. } => "envelope",
            ApiError::InvalidFix { .. } => "invalid_fix",
            ApiError::InvalidAreas { .. } => "invalid_areas",
            ApiError::StaleDraft { .. } => "stale_draft",
            ApiError::Tampered { .. } => "tampered",
            ApiError::RolledBack { .. } => "rolled_back",
            ApiError::Callback { .. } => "callback",
            ApiError::NotEnrolled { .. } => "not_enrolled",
            ApiError::ServerRefused { .. } => "server_refused",
            ApiError::ServerUnavailable { .. } => "server_unavailable",
            ApiError::ServerUnreachable { .. } => "server_unreachable",
            ApiError::ServerUntrusted { .. } => "server_untrusted",
        }
    }

    // ----- constructors: a case's message is made from its fields, here and only here ----------

    pub(crate) fn unknown_form(id: &str) -> ApiError {
        ApiError::UnknownForm { detail: format!("no built-in form `{id}`"), id: id.to_string() }
    }

    /// A value the field at `path` cannot take; `problem` says why without quoting the value.
    pub(crate) fn invalid_answer(path: String, problem: &str) -> ApiError {
        ApiError::InvalidAnswer { detail: format!("{path}: {problem}"), path }
    }

    fn unknown_language(language: String) -> ApiError {
        ApiError::UnknownLanguage {
            detail: format!("language `{language}` is not one of the form's languages"),
            language,
        }
    }

    /// A bug: `what` happened. Never the text of a panic (it could quote data).
    pub(crate) fn internal(what: &str) -> ApiError {
        ApiError::Internal { detail: format!("internal error: {what}") }
    }

    pub(crate) fn wrong_key() -> ApiError {
        ApiError::WrongKey { detail: "the data key does not open this database".into() }
    }

    fn newer_schema(found: i64, supported: i64) -> ApiError {
        ApiError::NewerSchema {
            detail: format!(
                "the database has schema version {found}; this app supports up to {supported}"
            ),
            found,
            supported,
        }
    }

    fn disk_full() -> ApiError {
        ApiError::DiskFull { detail: "the device's storage is full; nothing was changed".into() }
    }

    fn read_only() -> ApiError {
        ApiError::ReadOnly { detail: "the database is read-only; nothing was changed".into() }
    }

    fn interrupted() -> ApiError {
        ApiError::Interrupted { detail: "the operation was interrupted".into() }
    }

    /// Any call on a store, profile session or draft after `closeStore()`.
    pub(crate) fn store_closed() -> ApiError {
        ApiError::StoreClosed { detail: "the store is closed".into() }
    }

    pub(crate) fn not_found(entity: &str, id: String) -> ApiError {
        ApiError::NotFound { detail: format!("{entity} {id} not found"), entity: entity.into(), id }
    }

    fn forbidden(role: &str, action: &str) -> ApiError {
        ApiError::Forbidden {
            detail: format!("a {role} may not {action}"),
            role: role.into(),
            action: action.into(),
        }
    }

    fn wrong_pin(attempts_remaining: i32) -> ApiError {
        ApiError::WrongPin {
            detail: format!("wrong PIN; {attempts_remaining} attempt(s) remaining before lockout"),
            attempts_remaining,
        }
    }

    fn pin_delay(retry_at_ms: i64) -> ApiError {
        ApiError::PinDelay {
            detail: format!("too many wrong PINs; try again at {retry_at_ms} (ms since the epoch)"),
            retry_at_ms,
        }
    }

    fn locked_out() -> ApiError {
        ApiError::LockedOut {
            detail: "profile locked after too many wrong PINs; a supervisor must reset its PIN"
                .into(),
        }
    }

    fn weak_pin() -> ApiError {
        ApiError::WeakPin { detail: "a PIN needs 4 to 12 digits".into() }
    }

    fn not_valid(count: i32, first_path: String) -> ApiError {
        ApiError::NotValid {
            detail: format!("the form is not valid: {count} problem(s), first at {first_path}"),
            count,
            first_path,
        }
    }

    fn no_recipients() -> ApiError {
        ApiError::NoRecipients {
            detail: "no recipients configured: add the organisation's archive key and the \
                     supervisors' keys first"
                .into(),
        }
    }

    /// A refused fix: the message starts with the reason's code, then the core's explanation.
    fn invalid_fix(reason: FixRefusal, explanation: &dyn std::fmt::Display) -> ApiError {
        ApiError::InvalidFix { detail: format!("{}: {explanation}", reason.code()), reason }
    }

    /// A session whose lock a panic poisoned.
    pub(crate) fn poisoned() -> ApiError {
        ApiError::internal(
            "the session is unusable after an earlier internal error; restore it from the last \
             saved state",
        )
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
        ApiError::internal(&format!("serializing to JSON failed: {e}"))
    }
}

impl From<FormError> for ApiError {
    fn from(e: FormError) -> Self {
        let detail = e.to_string();
        match e {
            FormError::Parse(p) => ApiError::InvalidForm {
                line: Some(small(p.line)),
                column: Some(small(p.column)),
                path: None,
                detail,
            },
            FormError::Definition(problems) => ApiError::InvalidForm {
                line: None,
                column: None,
                path: problems.into_iter().next().map(|p| p.path),
                detail,
            },
        }
    }
}

/// A spreadsheet is a form definition like JSON: the same case. `path` is the first problem's
/// cell (`survey!F14`); `detail` lists every problem, one per line (an author fixes them all at
/// once). An unreadable file has no path.
impl From<XlsformError> for ApiError {
    fn from(e: XlsformError) -> Self {
        match e {
            XlsformError::Unreadable(detail) => {
                ApiError::InvalidForm { line: None, column: None, path: None, detail }
            }
            XlsformError::Problems(problems) => {
                let path = problems.first().map(|p| format!("{}!{}", p.sheet, p.cell));
                let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
                let detail =
                    format!("{} problem(s) in the spreadsheet:\n{}", lines.len(), lines.join("\n"));
                ApiError::InvalidForm { line: None, column: None, path, detail }
            }
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        let detail = e.to_string();
        match e {
            SessionError::UnknownField { path }
            | SessionError::BadPath { path, .. }
            | SessionError::NoSuchInstance { path, .. }
            | SessionError::NotARepeat { path } => ApiError::InvalidPath { path, detail },
            // The core quotes the rejected choice name; it came from the user, so drop it.
            SessionError::Answer { path, error: AnswerError::NotAChoice(_) } => {
                ApiError::invalid_answer(path, "not one of the field's choices")
            }
            // Notes, calculations, groups: answering them is not a bad value but a bad request.
            SessionError::Answer { path, error: AnswerError::NotAnswerable(_) } => {
                ApiError::NotAllowed { path, detail }
            }
            SessionError::Answer { path, .. } => ApiError::InvalidAnswer { path, detail },
            SessionError::ReadOnly { path }
            | SessionError::FixedRepeat { path }
            | SessionError::TooManyInstances { path, .. } => ApiError::NotAllowed { path, detail },
            SessionError::UnknownLanguage(language) => ApiError::unknown_language(language),
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
            StoreError::WrongKey => ApiError::wrong_key(),
            StoreError::NewerSchema { found, supported } => {
                ApiError::newer_schema(found, supported)
            }
            StoreError::DiskFull => ApiError::disk_full(),
            StoreError::ReadOnly => ApiError::read_only(),
            StoreError::Corrupt | StoreError::BadData(_) | StoreError::UnknownValue(_) => {
                ApiError::Corrupt { detail }
            }
            StoreError::Interrupted => ApiError::interrupted(),
            StoreError::Sqlite(_) => ApiError::Storage { detail },
            // A value that does not decrypt under a key that opened the database was altered.
            StoreError::Crypto(CryptoError::Decrypt { .. }) => ApiError::Corrupt { detail },
            StoreError::Crypto(_) => ApiError::Storage { detail },
            StoreError::NotFound { entity, id } => ApiError::not_found(entity, id),
            StoreError::Forbidden { role, action } => ApiError::forbidden(role, action),
            StoreError::WrongPin { remaining } => ApiError::wrong_pin(small(remaining)),
            StoreError::PinDelay { retry_at_ms } => ApiError::pin_delay(retry_at_ms),
            StoreError::LockedOut => ApiError::locked_out(),
            StoreError::WeakPin => ApiError::weak_pin(),
            StoreError::InvalidState { .. } => ApiError::InvalidState { detail },
            StoreError::StaleDraft { id } => ApiError::StaleDraft { record_id: id, detail },
            StoreError::Tampered { table, row } => {
                ApiError::Tampered { table: table.to_string(), row, detail }
            }
            StoreError::RolledBack { kept_length, found_length } => {
                ApiError::RolledBack { kept_length, found_length, detail }
            }
            StoreError::Invalid { .. } => ApiError::InvalidInput { detail },
            StoreError::Form(e) => e.into(),
            StoreError::Session(e) => e.into(),
            // Only the count and the first path cross: a violation's message may name a child.
            StoreError::NotValid(violations) => ApiError::not_valid(
                small(violations.len()),
                violations.into_iter().next().map(|v| v.path).unwrap_or_default(),
            ),
            StoreError::NoRecipients => ApiError::no_recipients(),
            StoreError::Photo(e) => e.into(),
            StoreError::Envelope(_) => ApiError::Envelope { detail },
            StoreError::Fix(e) => e.into(),
            StoreError::FixNotAccepted(e) => e.into(),
            // The core built a submission it cannot encode canonically: its bug, not the app's.
            StoreError::NotCanonical(_) => ApiError::Internal { detail },
            // Likewise a value of its own that it could not serialise for a write.
            StoreError::Encode { .. } => ApiError::Internal { detail },
            StoreError::Areas(e) => e.into(),
        }
    }
}

impl From<PhotoError> for ApiError {
    fn from(e: PhotoError) -> Self {
        let detail = e.to_string();
        match e {
            PhotoError::UnsupportedFormat { format } => {
                ApiError::UnsupportedFormat { format, detail }
            }
            _ => ApiError::Photo { detail },
        }
    }
}

impl From<FixError> for ApiError {
    fn from(e: FixError) -> Self {
        ApiError::invalid_fix(FixRefusal::from(&e), &e)
    }
}

impl From<AcceptError> for ApiError {
    fn from(e: AcceptError) -> Self {
        match e {
            AcceptError::ConfirmationRequired { .. } => {
                ApiError::invalid_fix(FixRefusal::ConfirmationRequired, &e)
            }
        }
    }
}

impl From<AreasError> for ApiError {
    fn from(e: AreasError) -> Self {
        let detail = e.to_string();
        let first = match &e {
            AreasError::Features(features) => features.first(),
            AreasError::Json { .. } | AreasError::NotFeatureCollection(_) | AreasError::Empty => {
                None
            }
        };
        ApiError::InvalidAreas {
            feature_index: first.map(|f| small(f.index)),
            feature_code: first.and_then(|f| f.code.clone()),
            detail,
        }
    }
}

/// The error of foreign callbacks (log sink, progress listener). Not `ApiError`: its cases are
/// the core's refusals, which a Kotlin or Swift implementation has no business throwing; a
/// callback fails in one way. An implementation either throws `CallbackException.Failed`
/// itself, or anything else, which arrives here through `From<UnexpectedUniFFICallbackError>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        let detail = e.to_string();
        let status = |s: u16| i32::from(s);
        match e {
            SyncError::NotEnrolled => ApiError::NotEnrolled { detail },
            SyncError::Stopped { status: s, code, .. }
            | SyncError::Refused { status: s, code, .. } => {
                ApiError::ServerRefused { status: status(s), code, detail }
            }
            SyncError::Unavailable { status: s, code, .. } => {
                ApiError::ServerUnavailable { status: status(s), code, detail }
            }
            SyncError::Unreachable(_) => ApiError::ServerUnreachable { detail },
            SyncError::BadResponse { .. }
            | SyncError::UntrustedConfig(_)
            | SyncError::ServerKeyMismatch { .. } => ApiError::ServerUntrusted { detail },
            SyncError::Invalid { .. } => ApiError::InvalidInput { detail },
            SyncError::Misuse(what) => ApiError::internal(what),
            SyncError::Seal(e) => {
                ApiError::Envelope { detail: format!("sealing a submission: {e}") }
            }
            SyncError::Store(e) => e.into(),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed { reason: e.reason }
    }
}

impl From<CallbackError> for ApiError {
    fn from(e: CallbackError) -> Self {
        ApiError::Callback { detail: format!("a callback failed: {e}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safehome_core::form::session::{Violation, ViolationCode};
    use safehome_core::location::{AreaError, AreaErrorKind};
    use safehome_core::store::outbox::OutboxState;

    fn violation(path: &str, message: &str) -> Violation {
        Violation { path: path.into(), code: ViolationCode::Required, message: message.into() }
    }

    #[test]
    fn a_rejected_choice_is_not_echoed() {
        let e = SessionError::Answer {
            path: "consent".into(),
            error: AnswerError::NotAChoice("Nguyen Van A".into()),
        };
        let api = ApiError::from(e);
        assert_eq!(
            api,
            ApiError::InvalidAnswer {
                path: "consent".into(),
                detail: "consent: not one of the field's choices".into(),
            }
        );
        assert!(!format!("{api:?}").contains("Nguyen"), "{api:?}");
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
    fn session_errors_map_to_stable_codes_and_paths() {
        let cases = [
            (SessionError::UnknownField { path: "x".into() }, "invalid_path"),
            (SessionError::BadPath { path: "x".into(), reason: "bad".into() }, "invalid_path"),
            (SessionError::NoSuchInstance { path: "x".into(), index: 9 }, "invalid_path"),
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
            (SessionError::TooManyInstances { path: "x".into(), max: 20 }, "not_allowed"),
            (
                SessionError::Answer {
                    path: "x".into(),
                    error: AnswerError::TypeMismatch {
                        expected: "a whole number",
                        got: "a string of 6 characters".into(),
                    },
                },
                "invalid_answer",
            ),
        ];
        for (e, code) in cases {
            let detail = e.to_string();
            let api = ApiError::from(e);
            assert_eq!(api.code(), code);
            // The message for logs is the core's own, which starts with the same path.
            assert_eq!(api.to_string(), detail);
            match api {
                ApiError::InvalidPath { path, .. }
                | ApiError::NotAllowed { path, .. }
                | ApiError::InvalidAnswer { path, .. } => assert_eq!(path, "x"),
                other => unreachable!("{other:?}"),
            }
        }
        let language = ApiError::from(SessionError::UnknownLanguage("fr".into()));
        assert_eq!(
            language,
            ApiError::UnknownLanguage {
                language: "fr".into(),
                detail: "language `fr` is not one of the form's languages".into(),
            }
        );
        assert_eq!(ApiError::from(SessionError::BadState("x".into())).code(), "invalid_state");
    }

    #[test]
    fn store_errors_map_to_stable_codes() {
        let cases: Vec<(StoreError, &str)> = vec![
            (StoreError::WrongKey, "wrong_key"),
            (StoreError::NewerSchema { found: 9, supported: 2 }, "newer_schema"),
            (StoreError::DiskFull, "disk_full"),
            (StoreError::ReadOnly, "read_only"),
            (StoreError::Corrupt, "corrupt"),
            (StoreError::BadData("JSON at line 1".into()), "corrupt"),
            (
                StoreError::Encode { what: "draft", detail: "key must be a string".into() },
                "internal",
            ),
            (StoreError::UnknownValue("sent".parse::<OutboxState>().unwrap_err()), "corrupt"),
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
            (
                StoreError::NotValid(vec![violation("x", "Cần nhập tuổi của Lò Văn Páo")]),
                "not_valid",
            ),
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
            (FixError::NullIsland.into(), "invalid_fix"),
            (
                StoreError::NotCanonical(safehome_core::canonical::CanonicalError::UnsafeInteger {
                    path: "data.children[2].age".into(),
                }),
                "internal",
            ),
            (StoreError::StaleDraft { id: "r1".into() }, "stale_draft"),
            (StoreError::Tampered { table: "profiles", row: "p1".into() }, "tampered"),
            (StoreError::Areas(AreasError::Empty), "invalid_areas"),
        ];
        for (e, code) in cases {
            let api = ApiError::from(e);
            assert_eq!(api.code(), code, "{api:?}");
            assert!(!api.to_string().is_empty(), "{api:?}");
            // The violation's message names the child: only the count and path cross.
            assert!(!format!("{api:?}").contains("Páo"), "{api:?}");
        }
    }

    #[test]
    fn pin_errors_carry_attempts_and_retry_time() {
        assert_eq!(
            ApiError::from(StoreError::WrongPin { remaining: 4 }),
            ApiError::WrongPin {
                attempts_remaining: 4,
                detail: "wrong PIN; 4 attempt(s) remaining before lockout".into(),
            }
        );
        assert_eq!(
            ApiError::from(StoreError::WrongPin { remaining: u32::MAX }),
            ApiError::wrong_pin(i32::MAX),
        );
        assert_eq!(
            ApiError::from(StoreError::PinDelay { retry_at_ms: 1_795_924_830_000 }),
            ApiError::PinDelay {
                retry_at_ms: 1_795_924_830_000,
                detail: "too many wrong PINs; try again at 1795924830000 (ms since the epoch)"
                    .into(),
            }
        );
        assert_eq!(ApiError::from(StoreError::LockedOut).code(), "locked_out");
    }

    #[test]
    fn store_errors_carry_their_fields() {
        assert_eq!(
            ApiError::from(StoreError::NewerSchema { found: 9, supported: 2 }),
            ApiError::NewerSchema {
                found: 9,
                supported: 2,
                detail: "the database has schema version 9; this app supports up to 2".into(),
            }
        );
        assert_eq!(
            ApiError::from(StoreError::NotFound { entity: "record", id: "r1".into() }),
            ApiError::NotFound {
                entity: "record".into(),
                id: "r1".into(),
                detail: "record r1 not found".into(),
            }
        );
        assert_eq!(
            ApiError::from(StoreError::Forbidden { role: "volunteer", action: "review" }),
            ApiError::Forbidden {
                role: "volunteer".into(),
                action: "review".into(),
                detail: "a volunteer may not review".into(),
            }
        );
        let heic = ApiError::from(PhotoError::UnsupportedFormat { format: "HEIC".into() });
        assert_eq!(
            heic,
            ApiError::UnsupportedFormat {
                format: "HEIC".into(),
                detail: "unsupported image format: HEIC (JPEG, PNG and WebP are accepted)".into(),
            }
        );
    }

    #[test]
    fn not_valid_gives_count_and_first_path() {
        let e = ApiError::from(StoreError::NotValid(vec![
            violation("consent", "Lò Văn Páo"),
            violation("head_name", ""),
        ]));
        assert_eq!(
            e,
            ApiError::NotValid {
                count: 2,
                first_path: "consent".into(),
                detail: "the form is not valid: 2 problem(s), first at consent".into(),
            }
        );
    }

    #[test]
    fn fix_errors_carry_the_reason_and_its_code() {
        let cases = [
            (FixError::NotFinite { field: "latitude" }, FixRefusal::NotFinite),
            (
                FixError::OutOfRange { field: "latitude", value: 95.0, min: -90.0, max: 90.0 },
                FixRefusal::OutOfRange,
            ),
            (FixError::NullIsland, FixRefusal::NullIsland),
            (
                FixError::AccuracyNotPositive { field: "accuracy", value: 0.0 },
                FixRefusal::AccuracyNotPositive,
            ),
            (
                FixError::AccuracyAbsurd { field: "accuracy", value: 1e9, max: 1e5 },
                FixRefusal::AccuracyAbsurd,
            ),
            (FixError::InFuture { ahead_ms: 60_000, tolerance_ms: 5_000 }, FixRefusal::InFuture),
            (FixError::Stale { age_ms: 420_000, max_age_ms: 300_000 }, FixRefusal::Stale),
        ];
        for (fix, reason) in cases {
            // The reason's code is the core's.
            assert_eq!(reason.code(), fix.code());
            let e = ApiError::from(StoreError::Fix(fix.clone()));
            assert_eq!(e.code(), "invalid_fix");
            assert_eq!(
                e,
                ApiError::InvalidFix { reason, detail: format!("{}: {fix}", fix.code()) }
            );
        }
        let unconfirmed = AcceptError::ConfirmationRequired { accuracy_m: 45.0, warning_m: 30.0 };
        let e = ApiError::from(StoreError::FixNotAccepted(unconfirmed));
        let ApiError::InvalidFix { reason, detail } = e else { unreachable!("{e:?}") };
        assert_eq!(reason, FixRefusal::ConfirmationRequired);
        assert!(detail.starts_with("confirmation_required: accuracy 45 m"), "{detail}");
    }

    #[test]
    fn form_errors_give_the_position_or_the_path() {
        let syntax = match safehome_core::form::check::CheckedForm::from_json("{\"id\": \"tiny\",")
        {
            Err(e) => ApiError::from(e),
            Ok(_) => unreachable!("not JSON"),
        };
        let ApiError::InvalidForm { line, column, path, detail } = syntax else {
            unreachable!("{syntax:?}")
        };
        assert_eq!((line, path), (Some(1), None));
        assert!(column.is_some_and(|c| c > 1), "{column:?}");
        assert!(detail.starts_with("form JSON line 1, column "), "{detail}");

        let definition = match safehome_core::form::check::CheckedForm::from_json(
            r#"{"id": "tiny", "version": "1", "title": {"en": "Tiny"}, "languages": ["en"],
                "fields": [{"name": "name", "type": "text", "label": {"en": "Name?"},
                            "relevant": "${nobody} = 1"}]}"#,
        ) {
            Err(e) => ApiError::from(e),
            Ok(_) => unreachable!("refers to a field that does not exist"),
        };
        let ApiError::InvalidForm { line, column, path, detail } = definition else {
            unreachable!("{definition:?}")
        };
        assert_eq!((line, column), (None, None));
        let path = path.unwrap_or_default();
        assert!(
            !path.is_empty() && detail.contains(&path) && detail.contains("nobody"),
            "{detail}"
        );
    }

    #[test]
    fn area_errors_name_the_first_bad_feature() {
        let features = AreasError::Features(vec![
            AreaError { index: 3, code: Some("05569".into()), kind: AreaErrorKind::NoPolygons },
            AreaError { index: 7, code: None, kind: AreaErrorKind::MissingGeometry },
        ]);
        let detail = features.to_string();
        assert_eq!(
            ApiError::from(features),
            ApiError::InvalidAreas {
                feature_index: Some(3),
                feature_code: Some("05569".into()),
                detail,
            }
        );
        assert_eq!(
            ApiError::from(AreasError::Empty),
            ApiError::InvalidAreas {
                feature_index: None,
                feature_code: None,
                detail: "the FeatureCollection has no features".into(),
            }
        );
    }

    #[test]
    fn callback_errors_keep_their_text() {
        let cb = ApiError::from(CallbackError::Failed { reason: "gone".into() });
        assert_eq!(cb.code(), "callback");
        assert_eq!(cb.to_string(), "a callback failed: gone");
    }
}
