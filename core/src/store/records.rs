//! Visits and incidents: a form session persisted as an encrypted draft, autosaved on every
//! answer, finalized in one transaction into a signed, queued submission.
//!
//! Lifecycle: draft -> finalized -> queued -> uploaded -> acknowledged. Finalize moves a draft
//! straight to queued (both steps are in the audit chain). A supervisor may return a submission:
//! it becomes `returned` and a new draft revision, linked to it, starts from its answers.

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

impl Store {
    /// Start a household visit on a built-in form.
    pub fn start_visit(
        &self,
        by: &Actor,
        household_id: &str,
        form_id: &str,
    ) -> Result<Draft, StoreError> {
        by.require(Permission::RecordVisit)?;
        let household = self.household(by, household_id)?; // visible to this actor, or NotFound
        let mut draft =
            self.start_record(by, RecordKind::Visit, Some(household_id), None, form_id, None)?;
        // What the household record already knows need not be typed again. A form without
        // these fields, or a value the form refuses (a commune outside its list), is skipped.
        let known = [
            ("commune_code", json!(household.commune_code)),
            ("village", json!(household.village)),
            ("head_name", json!(household.head_name)),
            ("household_code", json!(household.code)),
        ];
        let mut changed = false;
        for (field, value) in known {
            if draft.session.form().id_of(field).is_some() {
                changed |= draft.session.set_answer(field, &value).is_ok();
            }
        }
        if let (Some(loc), Some(_)) =
            (household.location, draft.session.form().id_of("household_gps"))
        {
            let point = json!({"lat": loc.lat, "lon": loc.lon, "accuracy": loc.accuracy_m});
            changed |= draft.session.set_answer("household_gps", &point).is_ok();
        }
        if changed {
            self.autosave(&mut draft)?;
        }
        Ok(draft)
    }

    /// Start an injury incident (health workers), optionally linked to a household and child.
    pub fn start_incident(
        &self,
        by: &Actor,
        form_id: &str,
        household_id: Option<&str>,
        child_ref: Option<&str>,
    ) -> Result<Draft, StoreError> {
        by.require(Permission::RecordIncident)?;
        if let Some(h) = household_id {
            let exists: bool = self.reader()?.query_row(
                "SELECT count(*) FROM households WHERE id = ?1",
                params![h],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(StoreError::NotFound { entity: "household", id: h.into() });
            }
        }
        self.start_record(by, RecordKind::Incident, household_id, child_ref, form_id, None)
    }

