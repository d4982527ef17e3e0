//! The outbox: one entry per item to upload, kept until the server acknowledges the item by
//! its hash. Retention: acknowledged payloads are purged after the configured number of days,
//! leaving a receipt; nothing unsent is ever purged.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::records::{RecordState, transition};
use super::stored_enum::stored_enum;
use super::{Action, Store, StoreError};
use crate::hex;

stored_enum! {
    /// What an outbox item uploads.
    pub enum OutboxItemKind("outbox item kind" in "outbox"."item_kind") {
        /// A record's signed submission; `item_id` is the record's id.
        Submission = "submission",
        /// A sealed photo envelope; `item_id` is the attachment's id.
        Attachment = "attachment",
    }
}

stored_enum! {
    /// Where an outbox item is. Only `Acknowledged` items may ever be purged.
    pub enum OutboxState("outbox state" in "outbox"."state") {
        /// Waiting to be sent (again, after a failure, once its backoff has passed).
        Pending = "pending",
        /// Received by the server, not yet acknowledged by its hash.
        Uploaded = "uploaded",
        /// The server acknowledged it by its hash.
        Acknowledged = "acknowledged",
        /// Refused for good by the server (`park_code` says why): kept, never purged, not sent
        /// again until an operator puts it back (`Store::unpark`).
        Parked = "parked",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    pub id: String,
    pub item_kind: OutboxItemKind,
    pub item_id: String,
    pub state: OutboxState,
    pub payload_sha256: String,
    pub size_bytes: i64,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub acknowledged_at_ms: Option<i64>,
    /// The server's error code of a parked item (`submission_conflict`, `bad_envelope`, …).
    pub park_code: Option<String>,
}

/// Wait before retry `attempts` (1-based): 1 minute doubling to 6 hours.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = (attempts - 1).clamp(0, 20) as u32;
    (60_000i64 << doublings).min(6 * 3_600_000)
}

