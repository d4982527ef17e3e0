//! Drafts: starting a visit or an incident, reopening a draft, and every change to it, each
//! saved at once (one path: `Store::change_draft`).

use super::*;

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

    /// Set one typed answer and autosave: the common case of `edit`.
    pub fn set_answer(
        &self,
        draft: &mut Draft,
        path: &str,
        value: &crate::form::AnswerValue,
    ) -> Result<bool, StoreError> {
        self.edit(draft, |s| s.set(path, value))
    }

    /// Set one answer given as JSON and autosave (the adapter for files and the command line).
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
}
