//! The outbox as the sync engine sees it (docs/protocol.md): the records due for upload in the
//! order they go, what a submission is sealed from, its sealed body (kept once sealed, so every
//! retry sends the same bytes), the evidence of a record with each one's tus upload URL, the
//! server's receipts, and parking. The engine itself (`crate::sync`) does the sealing and the
//! talking; everything here is one transaction each.

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::outbox::OutboxState;
use super::profiles::{Actor, Permission};
use super::records::{RecordKind, RecordState, level_rank_sql};
use super::{Action, Store, StoreError};
use crate::form::risk::Level;
use crate::hex;

/// A record waiting for upload (its submission's outbox item), in the order sync sends them:
/// urgent first, then by due time, then oldest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadItem {
    pub record_id: String,
    /// The submission's outbox item.
    pub outbox_id: String,
    /// `Pending` (not sent yet) or `Uploaded` (the server holds it; the receipt was not
    /// complete yet).
    pub state: OutboxState,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: Option<i64>,
    /// Bytes still to send: the submission's body (its plaintext size until it is sealed) and
    /// the evidence not uploaded yet.
    pub bytes: i64,
}

/// One evidence file of a record: an attachment's sealed envelope and its outbox item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadEvidence {
    pub outbox_id: String,
    pub attachment_id: String,
    /// Hex SHA-256 of the envelope.
    pub sha256: String,
    pub len: i64,
    pub state: OutboxState,
    /// The tus upload's path, once created.
    pub upload_url: Option<String>,
}

/// What a submission is sealed from and routed by.
#[derive(Debug, Clone)]
pub(crate) struct UploadSource {
    pub record_id: String,
    pub outbox_id: String,
    pub kind: RecordKind,
    pub form_id: String,
    pub form_version: String,
    pub team: Option<String>,
    /// The household's commune, else the device's only commune.
    pub commune: Option<String>,
    pub household_code: Option<String>,
    pub risk_level: Option<Level>,
    pub due_at_ms: Option<i64>,
    pub finalized_at_ms: i64,
    pub revision: i64,
    pub revision_of: Option<String>,
    /// The canonical submission bytes, as signed at finalize.
    pub submission: Vec<u8>,
    pub evidence: Vec<UploadEvidence>,
}

/// What a verified receipt changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReceiptOutcome {
    /// The record and all its evidence are acknowledged.
    pub complete: bool,
    /// Evidence items acknowledged by this receipt.
    pub evidence_acknowledged: i64,
    /// Evidence items the server still lacks (set back to pending if they were uploaded).
    pub evidence_missing: i64,
}

/// The longest error text kept on an outbox row.
const MAX_ERROR_CHARS: usize = 200;

