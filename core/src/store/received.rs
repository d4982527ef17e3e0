//! Records pulled from the team's server onto a supervisor's device (docs/storage.md,
//! "Review"): listed from the team index, then fetched, opened and verified by the sync layer
//! (`sync::review`) and kept here, the volunteer's signed submission re-encrypted under this
//! device's column key; or quarantined with the reason, never shown as valid. Their evidence is
//! fetched on demand and kept as it came (sealed envelopes, already ciphertext).
//!
//! The review queue of received records: urgent first, then by deadline, then the newest; each
//! with its risk level and reasons, location quality flags, how fast the form was filled, and
//! where the supervisors' decisions leave it.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::decisions::{DecisionKind, DecisionView};
use super::json;
use super::profiles::{Actor, Permission};
use super::records::level_rank_sql;
use super::stored_enum::stored_enum;
use super::{Action, Store, StoreError};
use crate::evidence::envelope::{Opened, open_bytes};
use crate::evidence::keys::DevicePublicKey;
use crate::form::risk::{Assessment, Level};
use crate::form::session::QuestionTiming;
use crate::location::QualityFlag;

/// The audit entity of received records.
pub(crate) const RECEIVED_ENTITY: &str = "received";
/// The cursor of the team index.
pub const INDEX_CURSOR: &str = "team_index";
/// The cursor of the decision feed.
pub const FEED_CURSOR: &str = "decisions";
/// A question answered in less than this (ms) counts as answered fast: a form with many of them
/// was likely filled without asking the household.
pub const FAST_ANSWER_MS: i64 = 2_000;
/// The largest received submission kept (its signed JSON).
pub const MAX_RECEIVED_SUBMISSION: usize = 8 << 20;

stored_enum! {
    /// Where a pulled record is.
    pub enum ReceivedState("received state" in "received"."state") {
        /// Listed by the team index; its body is not fetched yet.
        Listed = "listed",
        /// Fetched, opened and verified.
        Valid = "valid",
        /// Fetched and failed verification (`quarantine_reason`); never shown as valid.
        Quarantined = "quarantined",
    }
}

/// One line of the team index, as listed (unverified: used only to order the pull).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub record_id: String,
    pub seq: i64,
    pub device_id: String,
    pub kind: String,
    pub risk_level: Option<String>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: i64,
    pub received_at_ms: i64,
    pub body_len: i64,
    pub evidence_len: i64,
}

/// One evidence file a received record lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub id: String,
    pub sha256: String,
    pub len: i64,
}

/// A pulled record the sync layer has verified (signatures, envelope, device of the team).
#[derive(Debug, Clone)]
pub struct Verified {
    pub record_id: String,
    pub device_id: String,
    pub kind: String,
    pub form_id: String,
    pub form_version: String,
    pub household_code: Option<String>,
    pub commune: Option<String>,
    pub risk_level: Option<String>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: i64,
    pub revision: i64,
    pub revision_of: Option<String>,
    pub envelope_sha256: String,
    pub evidence: Vec<EvidenceRef>,
    /// The volunteer's signed submission (canonical JSON), as opened.
    pub submission: Vec<u8>,
}

/// A record to fetch: its id and its body's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullItem {
    pub record_id: String,
    pub body_len: i64,
}

/// An evidence file to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFetch {
    pub sha256: String,
    pub record_id: String,
    pub device_id: String,
    pub len: i64,
}

/// One line of the supervisor's queue of received records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedItem {
    pub record_id: String,
    pub device_id: String,
    pub kind: String,
    pub household_code: Option<String>,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    /// The deadline minus now (negative: overdue); `None` without a deadline.
    pub time_left_ms: Option<i64>,
    pub finalized_at_ms: i64,
    pub revision: i64,
    /// The current verdict, if any.
    pub verdict: Option<DecisionKind>,
    /// Whether an action was recorded (urgent cases).
    pub acted: bool,
    pub quality_flags: Vec<String>,
    /// Questions answered in under [`FAST_ANSWER_MS`], of those answered.
    pub fast_answers: usize,
    pub answered: usize,
}

/// A received record, whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedView {
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
    /// The revision that replaced this record on this device, if pulled.
    pub superseded_by: Option<String>,
    /// The volunteer's signed submission (valid records only).
    pub submission: Option<Json>,
    pub assessment: Option<Assessment>,
    pub quality_flags: Vec<QualityFlag>,
    /// Per question: path, time spent (ms) and changes, as the submission recorded them.
    pub timings: Vec<QuestionTiming>,
    pub evidence: Vec<ReceivedEvidence>,
    pub decisions: Vec<DecisionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedEvidence {
    pub id: String,
    pub sha256: String,
    pub len: i64,
    /// Fetched and kept on this device.
    pub cached: bool,
}

