//! Errors: [`ApiError`] is what a request answers (a status and the protocol's `ErrorBody`);
//! [`ServerError`] is what the library's setup and operator functions return.

use std::io;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use safehome_core::sync::protocol::ErrorBody;

/// An error response: a status and the JSON body of docs/protocol.md, "Errors".
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    /// `status` must be a valid HTTP status (100..=999); an invalid one becomes 500.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError { status, body: ErrorBody::new(code, message) }
    }

    /// Add a field to the body (`field`, `server_time_ms`, ...).
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> ApiError {
        self.body = self.body.with(key, value);
        self
    }

    pub fn bad_request(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad_request", message).with("field", field)
    }

    pub fn bad_submission(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad_submission", message).with("field", field)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found", message)
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(413, "too_large", format!("the body is over the limit of {limit} bytes"))
            .with("limit", limit as u64)
    }

    pub fn timeout() -> ApiError {
        ApiError::new(408, "request_timeout", "the body did not arrive in time")
    }

    pub fn storage_full() -> ApiError {
        ApiError::new(507, "storage_full", "the server's disk is full; nothing was stored")
    }

    /// A server-side failure: logged (without data), answered as `500 internal`.
    pub fn internal(context: &str) -> ApiError {
        tracing::error!(context, "internal error");
        ApiError::new(500, "internal", "internal server error")
    }

    /// An I/O failure: `507 storage_full` when the disk is full, `500 internal` otherwise.
    pub fn io(context: &str, err: &io::Error) -> ApiError {
        if is_disk_full(err) {
            tracing::error!(context, "disk full");
            return ApiError::storage_full();
        }
        tracing::error!(context, kind = %err.kind(), "I/O error");
        ApiError::new(500, "internal", "internal server error")
    }

    /// An object-store failure (docs/operations.md, "Evidence in object storage"): `507
    /// storage_full` when the store's disk is full, `500 internal` otherwise; logged with what
    /// and where (never a credential).
    pub fn objects(context: &str, err: &crate::objects::ObjectError) -> ApiError {
        if err.is_disk_full() {
            tracing::error!(context, "object store: disk full");
            return ApiError::storage_full();
        }
        tracing::error!(context, error = %err, "object store error");
        ApiError::new(500, "internal", "internal server error")
    }

    /// A database failure: `507 storage_full` when SQLite reports a full disk, `500` otherwise.
    pub fn db(err: &crate::sql::Error) -> ApiError {
        if err.is_storage_full() {
            tracing::error!("database: disk full");
            return ApiError::storage_full();
        }
        if err.is_timeout() {
            tracing::error!(error = %err, "database: timed out");
            return ApiError::new(503, "unavailable", "the database is busy; try again later");
        }
        tracing::error!(error = %err, "database error");
        ApiError::new(500, "internal", "internal server error")
    }
}

impl From<crate::sql::Error> for ApiError {
    fn from(err: crate::sql::Error) -> ApiError {
        ApiError::db(&err)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> ApiError {
        ApiError::db(&crate::sql::Error::from(err))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub fn is_disk_full(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
    )
}

/// Errors of setup, operator commands and the serving loop.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("database: {0}")]
    Db(#[from] crate::sql::Error),
    #[error("the database has schema version {found}, newer than this server's {supported}")]
    NewerDatabase { found: i64, supported: i64 },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Exists(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Objects(#[from] crate::objects::ObjectError),
}

impl From<rusqlite::Error> for ServerError {
    fn from(err: rusqlite::Error) -> ServerError {
        ServerError::Db(crate::sql::Error::from(err))
    }
}

impl ServerError {
    /// `Ok` when an update changed a row; `NotFound(what)` when it changed none.
    pub fn found(changed: usize, what: impl FnOnce() -> String) -> Result<(), ServerError> {
        if changed == 0 { Err(ServerError::NotFound(what())) } else { Ok(()) }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> ServerError {
        let context = context.into();
        move |source| ServerError::Io { context, source }
    }
}
