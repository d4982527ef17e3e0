//! Visits and incidents: a form session persisted as an encrypted draft, autosaved on every
//! answer, finalized in one transaction into a signed, queued submission.
//!
//! Lifecycle: draft -> finalized -> queued -> uploaded -> acknowledged. Finalize moves a draft
//! straight to queued (both steps are in the audit chain). A supervisor may return a submission:
//! it becomes `returned` and a new draft revision, linked to it, starts from its answers.

mod drafts;
mod finalize;
mod review;

use std::sync::Arc;

use ring::digest;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::fixes::RecordFixes;
use super::json;
use super::outbox::{OutboxItemKind, OutboxState};
use super::profiles::{Actor, Permission, Role};
use super::stored_enum::stored_enum;
use super::{Action, Store, StoreError, StoredEnum};
use crate::canonical;
use crate::form::risk::{self, Assessment, Level};
use crate::form::session::{Session, SessionState, TimingEvent, TimingKind};
use crate::hex;
use crate::location::{FlagCode, QualityFlag};

stored_enum! {
    /// What a record is a filling of.
    pub enum RecordKind("record kind" in "records"."kind") {
        /// A household visit (volunteers, supervisors).
        Visit = "visit",
        /// An injury incident (health workers, supervisors).
        Incident = "incident",
    }
}

stored_enum! {
    /// Where a record is in its lifecycle (see the module's documentation).
    pub enum RecordState("record state" in "records"."state") {
        /// Being filled in; every change is autosaved.
        Draft = "draft",
        /// Validated and signed. Finalize moves on to `Queued` in the same transaction, so a
        /// stored record is never seen in this state; the audit chain records both steps.
        Finalized = "finalized",
        /// Signed and waiting in the outbox.
        Queued = "queued",
        /// Received by the server, not yet acknowledged.
        Uploaded = "uploaded",
        /// Acknowledged by the server by its hash; its payload may be purged after retention.
        Acknowledged = "acknowledged",
        /// Returned by a supervisor; a new draft revision continues it.
        Returned = "returned",
    }
}

/// An open draft: the live form session of one record. The app keeps it while the volunteer
/// fills the form; every change goes through the store so it is autosaved.
///
/// A draft in memory always equals the stored draft: a change is applied and saved; if the
/// save fails, the draft is read back from the database (`Store::change_draft`). Each save checks that the stored draft is
/// still at the revision this copy was loaded at, so a second copy of the same record (another
/// process, or a screen that kept an old copy) is refused as stale instead of overwriting newer
/// answers. The bindings hand out one shared copy per record, so an app never meets that.
pub struct Draft {
    pub record_id: String,
    pub kind: RecordKind,
    owner_id: String,
    session: Session,
    /// How many of the session's timing events are already in `record_events`.
    saved_events: usize,
    /// `records.draft_rev` when this copy was loaded or last saved.
    revision: i64,
    /// The platform fixes its geopoints were answered with (see `fixes`).
    pub(crate) fixes: RecordFixes,
}

impl Draft {
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn owner_id(&self) -> &str {
        &self.owner_id
    }

    /// The platform fixes the draft's geopoint answers were given with, by path.
    pub fn fixes(&self) -> &std::collections::BTreeMap<String, crate::location::AcceptedFix> {
        &self.fixes
    }

    /// For the store's own changes, which go through `Store::change_draft`.
    pub(super) fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draft").field("record_id", &self.record_id).finish_non_exhaustive()
    }
}

/// A record as its owner or a supervisor sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordView {
    pub id: String,
    pub kind: RecordKind,
    pub household_id: Option<String>,
    pub child_ref: Option<String>,
    pub form_id: String,
    pub form_version: String,
    pub owner_id: String,
    pub state: RecordState,
    pub revision: i64,
    pub revision_of: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finalized_at_ms: Option<i64>,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    /// The signed submission (finalized records), or the draft's current output.
    pub data: Json,
    /// The signed submission's assessment, or the draft's as it stands; `None` for forms
    /// without risk rules and once purged.
    pub assessment: Option<Assessment>,
    pub submission_sha256: Option<String>,
    pub signature: Option<String>,
    pub return_note: Option<String>,
    /// The location quality flags sealed at finalize (empty for drafts and records without a
    /// platform fix).
    pub quality_flags: Vec<QualityFlag>,
}