    fn start_record(
        &self,
        by: &Actor,
        kind: RecordKind,
        household_id: Option<&str>,
        child_ref: Option<&str>,
        form_id: &str,
        revision_of: Option<(&str, i64, &SessionState)>,
    ) -> Result<Draft, StoreError> {
        let form = match crate::templates::load(form_id) {
            Some(f) => f?,
            None => return Err(StoreError::NotFound { entity: "form", id: form_id.into() }),
        };
        let form = self.form(&form.form.id, &form.form.version)?;
        let session = match revision_of {
            Some((_, _, state)) => Session::restore(
                Arc::clone(&form),
                state,
                Arc::clone(self.clock()),
                Arc::clone(self.entropy()),
            )?,
            None => Session::new(
                Arc::clone(&form),
                Arc::clone(self.clock()),
                Arc::clone(self.entropy()),
            ),
        };
        let id = self.new_id();
        let now = self.now_ms();
        let state_json = json::to_string("draft", &session.state_without_events())?;
        self.write(|tx, s| {
            let c = &s.keys().column;
            tx.execute(
                "INSERT INTO records (id, kind, household_id, child_ref_enc, form_id, form_version, owner_id,
                    state, revision, revision_of, draft_enc, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?12, ?8, ?9, ?10, ?11, ?11)",
                params![
                    id,
                    kind,
                    household_id,
                    child_ref.map(|c_| c.encrypt_str("records", "child_ref", &id, c_)).transpose()?,
                    form.form.id,
                    form.form.version,
                    by.profile_id(),
                    revision_of.map_or(1, |(_, r, _)| r + 1),
                    revision_of.map(|(p, _, _)| p),
                    c.encrypt_str("records", "draft", &id, &state_json)?,
                    now,
                    RecordState::Draft
                ],
            )?;
            append_events(tx, &id, session.events(), 0)?;
            s.audit(tx, Some(by.profile_id()), Action::Created, kind.as_str(), &id)
        })?;
        let saved_events = session.events().len();
        Ok(Draft {
            record_id: id,
            kind,
            owner_id: by.profile_id().to_string(),
            session,
            saved_events,
            revision: 0,
            fixes: RecordFixes::new(),
        })
    }

    /// Reopen a draft where it stopped (after the app was killed, or from the list).
    pub fn open_draft(&self, by: &Actor, record_id: &str) -> Result<Draft, StoreError> {
        self.read_draft(record_id, Some(by.profile_id()))
    }

    /// The stored draft of `record_id`; with `owner`, only if that profile owns it (else
    /// `NotFound`, before anything is decrypted).
    fn read_draft(&self, record_id: &str, owner_is: Option<&str>) -> Result<Draft, StoreError> {
        // kind, form id, form version, owner, state, draft, fixes, draft revision
        type DraftRow = (
            RecordKind,
            String,
            String,
            String,
            RecordState,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            i64,
        );
        // The row and its timing events are read in one transaction: a save in between would
        // pair this revision with events of the next one.
        let mut conn = self.reader()?;
        let tx = conn.transaction()?;
        let row: Option<DraftRow> = tx
            .query_row(
                "SELECT kind, form_id, form_version, owner_id, state, draft_enc, fixes_enc, draft_rev
                 FROM records_v WHERE id = ?1",
                params![record_id],
                |r| DraftRow::try_from(r),
            )
            .optional()?;
        let not_found = || StoreError::NotFound { entity: "record", id: record_id.into() };
        let (kind, form_id, version, owner, state, draft, fixes, revision) =
            row.ok_or_else(not_found)?;
        if owner_is.is_some_and(|o| o != owner) {
            return Err(not_found());
        }
        let draft = match (state, draft) {
            (RecordState::Draft, Some(d)) => d,
            _ => {
                return Err(StoreError::InvalidState {
                    entity: "record",
                    id: record_id.into(),
                    state: state.to_string(),
                    action: "edit",
                });
            }
        };
        let json = self.keys().column.decrypt_str("records", "draft", record_id, &draft)?;
        let mut state: SessionState = json::from_str("draft", &json)?;
        state.events = load_events(&tx, record_id)?;
        drop(tx);
        drop(conn);
        let saved_events = state.events.len();
        let form = self.form(&form_id, &version)?;
        let session =
            Session::restore(form, &state, Arc::clone(self.clock()), Arc::clone(self.entropy()))?;
        Ok(Draft {
            record_id: record_id.into(),
            kind,
            owner_id: owner,
            session,
            saved_events,
            revision,
            fixes: self.load_fixes(record_id, fixes.as_deref())?,
        })
    }

    /// Apply a change to the draft's session and autosave it in one small transaction. If the
    /// change is refused or the save fails, nothing is saved and the session is as it was.
    pub fn edit<T>(
        &self,
        draft: &mut Draft,
        change: impl FnOnce(&mut Session) -> Result<T, crate::form::session::SessionError>,
    ) -> Result<T, StoreError> {
        self.change_draft(draft, |d| Ok(change(&mut d.session)?), |_| Ok(()))
    }

    /// Set one answer and autosave: the common case of `edit`.
    pub fn answer(&self, draft: &mut Draft, path: &str, value: &Json) -> Result<bool, StoreError> {
        self.edit(draft, |s| s.set_answer(path, value))
    }

    /// Write the draft's answers (encrypted) and its new timing events, in one small
    /// transaction, if the record is still a draft at the revision this copy holds.
    pub fn autosave(&self, draft: &mut Draft) -> Result<(), StoreError> {
        self.change_draft(draft, |_| Ok(()), |_| Ok(()))
    }

    /// The one path of every change to a draft: apply `change` to the draft in memory, then
    /// save it together with `also` in one transaction, so that the draft always equals what
    /// is stored.
    ///
    /// A refused change leaves the draft as it was: the session's operations change nothing
    /// when they fail, and `change` must keep to that (do the fallible step first). If the save
    /// fails (full disk, a stale copy), the draft is read back from the database: the draft
    /// before this change is exactly the stored one (a stale copy gets the newer stored draft).
    /// Reading back only on failure, rather than copying the draft before every change, keeps
    /// an autosave cheap (a copy of the household session cost ~90 µs, half an autosave).
    pub(crate) fn change_draft<T>(
        &self,
        draft: &mut Draft,
        change: impl FnOnce(&mut Draft) -> Result<T, StoreError>,
        also: impl FnOnce(&Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<T, StoreError> {
        let out = change(draft)?;
        if let Err(e) = self.save(draft, also) {
            match self.read_draft(&draft.record_id, None) {
                Ok(stored) => *draft = stored,
                // No longer a draft (finalized through another copy) or unreadable: every
                // later change is refused the same way, so nothing is lost by keeping it.
                Err(again) => tracing::warn!(
                    "draft {} not read back after a failed save: {again}",
                    draft.record_id
                ),
            }
            return Err(e);
        }
        Ok(out)
    }

    /// Save the draft as it is in memory (with `also`), checking and bumping its revision.
    fn save(
        &self,
        draft: &mut Draft,
        also: impl FnOnce(&Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let json = json::to_string("draft", &draft.session.state_without_events())?;
        let enc = self.keys().column.encrypt_str("records", "draft", &draft.record_id, &json)?;
        let now = self.now_ms();
        let events = draft.session.events();
        self.write(|tx, _| {
            // Cached: autosave runs on every answer, parsing the SQL each time would show.
            let n = tx
                .prepare_cached(
                    "UPDATE records SET draft_enc = ?2, updated_at = ?3, draft_rev = draft_rev + 1
                     WHERE id = ?1 AND state = 'draft' AND draft_rev = ?4",
                )?
                .execute(params![draft.record_id, enc, now, draft.revision])?;
            if n == 0 {
                return Err(refused_save(tx, &draft.record_id, "save")?);
            }
            append_events(tx, &draft.record_id, events, draft.saved_events)?;
            also(tx)
        })?;
        draft.saved_events = events.len();
        draft.revision += 1;
        Ok(())
    }

    /// Finalize in one transaction: validate (refusing with every violation), assess risk,
    /// freeze the submission in a canonical encoding, sign it with the device key, queue it in
    /// the outbox and append finalized + queued to the audit chain.
    pub fn finalize(&self, by: &Actor, draft: &Draft) -> Result<Finalized, StoreError> {
        if draft.owner_id != by.profile_id() {
            return Err(StoreError::NotFound { entity: "record", id: draft.record_id.clone() });
        }
        let report = draft.session.validate();
        if !report.is_valid() {
            return Err(StoreError::NotValid(report.violations));
        }
        let assessment = risk::assess(&draft.session);
        let now = self.now_ms();
        let outbox_id = self.new_id();
        let record_id = draft.record_id.clone();
        let (hash, outbox_id, flag_count) = self.write(|tx, s| {
            let (state, kind, household, revision, revision_of, created, draft_rev): (RecordState, RecordKind, Option<String>, i64, Option<String>, i64, i64) = tx
                .query_row(
                    "SELECT state, kind, household_id, revision, revision_of, created_at, draft_rev FROM records_v WHERE id = ?1",
                    params![record_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
                )?;
            if state != RecordState::Draft {
                return Err(StoreError::InvalidState { entity: "record", id: record_id.clone(), state: state.to_string(), action: "finalize" });
            }
            // A stale copy would sign answers that are not the stored ones.
            if draft_rev != draft.revision {
                return Err(StoreError::StaleDraft { id: record_id.clone() });
            }
            let household_code: Option<String> = match &household {
                Some(h) => tx.query_row("SELECT code FROM households WHERE id = ?1", params![h], |r| r.get(0)).optional()?,
                None => None,
            };
            let location = s.review_location(tx, draft, household.as_deref(), created, now)?;
            let flags_enc =
                location.as_ref().map(|l| s.encrypt_flags(&record_id, &l.flags)).transpose()?;
            let data = draft.session.output();
            let attachments = settle_attachments(tx, &record_id, &data)?;
            let form = &draft.session.form().form;
            // The bytes hashed and signed are the RFC 8785 (JCS) encoding of this value, which
            // `canonical` builds without relying on serde_json's map order or number format:
            // the same submission gives the same bytes, hash and signature on every build, and
            // any JCS implementation elsewhere agrees on them.
            let submission = json!({
                "schema": "safehome.submission.v1",
                "record_id": record_id,
                "kind": kind,
                "revision": revision,
                "revision_of": revision_of,
                "form": {"id": form.id, "version": form.version},
                "household_code": household_code,
                "device_id": s.device_id(),
                "device_public_key": hex::encode(&s.device_public_key()),
                "owner_id": by.profile_id(),
                "created_at_ms": created,
                "finalized_at_ms": now,
                "instance_name": draft.session.instance_name(),
                "data": data,
                "attachments": attachments.iter().map(|a| json!({
                    "id": a.id, "field": a.field, "envelope_sha256": hex::encode(&a.sha256), "envelope_len": a.len,
                })).collect::<Vec<_>>(),
                "assessment": assessment,
                "location": location,
                "timings": draft.session.timings(),
                "state": draft.session.state(),
            });
            let bytes = canonical::to_vec(&submission)?;
            let hash = digest::digest(&digest::SHA256, &bytes);
            let signature = s.device_key().sign(&bytes);
            let c = &s.keys().column;
            tx.execute(
                "UPDATE records SET state = ?9, submission_enc = ?2, submission_hash = ?3, signature = ?4,
                    risk_level = ?5, due_at = ?6, finalized_at = ?7, updated_at = ?7, draft_enc = NULL,
                    quality_flags_enc = ?8
                 WHERE id = ?1",
                params![
                    record_id,
                    c.encrypt("records", "submission", &record_id, &bytes)?,
                    hash.as_ref().to_vec(),
                    signature.to_vec(),
                    assessment.as_ref().map(|a| a.level),
                    assessment.as_ref().and_then(|a| a.due_at_ms),
                    now,
                    flags_enc,
                    RecordState::Queued
                ],
            )?;
            let mut queue = tx.prepare_cached(
                "INSERT INTO outbox (id, item_kind, item_id, state, payload_sha256, size_bytes, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?;
            let pending = OutboxState::Pending;
            queue.execute(params![outbox_id, OutboxItemKind::Submission, record_id, pending, hash.as_ref().to_vec(), bytes.len() as i64, now])?;
            for a in &attachments {
                queue.execute(params![s.new_id(), OutboxItemKind::Attachment, a.id, pending, a.sha256, a.len, now])?;
            }
            s.audit(tx, Some(by.profile_id()), Action::Finalized, kind.as_str(), &record_id)?;
            s.audit(tx, Some(by.profile_id()), Action::Queued, "outbox", &outbox_id)?;
            Ok((hex::encode(hash.as_ref()), outbox_id.clone(), location.map_or(0, |l| l.flags.len())))
        })?;
        tracing::info!(
            "record {} finalized and queued: risk {}, {} location flag(s)",
            draft.record_id,
            assessment.as_ref().map_or("none", |a| a.level.as_str()),
            flag_count,
        );
        Ok(Finalized {
            record_id: draft.record_id.clone(),
            outbox_id,
            submission_sha256: hash,
            assessment,
        })
    }

    /// A record, for its owner or a supervisor.
    pub fn record(&self, by: &Actor, id: &str) -> Result<RecordView, StoreError> {
        type Row = (
            RecordKind,
            Option<String>,
            Option<Vec<u8>>,
            String,
            String,
            String,
            RecordState,
            i64,
            Option<String>,
            i64,
            i64,
            Option<i64>,
            Option<Level>,
            Option<i64>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let row: Option<Row> = self
            .reader()?
            .query_row(
                "SELECT kind, household_id, child_ref_enc, form_id, form_version, owner_id, state, revision,
                        revision_of, created_at, updated_at, finalized_at, risk_level, due_at, draft_enc,
                        submission_enc, submission_hash, signature, return_note_enc, quality_flags_enc
                 FROM records_v WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?,
                        r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?,
                        r.get(15)?, r.get(16)?, r.get(17)?, r.get(18)?, r.get(19)?,
                    ))
                },
            )
            .optional()?;
        let not_found = || StoreError::NotFound { entity: "record", id: id.into() };
        let r = row.ok_or_else(not_found)?;
        let owner = r.5.clone();
        if !(owner == by.profile_id() || by.can(Permission::ReviewTeam)) {
            return Err(not_found());
        }
        let c = &self.keys().column;
        let (data, assessment) = match (&r.15, &r.14) {
            (Some(sub), _) => {
                let bytes = c.decrypt("records", "submission", id, sub)?;
                let v: SubmissionView = json::from_slice("submission", &bytes)?;
                (v.data, v.assessment)
            }
            (None, Some(draft)) => {
                let json = c.decrypt_str("records", "draft", id, draft)?;
                let state: SessionState = json::from_str("draft", &json)?;
                let form = self.form(&r.3, &r.4)?;
                let s = Session::restore(
                    form,
                    &state,
                    Arc::clone(self.clock()),
                    Arc::clone(self.entropy()),
                )?;
                (s.output(), risk::assess(&s))
            }
            // Purged after acknowledgment: only the receipt remains.
            (None, None) => (Json::Null, None),
        };
        Ok(RecordView {
            id: id.to_string(),
            kind: r.0,
            household_id: r.1,
            child_ref: r.2.map(|v| c.decrypt_str("records", "child_ref", id, &v)).transpose()?,
            form_id: r.3,
            form_version: r.4,
            owner_id: owner,
            state: r.6,
            revision: r.7,
            revision_of: r.8,
            created_at_ms: r.9,
            updated_at_ms: r.10,
            finalized_at_ms: r.11,
            risk_level: r.12,
            due_at_ms: r.13,
            data,
            assessment,
            submission_sha256: r.16.as_deref().map(hex::encode),
            signature: r.17.as_deref().map(hex::encode),
            return_note: r
                .18
                .map(|v| c.decrypt_str("records", "return_note", id, &v))
                .transpose()?,
            quality_flags: self.decrypt_flags(id, r.19.as_deref())?,
        })
    }

    /// Check a finalized record's submission: its SHA-256 matches the stored hash and its
    /// signature verifies under this device's public key. `Ok(false)` means tampering.
    pub fn verify_submission(&self, by: &Actor, id: &str) -> Result<bool, StoreError> {
        let view = self.record(by, id)?; // access check
        // submission, its hash, its signature
        type Sealed = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);
        let row: Sealed = self.reader()?.query_row(
            "SELECT submission_enc, submission_hash, signature FROM records_v WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let (Some(sub), Some(hash), Some(sig)) = row else {
            return Err(StoreError::InvalidState {
                entity: "record",
                id: id.into(),
                state: view.state.to_string(),
                action: "verify",
            });
        };
        let bytes = self.keys().column.decrypt("records", "submission", id, &sub)?;
        let digest_ok = digest::digest(&digest::SHA256, &bytes).as_ref() == hash.as_slice();
        let signature_ok = match <[u8; 64]>::try_from(sig.as_slice()) {
            Ok(sig) => self.device_key().public().verify(&bytes, &sig),
            Err(_) => false,
        };
        Ok(digest_ok && signature_ok)
    }

    /// The records the actor may see: their own, or the team's for a supervisor.
    pub fn records(&self, by: &Actor) -> Result<Vec<QueueItem>, StoreError> {
        let all = by.can(Permission::ReviewTeam);
        self.queue_query(
            "WHERE (?1 OR owner_id = ?2) ORDER BY created_at, id",
            params![all, by.profile_id()],
        )
    }

    /// A supervisor's review queue: submissions not yet acknowledged by the server, urgent
    /// first, then by deadline, at most `limit` of them.
    pub fn review_queue(&self, by: &Actor, limit: usize) -> Result<Vec<QueueItem>, StoreError> {
        by.require(Permission::ReviewTeam)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let tail = format!(
            "WHERE state IN ('queued', 'uploaded')
             ORDER BY {}, coalesce(due_at, 9223372036854775807), finalized_at, id
             LIMIT ?1",
            level_rank_sql()
        );
        self.queue_query(&tail, params![limit])
    }

    fn queue_query(
        &self,
        tail: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<QueueItem>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT id, kind, household_id, owner_id, state, risk_level, due_at, finalized_at,
                    quality_flags_enc FROM records_v {tail}"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(p, |r| {
            let item = QueueItem {
                id: r.get(0)?,
                kind: r.get(1)?,
                household_id: r.get(2)?,
                owner_id: r.get(3)?,
                state: r.get(4)?,
                risk_level: r.get(5)?,
                due_at_ms: r.get(6)?,
                finalized_at_ms: r.get(7)?,
                quality_flags: Vec::new(),
            };
            Ok((item, r.get::<_, Option<Vec<u8>>>(8)?))
        })?;
        let rows: Vec<(QueueItem, Option<Vec<u8>>)> = rows.collect::<Result<_, _>>()?;
        // A row edited out of this list's filter (store/sealed.rs).
        super::sealed::check_live_counts(&conn)?;
        rows.into_iter()
            .map(|(mut item, flags)| {
                let flags = self.decrypt_flags(&item.id, flags.as_deref())?;
                item.quality_flags = flags.iter().map(|f| f.code).collect();
                Ok(item)
            })
            .collect()
    }

    /// A supervisor returns a submission with a comment: it becomes `returned`, and a new draft
    /// revision for its owner starts from its answers. Returns the new draft's id.
    pub fn return_record(&self, by: &Actor, id: &str, note: &str) -> Result<String, StoreError> {
        by.require(Permission::ReviewTeam)?;
        let view = self.record(by, id)?;
        if !matches!(
            view.state,
            RecordState::Queued | RecordState::Uploaded | RecordState::Acknowledged
        ) {
            return Err(StoreError::InvalidState {
                entity: "record",
                id: id.into(),
                state: view.state.to_string(),
                action: "return",
            });
        }
        let sub: Option<Vec<u8>> = self.reader()?.query_row(
            "SELECT submission_enc FROM records_v WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        let sub = sub.ok_or_else(|| StoreError::InvalidState {
            entity: "record",
            id: id.into(),
            state: "purged".into(),
            action: "return",
        })?;
        let v: Json = json::from_slice(
            "submission",
            &self.keys().column.decrypt("records", "submission", id, &sub)?,
        )?;
        let state: SessionState = json::from_value("submission", v["state"].clone())?;
        let form = self.form(&view.form_id, &view.form_version)?;
        let session =
            Session::restore(form, &state, Arc::clone(self.clock()), Arc::clone(self.entropy()))?;
        let new_id = self.new_id();
        let now = self.now_ms();
        let state_json = json::to_string("draft", &session.state_without_events())?;
        self.write(|tx, s| {
            let c = &s.keys().column;
            let n = tx.execute(
                "UPDATE records SET state = ?4, return_note_enc = ?2, updated_at = ?3
                 WHERE id = ?1 AND state IN ('queued', 'uploaded', 'acknowledged')",
                params![id, c.encrypt_str("records", "return_note", id, note)?, now, RecordState::Returned],
            )?;
            if n == 0 {
                return Err(StoreError::InvalidState { entity: "record", id: id.into(), state: "changed".into(), action: "return" });
            }
            tx.execute(
                "INSERT INTO records (id, kind, household_id, child_ref_enc, form_id, form_version, owner_id,
                    state, revision, revision_of, draft_enc, created_at, updated_at)
                 SELECT ?2, kind, household_id, NULL, form_id, form_version, owner_id, ?5, revision + 1, id, ?3, ?4, ?4
                 FROM records_v WHERE id = ?1",
                params![id, new_id, c.encrypt_str("records", "draft", &new_id, &state_json)?, now, RecordState::Draft],
            )?;
            // The child reference moves with the revision (re-encrypted for the new row).
            if let Some(child) = &view.child_ref {
                tx.execute(
                    "UPDATE records SET child_ref_enc = ?2 WHERE id = ?1",
                    params![new_id, c.encrypt_str("records", "child_ref", &new_id, child)?],
                )?;
            }
            s.copy_fixes(tx, id, &new_id)?;
            append_events(tx, &new_id, session.events(), 0)?;
            s.audit(tx, Some(by.profile_id()), Action::Returned, view.kind.as_str(), id)?;
            s.audit(tx, Some(by.profile_id()), Action::Created, view.kind.as_str(), &new_id)
        })?;
        Ok(new_id)
    }
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

