//! The audit chain: every state change appends an entry whose hash covers the previous entry's
//! hash and the entry's own fields. The head (count and last hash) is kept in `meta` under an
//! HMAC keyed from the data key, so deleting the newest entries is detected too — without the
//! key, nobody can forge a consistent head.

use ring::{digest, hmac};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Store, StoreError};

const GENESIS: [u8; 32] = [0u8; 32];

/// What happened, in the chain's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    Finalized,
    Queued,
    Uploaded,
    Acknowledged,
    Returned,
    Purged,
    PinFailure,
    Lockout,
    Unlocked,
    PinReset,
    Configured,
    /// Enrolled with a server from its signed team configuration (the server key pinned).
    Enrolled,
    /// A submission sealed for upload (its body kept from then on).
    Sealed,
    /// An outbox item refused for good by the server.
    Parked,
    /// A parked item put back in the queue by an operator.
    Unparked,
    /// A sync with the server ended.
    Synced,
    /// A team member's submission pulled, opened and verified (a supervisor's device).
    Received,
    /// A pulled submission or a decision that failed verification, kept aside with its reason.
    Quarantined,
    /// A supervisor's decision made on this device (signed and sealed; uploaded next).
    Decided,
    /// The server stored a decision made here (its signed receipt verified).
    DecisionSent,
    /// The server refused a decision made here (another verdict stood, or the record was
    /// superseded); the decision is kept with the server's answer.
    DecisionRefused,
    /// A decision from the feed verified and applied here.
    DecisionApplied,
    /// The pinned server key replaced by its successor, on the strength of a rotation signed
    /// by the pinned key.
    Repinned,
    /// A household merged into another by a supervisor's decision (its visits re-linked to the
    /// kept household when this device holds it).
    Merged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Finalized => "finalized",
            Action::Queued => "queued",
            Action::Uploaded => "uploaded",
            Action::Acknowledged => "acknowledged",
            Action::Returned => "returned",
            Action::Purged => "purged",
            Action::PinFailure => "pin_failure",
            Action::Lockout => "lockout",
            Action::Unlocked => "unlocked",
            Action::PinReset => "pin_reset",
            Action::Configured => "configured",
            Action::Enrolled => "enrolled",
            Action::Sealed => "sealed",
            Action::Parked => "parked",
            Action::Unparked => "unparked",
            Action::Synced => "synced",
            Action::Received => "received",
            Action::Quarantined => "quarantined",
            Action::Decided => "decided",
            Action::DecisionSent => "decision_sent",
            Action::DecisionRefused => "decision_refused",
            Action::DecisionApplied => "decision_applied",
            Action::Repinned => "repinned",
            Action::Merged => "merged",
        }
    }
}

fn entry_hash(
    prev: &[u8],
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    entity: &str,
    id: &str,
) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"safehome-audit-v1\0");
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&at.to_be_bytes());
    for part in [actor, action, entity, id] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn head_mac(key: &hmac::Key, count: i64, hash: &[u8]) -> Vec<u8> {
    let mut msg = count.to_be_bytes().to_vec();
    msg.extend_from_slice(hash);
    hmac::sign(key, &msg).as_ref().to_vec()
}

/// Append one entry inside the caller's transaction.
pub(super) fn append(
    tx: &Transaction<'_>,
    key: &hmac::Key,
    at: i64,
    actor: Option<&str>,
    action: Action,
    entity: &str,
    id: &str,
) -> Result<(), StoreError> {
    let (seq, prev) = match last_entry(tx)? {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_vec()),
    };
    let actor_s = actor.unwrap_or("");
    let hash = entry_hash(&prev, seq, at, actor_s, action.as_str(), entity, id);
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, entity, entity_id, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![seq, at, actor, action.as_str(), entity, id, prev, hash.to_vec()],
    )?;
    let mut head = seq.to_be_bytes().to_vec();
    head.extend_from_slice(&hash);
    head.extend_from_slice(&head_mac(key, seq, &hash));
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('audit_head', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![head],
    )?;
    Ok(())
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditReport {
    pub entries: i64,
    /// The first problem found, if any: `seq N: reason`.
    pub problem: Option<String>,
}

impl AuditReport {
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

impl Store {
    /// The length of the audit chain and the hex hash of its last entry (empty for an empty
    /// chain): what a sync reports to the server, which flags a shorter chain or another head
    /// at the same length (a database restored from an old copy).
    pub fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let last = last_entry(&*self.reader()?)?;
        Ok(last.map_or((0, String::new()), |(seq, hash)| (seq, crate::hex::encode(&hash))))
    }

