//! Reading request bodies with a size limit and a deadline.

use std::time::Duration;

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;

use crate::error::ApiError;

/// The largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 1 << 20;

/// The declared `Content-Length`, if any.
pub fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    match headers.get(CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("Content-Length", "not a number")),
    }
}

/// Refuse a body that announces more than `limit` bytes before reading any of it.
pub fn check_declared(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    match content_length(headers)? {
        Some(n) if n > limit as u64 => Err(ApiError::too_large(limit)),
        _ => Ok(()),
    }
}

/// The whole body, at most `limit` bytes, within `timeout`.
pub async fn read_all(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, ApiError> {
    check_declared(headers, limit)?;
    let read = async move {
        let mut body = body;
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| ApiError::bad_request("body", "the body was cut"))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > limit {
                    return Err(ApiError::too_large(limit));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| ApiError::timeout())?
}

/// Whether the request's `Content-Type` is `expected` (parameters such as `charset` allowed).
pub fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// `415 bad_content_type` unless the body has the `expected` type.
pub fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    if has_content_type(headers, expected) {
        Ok(())
    } else {
        Err(ApiError::new(415, "bad_content_type", format!("the body must be {expected}")))
    }
}