/// One line of a supervisor's review queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueItem {
    pub id: String,
    pub kind: RecordKind,
    pub household_id: Option<String>,
    pub owner_id: String,
    pub state: RecordState,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: Option<i64>,
    /// The codes of its location quality flags, for the supervisor to see at a glance.
    pub quality_flags: Vec<FlagCode>,
}

/// What finalize returns: enough for the app to show the outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finalized {
    pub record_id: String,
    pub outbox_id: String,
    pub submission_sha256: String,
    pub assessment: Option<Assessment>,
}

/// `CASE risk_level WHEN 'urgent' THEN 0 ... ELSE n END`: the most serious level first, records
/// without a level last. Written from `Level` itself, so that a new level sorts in its place
/// instead of falling silently among the records without one.
pub(crate) fn level_rank_sql() -> String {
    let levels = <Level as StoredEnum>::ALL;
    let mut sql = String::from("CASE risk_level");
    for (rank, level) in levels.iter().rev().enumerate() {
        sql.push_str(&format!(" WHEN '{}' THEN {rank}", level.as_str()));
    }
    sql.push_str(&format!(" ELSE {} END", levels.len()));
    sql
}

/// Move a record to a new lifecycle state inside a transaction, checking where it comes from.
pub(crate) fn transition(
    tx: &Transaction<'_>,
    id: &str,
    from: &[RecordState],
    to: RecordState,
    at: i64,
) -> Result<(), StoreError> {
    let state: Option<RecordState> = tx
        .query_row("SELECT state FROM records_v WHERE id = ?1", params![id], |r| r.get(0))
        .optional()?;
    let state = state.ok_or_else(|| StoreError::NotFound { entity: "record", id: id.into() })?;
    if !from.contains(&state) {
        return Err(StoreError::InvalidState {
            entity: "record",
            id: id.into(),
            state: state.to_string(),
            action: "advance",
        });
    }
    let ack = (to == RecordState::Acknowledged).then_some(at);
    tx.execute(
        "UPDATE records SET state = ?2, updated_at = ?3, acknowledged_at = coalesce(?4, acknowledged_at) WHERE id = ?1",
        params![id, to, at, ack],
    )?;
    Ok(())
}

/// Roles that may hold drafts of each kind (used by the access tests).
pub fn may_record(role: Role, kind: RecordKind) -> bool {
    match kind {
        RecordKind::Visit => matches!(role, Role::Volunteer | Role::Supervisor),
        RecordKind::Incident => matches!(role, Role::HealthWorker | Role::Supervisor),
    }
}

/// A record's timing events, in order.
pub(super) fn load_events(
    conn: &rusqlite::Connection,
    record_id: &str,
) -> Result<Vec<TimingEvent>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT at, path, kind FROM record_events WHERE record_id = ?1 ORDER BY seq")?;
    let rows: Vec<(i64, String, String)> = stmt
        .query_map(params![record_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(at_ms, path, kind)| {
            let kind: TimingKind = json::from_value("timing event", Json::String(kind))?;
            Ok(TimingEvent { at_ms, path, kind })
        })
        .collect()
}

/// Why a write guarded by `state = 'draft' AND draft_rev = ?` touched no row: the record is
/// no longer a draft, or another copy of the draft saved since this one was loaded.
pub(super) fn refused_save(
    tx: &Transaction<'_>,
    record_id: &str,
    action: &'static str,
) -> Result<StoreError, StoreError> {
    let state: Option<RecordState> = tx
        .query_row("SELECT state FROM records_v WHERE id = ?1", params![record_id], |r| r.get(0))
        .optional()?;
    Ok(match state {
        None => StoreError::NotFound { entity: "record", id: record_id.into() },
        Some(RecordState::Draft) => StoreError::StaleDraft { id: record_id.into() },
        Some(state) => StoreError::InvalidState {
            entity: "record",
            id: record_id.into(),
            state: state.to_string(),
            action,
        },
    })
}

/// Append `events[from..]` to the record's event log.
pub(super) fn append_events(
    tx: &Transaction<'_>,
    record_id: &str,
    events: &[TimingEvent],
    from: usize,
) -> Result<(), StoreError> {
    if from >= events.len() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO record_events (record_id, seq, at, path, kind) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, e) in events.iter().enumerate().skip(from) {
        let kind = json::to_value("timing event", &e.kind)?;
        stmt.execute(params![
            record_id,
            i as i64,
            e.at_ms,
            e.path,
            kind.as_str().unwrap_or("shown")
        ])?;
    }
    Ok(())
}
