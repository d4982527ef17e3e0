//! Upload to the team's server: enrollment with a one-time code, a sync's report and the last
//! sync's status, over the app's [`HttpTransport`]. The engine is the core's (`sync::run`):
//! this module converts its report and forwards its progress.
//!
//! Depends on `errors`, `logging`, `progress`, `transport`.

use std::sync::Arc;

use safehome_core::store::Store;
use safehome_core::store::profiles::Actor;
use safehome_core::sync::{self, SyncProgress};

use crate::errors::ApiError;
use crate::logging::{self, LogLevel};
use crate::progress::{self, ProgressListener};
use crate::transport::{ForeignTransport, HttpTransport};

/// The team configuration the server gave at enrollment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerEnrollment {
    pub team: String,
    pub communes: Vec<String>,
    /// `volunteer`, `supervisor` or `health_worker`: what the enrollment code was for.
    pub role: String,
    /// The server's key (`shserver1…`), now pinned: later answers signed by another key are
    /// refused. Compare it with the key `safehome-server init` printed.
    pub server_public_key: String,
    /// How many keys submissions are sealed to (the archive and the team's supervisors).
    pub recipients: i32,
}

/// One record in a sync report.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncItem {
    pub record_id: String,
    pub outbox_id: String,
    /// For parked and failed records: the server's code or what failed.
    pub reason: Option<String>,
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Acknowledged by a verified, complete receipt (with all their photos): the retention
    /// clock has started.
    pub acknowledged: Vec<SyncItem>,
    /// On the server, but some photo has not arrived yet; the next sync finishes them.
    pub incomplete: Vec<SyncItem>,
    /// Refused for good by the server (`reason`): kept on the phone, not sent again; show them.
    pub parked: Vec<SyncItem>,
    /// Failed this time; retried after a backoff.
    pub failed: Vec<SyncItem>,
    /// Records not tried because the sync ended early (`interrupted` says why).
    pub not_attempted: i64,
    pub interrupted: Option<String>,
    pub bytes_sent: i64,
    /// The server saw this phone's audit chain go backwards: the database was restored from an
    /// old copy. Tell the supervisor.
    pub regression: bool,
    /// Server time minus phone time: a phone whose clock is off still syncs.
    pub clock_offset_ms: i64,
    /// Items still waiting to upload, and parked, after the sync.
    pub outbox_waiting: i64,
    pub outbox_parked: i64,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    /// The review half: decisions up, the team's records (supervisors) and decisions down.
    pub review: ReviewSummary,
}

/// The phone's standing with its server, for a status screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    pub enrolled: bool,
    pub server_url: Option<String>,
    pub server_public_key: Option<String>,
    pub clock_offset_ms: i64,
    /// When the last sync ended (phone clock), and its result: `ok`, `interrupted: …` or
    /// `error: …`.
    pub last_sync_at_ms: Option<i64>,
    pub last_result: Option<String>,
    pub regression: bool,
}

fn items(list: Vec<sync::ItemOutcome>) -> Vec<SyncItem> {
    list.into_iter()
        .map(|i| SyncItem { record_id: i.record_id, outbox_id: i.outbox_id, reason: i.reason })
        .collect()
}

impl From<sync::SyncReport> for SyncReport {
    fn from(r: sync::SyncReport) -> Self {
        SyncReport {
            acknowledged: items(r.acknowledged),
            incomplete: items(r.incomplete),
            parked: items(r.parked),
            failed: items(r.failed),
            not_attempted: r.not_attempted,
            interrupted: r.interrupted,
            bytes_sent: r.bytes_sent,
            regression: r.regression,
            clock_offset_ms: r.clock_offset_ms,
            outbox_waiting: r.outbox_waiting,
            outbox_parked: r.outbox_parked,
            started_at_ms: r.started_at_ms,
            finished_at_ms: r.finished_at_ms,
            review: r.review.into(),
        }
    }
}

/// Forwards the engine's progress to the app's listener: `sync` (records done of total) and
/// `sync.bytes` (bytes sent of the estimate, capped to the 32-bit range).
struct Forward(Option<Arc<dyn ProgressListener>>);

