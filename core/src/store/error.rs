//! Store errors: typed, with what went wrong and where, never personal data.

use crate::canonical::CanonicalError;
use crate::crypto::CryptoError;
use crate::form::check::FormError;
use crate::form::session::{SessionError, Violation};
use crate::store::UnknownValue;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the data key does not open this database")]
    WrongKey,
    #[error("the database has schema version {found}; this app supports up to {supported}")]
    NewerSchema { found: i64, supported: i64 },
    #[error("the device's storage is full; nothing was changed")]
    DiskFull,
    #[error("the database is read-only; nothing was changed")]
    ReadOnly,
    #[error("the database file is damaged or not a SafeHome database")]
    Corrupt,
    #[error("the operation was interrupted")]
    Interrupted,
    #[error("storage error: {0}")]
    Sqlite(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("a {role} may not {action}")]
    Forbidden { role: &'static str, action: &'static str },
    #[error("wrong PIN; {remaining} attempt(s) before lockout")]
    WrongPin { remaining: u32 },
    /// `retry_at_ms` is on the store's clock; the message gives it as a UTC time a person can
    /// read (the app shows its own local time from the field).
    #[error(
        "too many wrong PINs; try again after {}",
        crate::civil::format_iso_datetime(*retry_at_ms, 0)
    )]
    PinDelay { retry_at_ms: i64 },
    #[error("profile locked after too many wrong PINs; a supervisor must reset it")]
    LockedOut,
    #[error("a PIN needs 4 to 12 digits")]
    WeakPin,
    #[error("{entity} {id} is {state}; cannot {action}")]
    InvalidState { entity: &'static str, id: String, state: String, action: &'static str },
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the form is not valid: {} problem(s), first at {}", .0.len(), .0.first().map(|v| v.path.as_str()).unwrap_or(""))]
    NotValid(Vec<Violation>),
    #[error(
        "no recipients configured: set the organisation's archive key and the supervisors' keys before sealing"
    )]
    NoRecipients,
    #[error(transparent)]
    Photo(#[from] crate::evidence::photo::PhotoError),
    #[error(transparent)]
    Envelope(#[from] crate::evidence::envelope::EnvelopeError),
    #[error(transparent)]
    Fix(#[from] crate::location::FixError),
    #[error(transparent)]
    FixNotAccepted(#[from] crate::location::AcceptError),
    /// Assigned areas that are not valid GeoJSON areas (each bad feature named).
    #[error("assigned areas: {0}")]
    Areas(#[from] crate::location::AreasError),
    /// Stored data that does not read back as expected (JSON at line 3, an unknown role): the
    /// database was altered or damaged.
    #[error("stored data is unreadable: {0}")]
    BadData(String),
    /// A row whose security fields do not match their MAC: edited without the data key.
    #[error("{table} row {row} was changed outside the app (its integrity check fails)")]
    Tampered { table: &'static str, row: String },
    /// The database holds less of the audit chain than the anchor the app kept outside it
    /// (`Store::keep_anchor`), or another history: the file was put back to an older copy.
    #[error(
        "the database was restored from an older copy: its audit chain has {found_length} \
         entries, the app last saw {kept_length}"
    )]
    RolledBack { kept_length: i64, found_length: i64 },
    /// A value of the core's own could not be serialised for a write (`store::json`): a bug in
    /// the core, not a problem with the input or the stored data. Nothing was written.
    #[error("could not encode {what} for storage: {detail}")]
    Encode { what: &'static str, detail: String },
    /// A state, kind, role or level column holds text that is none of its enum's values (a
    /// database edited outside the app, or written by a newer one). Never read as a default.
    #[error("stored data is unreadable: {0}")]
    UnknownValue(#[from] UnknownValue),
    /// Another copy of this draft saved since this copy was loaded: saving would overwrite
    /// newer answers. Reopen the draft.
    #[error("record {id} was saved by another copy of its draft; reopen it")]
    StaleDraft { id: String },
    /// The app's own submission has no exact canonical encoding (an integer beyond ±2^53, say):
    /// nothing was signed or written. A bug to report, not a problem with the stored data.
    #[error("the submission cannot be signed: {0}")]
    NotCanonical(#[from] CanonicalError),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        // A stored enum's `FromSql` refused the text of its column: keep the typed error.
        if let rusqlite::Error::FromSqlConversionFailure(_, _, cause) = &e {
            if let Some(unknown) = cause.downcast_ref::<UnknownValue>() {
                return StoreError::UnknownValue(unknown.clone());
            }
        }
        // A row seal's check refused a row (store/sealed.rs).
        if let Some(tampered) = super::sealed::tampered_in(&e) {
            return tampered;
        }
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly,
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt,
            Some(ErrorCode::OperationInterrupted) => StoreError::Interrupted,
            // The message of an SQLite error names the statement's problem, never row data.
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}

// No `From<serde_json::Error>`: JSON errors go through `store::json`, which knows whether the
// JSON was being written (`Encode`) or read back (`BadData`).