    /// Recompute the whole chain: detects edited, deleted, inserted and reordered entries, and
    /// (through the keyed head) entries removed from the end. Rows whose security fields carry
    /// a MAC (profiles) are checked too: an edit made without the key is reported.
    pub fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT seq, at, actor, action, entity, entity_id, prev_hash, hash FROM audit ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = GENESIS.to_vec();
        let mut expected_seq = 1i64;
        let mut problem = None;
        let mut count = 0i64;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let at: i64 = r.get(1)?;
            let actor: Option<String> = r.get(2)?;
            let action: String = r.get(3)?;
            let entity: String = r.get(4)?;
            let id: String = r.get(5)?;
            let stored_prev: Vec<u8> = r.get(6)?;
            let hash: Vec<u8> = r.get(7)?;
            count += 1;
            if problem.is_some() {
                continue;
            }
            if seq != expected_seq {
                problem = Some(format!("seq {seq}: expected {expected_seq} (an entry is missing)"));
            } else if stored_prev != prev {
                problem = Some(format!("seq {seq}: does not follow the previous entry"));
            } else if entry_hash(
                &prev,
                seq,
                at,
                actor.as_deref().unwrap_or(""),
                &action,
                &entity,
                &id,
            )
            .as_slice()
                != hash.as_slice()
            {
                problem = Some(format!("seq {seq}: entry was altered"));
            }
            prev = hash;
            expected_seq += 1;
        }
        if problem.is_none() {
            let head: Option<Vec<u8>> = conn
                .query_row("SELECT value FROM meta WHERE key = 'audit_head'", [], |r| r.get(0))
                .optional()?;
            problem = match head {
                None if count == 0 => None,
                None => Some("head: missing".into()),
                Some(h) if h.len() == 8 + 32 + 32 => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&h[..8]);
                    let head_count = i64::from_be_bytes(n);
                    let ok = hmac::verify(
                        &self.keys.audit_mac,
                        &{
                            let mut m = h[..8].to_vec();
                            m.extend_from_slice(&h[8..40]);
                            m
                        },
                        &h[40..],
                    )
                    .is_ok();
                    if !ok {
                        Some("head: not authentic".into())
                    } else if head_count != count || h[8..40] != prev[..] {
                        Some(format!("head: chain has {count} entries, head records {head_count}"))
                    } else {
                        None
                    }
                }
                Some(_) => Some("head: malformed".into()),
            };
        }
        drop(rows);
        drop(stmt);
        drop(conn);
        if problem.is_none() {
            // Rows whose security fields were edited without the key (docs/storage.md).
            let sealed = super::sealed::broken_rows(&*self.reader()?)?;
            let missing = missing_rows(&*self.reader()?)?;
            if let Some(row) = self.tampered_profiles()?.into_iter().next() {
                problem = Some(format!("profiles row {row}: changed outside the app"));
            } else if let Err(StoreError::Tampered { table, row }) = self.sync_state() {
                problem = Some(format!("{table} row {row}: changed outside the app"));
            } else if let Some((table, row)) = sealed.into_iter().next() {
                problem = Some(format!("{table} row {row}: changed outside the app"));
            } else if let Some((table, row)) = missing.into_iter().next() {
                problem = Some(format!("{table} row {row}: deleted outside the app"));
            }
        }
        match &problem {
            Some(p) => tracing::error!("audit chain broken ({count} entries): {p}"),
            None => tracing::debug!("audit chain intact ({count} entries)"),
        }
        Ok(AuditReport { entries: count, problem })
    }
}

/// The chain's last entry, as (seq, which is also the chain's length, and hash); `None` for an
/// empty chain.
pub(super) fn last_entry(conn: &Connection) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Rows the chain says were created and that are gone (the store never deletes them: records
/// and their outbox rows are purged in place, households and profiles kept), as (table, id).
/// The chain itself is checked first, so its entries can be trusted here.
fn missing_rows(conn: &Connection) -> Result<Vec<(&'static str, String)>, StoreError> {
    const CREATED: [(&str, &str, &str); 6] = [
        ("visit", "records", "id"),
        ("incident", "records", "id"),
        ("outbox", "outbox", "id"),
        ("household", "households", "id"),
        ("profile", "profiles", "id"),
        ("device", "device", "id"),
    ];
    let mut out = Vec::new();
    for (entity, table, key) in CREATED {
        let sql = format!(
            "SELECT DISTINCT a.entity_id FROM audit a WHERE a.entity = ?1
             AND NOT EXISTS (SELECT 1 FROM main.{table} t WHERE t.{key} = a.entity_id)"
        );
        let mut stmt = conn.prepare(&sql)?;
        for id in stmt.query_map([entity], |r| r.get::<_, String>(0))? {
            out.push((table, id?));
        }
    }
    Ok(out)
}
