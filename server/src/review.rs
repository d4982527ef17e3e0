//! The supervisor's loop (docs/protocol.md, "Review"): the team index a supervisor pulls, a
//! submission's body and an evidence file fetched by a device that may open them, decisions
//! (`PUT /v1/decisions/{id}`: first verdict stands, a superseded record refuses them) and the
//! decision feed each device syncs down.

use crate::params;
use crate::sql::{Conn, OptionalExtension};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use safehome_core::evidence::envelope;
use safehome_core::sync::protocol::{
    DECISION_CONTENT_TYPE, DECISION_RECEIPT_SCHEMA, DecisionBody, DecisionKind, DecisionReceipt,
    FEED_PAGE_BYTES, FeedItem, FeedPage, HouseholdMerge, IndexItem, IndexPage, MAX_DECISION_BODY,
    MAX_PAGE, ProtocolError, RecordStanding, StandingVerdict,
};

use crate::auth::{self, Device};
use crate::body::{check_declared, require_content_type};
use crate::enroll::valid_id;
use crate::error::ApiError;
use crate::state::AppState;

/// `after` and `limit` from a query string (`?after=17&limit=100`); anything else is refused.
fn page_query(uri: &Uri) -> Result<(i64, usize), ApiError> {
    let mut after = 0i64;
    let mut limit = MAX_PAGE;
    for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "after" => {
                after =
                    value.parse().ok().filter(|v| *v >= 0).ok_or_else(|| {
                        ApiError::bad_request("after", "must be a sequence number")
                    })?;
            }
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|v| (1..=MAX_PAGE).contains(v))
                    .ok_or_else(|| ApiError::bad_request("limit", "must be 1 to 500"))?;
            }
            _ => return Err(ApiError::bad_request("query", format!("unknown parameter {name}"))),
        }
    }
    Ok((after, limit))
}

