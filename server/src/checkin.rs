//! `POST /v1/checkin`: the device reports its audit chain; the server remembers the last length
//! and head and flags a regression (a shorter chain, or the same length with another head: what
//! restoring an old copy of the phone's database looks like).

use crate::params;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use safehome_core::sync::protocol::{CheckinRequest, CheckinResponse};

use crate::auth;
use crate::body::{MAX_JSON_BODY, require_content_type};
use crate::error::ApiError;
use crate::state::AppState;

/// Whether `(length, head)` goes back from `(last_length, last_head)`.
pub fn is_regression(last: Option<(i64, &str)>, length: i64, head: &str) -> bool {
    match last {
        None => false,
        Some((last_length, last_head)) => {
            length < last_length || (length == last_length && head != last_head)
        }
    }
}

pub async fn checkin(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CheckinResponse>, ApiError> {
    require_content_type(&headers, "application/json")?;
    let (device, bytes) =
        auth::read_signed(&state, &method, &uri, &headers, body, MAX_JSON_BODY).await?;
    let request: CheckinRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("body", format!("not a check-in: {e}")))?;
    if request.audit_length < 0 {
        return Err(ApiError::bad_request("audit_length", "must not be negative"));
    }
    if request.audit_head.len() > 128 || request.app_version.len() > 64 {
        return Err(ApiError::bad_request("audit_head", "too long"));
    }
    let now = state.now_ms();
    let response = state
        .db
        // Lazy: the next checkin repeats this report.
        .call_lazy(move |c| {
            let tx = c.savepoint()?;
            let (last_length, last_head): (Option<i64>, Option<String>) = tx.query_row(
                "SELECT audit_length, audit_head FROM devices WHERE device_id = ?1",
                [&device.device_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let last = last_length.map(|l| (l, last_head.as_deref().unwrap_or("")));
            let regression = is_regression(last, request.audit_length, &request.audit_head);
            tx.execute(
                "UPDATE devices SET last_checkin_ms = ?2, audit_length = ?3, audit_head = ?4,
                        app_version = ?5, pending = ?6, parked = ?7, last_clock_skew_ms = ?8,
                        regression_at_ms = CASE WHEN ?9 = 1 THEN COALESCE(regression_at_ms, ?2)
                                                ELSE regression_at_ms END
                 WHERE device_id = ?1",
                params![
                    device.device_id,
                    now,
                    request.audit_length,
                    request.audit_head,
                    request.app_version,
                    request.pending,
                    request.parked,
                    request.device_time_ms.saturating_sub(now),
                    regression
                ],
            )?;
            tx.commit()?;
            if regression {
                tracing::warn!(device = %device.device_id, "audit chain regression");
            }
            Ok(CheckinResponse {
                server_time_ms: now,
                last_audit_length: last_length,
                last_audit_head: last_head,
                regression,
            })
        })
        .await?;
    Ok(Json(response))
}

#[cfg(test)]
mod tests {
    use super::is_regression;

    #[test]
    fn shorter_or_forked_chains_regress_and_longer_ones_do_not() {
        assert!(!is_regression(None, 0, ""));
        assert!(!is_regression(Some((5, "a")), 6, "b"));
        assert!(!is_regression(Some((5, "a")), 5, "a"));
        assert!(is_regression(Some((5, "a")), 4, "a"));
        assert!(is_regression(Some((5, "a")), 5, "b"));
    }
}
