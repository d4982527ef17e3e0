//! Submissions in the database: storing one, finding one, and the receipt it gets.

use crate::params;
use crate::sql::{Conn, OptionalExtension};
use safehome_core::sync::protocol::{RECEIPT_SCHEMA, Receipt, RoutingHeader};

/// What the server keeps about a stored submission (besides its body).
#[derive(Debug, Clone)]
pub struct Stored {
    pub seq: i64,
    pub record_id: String,
    pub device_id: String,
    pub envelope_sha256: String,
    pub received_at_ms: i64,
}

pub fn find(conn: &Conn, record_id: &str) -> crate::sql::Result<Option<Stored>> {
    conn.query_row(
        "SELECT seq, record_id, device_id, envelope_sha256, received_at_ms
         FROM submissions WHERE record_id = ?1",
        [record_id],
        |r| {
            Ok(Stored {
                seq: r.get(0)?,
                record_id: r.get(1)?,
                device_id: r.get(2)?,
                envelope_sha256: r.get(3)?,
                received_at_ms: r.get(4)?,
            })
        },
    )
    .optional()
}

/// Store a verified submission; returns it with its sequence number.
pub fn insert(
    tx: &Conn,
    routing: &RoutingHeader,
    routing_bytes: &[u8],
    body: &[u8],
    received_at_ms: i64,
) -> crate::sql::Result<Stored> {
    let routing_text = String::from_utf8_lossy(routing_bytes);
    let seq: i64 = tx.query_row(
        "INSERT INTO submissions
             (record_id, device_id, team, envelope_sha256, received_at_ms, routing, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         RETURNING seq",
        params![
            routing.record_id,
            routing.device_id,
            routing.team,
            routing.envelope_sha256,
            received_at_ms,
            routing_text,
            body
        ],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO submission_routing (record_id, team, device_id, commune, household_code,
                                         kind, risk_level, due_at_ms, finalized_at_ms,
                                         received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            routing.record_id,
            routing.team,
            routing.device_id,
            routing.commune,
            routing.household_code,
            routing.kind,
            routing.risk_level,
            routing.due_at_ms,
            routing.finalized_at_ms,
            received_at_ms
        ],
    )?;
    // The console's counts (schema_v2.sql): Vietnam's month of the finalization.
    if let Some(commune) = &routing.commune {
        tx.execute(
            "INSERT INTO routing_monthly (commune, month, risk_level, submissions)
             VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (commune, month, risk_level)
             DO UPDATE SET submissions = routing_monthly.submissions + 1",
            params![
                commune,
                crate::console::timefmt::month_of(routing.finalized_at_ms),
                routing.risk_level.as_deref().unwrap_or("none")
            ],
        )?;
        if let (Some(household), "visit") = (&routing.household_code, routing.kind.as_str()) {
            // A household merged into another (a supervisor's `merge`) counts as the kept one.
            tx.execute(
                "INSERT INTO screened_households (commune, household_code)
                 VALUES (?1, coalesce((SELECT merge_into FROM decisions WHERE team = ?3
                                         AND kind = 'merge' AND merge_household = ?2), ?2))
                 ON CONFLICT DO NOTHING",
                params![commune, household, routing.team],
            )?;
        }
    }
    // A revision replaces the record it revises, when the same device sent it.
    if let Some(previous) = &routing.revision_of {
        tx.execute(
            "UPDATE submission_routing SET superseded_by = ?2
             WHERE record_id = ?1 AND device_id = ?3 AND superseded_by IS NULL",
            params![previous, routing.record_id, routing.device_id],
        )?;
    }
    let mut stmt = tx.prepare(
        "INSERT INTO submission_evidence (record_id, position, evidence_id, sha256, len)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (position, evidence) in routing.evidence.iter().enumerate() {
        stmt.execute(params![
            routing.record_id,
            position as i64,
            evidence.id,
            evidence.sha256,
            evidence.len
        ])?;
    }
    Ok(Stored {
        seq,
        record_id: routing.record_id.clone(),
        device_id: routing.device_id.clone(),
        envelope_sha256: routing.envelope_sha256.clone(),
        received_at_ms,
    })
}

/// The hex SHA-256 of each evidence file `record_id` lists that has not arrived, in the order
/// listed, each once.
pub fn missing_evidence(conn: &Conn, record_id: &str) -> crate::sql::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.sha256 FROM submission_evidence e
         WHERE e.record_id = ?1
           AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = e.sha256)
         GROUP BY e.sha256 ORDER BY MIN(e.position)",
    )?;
    let rows = stmt.query_map([record_id], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// The current receipt of a stored submission.
pub fn receipt(conn: &Conn, stored: &Stored, now_ms: i64) -> crate::sql::Result<Receipt> {
    let missing = missing_evidence(conn, &stored.record_id)?;
    Ok(Receipt {
        schema: RECEIPT_SCHEMA.into(),
        record_id: stored.record_id.clone(),
        envelope_sha256: stored.envelope_sha256.clone(),
        device_id: stored.device_id.clone(),
        received_at_ms: stored.received_at_ms,
        seq: stored.seq,
        complete: missing.is_empty(),
        missing_evidence: missing,
        issued_at_ms: now_ms,
    })
}
