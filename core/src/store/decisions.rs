//! Supervisors' decisions on the device: those made here (signed and sealed by the sync layer,
//! kept `pending` until the server's receipt) and those received from the decision feed
//! (verified by the sync layer, then applied here: a returned visit reopens as a draft revision
//! with the comments; an approval marks the record approved).
//!
//! The store keeps and applies; the sync layer (`sync::review`) verifies signatures, seals and
//! opens envelopes, and speaks to the server. A record's verdict is never a column: it is the
//! latest verdict among its decisions, so a decision that arrives before its record (or a record
//! pulled after its decision) needs no reordering.

use std::sync::Arc;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};

use super::json;
use super::profiles::{Actor, Permission};
use super::records::RecordState;
use super::stored_enum::stored_enum;
use super::{Action, Store, StoreError};
use crate::form::session::{Session, SessionState};

/// The audit entity of decisions.
pub(crate) const DECISION_ENTITY: &str = "decision";

stored_enum! {
    /// What a supervisor decides about a record.
    pub enum DecisionKind("decision kind" in "decisions"."kind") {
        /// The record is complete and correct.
        Approve = "approve",
        /// Sent back to its volunteer with comments; a revision follows.
        Return = "return",
        /// Referred to the district, with a reason.
        Escalate = "escalate",
        /// The action taken on an urgent case, and when (Decree 56/2017's 12 hours).
        Act = "act",
        /// The record's household is the same as another household of the team: merged into
        /// it (the codes in [`HouseholdMerge`], in the signed header).
        Merge = "merge",
    }
}

impl DecisionKind {
    /// A verdict settles where the record stands (approve, return, escalate): a record has one
    /// current verdict, and a new one must name it as its base (the first decision stands). An
    /// action note (`act`) is added beside the verdict and conflicts with nothing; a merge is
    /// about the household, not the record's standing (the first merge of a household stands,
    /// checked by the server on its own).
    pub fn is_verdict(self) -> bool {
        !matches!(self, DecisionKind::Act | DecisionKind::Merge)
    }
}

/// Which household a merge folds into which, by code: routing metadata the server already sees
/// on every submission (names and locations stay sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdMerge {
    /// The household merged away: the code the decided record names.
    pub household: String,
    /// The household kept.
    pub into: String,
}

impl HouseholdMerge {
    /// Two different household codes, each 1 to 64 letters, digits or '-'.
    pub fn check(&self) -> Result<(), StoreError> {
        for (field, code) in [("merge.household", &self.household), ("merge.into", &self.into)] {
            let ok = !code.is_empty()
                && code.len() <= 64
                && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(StoreError::Invalid {
                    field,
                    message: "a household code: 1 to 64 letters, digits or '-'".into(),
                });
            }
        }
        if self.household == self.into {
            return Err(StoreError::Invalid {
                field: "merge.into",
                message: "a household cannot be merged into itself".into(),
            });
        }
        Ok(())
    }
}

stored_enum! {
    /// Where a decision is.
    pub enum DecisionState("decision state" in "decisions"."state") {
        /// Made here, waiting to be uploaded.
        Pending = "pending",
        /// Made here and stored by the server (its receipt verified).
        Sent = "sent",
        /// Made here and refused because another verdict stood (`detail`: the standing).
        Conflict = "conflict",
        /// Made here and refused for another reason (the record superseded, forbidden, ...).
        Refused = "refused",
        /// Received from the feed, verified and applied.
        Received = "received",
        /// Received from the feed and failed verification (`detail`: why); never applied.
        Rejected = "rejected",
    }
}

/// The content of a decision, sealed in its envelope: what the volunteer and the supervisors
/// read, never the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DecisionContent {
    /// The overall comment (return), the reason (escalate) or the action taken (act).
    pub note: String,
    /// Per question: the question's path and the comment shown next to it (return).
    #[serde(default)]
    pub comments: Vec<QuestionComment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionComment {
    pub path: String,
    pub comment: String,
}

/// The longest note or comment kept (characters).
pub const MAX_NOTE_CHARS: usize = 4_000;
/// The most per-question comments one decision carries.
pub const MAX_COMMENTS: usize = 500;

impl DecisionContent {
    /// Bounded, so that neither a supervisor's paste nor a hostile decision can make a device
    /// keep megabytes.
    pub fn check(&self) -> Result<(), StoreError> {
        let long = |field: &'static str| StoreError::Invalid {
            field,
            message: format!("at most {MAX_NOTE_CHARS} characters"),
        };
        if self.note.chars().count() > MAX_NOTE_CHARS {
            return Err(long("note"));
        }
        if self.comments.len() > MAX_COMMENTS {
            return Err(StoreError::Invalid {
                field: "comments",
                message: format!("at most {MAX_COMMENTS}"),
            });
        }
        for c in &self.comments {
            if c.comment.chars().count() > MAX_NOTE_CHARS {
                return Err(long("comments.comment"));
            }
            if c.path.is_empty() || c.path.len() > 512 {
                return Err(StoreError::Invalid {
                    field: "comments.path",
                    message: "1 to 512 bytes".into(),
                });
            }
        }
        Ok(())
    }
}

