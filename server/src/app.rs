//! The HTTP routes and the layers every request passes through: the server's time on every
//! response, `Tus-Resumable` on the evidence routes, a log line per request (method, path,
//! status, device; never a body or a header's value), and a last-resort `500` for a panic.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use safehome_core::sync::protocol::{H_SERVER_TIME, PROTOCOL_VERSION};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{checkin, console, enroll, review, submissions, tus};

/// The server's routes over `state`, behind tus's method override: clients whose HTTP stack
/// cannot send `PATCH` or `DELETE` (Java's `HttpURLConnection`, which the Android transport
/// uses) send `POST` with `X-HTTP-Method-Override`, as tus 1.0 provides. The override is
/// applied before routing (an outer router whose only route is the inner one) and before the
/// signature check, so the signature covers the method the request means.
pub fn router(state: AppState) -> Router {
    Router::new().fallback_service(routes(state)).layer(middleware::map_request(method_override))
}

async fn method_override(mut req: Request) -> Request {
    if req.method() == Method::POST {
        let wanted = req.headers().get("X-HTTP-Method-Override").map(|v| v.as_bytes().to_vec());
        match wanted.as_deref() {
            Some(b"PATCH") => *req.method_mut() = Method::PATCH,
            Some(b"DELETE") => *req.method_mut() = Method::DELETE,
            _ => {}
        }
    }
    req
}

fn routes(state: AppState) -> Router {
    let evidence_root = axum::routing::options(tus::options).post(tus::create);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/server", get(server_info))
        .route("/v1/enroll", post(enroll::enroll))
        .route("/v1/config", get(enroll::config))
        .route("/v1/checkin", post(checkin::checkin))
        .route("/v1/submissions/{record_id}", put(submissions::put).get(review::get_submission))
        .route("/v1/team/submissions", get(review::team_index))
        .route("/v1/blobs/{sha256}", get(review::get_blob))
        .route("/v1/decisions", get(review::feed))
        .route("/v1/decisions/{decision_id}", put(review::put_decision))
        .route("/v1/submissions/{record_id}/receipt", get(submissions::receipt))
        .route("/v1/evidence/", evidence_root.clone())
        .route("/v1/evidence", evidence_root)
        .route(
            "/v1/evidence/{upload_id}",
            axum::routing::head(tus::head).patch(tus::patch).delete(tus::delete),
        )
        .merge(console::router(state.clone()))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(405, "bad_request", "this method is not allowed here")
        })
        .layer(middleware::from_fn_with_state(state.clone(), stamp))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        device = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _span: &Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        ms = latency.as_millis() as u64,
                        "answered"
                    );
                })
                .on_failure(()),
        )
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            ApiError::new(500, "internal", "internal server error").into_response()
        }))
        .with_state(state)
}

/// Every response carries the server's time; evidence responses carry `Tus-Resumable`.
async fn stamp(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let evidence = req.uri().path().starts_with("/v1/evidence");
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(H_SERVER_TIME, HeaderValue::from(state.now_ms()));
    if evidence {
        headers.insert("Tus-Resumable", HeaderValue::from_static(tus::TUS_VERSION));
        if res.status() == StatusCode::PRECONDITION_FAILED {
            res.headers_mut().insert("Tus-Version", HeaderValue::from_static(tus::TUS_VERSION));
        }
    }
    res
}

async fn healthz(State(state): State<AppState>) -> Response {
    let ok = state.db.call(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)).await;
    match ok {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(_) => ApiError::new(503, "unavailable", "the database does not answer").into_response(),
    }
}

async fn server_info(State(state): State<AppState>) -> Response {
    Json(serde_json::json!({
        "protocol": PROTOCOL_VERSION,
        "server_public_key": state.public.to_string(),
        "server_time_ms": state.now_ms(),
    }))
    .into_response()
}
