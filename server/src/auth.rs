//! Request authentication (docs/protocol.md, "Request signing"): the signature headers, the
//! device, the body's hash, the signature, the clock window and the nonce, in that order.

use crate::params;
use crate::sql::OptionalExtension;
use axum::http::{HeaderMap, Method, Uri};
use safehome_core::evidence::keys::DevicePublicKey;
use safehome_core::hex;
use safehome_core::sync::protocol::{
    CLOCK_WINDOW_MS, H_CONTENT_SHA256, ProtocolError, RequestAuth, request_message, sha256_hex,
};

use crate::error::ApiError;
use crate::state::AppState;

/// An enrolled, not revoked device that signed the request.
#[derive(Debug, Clone)]
pub struct Device {
    pub device_id: String,
    pub public_key: DevicePublicKey,
    pub team: String,
    /// `volunteer`, `supervisor` or `health_worker`.
    pub role: String,
}

impl Device {
    /// `403 forbidden` unless the device is a supervisor's.
    pub fn require_supervisor(&self) -> Result<(), ApiError> {
        if self.role == "supervisor" {
            Ok(())
        } else {
            Err(ApiError::forbidden("only a supervisor's device may do this"))
        }
    }
}

/// The path and query exactly as sent (what the signature covers).
pub fn signed_path(uri: &Uri) -> String {
    uri.path_and_query().map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string())
}

/// Step 1: the signature headers (`401 unsigned` without them).
pub fn read_headers(headers: &HeaderMap) -> Result<RequestAuth, ApiError> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    match RequestAuth::from_headers(get) {
        Ok(Some(auth)) => Ok(auth),
        Ok(None) => Err(ApiError::new(401, "unsigned", "the request is not signed")),
        Err(ProtocolError::Malformed { field, message }) => {
            Err(ApiError::bad_request(field, message))
        }
        Err(e) => Err(ApiError::bad_request("headers", e.to_string())),
    }
}

/// Step 2: the device (`401 unknown_device`, `403 device_revoked`).
pub async fn lookup_device(state: &AppState, auth: &RequestAuth) -> Result<Device, ApiError> {
    let device_id = auth.device_id.clone();
    let row = state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT public_key, team, revoked_at_ms, role FROM devices WHERE device_id = ?1",
                [&device_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?)
        })
        .await?;
    let Some((key, team, revoked, role)) = row else {
        return Err(ApiError::new(401, "unknown_device", "no device with this id is enrolled"));
    };
    if revoked.is_some() {
        return Err(ApiError::new(
            403,
            "device_revoked",
            "this device was revoked by the team's administrator",
        ));
    }
    let public_key =
        key.parse::<DevicePublicKey>().map_err(|_| ApiError::internal("device key"))?;
    tracing::Span::current().record("device", auth.device_id.as_str());
    Ok(Device { device_id: auth.device_id.clone(), public_key, team, role })
}

/// Step 3, first half: the body's hash (`400 bad_request`).
pub fn check_body_hash(auth: &RequestAuth, body: &[u8]) -> Result<(), ApiError> {
    check_digest(auth, &sha256_hex(body))
}

/// The body's hash, computed by the caller while it streamed the body.
pub fn check_digest(auth: &RequestAuth, body_sha256: &str) -> Result<(), ApiError> {
    if auth.content_sha256 == body_sha256 {
        Ok(())
    } else {
        Err(ApiError::bad_request(H_CONTENT_SHA256, "does not match the body"))
    }
}

/// Step 3, second half: the signature over the request line and headers (`401 bad_signature`).
/// It covers the body through `SafeHome-Content-SHA256`, so it can be checked before the body
/// has arrived.
pub fn check_signature(
    auth: &RequestAuth,
    key: &DevicePublicKey,
    method: &Method,
    uri: &Uri,
) -> Result<(), ApiError> {
    let message = request_message(
        method.as_str(),
        &signed_path(uri),
        &auth.device_id,
        auth.time_ms,
        &auth.nonce,
        &auth.content_sha256,
    );
    let ok = hex::decode_array::<64>(&auth.signature).is_ok_and(|s| key.verify(&message, &s));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(401, "bad_signature", "the request signature does not verify"))
    }
}

/// Step 4: the clock window (`401 clock_skew` with `server_time_ms`). The skew is remembered
/// for the operator.
pub async fn check_clock(state: &AppState, auth: &RequestAuth) -> Result<(), ApiError> {
    let now = state.now_ms();
    let skew = auth.time_ms.saturating_sub(now);
    if skew.unsigned_abs() <= CLOCK_WINDOW_MS.unsigned_abs() {
        return Ok(());
    }
    let device_id = auth.device_id.clone();
    state
        .db
        .call_lazy(move |c| {
            c.execute(
                "UPDATE devices SET last_clock_skew_ms = ?2 WHERE device_id = ?1",
                params![device_id, skew],
            )?;
            Ok(())
        })
        .await?;
    Err(ApiError::new(401, "clock_skew", "SafeHome-Time is outside the server's window")
        .with("server_time_ms", now))
}

/// Step 5: the nonce (`401 replayed`), in the server's memory (`nonces`) and, when several
/// processes may share the database (PostgreSQL), in the database too.
pub async fn record_nonce(state: &AppState, auth: &RequestAuth) -> Result<(), ApiError> {
    let now = state.now_ms();
    state.nonces.record(&auth.device_id, &auth.nonce, auth.time_ms, now)?;
    if state.db.engine() == crate::sql::Engine::Postgres {
        crate::nonces::record_shared(&state.db, &auth.device_id, &auth.nonce, now).await?;
    }
    Ok(())
}

/// Read a signed request's whole body (at most `limit` bytes, within the body time limit) and
/// authenticate it: the one way every handler whose body is small enough to hold starts.
pub async fn read_signed(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<(Device, Vec<u8>), ApiError> {
    let bytes = crate::body::read_all(body, headers, limit, state.body_timeout).await?;
    let device = authenticate(state, method, uri, headers, &bytes).await?;
    Ok((device, bytes))
}

/// Authenticate a request whose whole body is in hand.
pub async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Device, ApiError> {
    let auth = read_headers(headers)?;
    let device = lookup_device(state, &auth).await?;
    check_body_hash(&auth, body)?;
    check_signature(&auth, &device.public_key, method, uri)?;
    check_clock(state, &auth).await?;
    record_nonce(state, &auth).await?;
    Ok(device)
}

/// Authenticate a request before its body is read (a tus `PATCH` streams its chunk to disk):
/// everything but the body's hash, which the caller checks with [`check_digest`] once the body
/// has arrived, before it commits anything.
pub async fn authenticate_before_body(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(Device, RequestAuth), ApiError> {
    let auth = read_headers(headers)?;
    let device = lookup_device(state, &auth).await?;
    check_signature(&auth, &device.public_key, method, uri)?;
    check_clock(state, &auth).await?;
    record_nonce(state, &auth).await?;
    Ok((device, auth))
}