impl Store {
    /// Every outbox entry, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_query("ORDER BY created_at, id", params![])
    }

    /// Entries waiting to be sent whose next attempt is due.
    pub fn outbox_due(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        self.outbox_query(
            "WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id",
            params![self.now_ms()],
        )
    }

    fn outbox_query(
        &self,
        tail: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT id, item_kind, item_id, state, payload_sha256, size_bytes, attempts, next_attempt_at,
                    last_error, created_at, acknowledged_at, park_code FROM outbox_v {tail}"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(p, |r| {
            Ok(OutboxEntry {
                id: r.get(0)?,
                item_kind: r.get(1)?,
                item_id: r.get(2)?,
                state: r.get(3)?,
                payload_sha256: hex::encode(&r.get::<_, Vec<u8>>(4)?),
                size_bytes: r.get(5)?,
                attempts: r.get(6)?,
                next_attempt_at_ms: r.get(7)?,
                last_error: r.get(8)?,
                created_at_ms: r.get(9)?,
                acknowledged_at_ms: r.get(10)?,
                park_code: r.get(11)?,
            })
        })?;
        let rows = rows.collect::<Result<_, _>>()?;
        // A row edited out of this list's filter (store/sealed.rs).
        super::sealed::check_live_counts(&conn)?;
        Ok(rows)
    }

    /// A send failed: count it and schedule the next attempt with backoff. Applies to an item
    /// waiting to be sent and to one the server holds without a complete receipt yet.
    pub fn outbox_failed(&self, outbox_id: &str, error: &str) -> Result<(), StoreError> {
        let now = self.now_ms();
        self.write(|tx, _| {
            let attempts: Option<i64> = tx
                .query_row("SELECT attempts FROM outbox_v WHERE id = ?1 AND state IN ('pending', 'uploaded')", params![outbox_id], |r| r.get(0))
                .optional()?;
            let attempts = attempts.ok_or_else(|| StoreError::NotFound { entity: "pending outbox entry", id: outbox_id.into() })? + 1;
            // Keep the error short: it comes from the network layer, not from personal data.
            let error: String = error.chars().take(200).collect();
            tx.execute(
                "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1",
                params![outbox_id, attempts, now + backoff_ms(attempts), error],
            )?;
            Ok(())
        })
    }

    /// The server received the item (not yet acknowledged by hash).
    pub fn outbox_uploaded(&self, outbox_id: &str) -> Result<(), StoreError> {
        let now = self.now_ms();
        self.write(|tx, s| {
            let (kind, item): (OutboxItemKind, String) = tx
                .query_row(
                    "SELECT item_kind, item_id FROM outbox_v WHERE id = ?1 AND state = 'pending'",
                    params![outbox_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| StoreError::NotFound {
                    entity: "pending outbox entry",
                    id: outbox_id.into(),
                })?;
            tx.execute(
                "UPDATE outbox SET state = ?2, attempts = attempts + 1 WHERE id = ?1",
                params![outbox_id, OutboxState::Uploaded],
            )?;
            if kind == OutboxItemKind::Submission {
                transition(tx, &item, &[RecordState::Queued], RecordState::Uploaded, now)?;
            }
            s.audit(tx, None, Action::Uploaded, "outbox", outbox_id)
        })
    }

    /// The server acknowledged an item by its SHA-256: only then may it ever be purged.
    /// A hash that matches nothing pending or uploaded is refused.
    ///
    /// The manual path (an operator's `safehome outbox ack`, offline setups): sync acknowledges
    /// only from a verified receipt. A submission is named by the SHA-256 of its sealed
    /// envelope once sealed for upload, or by that of its canonical bytes (what finalize
    /// returned) at any time.
    pub fn acknowledge(&self, payload_sha256_hex: &str) -> Result<String, StoreError> {
        let now = self.now_ms();
        let hash = hex::decode_array::<32>(payload_sha256_hex.trim())
            .map_err(|e| StoreError::Invalid { field: "payload_sha256", message: e.to_string() })?;
        self.write(|tx, s| {
            let (id, kind, item): (String, OutboxItemKind, String) = tx
                .query_row(
                    "SELECT id, item_kind, item_id FROM outbox_v
                     WHERE (payload_sha256 = ?1 OR (item_kind = 'submission'
                            AND item_id IN (SELECT id FROM records_v WHERE submission_hash = ?1)))
                       AND state IN ('pending', 'uploaded')
                     ORDER BY item_kind DESC LIMIT 1",
                    params![hash.to_vec()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?
                .ok_or_else(|| StoreError::NotFound {
                    entity: "unacknowledged outbox item",
                    id: payload_sha256_hex.into(),
                })?;
            tx.execute(
                "UPDATE outbox SET state = ?3, acknowledged_at = ?2 WHERE id = ?1",
                params![id, now, OutboxState::Acknowledged],
            )?;
            if kind == OutboxItemKind::Submission {
                let from = [RecordState::Queued, RecordState::Uploaded];
                transition(tx, &item, &from, RecordState::Acknowledged, now)?;
            }
            s.audit(tx, None, Action::Acknowledged, "outbox", &id)?;
            Ok(id)
        })
    }

    /// Purge payloads acknowledged more than `retention_days` ago. Returns how many records
    /// were purged. Unacknowledged items are never touched.
    pub fn purge_expired(&self) -> Result<usize, StoreError> {
        let cutoff = self.now_ms() - i64::from(self.config().retention_days) * 86_400_000;
        self.write(|tx, s| {
            let ids: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT r.id FROM records_v r JOIN outbox_v o ON o.item_kind = 'submission' AND o.item_id = r.id
                     WHERE o.state = 'acknowledged' AND o.acknowledged_at <= ?1 AND r.purged_at IS NULL
                       AND r.state = 'acknowledged'",
                )?;
                let rows = stmt.query_map(params![cutoff], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for id in &ids {
                tx.execute(
                    "UPDATE records SET submission_enc = NULL, draft_enc = NULL, child_ref_enc = NULL,
                        quality_flags_enc = NULL, fixes_enc = NULL, purged_at = ?2 WHERE id = ?1",
                    params![id, s.now_ms()],
                )?;
                tx.execute("DELETE FROM record_events WHERE record_id = ?1", params![id])?;
                // The sealed upload body goes with the payload; the signed receipt stays.
                tx.execute(
                    "UPDATE outbox SET sealed_body = NULL WHERE item_kind = 'submission' AND item_id = ?1",
                    params![id],
                )?;
                tx.execute(
                    "UPDATE attachments SET envelope = NULL, thumbnail_enc = NULL, photo_location_enc = NULL,
                        purged_at = ?2 WHERE record_id = ?1",
                    params![id, s.now_ms()],
                )?;
                s.audit(tx, None, Action::Purged, "record", id)?;
            }
            if !ids.is_empty() {
                tracing::info!("purged {} acknowledged record(s) past retention", ids.len());
            }
            Ok(ids.len())
        })
    }
}
