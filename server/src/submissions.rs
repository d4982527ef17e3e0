//! `PUT /v1/submissions/{record_id}` (idempotent by record id and envelope hash) and
//! `GET /v1/submissions/{record_id}/receipt`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use safehome_core::evidence::envelope;
use safehome_core::sync::protocol::{
    MAX_EVIDENCE_LEN, MAX_SUBMISSION_BODY, ProtocolError, Receipt, RoutingHeader,
    SUBMISSION_CONTENT_TYPE, SubmissionBody,
};

use crate::auth::{self, Device};
use crate::body::{check_declared, require_content_type};
use crate::enroll::valid_id;
use crate::error::ApiError;
use crate::state::AppState;
use crate::submission_store;

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn protocol_error(e: ProtocolError) -> ApiError {
    match e {
        ProtocolError::Malformed { field, message } => ApiError::bad_submission(field, message),
        ProtocolError::BadSignature { .. } => {
            ApiError::bad_submission("signature", "the routing signature does not verify")
        }
    }
}

/// The routing header's fields the server checks beyond its shape (docs/protocol.md).
fn check_routing(r: &RoutingHeader, record_id: &str, device: &Device) -> Result<(), ApiError> {
    let bad = ApiError::bad_submission;
    if r.record_id != record_id {
        return Err(bad("routing.record_id", "is not the record id of the path"));
    }
    if r.device_id != device.device_id {
        return Err(bad("routing.device_id", "is not the requesting device"));
    }
    if r.team != device.team {
        return Err(bad("routing.team", "is not the device's team"));
    }
    if !matches!(r.kind.as_str(), "visit" | "incident") {
        return Err(bad("routing.kind", "must be visit or incident"));
    }
    if let Some(level) = &r.risk_level {
        if !matches!(level.as_str(), "low" | "medium" | "high" | "urgent") {
            return Err(bad("routing.risk_level", "must be low, medium, high, urgent or null"));
        }
    }
    if !is_hex64(&r.envelope_sha256) {
        return Err(bad("routing.envelope_sha256", "must be 64 lower-case hex characters"));
    }
    for e in &r.evidence {
        if !is_hex64(&e.sha256) {
            return Err(bad("routing.evidence.sha256", "must be 64 lower-case hex characters"));
        }
        if e.len < 0 || e.len as u64 > MAX_EVIDENCE_LEN {
            return Err(bad("routing.evidence.len", "is out of range"));
        }
    }
    Ok(())
}

/// The outcome of a `PUT` under the database transaction.
enum Put {
    Created(Receipt),
    Same(Receipt),
    Conflict(String),
    OtherDevice,
}

pub async fn put(
    State(state): State<AppState>,
    Path(record_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_declared(&headers, MAX_SUBMISSION_BODY)?;
    require_content_type(&headers, SUBMISSION_CONTENT_TYPE)?;
    let (device, bytes) =
        auth::read_signed(&state, &method, &uri, &headers, body, MAX_SUBMISSION_BODY).await?;
    if !valid_id(&record_id) {
        return Err(ApiError::bad_submission(
            "record_id",
            "must be 1 to 64 letters, digits or '-'",
        ));
    }
    // Parse and verify off the runtime's threads: the envelope may be megabytes.
    let key = device.public_key;
    let (bytes, submission) = tokio::task::spawn_blocking(move || {
        let submission = SubmissionBody::decode(&bytes).map_err(protocol_error)?;
        submission.verify(&key).map_err(protocol_error)?;
        envelope::verify(&submission.envelope[..], Some(&key)).map_err(|e| {
            ApiError::new(400, "bad_envelope", "the envelope fails keyless verification")
                .with("reason", e.to_string())
        })?;
        Ok::<_, ApiError>((bytes, submission))
    })
    .await
    .map_err(|_| ApiError::internal("verifying a submission"))??;
    check_routing(&submission.routing, &record_id, &device)?;
    let now = state.now_ms();
    let device_id = device.device_id.clone();
    let outcome = state
        .db
        .call(move |c| {
            let tx = c.savepoint()?;
            if let Some(stored) = submission_store::find(&tx, &record_id)? {
                if stored.device_id != device_id {
                    return Ok(Put::OtherDevice);
                }
                if stored.envelope_sha256 != submission.routing.envelope_sha256 {
                    return Ok(Put::Conflict(stored.envelope_sha256));
                }
                return Ok(Put::Same(submission_store::receipt(&tx, &stored, now)?));
            }
            let stored = submission_store::insert(
                &tx,
                &submission.routing,
                &submission.routing_bytes,
                &bytes,
                now,
            )?;
            let receipt = submission_store::receipt(&tx, &stored, now)?;
            // synchronous=FULL: the commit is on disk before the 201 goes out.
            tx.commit()?;
            Ok(Put::Created(receipt))
        })
        .await?;
    match outcome {
        Put::Created(receipt) => {
            tracing::info!(record = %receipt.record_id, seq = receipt.seq, "submission stored");
            signed(&state, StatusCode::CREATED, &receipt)
        }
        Put::Same(receipt) => signed(&state, StatusCode::OK, &receipt),
        Put::Conflict(stored_sha) => Err(ApiError::new(
            409,
            "submission_conflict",
            "different bytes are already stored under this record id",
        )
        .with("envelope_sha256", stored_sha)),
        Put::OtherDevice => Err(ApiError::forbidden("this record was sent by another device")),
    }
}

fn signed(state: &AppState, status: StatusCode, receipt: &Receipt) -> Result<Response, ApiError> {
    let document = receipt.sign(&state.key).map_err(|_| ApiError::internal("signing a receipt"))?;
    Ok((status, Json(document)).into_response())
}

pub async fn receipt(
    State(state): State<AppState>,
    Path(record_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (device, _) = auth::read_signed(&state, &method, &uri, &headers, body, 1 << 10).await?;
    let now = state.now_ms();
    let receipt = state
        .db
        .call(move |c| {
            let Some(stored) = submission_store::find(c, &record_id)? else {
                return Err(ApiError::not_found("the server does not hold this record"));
            };
            if stored.device_id != device.device_id {
                return Err(ApiError::forbidden("this record was sent by another device"));
            }
            Ok(submission_store::receipt(c, &stored, now)?)
        })
        .await?;
    signed(&state, StatusCode::OK, &receipt)
}
