//! The supervisor's loop as the app sees it: received records (pulled from the team's server),
//! decisions, and what a sync's review half did, mirroring `safehome_core::store::received`,
//! `store::decisions` and `sync::ReviewReport`. The enums cross as the core's own types
//! (`#[uniffi::remote(Enum)]`), so a variant added in the core and not here fails to compile.

use safehome_core::form::risk::Level;
use safehome_core::store::decisions as d;
use safehome_core::store::received as rc;

pub use safehome_core::store::decisions::{DecisionKind, DecisionState};
pub use safehome_core::store::received::ReceivedState;

use super::{Assessment, QualityFlag, QuestionTiming, count};

/// What a supervisor decides about a record.
#[uniffi::remote(Enum)]
pub enum DecisionKind {
    /// Complete and correct.
    Approve,
    /// Back to the volunteer with comments; a revision follows.
    Return,
    /// Referred to the district, with a reason.
    Escalate,
    /// The action taken on an urgent case, and when (Decree 56/2017: within 12 hours).
    Act,
    /// The record's household is the same as another of the team's: merged into it
    /// (`mergeHouseholds`).
    Merge,
}

/// Where a decision is.
#[uniffi::remote(Enum)]
pub enum DecisionState {
    /// Made on this device, waiting for the next sync.
    Pending,
    /// Made here and stored by the server.
    Sent,
    /// Made here and refused: another supervisor's verdict stood (`detail` says which).
    Conflict,
    /// Made here and refused for another reason (`detail`: the record was superseded, ...).
    Refused,
    /// From another device, verified and applied.
    Received,
    /// From the feed and failed verification (`detail`); never applied.
    Rejected,
}

/// Where a pulled record is.
#[uniffi::remote(Enum)]
pub enum ReceivedState {
    /// Listed by the server; not fetched yet.
    Listed,
    /// Fetched, opened and verified.
    Valid,
    /// Failed verification (`quarantineReason`): never show it as valid.
    Quarantined,
}

/// A comment on one question (a return).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuestionComment {
    /// The question's path, e.g. `children[1]/child_age`.
    pub path: String,
    pub comment: String,
}

impl From<d::QuestionComment> for QuestionComment {
    fn from(c: d::QuestionComment) -> Self {
        QuestionComment { path: c.path, comment: c.comment }
    }
}

impl From<QuestionComment> for d::QuestionComment {
    fn from(c: QuestionComment) -> Self {
        d::QuestionComment { path: c.path, comment: c.comment }
    }
}

/// A decision about a record, with its content where this device can read it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DecisionView {
    pub id: String,
    pub record_id: String,
    pub kind: DecisionKind,
    /// The deciding supervisor's device.
    pub device_id: String,
    pub decided_at_ms: i64,
    /// For an action: when it was taken.
    pub action_at_ms: Option<i64>,
    /// For a merge: the household code merged away, and the code kept.
    pub merged_household: Option<String>,
    pub merged_into: Option<String>,
    pub state: DecisionState,
    /// The comment, reason or action (`null` when this device cannot read it).
    pub note: Option<String>,
    pub comments: Vec<QuestionComment>,
    /// Why it was refused or rejected, as the server or the check said.
    pub detail: Option<String>,
}

impl From<d::DecisionView> for DecisionView {
    fn from(x: d::DecisionView) -> Self {
        let (note, comments) = match x.content {
            Some(c) => (Some(c.note), c.comments.into_iter().map(Into::into).collect()),
            None => (None, Vec::new()),
        };
        let (merged_household, merged_into) = match x.merge {
            Some(m) => (Some(m.household), Some(m.into)),
            None => (None, None),
        };
        DecisionView {
            merged_household,
            merged_into,
            id: x.id,
            record_id: x.record_id,
            kind: x.kind,
            device_id: x.device_id,
            decided_at_ms: x.decided_at_ms,
            action_at_ms: x.action_at_ms,
            state: x.state,
            note,
            comments,
            detail: x.detail,
        }
    }
}

/// One line of the supervisor's queue of received records.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivedItem {
    pub record_id: String,
    /// The volunteer's device.
    pub device_id: String,
    pub kind: String,
    pub household_code: Option<String>,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    /// The deadline minus now (negative: overdue).
    pub time_left_ms: Option<i64>,
    pub finalized_at_ms: i64,
    pub revision: i64,
    pub verdict: Option<DecisionKind>,
    /// An action was recorded (urgent cases).
    pub acted: bool,
    /// Location quality flag codes.
    pub quality_flags: Vec<String>,
    /// Questions answered in under two seconds, of those answered: a form filled too fast.
    pub fast_answers: i32,
    pub answered: i32,
}

impl From<rc::ReceivedItem> for ReceivedItem {
    fn from(x: rc::ReceivedItem) -> Self {
        ReceivedItem {
            record_id: x.record_id,
            device_id: x.device_id,
            kind: x.kind,
            household_code: x.household_code,
            risk_level: x.risk_level,
            due_at_ms: x.due_at_ms,
            time_left_ms: x.time_left_ms,
            finalized_at_ms: x.finalized_at_ms,
            revision: x.revision,
            verdict: x.verdict,
            acted: x.acted,
            quality_flags: x.quality_flags,
            fast_answers: count(x.fast_answers),
            answered: count(x.answered),
        }
    }
}

/// One photo of a received record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivedPhoto {
    pub id: String,
    pub sha256: String,
    pub len: i64,
    /// Fetched and kept on this device (else `requestEvidence` and sync).
    pub cached: bool,
}

/// A received record, whole.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReceivedRecord {
    pub record_id: String,
    pub state: ReceivedState,
    pub quarantine_reason: Option<String>,
    pub device_id: String,
    pub kind: String,
    pub form_id: Option<String>,
    pub form_version: Option<String>,
    pub household_code: Option<String>,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: i64,
    pub received_at_ms: i64,
    pub revision: i64,
    pub revision_of: Option<String>,
    /// The revision that replaced it, once pulled.
    pub superseded_by: Option<String>,
    /// The volunteer's answers, as JSON (`null` unless valid).
    pub data_json: String,
    pub assessment: Option<Assessment>,
    pub quality_flags: Vec<QualityFlag>,
    pub timings: Vec<QuestionTiming>,
    pub photos: Vec<ReceivedPhoto>,
    pub decisions: Vec<DecisionView>,
}

impl From<rc::ReceivedView> for ReceivedRecord {
    fn from(x: rc::ReceivedView) -> Self {
        let data = x.submission.as_ref().map_or(serde_json::Value::Null, |s| s["data"].clone());
        ReceivedRecord {
            record_id: x.record_id,
            state: x.state,
            quarantine_reason: x.quarantine_reason,
            device_id: x.device_id,
            kind: x.kind,
            form_id: x.form_id,
            form_version: x.form_version,
            household_code: x.household_code,
            risk_level: x.risk_level,
            due_at_ms: x.due_at_ms,
            finalized_at_ms: x.finalized_at_ms,
            received_at_ms: x.received_at_ms,
            revision: x.revision,
            revision_of: x.revision_of,
            superseded_by: x.superseded_by,
            data_json: data.to_string(),
            assessment: x.assessment.map(Into::into),
            quality_flags: x.quality_flags.into_iter().map(Into::into).collect(),
            timings: x.timings.into_iter().map(Into::into).collect(),
            photos: x
                .evidence
                .into_iter()
                .map(|e| ReceivedPhoto { id: e.id, sha256: e.sha256, len: e.len, cached: e.cached })
                .collect(),
            decisions: x.decisions.into_iter().map(Into::into).collect(),
        }
    }
}