/// The parts of a submission the queue and the view read.
#[derive(Deserialize, Default)]
struct SubmissionParts {
    #[serde(default)]
    assessment: Option<Assessment>,
    #[serde(default)]
    location: Option<LocationParts>,
    #[serde(default)]
    timings: Vec<QuestionTiming>,
}

#[derive(Deserialize, Default)]
struct LocationParts {
    #[serde(default)]
    flags: Vec<QualityFlag>,
}

/// Move cursor `name` forward to `after` (never back). Not an UPSERT: the row seals' triggers
/// list touched rows with `INSERT OR IGNORE`, and an UPSERT's own conflict handling would
/// override theirs.
fn set_cursor(tx: &rusqlite::Transaction<'_>, name: &str, after: i64) -> Result<(), StoreError> {
    let n = tx.execute(
        "UPDATE sync_cursors SET after = ?2 WHERE name = ?1 AND after < ?2",
        params![name, after],
    )?;
    if n == 0 {
        tx.execute(
            "INSERT OR IGNORE INTO sync_cursors (name, after) VALUES (?1, ?2)",
            params![name, after],
        )?;
    }
    Ok(())
}

impl Store {
    /// Where the download `name` left off (0: from the start).
    pub fn cursor(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self
            .reader()?
            .query_row("SELECT after FROM sync_cursors_v WHERE name = ?1", [name], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    /// Keep a page of the team index (new records `listed`; known ones unchanged) and move the
    /// cursor past it, in one transaction: a pull killed after this resumes from the next page.
    /// Returns how many records were new.
    pub fn note_listed(&self, items: &[Listed], next_after: i64) -> Result<usize, StoreError> {
        let now = self.now_ms();
        self.write(|tx, _| {
            let mut added = 0;
            for i in items {
                added += tx.execute(
                    "INSERT OR IGNORE INTO received (record_id, seq, device_id, kind, risk_level,
                        due_at, finalized_at, received_at, body_len, evidence_len, state, pulled_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'listed', ?11)",
                    params![
                        i.record_id,
                        i.seq,
                        i.device_id,
                        i.kind,
                        i.risk_level,
                        i.due_at_ms,
                        i.finalized_at_ms,
                        i.received_at_ms,
                        i.body_len,
                        i.evidence_len,
                        now
                    ],
                )?;
            }
            set_cursor(tx, INDEX_CURSOR, next_after)?;
            Ok(added)
        })
    }

    /// Move a download's cursor forward (never back).
    pub fn advance_cursor(&self, name: &str, after: i64) -> Result<(), StoreError> {
        self.write(|tx, _| set_cursor(tx, name, after))
    }

    /// Records listed and not fetched yet, in the order to fetch them: the most serious risk
    /// first, then the newest.
    pub fn pull_queue(&self, limit: usize) -> Result<Vec<PullItem>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT record_id, body_len FROM received_v WHERE state = 'listed'
             ORDER BY {}, finalized_at DESC, record_id LIMIT ?1",
            level_rank_sql()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map([limit], |r| Ok(PullItem { record_id: r.get(0)?, body_len: r.get(1)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keep a verified record: its routing columns from the verified header, its submission
    /// encrypted under the column key, `valid`, with an audit entry.
    pub fn accept_received(&self, v: &Verified) -> Result<(), StoreError> {
        if v.submission.len() > MAX_RECEIVED_SUBMISSION {
            return Err(StoreError::Invalid {
                field: "submission",
                message: format!("over {MAX_RECEIVED_SUBMISSION} bytes"),
            });
        }
        let evidence = json::to_string("evidence", &v.evidence)?;
        self.write(|tx, s| {
            let sub =
                s.keys().column.encrypt("received", "submission", &v.record_id, &v.submission)?;
            let n = tx.execute(
                "UPDATE received SET device_id = ?2, kind = ?3, form_id = ?4, form_version = ?5,
                    household_code = ?6, commune = ?7, risk_level = ?8, due_at = ?9,
                    finalized_at = ?10, revision = ?11, revision_of = ?12, envelope_sha256 = ?13,
                    evidence = ?14, submission_enc = ?15, state = 'valid', quarantine_reason = NULL
                 WHERE record_id = ?1 AND state = 'listed'",
                params![
                    v.record_id,
                    v.device_id,
                    v.kind,
                    v.form_id,
                    v.form_version,
                    v.household_code,
                    v.commune,
                    v.risk_level,
                    v.due_at_ms,
                    v.finalized_at_ms,
                    v.revision,
                    v.revision_of,
                    v.envelope_sha256,
                    evidence,
                    sub
                ],
            )?;
            if n == 0 {
                return Err(StoreError::InvalidState {
                    entity: "received",
                    id: v.record_id.clone(),
                    state: "not listed".into(),
                    action: "accept",
                });
            }
            s.audit(tx, None, Action::Received, RECEIVED_ENTITY, &v.record_id)
        })
    }

    /// Keep a pulled record aside with why it failed verification; it is never shown as valid.
    pub fn quarantine_received(&self, record_id: &str, reason: &str) -> Result<(), StoreError> {
        let reason: String = reason.chars().take(500).collect();
        self.write(|tx, s| {
            tx.execute(
                "UPDATE received SET state = 'quarantined', quarantine_reason = ?2,
                    submission_enc = NULL WHERE record_id = ?1 AND state = 'listed'",
                params![record_id, reason],
            )?;
            s.audit(tx, None, Action::Quarantined, RECEIVED_ENTITY, record_id)
        })
    }

    /// The supervisor's queue of received records: valid, not replaced by a pulled revision,
    /// not approved; urgent first, then by deadline, then the newest; at most `limit`.
    pub fn received_queue(
        &self,
        by: &Actor,
        limit: usize,
    ) -> Result<Vec<ReceivedItem>, StoreError> {
        by.require(Permission::ReviewTeam)?;
        let now = self.now_ms();
        let conn = self.reader()?;
        let sql = format!(
            "SELECT r.record_id, r.device_id, r.kind, r.household_code, r.risk_level, r.due_at,
                    r.finalized_at, r.revision, r.submission_enc,
                    (SELECT d.kind FROM decisions_v d WHERE d.record_id = r.record_id
                       AND d.kind IN ('approve', 'return', 'escalate')
                       AND d.state IN ('sent', 'received')
                     ORDER BY d.server_seq DESC LIMIT 1),
                    EXISTS (SELECT 1 FROM decisions_v d WHERE d.record_id = r.record_id
                       AND d.kind = 'act' AND d.state IN ('pending', 'sent', 'received'))
             FROM received_v r
             WHERE r.state = 'valid'
               AND NOT EXISTS (SELECT 1 FROM received_v n WHERE n.revision_of = r.record_id
                               AND n.state = 'valid')
             ORDER BY {}, coalesce(r.due_at, 9223372036854775807), r.finalized_at DESC, r.record_id",
            level_rank_sql().replace("risk_level", "r.risk_level")
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Option<Vec<u8>>>(8)?,
                r.get::<_, Option<DecisionKind>>(9)?,
                r.get::<_, bool>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                id,
                device_id,
                kind,
                household_code,
                level,
                due,
                fin,
                revision,
                sub,
                verdict,
                acted,
            ) = row?;
            if verdict == Some(DecisionKind::Approve) {
                continue;
            }
            if out.len() >= limit {
                break;
            }
            let parts = self.submission_parts(&id, sub.as_deref())?;
            let answered: Vec<&QuestionTiming> =
                parts.timings.iter().filter(|t| t.changes > 0).collect();
            out.push(ReceivedItem {
                record_id: id,
                device_id,
                kind,
                household_code,
                risk_level: level.as_deref().and_then(|l| l.parse().ok()),
                due_at_ms: due,
                time_left_ms: due.map(|d| d - now),
                finalized_at_ms: fin,
                revision,
                verdict,
                acted,
                quality_flags: parts
                    .location
                    .map(|l| l.flags.iter().map(|f| f.code.as_str().to_string()).collect())
                    .unwrap_or_default(),
                fast_answers: answered.iter().filter(|t| t.dwell_ms < FAST_ANSWER_MS).count(),
                answered: answered.len(),
            });
        }
        Ok(out)
    }

    fn submission_parts(
        &self,
        id: &str,
        sub: Option<&[u8]>,
    ) -> Result<SubmissionParts, StoreError> {
        let Some(sub) = sub else { return Ok(SubmissionParts::default()) };
        let bytes = self.keys().column.decrypt("received", "submission", id, sub)?;
        json::from_slice("received submission", &bytes)
    }

    /// A received record, whole (valid or quarantined), with its decisions.
    pub fn received_record(&self, by: &Actor, id: &str) -> Result<ReceivedView, StoreError> {
        by.require(Permission::ReviewTeam)?;
        type Row = (
            ReceivedState,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            i64,
            i64,
            i64,
            Option<String>,
            Option<Vec<u8>>,
            String,
        );
        let row: Option<Row> = self
            .reader()?
            .query_row(
                "SELECT state, quarantine_reason, device_id, kind, form_id, form_version,
                        household_code, risk_level, due_at, finalized_at, received_at, revision,
                        revision_of, submission_enc, evidence
                 FROM received_v WHERE record_id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                        r.get(12)?,
                        r.get(13)?,
                        r.get(14)?,
                    ))
                },
            )
            .optional()?;
        let r =
            row.ok_or_else(|| StoreError::NotFound { entity: "received record", id: id.into() })?;
        let submission: Option<Json> =
            r.13.as_deref()
                .map(|sub| {
                    let bytes = self.keys().column.decrypt("received", "submission", id, sub)?;
                    json::from_slice("received submission", &bytes)
                })
                .transpose()?;
        let parts: SubmissionParts = match &submission {
            Some(v) => json::from_value("received submission", v.clone())?,
            None => SubmissionParts::default(),
        };
        let refs: Vec<EvidenceRef> = json::from_str("evidence", &r.14)?;
        let conn = self.reader()?;
        let mut evidence = Vec::with_capacity(refs.len());
        for e in refs {
            let cached: bool = conn.query_row(
                "SELECT count(*) > 0 FROM received_evidence WHERE sha256 = ?1",
                [&e.sha256],
                |r| r.get(0),
            )?;
            evidence.push(ReceivedEvidence { id: e.id, sha256: e.sha256, len: e.len, cached });
        }
        let superseded_by: Option<String> = conn
            .query_row(
                "SELECT record_id FROM received_v WHERE revision_of = ?1 AND state = 'valid' LIMIT 1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        drop(conn);
        Ok(ReceivedView {
            record_id: id.to_string(),
            state: r.0,
            quarantine_reason: r.1,
            device_id: r.2,
            kind: r.3,
            form_id: r.4,
            form_version: r.5,
            household_code: r.6,
            risk_level: r.7.as_deref().and_then(|l| l.parse().ok()),
            due_at_ms: r.8,
            finalized_at_ms: r.9,
            received_at_ms: r.10,
            revision: r.11,
            revision_of: r.12,
            superseded_by,
            submission,
            assessment: parts.assessment,
            quality_flags: parts.location.map(|l| l.flags).unwrap_or_default(),
            timings: parts.timings,
            evidence,
            decisions: self.decisions_for(by, id)?,
        })
    }

    /// When the server received a listed or pulled record (its time), if this device lists it.
    pub fn received_record_received_at(&self, id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .reader()?
            .query_row("SELECT received_at FROM received_v WHERE record_id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The envelope hash of a valid received record (what a decision about it names).
    pub fn received_envelope_sha256(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .reader()?
            .query_row(
                "SELECT envelope_sha256 FROM received_v WHERE record_id = ?1 AND state = 'valid'",
                [id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Pulled records that failed verification: (record id, reason).
    pub fn quarantined(&self, by: &Actor) -> Result<Vec<(String, String)>, StoreError> {
        by.require(Permission::ReviewTeam)?;
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT record_id, coalesce(quarantine_reason, '') FROM received_v
             WHERE state = 'quarantined' ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The ids of the valid received records, in the server's order (for the export, which
    /// then reads them one at a time).
    pub fn received_ids(&self, by: &Actor) -> Result<Vec<String>, StoreError> {
        by.require(Permission::ReviewTeam)?;
        let conn = self.reader()?;
        let mut stmt =
            conn.prepare("SELECT record_id FROM received_v WHERE state = 'valid' ORDER BY seq")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ----- evidence ------------------------------------------------------------------------

    /// Ask for a received record's evidence at the next sync, whatever the sync's budget.
    /// Returns how many files were asked for (those not kept yet).
    pub fn want_evidence(&self, by: &Actor, record_id: &str) -> Result<usize, StoreError> {
        let view = self.received_record(by, record_id)?;
        let now = self.now_ms();
        self.write(|tx, _| {
            let mut n = 0;
            for e in view.evidence.iter().filter(|e| !e.cached) {
                n += tx.execute(
                    "INSERT OR IGNORE INTO evidence_wanted (sha256, record_id, asked_at)
                     VALUES (?1, ?2, ?3)",
                    params![e.sha256, record_id, now],
                )?;
            }
            Ok(n)
        })
    }

    /// Evidence to fetch in this sync: every file asked for, then the files of valid records
    /// (most serious first, newest first) while they fit in `budget` bytes (0: none).
    pub fn evidence_to_fetch(&self, budget: i64) -> Result<Vec<EvidenceFetch>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT r.record_id, r.device_id, r.evidence,
                    EXISTS (SELECT 1 FROM evidence_wanted w WHERE w.record_id = r.record_id)
             FROM received_v r WHERE r.state = 'valid' AND r.evidence <> '[]'
             ORDER BY 4 DESC, {}, r.finalized_at DESC",
            level_rank_sql().replace("risk_level", "r.risk_level")
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        let mut left = budget;
        let mut seen = std::collections::HashSet::new();
        for row in rows {
            let (record_id, device_id, evidence, wanted) = row?;
            let refs: Vec<EvidenceRef> = json::from_str("evidence", &evidence)?;
            for e in refs {
                let kept: bool = conn.query_row(
                    "SELECT count(*) > 0 FROM received_evidence WHERE sha256 = ?1",
                    [&e.sha256],
                    |r| r.get(0),
                )?;
                if kept || !seen.insert(e.sha256.clone()) {
                    continue;
                }
                if !wanted {
                    if e.len > left {
                        continue;
                    }
                    left -= e.len;
                }
                out.push(EvidenceFetch {
                    sha256: e.sha256,
                    record_id: record_id.clone(),
                    device_id: device_id.clone(),
                    len: e.len,
                });
            }
        }
        Ok(out)
    }

    /// Keep a fetched evidence envelope. The sync layer has checked its SHA-256 and its
    /// signature; it stays sealed (ciphertext) and is opened when shown.
    pub fn keep_evidence(
        &self,
        record_id: &str,
        sha256: &str,
        envelope: &[u8],
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        self.write(|tx, _| {
            tx.execute(
                "INSERT OR IGNORE INTO received_evidence (sha256, record_id, envelope, fetched_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![sha256, record_id, envelope, now],
            )?;
            tx.execute("DELETE FROM evidence_wanted WHERE sha256 = ?1", [sha256])?;
            Ok(())
        })
    }

    /// Open a received record's evidence file (kept on this device) with the inbox identity,
    /// checking it was sealed by the record's device. The plaintext stays in memory.
    pub fn open_received_evidence(
        &self,
        by: &Actor,
        record_id: &str,
        evidence_id: &str,
    ) -> Result<(Vec<u8>, Opened), StoreError> {
        let view = self.received_record(by, record_id)?;
        let e =
            view.evidence.iter().find(|e| e.id == evidence_id).ok_or_else(|| {
                StoreError::NotFound { entity: "evidence", id: evidence_id.into() }
            })?;
        let envelope: Option<Vec<u8>> = self
            .reader()?
            .query_row(
                "SELECT envelope FROM received_evidence WHERE sha256 = ?1",
                [&e.sha256],
                |r| r.get(0),
            )
            .optional()?;
        let envelope = envelope.ok_or_else(|| StoreError::InvalidState {
            entity: "evidence",
            id: evidence_id.into(),
            state: "not fetched".into(),
            action: "open",
        })?;
        if crate::hex::encode(&crate::evidence::photo::sha256(&envelope)) != e.sha256 {
            return Err(StoreError::Tampered { table: "received_evidence", row: e.sha256.clone() });
        }
        let device = self.team_device_key(&view.device_id)?;
        let identity = self.inbox_identity()?;
        open_bytes(&envelope, &identity, device.as_ref())
            .map_err(|err| StoreError::BadData(format!("evidence {evidence_id}: {err}")))
    }

    /// The key of a device of the team, as the stored team configuration lists it.
    pub(crate) fn team_device_key(
        &self,
        device_id: &str,
    ) -> Result<Option<DevicePublicKey>, StoreError> {
        let Some(config) = self.sync_state()?.config else { return Ok(None) };
        let doc: Json = json::from_str("config", &config)?;
        let key = doc["config"]["devices"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["device_id"].as_str() == Some(device_id))
            .and_then(|d| d["public_key"].as_str())
            .and_then(|k| k.parse().ok());
        Ok(key)
    }
}