impl Store {
    /// The records due for upload, in the order sync sends them.
    pub fn upload_queue(&self) -> Result<Vec<UploadItem>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT o.item_id, o.id, o.state, r.risk_level, r.due_at, r.finalized_at, o.next_attempt_at,
                    CASE o.state WHEN 'uploaded' THEN 0 ELSE coalesce(length(o.sealed_body), o.size_bytes) END
                    + coalesce((SELECT sum(a.size_bytes) FROM attachments t CROSS JOIN outbox_v a
                                ON a.item_kind = 'attachment' AND a.item_id = t.id
                                WHERE t.record_id = r.id AND a.state = 'pending'), 0)
             FROM outbox_v o JOIN records_v r ON o.item_kind = 'submission' AND r.id = o.item_id
             WHERE o.state IN ('pending', 'uploaded')
             ORDER BY {}, coalesce(r.due_at, 9223372036854775807), r.finalized_at, o.created_at, o.id",
            level_rank_sql()
        );
        let mut stmt = conn.prepare(&sql)?;
        // Every live row is read (through its seal), and those not yet due are left out here
        // rather than in SQL: a row whose next attempt was pushed into the far future without
        // the key is reported, not silently held back.
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(6)?,
                UploadItem {
                    record_id: r.get(0)?,
                    outbox_id: r.get(1)?,
                    state: r.get(2)?,
                    risk_level: r.get(3)?,
                    due_at_ms: r.get(4)?,
                    finalized_at_ms: r.get(5)?,
                    bytes: r.get(7)?,
                },
            ))
        })?;
        let rows: Vec<(i64, UploadItem)> = rows.collect::<Result<_, _>>()?;
        // A row edited out of this list's filter (store/sealed.rs).
        super::sealed::check_live_counts(&conn)?;
        let now = self.now_ms();
        Ok(rows.into_iter().filter(|(next, _)| *next <= now).map(|(_, item)| item).collect())
    }

    /// How many items wait for upload (pending or uploaded) and how many are parked.
    pub(crate) fn outbox_counts(&self) -> Result<(i64, i64), StoreError> {
        Ok(self.reader()?.query_row(
            "SELECT coalesce(sum(state IN ('pending', 'uploaded')), 0), coalesce(sum(state = 'parked'), 0)
             FROM outbox_v",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// What a record's submission is sealed from.
    pub(crate) fn upload_source(&self, record_id: &str) -> Result<UploadSource, StoreError> {
        type Row = (
            RecordKind,
            String,
            String,
            Option<Level>,
            Option<i64>,
            Option<i64>,
            i64,
            Option<String>,
            Option<Vec<u8>>,
            Option<String>,
            Option<String>,
            String,
        );
        let (row, device): (Option<Row>, (Option<String>, String)) = {
            let conn = self.reader()?;
            let row = conn
                .query_row(
                    "SELECT r.kind, r.form_id, r.form_version, r.risk_level, r.due_at, r.finalized_at,
                            r.revision, r.revision_of, r.submission_enc, h.code, h.commune_code, o.id
                     FROM records_v r JOIN outbox_v o ON o.item_kind = 'submission' AND o.item_id = r.id
                     LEFT JOIN households h ON h.id = r.household_id
                     WHERE r.id = ?1",
                    params![record_id],
                    |r| Row::try_from(r),
                )
                .optional()?;
            let device = conn.query_row(
                "SELECT team, communes FROM device_v WHERE id = ?1",
                params![self.device_id()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            (row, device)
        };
        let not_found = || StoreError::NotFound { entity: "queued record", id: record_id.into() };
        let (
            kind,
            form_id,
            form_version,
            risk,
            due,
            finalized,
            revision,
            revision_of,
            sub,
            code,
            commune,
            outbox_id,
        ) = row.ok_or_else(not_found)?;
        let unsealable = |state: &str| StoreError::InvalidState {
            entity: "record",
            id: record_id.into(),
            state: state.into(),
            action: "seal for upload",
        };
        let finalized = finalized.ok_or_else(|| unsealable("not finalized"))?;
        let sub = sub.ok_or_else(|| unsealable("purged"))?;
        let submission = self.keys().column.decrypt("records", "submission", record_id, &sub)?;
        let (team, communes) = device;
        let communes: Vec<String> = super::json::from_str("communes", &communes)?;
        let commune = commune.or_else(|| match communes.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        });
        Ok(UploadSource {
            record_id: record_id.into(),
            outbox_id,
            kind,
            form_id,
            form_version,
            team,
            commune,
            household_code: code,
            risk_level: risk,
            due_at_ms: due,
            finalized_at_ms: finalized,
            revision,
            revision_of,
            submission,
            evidence: self.evidence_items(record_id)?,
        })
    }

    /// The evidence files of a record, in the order they were attached.
    pub(crate) fn evidence_items(
        &self,
        record_id: &str,
    ) -> Result<Vec<UploadEvidence>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT o.id, o.item_id, o.payload_sha256, o.size_bytes, o.state, o.upload_url
             FROM attachments t CROSS JOIN outbox_v o ON o.item_kind = 'attachment' AND o.item_id = t.id
             WHERE t.record_id = ?1 ORDER BY t.created_at, t.id",
        )?;
        let rows = stmt.query_map(params![record_id], |r| {
            Ok(UploadEvidence {
                outbox_id: r.get(0)?,
                attachment_id: r.get(1)?,
                sha256: hex::encode(&r.get::<_, Vec<u8>>(2)?),
                len: r.get(3)?,
                state: r.get(4)?,
                upload_url: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A submission's sealed upload body, if it was sealed.
    pub(crate) fn sealed_body(&self, outbox_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let body: Option<Option<Vec<u8>>> = self
            .reader()?
            .query_row(
                "SELECT sealed_body FROM outbox_v WHERE id = ?1 AND item_kind = 'submission'",
                params![outbox_id],
                |r| r.get(0),
            )
            .optional()?;
        body.ok_or_else(|| StoreError::NotFound {
            entity: "submission outbox item",
            id: outbox_id.into(),
        })
    }

    /// Keep a submission's sealed body: from now on the item is named by the SHA-256 of the
    /// sealed envelope (what the server's receipt names) and every retry sends these bytes. If a
    /// body is already kept (sealed meanwhile by another sync), that one is returned and `body`
    /// is dropped: a submission is sealed once.
    pub(crate) fn keep_sealed_body(
        &self,
        actor: Option<&str>,
        outbox_id: &str,
        body: &[u8],
        envelope_sha256: &[u8; 32],
    ) -> Result<Vec<u8>, StoreError> {
        self.write(|tx, s| {
            let kept: Option<Option<Vec<u8>>> = tx
                .query_row(
                    "SELECT sealed_body FROM outbox_v
                     WHERE id = ?1 AND item_kind = 'submission' AND state IN ('pending', 'uploaded')",
                    params![outbox_id],
                    |r| r.get(0),
                )
                .optional()?;
            match kept {
                None => Err(StoreError::NotFound {
                    entity: "unacknowledged submission outbox item",
                    id: outbox_id.into(),
                }),
                Some(Some(existing)) => Ok(existing),
                Some(None) => {
                    tx.execute(
                        "UPDATE outbox SET sealed_body = ?2, payload_sha256 = ?3, size_bytes = ?4
                         WHERE id = ?1",
                        params![outbox_id, body, envelope_sha256.to_vec(), body.len() as i64],
                    )?;
                    s.audit(tx, actor, Action::Sealed, "outbox", outbox_id)?;
                    Ok(body.to_vec())
                }
            }
        })
    }

    /// The sealed envelope of an attachment, for upload. (Sealed to the recipients: the phone
    /// cannot open it, so any unlocked profile may send the device's outbox.)
    pub(crate) fn evidence_envelope(&self, attachment_id: &str) -> Result<Vec<u8>, StoreError> {
        let env: Option<Option<Vec<u8>>> = self
            .reader()?
            .query_row(
                "SELECT envelope FROM attachments WHERE id = ?1",
                params![attachment_id],
                |r| r.get(0),
            )
            .optional()?;
        match env {
            None => Err(StoreError::NotFound { entity: "attachment", id: attachment_id.into() }),
            Some(None) => Err(StoreError::InvalidState {
                entity: "attachment",
                id: attachment_id.into(),
                state: "purged".into(),
                action: "upload",
            }),
            Some(Some(e)) => Ok(e),
        }
    }

    /// Remember (or forget, with `None`) an evidence item's tus upload path.
    pub(crate) fn set_upload_url(
        &self,
        outbox_id: &str,
        url: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(|tx, _| {
            let n = tx.execute(
                "UPDATE outbox SET upload_url = ?2 WHERE id = ?1 AND item_kind = 'attachment'",
                params![outbox_id, url],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound {
                    entity: "evidence outbox item",
                    id: outbox_id.into(),
                });
            }
            Ok(())
        })
    }

    /// Apply a receipt the sync engine verified (server key, record id, envelope SHA-256): the
    /// evidence the server holds is acknowledged; evidence it lacks goes back to pending; the
    /// submission is acknowledged if the receipt is complete, otherwise marked uploaded. The
    /// signed receipt is kept with the submission. Only `crate::sync` calls this, after
    /// `Receipt::verify`.
    pub(crate) fn apply_receipt(
        &self,
        actor: Option<&str>,
        record_id: &str,
        envelope_sha256: &str,
        receipt_json: &str,
        complete: bool,
        missing: &[String],
    ) -> Result<ReceiptOutcome, StoreError> {
        let now = self.now_ms();
        self.write(|tx, s| {
            let row: Option<(String, OutboxState, Vec<u8>)> = tx
                .query_row(
                    "SELECT id, state, payload_sha256 FROM outbox_v
                     WHERE item_kind = 'submission' AND item_id = ?1",
                    params![record_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (sub_id, state, payload) = row.ok_or_else(|| StoreError::NotFound {
                entity: "submission outbox item",
                id: record_id.into(),
            })?;
            if !matches!(state, OutboxState::Pending | OutboxState::Uploaded) {
                return Err(StoreError::InvalidState {
                    entity: "outbox item",
                    id: sub_id,
                    state: state.to_string(),
                    action: "apply a receipt",
                });
            }
            if hex::encode(&payload) != envelope_sha256 {
                return Err(StoreError::Invalid {
                    field: "receipt.envelope_sha256",
                    message: "does not name the sealed submission".into(),
                });
            }
            tx.execute(
                "UPDATE outbox SET receipt = ?2 WHERE id = ?1",
                params![sub_id, receipt_json],
            )?;
            let evidence: Vec<(String, Vec<u8>, OutboxState)> = {
                let mut stmt = tx.prepare(
                    "SELECT o.id, o.payload_sha256, o.state FROM attachments t CROSS JOIN outbox_v o
                     ON o.item_kind = 'attachment' AND o.item_id = t.id WHERE t.record_id = ?1",
                )?;
                let rows =
                    stmt.query_map(params![record_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut out =
                ReceiptOutcome { complete: false, evidence_acknowledged: 0, evidence_missing: 0 };
            let mut outstanding = 0;
            for (id, sha, ev_state) in evidence {
                let lacking = missing.contains(&hex::encode(&sha));
                match ev_state {
                    OutboxState::Pending | OutboxState::Uploaded if lacking => {
                        out.evidence_missing += 1;
                        outstanding += 1;
                        if ev_state == OutboxState::Uploaded {
                            tx.execute(
                                "UPDATE outbox SET state = ?2 WHERE id = ?1",
                                params![id, OutboxState::Pending],
                            )?;
                        }
                    }
                    OutboxState::Pending | OutboxState::Uploaded => {
                        tx.execute(
                            "UPDATE outbox SET state = ?3, acknowledged_at = ?2 WHERE id = ?1",
                            params![id, now, OutboxState::Acknowledged],
                        )?;
                        s.audit(tx, actor, Action::Acknowledged, "outbox", &id)?;
                        out.evidence_acknowledged += 1;
                    }
                    OutboxState::Parked => outstanding += 1,
                    OutboxState::Acknowledged => {}
                }
            }
            if complete && missing.is_empty() && outstanding == 0 {
                tx.execute(
                    "UPDATE outbox SET state = ?3, acknowledged_at = ?2 WHERE id = ?1",
                    params![sub_id, now, OutboxState::Acknowledged],
                )?;
                advance_record(
                    tx,
                    record_id,
                    &[RecordState::Queued, RecordState::Uploaded],
                    RecordState::Acknowledged,
                    now,
                )?;
                s.audit(tx, actor, Action::Acknowledged, "outbox", &sub_id)?;
                out.complete = true;
            } else if state == OutboxState::Pending {
                tx.execute(
                    "UPDATE outbox SET state = ?2, attempts = attempts + 1 WHERE id = ?1",
                    params![sub_id, OutboxState::Uploaded],
                )?;
                advance_record(tx, record_id, &[RecordState::Queued], RecordState::Uploaded, now)?;
                s.audit(tx, actor, Action::Uploaded, "outbox", &sub_id)?;
            }
            Ok(out)
        })
    }

    /// The server refused an item for good: park it with the server's code (kept, never
    /// purged, not sent again until an operator puts it back with `unpark`).
    pub(crate) fn park(
        &self,
        actor: Option<&str>,
        outbox_id: &str,
        code: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let code: String = code.chars().take(64).collect();
        let error: String = message.chars().take(MAX_ERROR_CHARS).collect();
        self.write(|tx, s| {
            let n = tx.execute(
                "UPDATE outbox SET state = ?2, park_code = ?3, last_error = ?4
                 WHERE id = ?1 AND state IN ('pending', 'uploaded')",
                params![outbox_id, OutboxState::Parked, code, error],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound {
                    entity: "unacknowledged outbox item",
                    id: outbox_id.into(),
                });
            }
            s.audit(tx, actor, Action::Parked, "outbox", outbox_id)
        })
    }

    /// Put a parked item back in the queue (an operator resolved what the server refused), with
    /// its evidence if it is a submission. Due at once.
    pub fn unpark(&self, by: &Actor, outbox_id: &str) -> Result<(), StoreError> {
        by.require(Permission::ConfigureTeam)?;
        let now = self.now_ms();
        self.write(|tx, s| {
            let item: Option<String> = tx
                .query_row(
                    "SELECT item_id FROM outbox_v WHERE id = ?1 AND state = 'parked'",
                    params![outbox_id],
                    |r| r.get(0),
                )
                .optional()?;
            let item = item.ok_or_else(|| StoreError::NotFound {
                entity: "parked outbox item",
                id: outbox_id.into(),
            })?;
            let ids: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM outbox_v WHERE state = 'parked' AND (id = ?1 OR (item_kind = 'attachment'
                     AND item_id IN (SELECT id FROM attachments WHERE record_id = ?2)))",
                )?;
                let rows = stmt.query_map(params![outbox_id, item], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for id in ids {
                tx.execute(
                    "UPDATE outbox SET state = ?2, park_code = NULL, attempts = 0, next_attempt_at = ?3
                     WHERE id = ?1",
                    params![id, OutboxState::Pending, now],
                )?;
                s.audit(tx, Some(by.profile_id()), Action::Unparked, "outbox", &id)?;
            }
            Ok(())
        })
    }
}

/// Move a record on if it is in one of `from` (a record returned by a supervisor meanwhile
/// keeps its state: its upload still completes).
fn advance_record(
    tx: &Transaction<'_>,
    id: &str,
    from: &[RecordState],
    to: RecordState,
    at: i64,
) -> Result<(), StoreError> {
    let state: Option<RecordState> = tx
        .query_row("SELECT state FROM records_v WHERE id = ?1", params![id], |r| r.get(0))
        .optional()?;
    match state {
        Some(s) if from.contains(&s) => super::records::transition(tx, id, from, to, at),
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound { entity: "record", id: id.into() }),
    }
}
