//! What a sync tells its caller: progress as it goes, the report at the end, and the typed
//! error that ends a sync early. FFI-friendly shapes: strings, `i64` counts, bytes and times.

use serde::{Deserialize, Serialize};

use super::transport::TransportError;
use crate::store::StoreError;

/// How far a sync is. `bytes_total` is an estimate until every submission is sealed (a
/// submission counts its plaintext size until then); `bytes_sent` counts retries too, so it
/// may pass it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncProgress {
    pub items_done: i64,
    pub items_total: i64,
    pub bytes_sent: i64,
    pub bytes_total: i64,
}

/// Receives progress while a sync runs (the app's progress bar; the CLI prints nothing).
pub trait Progress {
    fn update(&self, progress: &SyncProgress);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: &SyncProgress) {}
}

/// One record in a report: the record, its submission's outbox item and, for parked and
/// failed items, why (the server's code, or what failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemOutcome {
    pub record_id: String,
    pub outbox_id: String,
    pub reason: Option<String>,
}

/// The end of a sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Records acknowledged with a complete, verified receipt (with all their evidence).
    pub acknowledged: Vec<ItemOutcome>,
    /// Records the server holds whose receipt still lists missing evidence: they stay
    /// `uploaded`, and a later sync fetches the receipt again.
    pub incomplete: Vec<ItemOutcome>,
    /// Records refused for good in this sync (the server's code): kept, not sent again until
    /// an operator puts them back.
    pub parked: Vec<ItemOutcome>,
    /// Records that failed and will be retried after the outbox's backoff.
    pub failed: Vec<ItemOutcome>,
    /// Due records not tried because the sync ended early (`interrupted`).
    pub not_attempted: i64,
    /// Why the sync ended before every due record was tried (the network went away, the
    /// server is full or overloaded), if it did.
    pub interrupted: Option<String>,
    /// Request body bytes that reached the server (retries included).
    pub bytes_sent: i64,
    /// The checkin's answer: the server saw this device's audit chain go backwards (a database
    /// restored from an old copy).
    pub regression: bool,
    /// Server time minus device time, as learned in this sync.
    pub clock_offset_ms: i64,
    /// Items waiting in the outbox after the sync (pending or uploaded) and parked (all of
    /// them, not only this sync's).
    pub outbox_waiting: i64,
    pub outbox_parked: i64,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    /// The review half: decisions sent, records pulled, decisions applied.
    pub review: super::review::ReviewReport,
}

impl SyncReport {
    /// Every due record went, and nothing is parked or waiting for a retry.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
            && self.interrupted.is_none()
            && self.outbox_parked == 0
            && self.parked.is_empty()
    }

    pub(crate) fn summary(&self, result: &str) -> SyncSummary {
        SyncSummary {
            result: result.to_string(),
            acknowledged: self.acknowledged.len() as i64,
            incomplete: self.incomplete.len() as i64,
            parked: self.parked.len() as i64,
            failed: self.failed.len() as i64,
            not_attempted: self.not_attempted,
            bytes_sent: self.bytes_sent,
        }
    }
}

/// The last sync as the store keeps it (`SyncState::last_sync`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    /// `ok`, `interrupted: …` or `error: …`.
    pub result: String,
    pub acknowledged: i64,
    pub incomplete: i64,
    pub parked: i64,
    pub failed: i64,
    pub not_attempted: i64,
    pub bytes_sent: i64,
}

/// Why a sync or an enrollment ended without a report. Messages name what and where, never
/// personal data (the server's own `message` is cut and stripped of control characters).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No server key is pinned: enroll first.
    #[error("this device is not enrolled with a server; enroll it first")]
    NotEnrolled,
    /// The server will take nothing more from this device until a person acts: it was revoked,
    /// is unknown to the server (enroll again), or its signatures do not verify.
    #[error("the server refused this device: {status} {code} ({message})")]
    Stopped { status: u16, code: String, message: String },
    /// The server refused a request that is not an outbox item's (enrollment, checkin, config)
    /// for good, e.g. an enrollment code that is unknown, used or expired.
    #[error("the server refused {what}: {status} {code} ({message})")]
    Refused { what: &'static str, status: u16, code: String, message: String },
    /// The server answered {what} with an error to retry later (overloaded, full, internal).
    #[error("the server cannot take {what} now: {status} {code}; try again later")]
    Unavailable { what: &'static str, status: u16, code: String },
    /// No answer from the server before any record was sent.
    #[error("the server cannot be reached: {0}")]
    Unreachable(TransportError),
    /// An answer that does not follow the protocol (unparseable JSON, a body over the limit,
    /// a configuration for another device).
    #[error("the server's answer to {what} is not valid: {detail}")]
    BadResponse { what: &'static str, detail: String },
    /// A team configuration that does not verify under the pinned server key (another server,
    /// or a man in the middle): nothing from it is applied.
    #[error("the team configuration is not signed by the server key pinned at enrollment: {0}")]
    UntrustedConfig(String),
    /// Enrollment answered by a server whose key is not the one pinned (or not the one given
    /// to check against).
    #[error("the server's key {found} is not {expected}")]
    ServerKeyMismatch { expected: String, found: String },
    /// Bad input from the caller (`field` names it).
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The engine was driven out of order (a response with no request in flight): a bug.
    #[error("sync engine misuse: {0}")]
    Misuse(&'static str),
    #[error("sealing a submission: {0}")]
    Seal(#[from] crate::evidence::envelope::EnvelopeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