/// A decision as a device shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionView {
    pub id: String,
    pub record_id: String,
    pub kind: DecisionKind,
    /// The deciding supervisor's device.
    pub device_id: String,
    pub decided_at_ms: i64,
    pub action_at_ms: Option<i64>,
    /// For a merge: which household into which.
    pub merge: Option<HouseholdMerge>,
    pub state: DecisionState,
    /// The server's order (`None` until it has stored the decision).
    pub server_seq: Option<i64>,
    /// The content, when this device could open it.
    pub content: Option<DecisionContent>,
    /// Why it was refused or rejected, or where the record stood (a conflict), as the server or
    /// the check said.
    pub detail: Option<String>,
}

/// A decision to keep: made here (`Pending`, with its body) or verified from the feed
/// (`Received`, with the server's sequence number).
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub id: String,
    pub record_id: String,
    pub kind: DecisionKind,
    pub device_id: String,
    pub base: Option<String>,
    pub decided_at_ms: i64,
    pub action_at_ms: Option<i64>,
    /// For a merge (and only a merge): which household into which.
    pub merge: Option<HouseholdMerge>,
    pub content: Option<DecisionContent>,
    pub body: Vec<u8>,
    pub server_seq: Option<i64>,
}

/// What applying a received decision did on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Applied {
    /// Kept (a supervisor's device, or a decision on a record this device does not hold).
    Kept,
    /// A decision this device made, now confirmed by the feed.
    Confirmed,
    /// A returned visit reopened as this draft revision.
    Reopened { draft_id: String },
    /// A return that arrived while the volunteer already had a draft revision open: the draft is
    /// kept as it is, and the comments are shown beside it.
    CommentsOnOpenDraft { draft_id: String },
    /// A merge of one of this device's households: its visits re-linked to the kept household
    /// when this device holds it (`relinked` of them), otherwise it is marked merged into the
    /// kept code.
    Merged { household_id: String, relinked: usize },
    /// Already applied (the feed repeated it).
    Duplicate,
}

impl Store {
    /// Keep a decision made on this device, `pending` until the server's receipt, with an audit
    /// entry. The caller (the sync layer) has signed and sealed `body`.
    pub fn add_decision(&self, by: &Actor, d: &NewDecision) -> Result<(), StoreError> {
        by.require(Permission::ReviewTeam)?;
        let now = self.now_ms();
        self.write(|tx, s| {
            s.insert_decision(tx, d, DecisionState::Pending, None, now)?;
            s.audit(tx, Some(by.profile_id()), Action::Decided, DECISION_ENTITY, &d.id)
        })
    }