impl sync::Progress for Forward {
    fn update(&self, p: &SyncProgress) {
        let small = |v: i64| i32::try_from(v.clamp(0, i64::from(i32::MAX))).unwrap_or(i32::MAX);
        progress::report(self.0.as_ref(), "sync", small(p.items_done), small(p.items_total));
        progress::report(self.0.as_ref(), "sync.bytes", small(p.bytes_sent), small(p.bytes_total));
    }
}

pub(crate) fn enroll(
    store: &Store,
    actor: &Actor,
    transport: Arc<dyn HttpTransport>,
    server_url: &str,
    code: &str,
    server_key: Option<&str>,
    recipient_key: Option<&str>,
) -> Result<ServerEnrollment, ApiError> {
    let base = sync::normalize_base_url(server_url)?;
    let t = ForeignTransport::new(&base, transport);
    let config = sync::enroll(store, actor, &t, &base, code, server_key, recipient_key)?;
    logging::emit(LogLevel::Info, "profile.enroll_with_server", || {
        format!("enrolled in team with {} recipient(s)", config.recipients.len())
    });
    Ok(ServerEnrollment {
        team: config.team,
        communes: config.communes,
        role: config.role,
        server_public_key: config.server_public_key,
        recipients: i32::try_from(config.recipients.len()).unwrap_or(i32::MAX),
    })
}

pub(crate) fn run(
    store: &Store,
    actor: &Actor,
    transport: Arc<dyn HttpTransport>,
    listener: Option<Arc<dyn ProgressListener>>,
    evidence_budget: i64,
) -> Result<SyncReport, ApiError> {
    let state = store.sync_state()?;
    let base = state.base_url.ok_or(ApiError::NotEnrolled {
        detail: "this device is not enrolled with a server; enroll it first".into(),
    })?;
    let t = ForeignTransport::new(&base, transport);
    let report = sync::run_with(store, actor, &t, &Forward(listener), evidence_budget)?;
    Ok(report.into())
}

pub(crate) fn status(store: &Store) -> Result<SyncStatus, ApiError> {
    let s = store.sync_state()?;
    let last_result = s
        .last_sync
        .as_deref()
        .and_then(|j| serde_json::from_str::<sync::SyncSummary>(j).ok())
        .map(|summary| summary.result);
    Ok(SyncStatus {
        enrolled: s.is_enrolled(),
        server_url: s.base_url,
        server_public_key: s.server_key,
        clock_offset_ms: s.clock_offset_ms,
        last_sync_at_ms: s.last_sync_at_ms,
        last_result,
        regression: s.regression,
    })
}

/// A record or decision kept aside because it failed verification, and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Quarantined {
    pub id: String,
    pub reason: String,
}

fn quarantined(list: Vec<(String, String)>) -> Vec<Quarantined> {
    list.into_iter().map(|(id, reason)| Quarantined { id, reason }).collect()
}

/// What a sync's review half did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewSummary {
    pub decisions_sent: i64,
    /// Decisions made here that the server refused (see `decisions(recordId)` for why).
    pub decisions_refused: Vec<String>,
    pub listed: i64,
    pub pulled: i64,
    pub quarantined: Vec<Quarantined>,
    pub photos_fetched: i64,
    pub photo_bytes: i64,
    pub decisions_applied: i64,
    pub decisions_rejected: Vec<Quarantined>,
    /// Returned visits reopened on this phone: the new draft revisions' ids.
    pub reopened: Vec<String>,
    /// Why the review half stopped early (the rest waits for the next sync).
    pub stopped: Option<String>,
}

impl From<sync::ReviewReport> for ReviewSummary {
    fn from(r: sync::ReviewReport) -> Self {
        ReviewSummary {
            decisions_sent: r.decisions_sent,
            decisions_refused: r.decisions_refused,
            listed: r.listed,
            pulled: r.pulled,
            quarantined: quarantined(r.quarantined),
            photos_fetched: r.evidence_fetched,
            photo_bytes: r.evidence_bytes,
            decisions_applied: r.decisions_applied,
            decisions_rejected: quarantined(r.decisions_rejected),
            reopened: r.reopened,
            stopped: r.stopped,
        }
    }
}