/// The parts of a stored submission that `record` shows; the rest (answers' session state,
/// timings, location review) stays in the signed bytes.
#[derive(Deserialize)]
struct SubmissionView {
    #[serde(default)]
    data: Json,
    assessment: Option<Assessment>,
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

/// Append `events[from..]` to the record's event log.
/// A record's timing events, in order.
fn load_events(
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
fn refused_save(
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

fn append_events(
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

/// A photo that goes with a submission.
struct SettledAttachment {
    id: String,
    field: String,
    sha256: Vec<u8>,
    len: i64,
}

/// At finalize: keep the attachments the final answers name (each becomes an outbox item and
/// is listed in the signed submission) and drop those replaced along the way.
fn settle_attachments(
    tx: &Transaction<'_>,
    record_id: &str,
    data: &Json,
) -> Result<Vec<SettledAttachment>, StoreError> {
    fn strings<'a>(v: &'a Json, out: &mut Vec<&'a str>) {
        match v {
            Json::String(s) => out.push(s),
            Json::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Json::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }
    let mut named = Vec::new();
    strings(data, &mut named);
    let rows: Vec<(String, String, Option<Vec<u8>>)> = {
        let mut stmt = tx.prepare("SELECT id, field, envelope FROM attachments WHERE record_id = ?1 ORDER BY created_at, id")?;
        let rows = stmt.query_map(params![record_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut kept = Vec::new();
    for (id, field, envelope) in rows {
        match envelope {
            Some(env) if named.contains(&id.as_str()) => kept.push(SettledAttachment {
                sha256: super::attachments::envelope_sha256(&env),
                len: env.len() as i64,
                id,
                field,
            }),
            _ => {
                tx.execute("DELETE FROM attachments WHERE id = ?1", params![id])?;
            }
        }
    }
    Ok(kept)
}
