//! Evidence uploads: tus 1.0.0 at `/v1/evidence/` with the `creation`, `checksum` (sha256),
//! `termination` and `expiration` extensions (docs/protocol.md, "Evidence").
//!
//! An open upload's bytes are pieces in the object store, `uploads/<id>/<offset>` (`parts.rs`),
//! and its offset is where the run of pieces from 0 ends, so any server process over the same
//! store and database can take the next request. A chunk is stored in pieces of up to 1 MiB
//! while it arrives; one that fails its checks (its hash against the request's
//! `SafeHome-Content-SHA256`, its `Upload-Checksum`) has its pieces deleted again before the
//! answer. A request cut mid-body keeps the bytes that arrived (its signature, checked before
//! the body, covered the headers), so the client resumes from `HEAD`, as tus intends.
//!
//! Every piece is durable when stored. When the last one is, the pieces are read back in
//! order, checked against the declared SHA-256 and the envelope's keyless verification, stored
//! as one evidence file, and only then is the upload committed `complete` — before any receipt
//! can count it; its pieces are deleted after that commit. One database commit per evidence
//! file, not one per chunk (docs/protocol.md, Performance).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::params;
use crate::sql::{Conn, OptionalExtension};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http_body_util::BodyExt;
use ring::digest;
use safehome_core::clock::{Entropy, SystemEntropy};
use safehome_core::hex;
use safehome_core::sync::protocol::MAX_EVIDENCE_LEN;

use crate::auth::{self, Device};
use crate::blobs::Refused;
use crate::body::{content_length, require_content_type};
use crate::enroll::valid_id;
use crate::error::ApiError;
use crate::objects::ObjectError;
use crate::parts;
use crate::state::AppState;

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,checksum,termination,expiration";
/// How long an upload may take to complete.
pub const UPLOAD_TTL_MS: i64 = 24 * 60 * 60 * 1000;

const H_TUS_RESUMABLE: &str = "Tus-Resumable";
const H_UPLOAD_LENGTH: &str = "Upload-Length";
const H_UPLOAD_OFFSET: &str = "Upload-Offset";
const H_UPLOAD_METADATA: &str = "Upload-Metadata";
const H_UPLOAD_EXPIRES: &str = "Upload-Expires";
const H_UPLOAD_CHECKSUM: &str = "Upload-Checksum";

/// An upload as the database holds it.
#[derive(Debug, Clone)]
struct Upload {
    upload_id: String,
    device_id: String,
    sha256: String,
    length: i64,
    offset: i64,
    state: String,
    expires_at_ms: i64,
}

fn load(c: &Conn, upload_id: &str) -> crate::sql::Result<Option<Upload>> {
    c.query_row(
        "SELECT upload_id, device_id, sha256, upload_length, upload_offset, state, expires_at_ms
         FROM uploads WHERE upload_id = ?1",
        [upload_id],
        |r| {
            Ok(Upload {
                upload_id: r.get(0)?,
                device_id: r.get(1)?,
                sha256: r.get(2)?,
                length: r.get(3)?,
                offset: r.get(4)?,
                state: r.get(5)?,
                expires_at_ms: r.get(6)?,
            })
        },
    )
    .optional()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn require_tus(headers: &HeaderMap) -> Result<(), ApiError> {
    if header(headers, H_TUS_RESUMABLE) == Some(TUS_VERSION) {
        Ok(())
    } else {
        Err(ApiError::new(412, "bad_request", "this server speaks tus 1.0.0 only")
            .with("field", H_TUS_RESUMABLE))
    }
}

fn number(headers: &HeaderMap, name: &str) -> Result<i64, ApiError> {
    header(headers, name)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::bad_request(name, "missing or not a non-negative integer"))
}

fn http_date(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    httpdate::fmt_http_date(t.max(SystemTime::UNIX_EPOCH))
}

fn gone() -> ApiError {
    ApiError::new(410, "upload_gone", "the upload expired or was terminated")
}

