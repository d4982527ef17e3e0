//! Reading records: a record as its owner or a supervisor sees it, the review queue, the
//! signature check, and a supervisor returning a submission.

use super::*;
use crate::store::decisions::RevisionPlan;

impl Store {
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
        crate::store::sealed::check_live_counts(&conn)?;
        rows.into_iter()
            .map(|(mut item, flags)| {
                let flags = self.decrypt_flags(&item.id, flags.as_deref())?;
                item.quality_flags = flags.iter().map(|f| f.code).collect();
                Ok(item)
            })
            .collect()
    }

    /// A supervisor returns a submission with a comment, on the device that made it: it
    /// becomes `returned`, and a new draft revision for its owner starts from its answers.
    /// Returns the new draft's id. (Across devices, a return is a decision: `store::decisions`.)
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
        let plan = self.revision_plan(id)?;
        let now = self.now_ms();
        self.write(|tx, s| s.reopen_as_revision(tx, Some(by.profile_id()), &plan, note, now))
    }

    /// In a write: mark the record `returned` with the note and start its next revision as a
    /// draft from `plan`, linked to it. Returns the new draft's id.
    pub(crate) fn reopen_as_revision(
        &self,
        tx: &Transaction<'_>,
        actor: Option<&str>,
        plan: &RevisionPlan,
        note: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let id = plan.record_id.as_str();
        let new_id = self.new_id();
        let state_json = json::to_string("draft", &plan.session.state_without_events())?;
        let c = &self.keys().column;
        let n = tx.execute(
            "UPDATE records SET state = ?4, return_note_enc = ?2, updated_at = ?3
             WHERE id = ?1 AND state IN ('queued', 'uploaded', 'acknowledged')",
            params![
                id,
                c.encrypt_str("records", "return_note", id, note)?,
                now,
                RecordState::Returned
            ],
        )?;
        if n == 0 {
            return Err(StoreError::InvalidState {
                entity: "record",
                id: id.into(),
                state: "changed".into(),
                action: "return",
            });
        }
        tx.execute(
            "INSERT INTO records (id, kind, household_id, child_ref_enc, form_id, form_version, owner_id,
                state, revision, revision_of, draft_enc, created_at, updated_at)
             SELECT ?2, kind, household_id, NULL, form_id, form_version, owner_id, ?5, revision + 1, id, ?3, ?4, ?4
             FROM records_v WHERE id = ?1",
            params![
                id,
                new_id,
                c.encrypt_str("records", "draft", &new_id, &state_json)?,
                now,
                RecordState::Draft
            ],
        )?;
        // The child reference moves with the revision (re-encrypted for the new row).
        if let Some(child) = &plan.child_ref {
            tx.execute(
                "UPDATE records SET child_ref_enc = ?2 WHERE id = ?1",
                params![new_id, c.encrypt_str("records", "child_ref", &new_id, child)?],
            )?;
        }
        self.copy_fixes(tx, id, &new_id)?;
        append_events(tx, &new_id, plan.session.events(), 0)?;
        self.audit(tx, actor, Action::Returned, plan.kind.as_str(), id)?;
        self.audit(tx, actor, Action::Created, plan.kind.as_str(), &new_id)?;
        Ok(new_id)
    }
}

/// The parts of a stored submission that `record` shows; the rest (answers' session state,
/// timings, location review) stays in the signed bytes.
#[derive(Deserialize)]
struct SubmissionView {
    #[serde(default)]
    data: Json,
    assessment: Option<Assessment>,
}
