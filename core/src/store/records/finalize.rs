//! Finalize: a draft validated, assessed, signed and queued with its photos, in one
//! transaction.

use super::*;

impl Store {
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
                sha256: crate::store::attachments::envelope_sha256(&env),
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