    fn insert_decision(
        &self,
        tx: &Transaction<'_>,
        d: &NewDecision,
        state: DecisionState,
        detail: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let content = d
            .content
            .as_ref()
            .map(|c| {
                let text = json::to_string("decision content", c)?;
                Ok::<_, StoreError>(self.keys().column.encrypt_str(
                    "decisions",
                    "content",
                    &d.id,
                    &text,
                )?)
            })
            .transpose()?;
        tx.execute(
            "INSERT INTO decisions (id, record_id, kind, device_id, base, decided_at, action_at,
                                    content_enc, body, state, server_seq, detail, created_at,
                                    merge_household, merge_into)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                d.id,
                d.record_id,
                d.kind,
                d.device_id,
                d.base,
                d.decided_at_ms,
                d.action_at_ms,
                content,
                d.body,
                state,
                d.server_seq,
                detail,
                now,
                d.merge.as_ref().map(|m| &m.household),
                d.merge.as_ref().map(|m| &m.into)
            ],
        )?;
        Ok(())
    }

    /// Decisions made here and not yet stored by the server, oldest first: (id, body).
    pub fn pending_decisions(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, body FROM decisions_v WHERE state = 'pending' ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<Vec<u8>>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, body): (String, Option<Vec<u8>>) = row?;
            out.push((id, body.unwrap_or_default()));
        }
        Ok(out)
    }

    /// The server stored a decision made here (its receipt verified): `sent`, with its place in
    /// the feed.
    pub fn decision_sent(&self, id: &str, server_seq: i64) -> Result<(), StoreError> {
        self.settle_decision(id, DecisionState::Sent, Some(server_seq), None, Action::DecisionSent)
    }

    /// The server refused a decision made here: `conflict` (another verdict stood; `detail` is
    /// the record's standing as the server answered it) or `refused` (with the server's code).
    /// Kept, shown to its author; never retried.
    pub fn decision_refused(
        &self,
        id: &str,
        conflict: bool,
        detail: &str,
    ) -> Result<(), StoreError> {
        let state = if conflict { DecisionState::Conflict } else { DecisionState::Refused };
        let detail: String = detail.chars().take(2_000).collect();
        self.settle_decision(id, state, None, Some(&detail), Action::DecisionRefused)
    }

    fn settle_decision(
        &self,
        id: &str,
        state: DecisionState,
        server_seq: Option<i64>,
        detail: Option<&str>,
        action: Action,
    ) -> Result<(), StoreError> {
        self.write(|tx, s| {
            let n = tx.execute(
                "UPDATE decisions SET state = ?2, server_seq = coalesce(?3, server_seq), detail = ?4
                 WHERE id = ?1 AND state = 'pending'",
                params![id, state, server_seq, detail],
            )?;
            if n == 0 {
                return Err(StoreError::InvalidState {
                    entity: "decision",
                    id: id.into(),
                    state: "not pending".into(),
                    action: "settle",
                });
            }
            s.audit(tx, None, action, DECISION_ENTITY, id)
        })
    }

    /// Keep a decision from the feed that failed verification, with why; it is never applied.
    pub fn reject_decision(&self, d: &NewDecision, why: &str) -> Result<(), StoreError> {
        let now = self.now_ms();
        self.write(|tx, s| {
            if decision_exists(tx, &d.id)? {
                return Ok(());
            }
            let mut d = d.clone();
            d.content = None;
            s.insert_decision(tx, &d, DecisionState::Rejected, Some(why), now)?;
            s.audit(tx, None, Action::Quarantined, DECISION_ENTITY, &d.id)
        })
    }

    /// Apply a verified decision from the feed. On the volunteer's device a return reopens the
    /// visit as a draft revision (or, when a draft revision is already open, leaves it as it
    /// is: both are kept); on a supervisor's device it is kept, and the record's verdict follows.
    pub fn apply_decision(&self, d: &NewDecision) -> Result<Applied, StoreError> {
        let now = self.now_ms();
        // A return on one of this device's records: its draft is built before the write.
        let reopen =
            if d.kind == DecisionKind::Return { self.reopen_plan(&d.record_id)? } else { None };
        self.write(|tx, s| {
            let existing: Option<DecisionState> = tx
                .query_row("SELECT state FROM decisions_v WHERE id = ?1", [&d.id], |r| r.get(0))
                .optional()?;
            match existing {
                Some(DecisionState::Pending | DecisionState::Sent) => {
                    tx.execute(
                        "UPDATE decisions SET state = 'sent', server_seq = ?2 WHERE id = ?1",
                        params![d.id, d.server_seq],
                    )?;
                    s.audit(tx, None, Action::DecisionSent, DECISION_ENTITY, &d.id)?;
                    return Ok(Applied::Confirmed);
                }
                Some(_) => return Ok(Applied::Duplicate),
                None => {}
            }
            s.insert_decision(tx, d, DecisionState::Received, None, now)?;
            let applied = match &reopen {
                Some(ReopenPlan::OpenDraft(draft_id)) => {
                    Applied::CommentsOnOpenDraft { draft_id: draft_id.clone() }
                }
                Some(ReopenPlan::New(plan)) => {
                    let note = d.content.as_ref().map_or("", |c| c.note.as_str());
                    let draft_id = s.reopen_as_revision(tx, None, plan, note, now)?;
                    Applied::Reopened { draft_id }
                }
                None => match (&d.merge, d.kind) {
                    (Some(m), DecisionKind::Merge) => s.apply_merge(tx, m)?,
                    _ => Applied::Kept,
                },
            };
            s.audit(tx, None, Action::DecisionApplied, DECISION_ENTITY, &d.id)?;
            Ok(applied)
        })
    }

    /// What a return would do to one of this device's records: nothing (not ours, or not in a
    /// state a return applies to), keep an open draft revision, or open a new one from it.
    fn reopen_plan(&self, record_id: &str) -> Result<Option<ReopenPlan>, StoreError> {
        let state: Option<RecordState> = self
            .reader()?
            .query_row("SELECT state FROM records_v WHERE id = ?1", [record_id], |r| r.get(0))
            .optional()?;
        if !matches!(
            state,
            Some(RecordState::Queued | RecordState::Uploaded | RecordState::Acknowledged)
        ) {
            return Ok(None);
        }
        let open: Option<String> = self
            .reader()?
            .query_row(
                "SELECT id FROM records_v WHERE revision_of = ?1 AND state = 'draft' LIMIT 1",
                [record_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(draft) = open {
            return Ok(Some(ReopenPlan::OpenDraft(draft)));
        }
        Ok(Some(ReopenPlan::New(Box::new(self.revision_plan(record_id)?))))
    }

    /// The decisions about a record, in the server's order (those not yet stored last), with
    /// their content where this device can read it.
    pub fn decisions_for(
        &self,
        by: &Actor,
        record_id: &str,
    ) -> Result<Vec<DecisionView>, StoreError> {
        // The volunteer sees decisions on its own records (and on the records its revisions
        // continue); a supervisor those of the team.
        if !by.can(Permission::ReviewTeam) {
            self.record(by, record_id)?;
        }
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, record_id, kind, device_id, decided_at, action_at, state, server_seq,
                    content_enc, detail, merge_household, merge_into
             FROM decisions_v WHERE record_id = ?1
             ORDER BY server_seq IS NULL, server_seq, created_at, id",
        )?;
        let rows = stmt.query_map([record_id], |r| {
            Ok((
                DecisionView {
                    id: r.get(0)?,
                    record_id: r.get(1)?,
                    kind: r.get(2)?,
                    device_id: r.get(3)?,
                    decided_at_ms: r.get(4)?,
                    action_at_ms: r.get(5)?,
                    merge: match (r.get::<_, Option<String>>(10)?, r.get::<_, Option<String>>(11)?)
                    {
                        (Some(household), Some(into)) => Some(HouseholdMerge { household, into }),
                        _ => None,
                    },
                    state: r.get(6)?,
                    server_seq: r.get(7)?,
                    content: None,
                    detail: r.get(9)?,
                },
                r.get::<_, Option<Vec<u8>>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut view, content) = row?;
            if let Some(c) = content {
                let text = self.keys().column.decrypt_str("decisions", "content", &view.id, &c)?;
                view.content = Some(json::from_str("decision content", &text)?);
            }
            out.push(view);
        }
        Ok(out)
    }

    /// The record's current verdict: the last verdict the server ordered (or, before any is
    /// confirmed, the last one made here and pending).
    pub fn current_verdict(
        &self,
        record_id: &str,
    ) -> Result<Option<(String, DecisionKind)>, StoreError> {
        Ok(self
            .reader()?
            .query_row(
                "SELECT id, kind FROM decisions_v
                 WHERE record_id = ?1 AND kind IN ('approve', 'return', 'escalate')
                   AND state IN ('sent', 'received')
                 ORDER BY server_seq DESC LIMIT 1",
                [record_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

fn decision_exists(tx: &Transaction<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(tx
        .query_row("SELECT count(*) FROM decisions WHERE id = ?1", [id], |r| r.get::<_, i64>(0))?
        > 0)
}

/// What reopening a record as a revision needs, built before the write transaction.
pub(crate) struct RevisionPlan {
    pub record_id: String,
    pub kind: super::records::RecordKind,
    pub child_ref: Option<String>,
    pub session: Session,
}

enum ReopenPlan {
    OpenDraft(String),
    New(Box<RevisionPlan>),
}

impl Store {
    /// The draft a revision of `record_id` starts from: the signed submission's answers.
    pub(crate) fn revision_plan(&self, record_id: &str) -> Result<RevisionPlan, StoreError> {
        type Row = (super::records::RecordKind, String, String, Option<Vec<u8>>, Option<Vec<u8>>);
        let row: Row = self.reader()?.query_row(
            "SELECT kind, form_id, form_version, submission_enc, child_ref_enc FROM records_v WHERE id = ?1",
            [record_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        let (kind, form_id, form_version, sub, child) = row;
        let sub = sub.ok_or_else(|| StoreError::InvalidState {
            entity: "record",
            id: record_id.into(),
            state: "purged".into(),
            action: "reopen",
        })?;
        let c = &self.keys().column;
        let v: serde_json::Value =
            json::from_slice("submission", &c.decrypt("records", "submission", record_id, &sub)?)?;
        let state: SessionState = json::from_value("submission", v["state"].clone())?;
        let form = self.form(&form_id, &form_version)?;
        let session =
            Session::restore(form, &state, Arc::clone(self.clock()), Arc::clone(self.entropy()))?;
        let child_ref =
            child.map(|v| c.decrypt_str("records", "child_ref", record_id, &v)).transpose()?;
        Ok(RevisionPlan { record_id: record_id.to_string(), kind, child_ref, session })
    }
}