/// `GET /v1/team/submissions?after=SEQ&limit=N`: the team's submissions by sequence number, for
/// a supervisor's device.
pub async fn team_index(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IndexPage>, ApiError> {
    let (device, _) = auth::read_signed(&state, &method, &uri, &headers, body, 1 << 10).await?;
    device.require_supervisor()?;
    let (after, limit) = page_query(&uri)?;
    let page = state
        .db
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.seq, s.record_id, s.device_id, r.kind, r.risk_level, r.due_at_ms,
                        r.finalized_at_ms, s.received_at_ms, length(s.body),
                        (SELECT coalesce(sum(e.len), 0) FROM submission_evidence e
                         WHERE e.record_id = s.record_id)
                 FROM submissions s JOIN submission_routing r ON r.record_id = s.record_id
                 WHERE s.team = ?1 AND s.seq > ?2 ORDER BY s.seq LIMIT ?3",
            )?;
            let items = stmt
                .query_map(params![device.team, after, limit as i64 + 1], |r| {
                    Ok(IndexItem {
                        seq: r.get(0)?,
                        record_id: r.get(1)?,
                        device_id: r.get(2)?,
                        kind: r.get(3)?,
                        risk_level: r.get(4)?,
                        due_at_ms: r.get(5)?,
                        finalized_at_ms: r.get(6)?,
                        received_at_ms: r.get(7)?,
                        body_len: r.get(8)?,
                        evidence_len: r.get(9)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(items)
        })
        .await?;
    let more = page.len() > limit;
    let items: Vec<IndexItem> = page.into_iter().take(limit).collect();
    let next_after = items.last().map_or(after, |i| i.seq);
    Ok(Json(IndexPage { items, next_after, more }))
}

/// `GET /v1/submissions/{record_id}`: the body as the volunteer's device sent it, for that
/// device and the supervisors of its team.
pub async fn get_submission(
    State(state): State<AppState>,
    Path(record_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (device, _) = auth::read_signed(&state, &method, &uri, &headers, body, 1 << 10).await?;
    let body = state
        .db
        .read(move |c| {
            let row: Option<(String, String, Vec<u8>)> = c
                .query_row(
                    "SELECT device_id, team, body FROM submissions WHERE record_id = ?1",
                    [&record_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((origin, team, body)) = row else {
                return Err(ApiError::not_found("the server does not hold this record"));
            };
            may_read(&device, &origin, &team)?;
            Ok(body)
        })
        .await?;
    Ok(binary(body))
}

/// The sending device, or a supervisor of its team.
fn may_read(device: &Device, origin: &str, team: &str) -> Result<(), ApiError> {
    if device.device_id == origin || (device.team == team && device.role == "supervisor") {
        Ok(())
    } else {
        Err(ApiError::forbidden("this record is not this device's nor its team's"))
    }
}

fn binary(bytes: Vec<u8>) -> Response {
    let mut res = (StatusCode::OK, bytes).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /v1/blobs/{sha256}`: an evidence envelope, for a device that may read a submission
/// listing it.
pub async fn get_blob(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (device, _) = auth::read_signed(&state, &method, &uri, &headers, body, 1 << 10).await?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiError::bad_request("sha256", "must be 64 lower-case hex characters"));
    }
    let wanted = sha256.clone();
    state
        .db
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.device_id, s.team FROM submission_evidence e
                 JOIN submissions s ON s.record_id = e.record_id
                 JOIN blobs b ON b.sha256 = e.sha256
                 WHERE e.sha256 = ?1",
            )?;
            let holders = stmt
                .query_map([&wanted], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            if holders.is_empty() {
                return Err(ApiError::not_found("the server holds no such evidence file"));
            }
            if holders.iter().any(|(origin, team)| may_read(&device, origin, team).is_ok()) {
                Ok(())
            } else {
                Err(ApiError::forbidden("this evidence is not this device's nor its team's"))
            }
        })
        .await?;
    // Read through the object store (docs/operations.md, "Evidence in object storage").
    let (objects, key) = (std::sync::Arc::clone(&state.objects), crate::objects::blob_key(&sha256));
    let stored = |e: &crate::objects::ObjectError| ApiError::objects("reading evidence", e);
    let total = {
        let (objects, key) = (std::sync::Arc::clone(&objects), key.clone());
        tokio::task::spawn_blocking(move || objects.size(&key))
            .await
            .map_err(|_| ApiError::internal("reading evidence"))?
            .map_err(|e| stored(&e))?
            .ok_or_else(|| ApiError::internal("a listed evidence file is missing from the store"))?
    };
    let total = usize::try_from(total).map_err(|_| ApiError::internal("evidence size"))?;
    // One range (`bytes=START-END`), so that a phone whose HTTP stack caps an answer's size
    // fetches a large file in pieces; anything else gets the whole file.
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| {
            Some((a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()?))
        });
    let read = |span: Option<(usize, usize)>| async move {
        tokio::task::spawn_blocking(move || match span {
            Some((start, len)) => objects.get_range(&key, start as u64, len as u64),
            None => objects.get(&key),
        })
        .await
        .map_err(|_| ApiError::internal("reading evidence"))?
        .map_err(|e| stored(&e))?
        .ok_or_else(|| ApiError::internal("a listed evidence file is missing from the store"))
    };
    match range {
        Some((start, end)) if start <= end && start < total => {
            let end = end.min(total - 1);
            let mut res = binary(read(Some((start, end - start + 1))).await?);
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            let content_range = format!("bytes {start}-{end}/{total}");
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&content_range)
                    .map_err(|_| ApiError::internal("a content range"))?,
            );
            Ok(res)
        }
        Some(_) => Err(ApiError::new(416, "bad_request", "the range is outside the file")
            .with("len", total as i64)),
        None => Ok(binary(read(None).await?)),
    }
}

/// The outcome of a decision `PUT` under the database transaction.
enum Put {
    Created(DecisionReceipt),
    Same(DecisionReceipt),
    Refused(ApiError),
}

/// `PUT /v1/decisions/{decision_id}`.
pub async fn put_decision(
    State(state): State<AppState>,
    Path(decision_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_declared(&headers, MAX_DECISION_BODY)?;
    require_content_type(&headers, DECISION_CONTENT_TYPE)?;
    let (device, bytes) =
        auth::read_signed(&state, &method, &uri, &headers, body, MAX_DECISION_BODY).await?;
    // A volunteer's (or a health worker's) device cannot decide, however well it signs.
    device.require_supervisor()?;
    if !valid_id(&decision_id) {
        return Err(ApiError::bad_request("decision_id", "must be 1 to 64 letters, digits or '-'"));
    }
    let decision = DecisionBody::decode(&bytes).map_err(decision_error)?;
    decision.verify(&device.public_key).map_err(decision_error)?;
    envelope::verify(&decision.envelope[..], Some(&device.public_key)).map_err(|e| {
        ApiError::new(400, "bad_envelope", "the envelope fails keyless verification")
            .with("reason", e.to_string())
    })?;
    let h = &decision.header;
    let bad = |field: &str, message: &str| ApiError::bad_request(field, message.to_string());
    if h.decision_id != decision_id {
        return Err(bad("decision.decision_id", "is not the decision id of the path"));
    }
    if h.device_id != device.device_id {
        return Err(bad("decision.device_id", "is not the requesting device"));
    }
    if h.team != device.team {
        return Err(bad("decision.team", "is not the device's team"));
    }
    if (h.kind == DecisionKind::Act) != h.action_at_ms.is_some() {
        return Err(bad("decision.action_at_ms", "is given for an action (act), and only then"));
    }
    // (A merge names its two households, and only a merge: checked by `DecisionBody::decode`.)
    let now = state.now_ms();
    let outcome = state.db.call(move |c| store_decision(c, &decision, &bytes, now)).await?;
    match outcome {
        Put::Created(receipt) => {
            tracing::info!(decision = %receipt.decision_id, seq = receipt.seq, "decision stored");
            signed(&state, StatusCode::CREATED, &receipt)
        }
        Put::Same(receipt) => signed(&state, StatusCode::OK, &receipt),
        Put::Refused(e) => Err(e),
    }
}

fn decision_error(e: ProtocolError) -> ApiError {
    match e {
        ProtocolError::Malformed { field, message } => ApiError::bad_request(field, message),
        ProtocolError::BadSignature { .. } => {
            ApiError::bad_request("signature", "the decision's signature does not verify")
        }
    }
}

fn signed(
    state: &AppState,
    status: StatusCode,
    receipt: &DecisionReceipt,
) -> Result<Response, ApiError> {
    let document =
        receipt.sign(&state.key).map_err(|_| ApiError::internal("signing a decision receipt"))?;
    Ok((status, Json(document)).into_response())
}

/// Decide under one transaction: idempotent by decision id and envelope hash; the record must
/// be the team's, as the supervisor saw it, not superseded; a verdict must name the current one.
fn store_decision(
    c: &Conn,
    decision: &DecisionBody,
    bytes: &[u8],
    now: i64,
) -> Result<Put, ApiError> {
    let h = &decision.header;
    let tx = c.savepoint()?;
    let stored: Option<(String, i64, i64)> = tx
        .query_row(
            "SELECT envelope_sha256, seq, received_at_ms FROM decisions WHERE decision_id = ?1",
            [&h.decision_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((sha, seq, received_at_ms)) = stored {
        if sha != h.envelope_sha256 {
            return Ok(Put::Refused(
                ApiError::new(409, "decision_conflict", "another decision has this id")
                    .with("envelope_sha256", sha),
            ));
        }
        return Ok(Put::Same(receipt(h, seq, received_at_ms, now)));
    }
    let record: Option<(String, String, String)> = tx
        .query_row(
            "SELECT device_id, team, envelope_sha256 FROM submissions WHERE record_id = ?1",
            [&h.record_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((origin, team, record_sha)) = record else {
        return Ok(Put::Refused(ApiError::not_found("the server does not hold this record")));
    };
    if team != h.team {
        return Ok(Put::Refused(ApiError::forbidden("this record is not the device's team's")));
    }
    if record_sha != h.record_envelope_sha256 {
        return Ok(Put::Refused(ApiError::bad_request(
            "decision.record_envelope_sha256",
            "is not the stored record's",
        )));
    }
    let standing = standing(&tx, &h.record_id)?;
    if let Some(by) = &standing.superseded_by {
        return Ok(Put::Refused(
            ApiError::new(409, "record_superseded", "a revision has replaced this record")
                .with("superseded_by", by.clone())
                .with("standing", to_json(&standing)?),
        ));
    }
    if let Some(m) = &h.merge {
        if let Some(refused) = merge_refused(&tx, &h.team, &h.record_id, m)? {
            return Ok(Put::Refused(refused));
        }
    }
    if h.kind.is_verdict() {
        let current = standing.verdict.as_ref().map(|v| v.decision_id.as_str());
        if current != h.base.as_deref() {
            return Ok(Put::Refused(
                ApiError::new(
                    409,
                    "decision_conflict",
                    "the record's verdict changed since this decision was made",
                )
                .with("standing", to_json(&standing)?),
            ));
        }
    }
    let seq: i64 = tx.query_row(
        "INSERT INTO decisions (decision_id, record_id, team, origin_device, device_id, kind, base,
                                decided_at_ms, envelope_sha256, received_at_ms, body,
                                merge_household, merge_into)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         RETURNING seq",
        params![
            h.decision_id,
            h.record_id,
            h.team,
            origin,
            h.device_id,
            h.kind.as_str(),
            h.base,
            h.decided_at_ms,
            h.envelope_sha256,
            now,
            bytes,
            h.merge.as_ref().map(|m| &m.household),
            h.merge.as_ref().map(|m| &m.into)
        ],
        |r| r.get(0),
    )?;
    if h.kind.is_verdict() {
        tx.execute(
            "INSERT INTO verdicts (record_id, decision_id) VALUES (?1, ?2)
             ON CONFLICT (record_id) DO UPDATE SET decision_id = ?2",
            params![h.record_id, h.decision_id],
        )?;
    }
    if let Some(m) = &h.merge {
        // The console counts the merged household as the kept one, once.
        tx.execute(
            "INSERT INTO screened_households (commune, household_code)
             SELECT commune, ?2 FROM screened_households WHERE household_code = ?1
             ON CONFLICT DO NOTHING",
            params![m.household, m.into],
        )?;
        tx.execute("DELETE FROM screened_households WHERE household_code = ?1", [&m.household])?;
    }
    // The console's case clock (schema_v2.sql): an action taken, or a referral to the district,
    // with its time, never its text. An approval or a return is a review, not an action on the
    // case, and does not stop the clock of an urgent case; a merge is about the household.
    if matches!(h.kind, DecisionKind::Act | DecisionKind::Escalate) {
        let action_at = h.action_at_ms.unwrap_or(h.decided_at_ms);
        crate::console::data::record_case_action(
            &tx,
            &h.record_id,
            h.kind.as_str(),
            action_at,
            Some(&h.device_id),
            now,
        )?;
    }
    tx.commit()?;
    Ok(Put::Created(receipt(h, seq, now, now)))
}

/// Why a merge cannot stand, if it cannot: the record must be the merged household's, the kept
/// household must be the team's, and neither may already be merged (the first merge of a
/// household stands; merges never chain, so each household's count moves once).
fn merge_refused(
    c: &Conn,
    team: &str,
    record_id: &str,
    m: &HouseholdMerge,
) -> Result<Option<ApiError>, ApiError> {
    let household: Option<String> = c
        .query_row(
            "SELECT household_code FROM submission_routing WHERE record_id = ?1",
            [record_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    if household.as_deref() != Some(m.household.as_str()) {
        return Ok(Some(ApiError::bad_request(
            "decision.merge.household",
            "is not the decided record's household",
        )));
    }
    let kept: i64 = c.query_row(
        "SELECT count(*) FROM submission_routing WHERE team = ?1 AND household_code = ?2",
        params![team, m.into],
        |r| r.get(0),
    )?;
    if kept == 0 {
        return Ok(Some(ApiError::not_found("the server holds no record of the kept household")));
    }
    let merged_into = |code: &str| -> Result<Option<String>, ApiError> {
        Ok(c.query_row(
            "SELECT merge_into FROM decisions WHERE team = ?1 AND kind = 'merge'
               AND merge_household = ?2",
            params![team, code],
            |r| r.get(0),
        )
        .optional()?)
    };
    for code in [&m.household, &m.into] {
        if let Some(into) = merged_into(code)? {
            return Ok(Some(
                ApiError::new(409, "household_merged", "this household is already merged")
                    .with("household", code.clone())
                    .with("merged_into", into),
            ));
        }
    }
    let into_merged: i64 = c.query_row(
        "SELECT count(*) FROM decisions WHERE team = ?1 AND kind = 'merge' AND merge_into = ?2",
        params![team, m.household],
        |r| r.get(0),
    )?;
    if into_merged > 0 {
        return Ok(Some(
            ApiError::new(409, "household_merged", "other households were merged into this one")
                .with("household", m.household.clone()),
        ));
    }
    Ok(None)
}

fn to_json(standing: &RecordStanding) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(standing).map_err(|_| ApiError::internal("a record's standing"))
}

fn receipt(
    h: &safehome_core::sync::protocol::DecisionHeader,
    seq: i64,
    received_at_ms: i64,
    now: i64,
) -> DecisionReceipt {
    DecisionReceipt {
        schema: DECISION_RECEIPT_SCHEMA.into(),
        decision_id: h.decision_id.clone(),
        record_id: h.record_id.clone(),
        envelope_sha256: h.envelope_sha256.clone(),
        seq,
        received_at_ms,
        issued_at_ms: now,
    }
}

/// Where a record stands: its current verdict and the revision that replaced it.
fn standing(c: &Conn, record_id: &str) -> Result<RecordStanding, ApiError> {
    let superseded_by: Option<String> = c
        .query_row(
            "SELECT superseded_by FROM submission_routing WHERE record_id = ?1",
            [record_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let verdict = c
        .query_row(
            "SELECT d.decision_id, d.kind, d.device_id, d.decided_at_ms FROM verdicts v
             JOIN decisions d ON d.decision_id = v.decision_id WHERE v.record_id = ?1",
            [record_id],
            |r| {
                let kind: String = r.get(1)?;
                Ok((r.get::<_, String>(0)?, kind, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            },
        )
        .optional()?
        .and_then(|(decision_id, kind, device_id, decided_at_ms)| {
            Some(StandingVerdict {
                decision_id,
                kind: kind.parse().ok()?,
                device_id,
                decided_at_ms,
            })
        });
    Ok(RecordStanding { record_id: record_id.to_string(), verdict, superseded_by })
}

/// `GET /v1/decisions?after=SEQ&limit=N`: the decisions a device must see, in order: on its
/// own records, and for a supervisor every decision of its team.
pub async fn feed(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<FeedPage>, ApiError> {
    let (device, _) = auth::read_signed(&state, &method, &uri, &headers, body, 1 << 10).await?;
    let (after, limit) = page_query(&uri)?;
    let page = state
        .db
        .read(move |c| {
            let supervisor = device.role == "supervisor";
            let mut stmt = c.prepare_cached(
                "SELECT seq, received_at_ms, body FROM decisions
                 WHERE seq > ?1 AND ((?2 = 1 AND team = ?3) OR origin_device = ?4)
                 ORDER BY seq LIMIT ?5",
            )?;
            let mut rows = stmt.query(params![
                after,
                supervisor,
                device.team,
                device.device_id,
                limit as i64 + 1
            ])?;
            let mut items = Vec::new();
            let mut bytes = 0usize;
            let mut more = false;
            while let Some(r) = rows.next()? {
                let body: Vec<u8> = r.get(2)?;
                if items.len() == limit
                    || (!items.is_empty() && bytes + body.len() > FEED_PAGE_BYTES)
                {
                    more = true;
                    break;
                }
                bytes += body.len();
                items.push(FeedItem {
                    seq: r.get(0)?,
                    received_at_ms: r.get(1)?,
                    body: safehome_core::sync::base64::encode(&body),
                });
            }
            Ok((items, more))
        })
        .await?;
    let (items, more) = page;
    let next_after = items.last().map_or(after, |i| i.seq);
    Ok(Json(FeedPage { items, next_after, more }))
}