/// `Upload-Metadata`: comma-separated `key base64(value)` pairs.
fn metadata(headers: &HeaderMap) -> Result<Vec<(String, String)>, ApiError> {
    let bad = |m: &str| ApiError::bad_request(H_UPLOAD_METADATA, m.to_string());
    let Some(raw) = header(headers, H_UPLOAD_METADATA) else {
        return Err(bad("missing"));
    };
    let mut out = Vec::new();
    for pair in raw.split(',') {
        let mut parts = pair.trim().splitn(2, ' ');
        let key = parts.next().unwrap_or("").to_string();
        let value = match parts.next() {
            Some(b64) => B64.decode(b64.trim()).map_err(|_| bad("a value is not base64"))?,
            None => Vec::new(),
        };
        let value = String::from_utf8(value).map_err(|_| bad("a value is not UTF-8"))?;
        out.push((key, value));
    }
    Ok(out)
}

fn meta_value<'a>(meta: &'a [(String, String)], key: &str) -> Result<&'a str, ApiError> {
    meta.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| ApiError::bad_request(H_UPLOAD_METADATA, format!("{key} is missing")))
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An upload the requesting device may use: known (`404`), its own (`403`), not gone (`410`;
/// an open upload past its expiry is expired on the way).
async fn usable(state: &AppState, upload_id: &str, device: &Device) -> Result<Upload, ApiError> {
    if !valid_upload_id(upload_id) {
        return Err(ApiError::not_found("no such upload"));
    }
    let id = upload_id.to_string();
    // A read: the caller holds the upload's lock, and every change to it is committed before
    // that lock is released.
    let upload = state.db.read(move |c| Ok(load(c, &id)?)).await?;
    let Some(mut upload) = upload else {
        return Err(ApiError::not_found("no such upload"));
    };
    if upload.state == "open" {
        // Where its pieces end is the offset (module comment).
        let (objects, id) = (Arc::clone(&state.objects), upload.upload_id.clone());
        let len = tokio::task::spawn_blocking(move || parts::scan(&*objects, &id))
            .await
            .map_err(|_| ApiError::internal("reading an upload's pieces"))?
            .map_err(|e| ApiError::objects("reading an upload's pieces", &e))?
            .1;
        upload.offset = i64::try_from(len).unwrap_or(i64::MAX).min(upload.length);
    }
    if upload.device_id != device.device_id {
        return Err(ApiError::forbidden("this upload belongs to another device"));
    }
    match upload.state.as_str() {
        "open" if upload.expires_at_ms <= state.now_ms() => {
            expire(state, &upload.upload_id).await?;
            Err(gone())
        }
        "open" | "complete" => Ok(upload),
        _ => Err(gone()),
    }
}

/// Mark an open upload expired and remove its partial file.
async fn expire(state: &AppState, upload_id: &str) -> Result<(), ApiError> {
    let id = upload_id.to_string();
    state
        .db
        .call(move |c| {
            c.execute(
                "UPDATE uploads SET state = 'expired' WHERE upload_id = ?1 AND state = 'open'",
                [&id],
            )?;
            Ok(())
        })
        .await?;
    remove_part(state, upload_id).await;
    Ok(())
}

/// Delete an upload's pieces.
async fn remove_part(state: &AppState, upload_id: &str) {
    let (objects, id) = (Arc::clone(&state.objects), upload_id.to_string());
    let removed = tokio::task::spawn_blocking(move || parts::delete_all(&*objects, &id)).await;
    if let Ok(Err(e)) = removed {
        tracing::warn!(upload = upload_id, error = %e, "removing a partial upload");
    }
}

/// Expire every open upload past its time (the server runs this now and then).
pub async fn expire_uploads(state: &AppState) -> Result<usize, ApiError> {
    let now = state.now_ms();
    let ids = state
        .db
        .call(move |c| {
            let mut stmt = c.prepare(
                "SELECT upload_id FROM uploads WHERE state = 'open' AND expires_at_ms <= ?1",
            )?;
            let ids = stmt.query_map([now], |r| r.get::<_, String>(0))?;
            Ok(ids.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    for id in &ids {
        let _guard = state.lock_upload(id).await?;
        expire(state, id).await?;
    }
    Ok(ids.len())
}

/// `OPTIONS /v1/evidence/`: what this server supports. Unsigned.
pub async fn options() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert("Tus-Version", HeaderValue::from_static(TUS_VERSION));
    h.insert("Tus-Extension", HeaderValue::from_static(TUS_EXTENSIONS));
    h.insert("Tus-Checksum-Algorithm", HeaderValue::from_static("sha256"));
    h.insert("Tus-Max-Size", HeaderValue::from(MAX_EVIDENCE_LEN));
    res
}

fn with_headers(status: StatusCode, pairs: &[(&'static str, String)]) -> Response {
    let mut res = status.into_response();
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(value) {
            res.headers_mut().insert(*name, v);
        }
    }
    res
}

/// `POST /v1/evidence/`: create an upload.
pub async fn create(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    let (device, _) = auth::read_signed(&state, &method, &uri, &headers, body, 0).await?;
    let length = number(&headers, H_UPLOAD_LENGTH)?;
    if length as u64 > MAX_EVIDENCE_LEN {
        return Err(ApiError::too_large(MAX_EVIDENCE_LEN as usize));
    }
    let meta = metadata(&headers)?;
    let record_id = meta_value(&meta, "record_id")?.to_string();
    let evidence_id = meta_value(&meta, "evidence_id")?.to_string();
    let sha256 = meta_value(&meta, "sha256")?.to_ascii_lowercase();
    if !valid_id(&record_id) || !valid_id(&evidence_id) {
        return Err(ApiError::bad_request(
            H_UPLOAD_METADATA,
            "record_id or evidence_id is malformed",
        ));
    }
    if !is_hex64(&sha256) {
        return Err(ApiError::bad_request(H_UPLOAD_METADATA, "sha256 must be 64 hex characters"));
    }
    let mut raw = [0u8; 16];
    SystemEntropy::default().fill(&mut raw);
    let upload_id = hex::encode(&raw);
    let now = state.now_ms();
    let expires_at_ms = now.saturating_add(UPLOAD_TTL_MS);
    let (id, sha) = (upload_id.clone(), sha256.clone());
    let complete = state
        .db
        // Lazy: a row lost to a power cut costs the phone one new upload (`404` on HEAD).
        .call_lazy(move |c| {
            let tx = c.savepoint()?;
            let stored: Option<i64> = tx
                .query_row("SELECT len FROM blobs WHERE sha256 = ?1", [&sha], |r| r.get(0))
                .optional()?;
            // An open upload has no pieces yet: nothing to create in the store.
            if let Some(stored_len) = stored {
                if stored_len != length {
                    return Err(ApiError::bad_request(
                        H_UPLOAD_LENGTH,
                        "does not match the stored file with this SHA-256",
                    ));
                }
            }
            let complete = stored.is_some();
            tx.execute(
                "INSERT INTO uploads (upload_id, device_id, record_id, evidence_id, sha256,
                     upload_length, upload_offset, state, created_at_ms, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    device.device_id,
                    record_id,
                    evidence_id,
                    sha,
                    length,
                    if complete { length } else { 0 },
                    if complete { "complete" } else { "open" },
                    now,
                    expires_at_ms
                ],
            )?;
            tx.commit()?;
            Ok(complete)
        })
        .await?;
    tracing::info!(upload = %upload_id, complete, "upload created");
    Ok(with_headers(
        StatusCode::CREATED,
        &[
            ("Location", format!("/v1/evidence/{upload_id}")),
            (H_UPLOAD_EXPIRES, http_date(expires_at_ms)),
        ],
    ))
}

/// `HEAD /v1/evidence/{id}`: where to resume.
pub async fn head(
    State(state): State<AppState>,
    Path(upload_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    let (device, _) = auth::read_signed(&state, &method, &uri, &headers, body, 0).await?;
    // After any `PATCH` in progress: its chunk is either kept or cut off by then.
    let _guard = state.lock_upload(&upload_id).await?;
    let upload = usable(&state, &upload_id, &device).await?;
    let mut pairs = vec![
        (H_UPLOAD_OFFSET, upload.offset.to_string()),
        (H_UPLOAD_LENGTH, upload.length.to_string()),
        ("Cache-Control", "no-store".to_string()),
    ];
    if upload.state == "open" {
        pairs.push((H_UPLOAD_EXPIRES, http_date(upload.expires_at_ms)));
    }
    Ok(with_headers(StatusCode::OK, &pairs))
}

/// `Upload-Checksum: sha256 <base64>`, if present.
fn declared_checksum(headers: &HeaderMap) -> Result<Option<[u8; 32]>, ApiError> {
    let Some(raw) = header(headers, H_UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let (algorithm, value) = raw.trim().split_once(' ').unwrap_or((raw, ""));
    if !algorithm.eq_ignore_ascii_case("sha256") {
        return Err(ApiError::bad_request(H_UPLOAD_CHECKSUM, "the algorithm must be sha256"));
    }
    let bytes = B64.decode(value.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
    bytes
        .map(Some)
        .ok_or_else(|| ApiError::bad_request(H_UPLOAD_CHECKSUM, "not a base64 SHA-256 digest"))
}

/// How a `PATCH` body ended.
enum Received {
    Whole,
    Cut,
    TimedOut,
}

fn checksum_mismatch(message: &str) -> ApiError {
    ApiError::new(460, "checksum_mismatch", message.to_string())
}

/// `PATCH /v1/evidence/{id}`: append a chunk.
pub async fn patch(
    State(state): State<AppState>,
    Path(upload_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    require_content_type(&headers, "application/offset+octet-stream")?;
    let client_offset = number(&headers, H_UPLOAD_OFFSET)?;
    let checksum = declared_checksum(&headers)?;
    let declared_len = content_length(&headers)?;
    if declared_len.is_some_and(|n| n > state.max_chunk as u64) {
        return Err(ApiError::too_large(state.max_chunk));
    }
    let (device, signed) = auth::authenticate_before_body(&state, &method, &uri, &headers).await?;
    let _guard = state.lock_upload(&upload_id).await?;
    let upload = usable(&state, &upload_id, &device).await?;
    if client_offset != upload.offset {
        return Err(ApiError::new(
            409,
            "offset_mismatch",
            "Upload-Offset is not the upload's offset",
        )
        .with("offset", upload.offset));
    }
    let room = upload.length - upload.offset;
    if declared_len.is_some_and(|n| n > room as u64) {
        return Err(ApiError::too_large(room as usize));
    }
    if upload.state == "complete" {
        // Nothing left to send; an empty PATCH at the end answers the offset.
        return Ok(offset_response(&upload, upload.offset));
    }
    let limit = (room as u64).min(state.max_chunk as u64);

    let io = |e: ObjectError| ApiError::objects("writing an upload", &e);
    let start = upload.offset as u64;
    // The body is gathered in pieces of up to WRITE_EVERY bytes and each piece stored with one
    // blocking call (not one per network frame): the chunk's hash runs as it arrives.
    let mut part = parts::ChunkWriter::new(Arc::clone(&state.objects), &upload.upload_id, start);
    let mut pending: Vec<u8> = Vec::with_capacity((limit as usize).min(WRITE_EVERY));
    let mut hasher = digest::Context::new(&digest::SHA256);
    let deadline = tokio::time::Instant::now() + state.body_timeout;
    let mut body = body;
    let received = loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => break Received::TimedOut,
            Ok(None) => break Received::Whole,
            Ok(Some(Err(_))) => break Received::Cut,
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        if part.written + (pending.len() + data.len()) as u64 > limit {
            part.rollback().await;
            return Err(ApiError::too_large(limit as usize));
        }
        hasher.update(&data);
        pending.extend_from_slice(&data);
        if pending.len() >= WRITE_EVERY {
            if let Err(e) = part.append(std::mem::take(&mut pending)).await {
                part.rollback().await;
                return Err(io(e));
            }
        }
    };
    let arrived = part.written + pending.len() as u64;
    if let Received::Whole = received {
        let chunk_sha = hasher.finish();
        let refused =
            auth::check_digest(&signed, &hex::encode(chunk_sha.as_ref())).err().or_else(|| {
                checksum
                    .filter(|c| c.as_slice() != chunk_sha.as_ref())
                    .map(|_| checksum_mismatch("the chunk does not match Upload-Checksum"))
            });
        if let Some(refused) = refused {
            part.rollback().await;
            return Err(refused);
        }
    }
    let new_offset = upload.offset + arrived as i64;
    // What arrived is stored (a cut or timed-out chunk keeps it: module comment).
    if let Err(e) = part.append(pending).await {
        part.rollback().await;
        return Err(io(e));
    }
    match received {
        Received::Cut => {
            tracing::info!(upload = %upload.upload_id, offset = new_offset, "chunk cut; kept what arrived");
            return Err(ApiError::bad_request("body", "the body was cut"));
        }
        Received::TimedOut => {
            tracing::info!(upload = %upload.upload_id, offset = new_offset, "chunk timed out; kept what arrived");
            return Err(ApiError::timeout());
        }
        Received::Whole => {}
    }
    if new_offset == upload.length {
        finish(&state, &upload, &device).await?;
        let done = Upload { state: "complete".into(), ..upload.clone() };
        return Ok(offset_response(&done, new_offset));
    }
    Ok(offset_response(&upload, new_offset))
}

/// Bytes gathered before one piece is stored (at most one such buffer per `PATCH`).
const WRITE_EVERY: usize = 1 << 20;

fn offset_response(upload: &Upload, offset: i64) -> Response {
    let mut pairs = vec![(H_UPLOAD_OFFSET, offset.to_string())];
    if upload.state == "open" {
        pairs.push((H_UPLOAD_EXPIRES, http_date(upload.expires_at_ms)));
    }
    with_headers(StatusCode::NO_CONTENT, &pairs)
}

/// The upload reached its length: check the whole file and move it into the evidence store,
/// or discard it.
async fn finish(state: &AppState, upload: &Upload, device: &Device) -> Result<(), ApiError> {
    let (objects, id) = (Arc::clone(&state.objects), upload.upload_id.clone());
    let (sha, len, key) = (upload.sha256.clone(), upload.length as u64, device.public_key);
    let checked =
        tokio::task::spawn_blocking(move || parts::assemble(&*objects, &id, &sha, len, &key))
            .await
            .map_err(|_| ApiError::internal("verifying an upload"))?;
    let refusal = match checked {
        Ok(()) => None,
        Err(Refused::Io(e)) => return Err(ApiError::io("storing an upload", &e)),
        Err(Refused::Store(e)) => return Err(ApiError::objects("storing an upload", &e)),
        Err(Refused::Checksum) => {
            Some(checksum_mismatch("the file does not match its declared SHA-256"))
        }
        Err(Refused::Envelope(reason)) => Some(
            ApiError::new(400, "bad_envelope", "the envelope fails keyless verification")
                .with("reason", reason),
        ),
    };
    let (id, sha, len, device_id) =
        (upload.upload_id.clone(), upload.sha256.clone(), upload.length, device.device_id.clone());
    let now = state.now_ms();
    let failed = refusal.is_some();
    state
        .db
        .call(move |c| {
            let tx = c.savepoint()?;
            if failed {
                tx.execute("UPDATE uploads SET state = 'failed' WHERE upload_id = ?1", [&id])?;
            } else {
                tx.execute(
                    "UPDATE uploads SET upload_offset = upload_length WHERE upload_id = ?1",
                    [&id],
                )?;
                tx.execute(
                    "INSERT INTO blobs (sha256, len, device_id, stored_at_ms)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    params![sha, len, device_id, now],
                )?;
                tx.execute("UPDATE uploads SET state = 'complete' WHERE upload_id = ?1", [&id])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await?;
    match refusal {
        Some(err) => {
            remove_part(state, &upload.upload_id).await;
            tracing::info!(upload = %upload.upload_id, "upload refused at completion");
            Err(err)
        }
        None => {
            tracing::info!(upload = %upload.upload_id, "evidence stored");
            remove_part(state, &upload.upload_id).await;
            Ok(())
        }
    }
}

/// `DELETE /v1/evidence/{id}` (termination).
pub async fn delete(
    State(state): State<AppState>,
    Path(upload_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_tus(&headers)?;
    let (device, _) = auth::read_signed(&state, &method, &uri, &headers, body, 0).await?;
    let _guard = state.lock_upload(&upload_id).await?;
    let upload = usable(&state, &upload_id, &device).await?;
    let id = upload.upload_id.clone();
    state
        .db
        .call(move |c| {
            c.execute("UPDATE uploads SET state = 'terminated' WHERE upload_id = ?1", [&id])?;
            Ok(())
        })
        .await?;
    if upload.state == "open" {
        remove_part(&state, &upload.upload_id).await;
    }
    tracing::info!(upload = %upload.upload_id, "upload terminated");
    Ok(StatusCode::NO_CONTENT.into_response())
}
