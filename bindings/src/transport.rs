//! The app's HTTP client as the core's sync transport: a foreign trait the app implements
//! (Kotlin: `HttpURLConnection`; Swift: `URLSession`), adapted to the core's `Transport`.
//!
//! Shape: the request crosses as a record (its body is at most one 256 KiB evidence chunk or
//! one submission); the response comes back through a Rust object, [`HttpResponseSink`], that
//! the implementation fills (status, headers, body in pieces). A callback cannot return a
//! record through the Kotlin call layer (`bindings/uniffi-bindgen`: no `RustBuffer` returned by
//! reference from a callback), and a sink also lets the core bound what a hostile server can
//! make the phone hold: a body over [`MAX_RESPONSE_BODY`] is refused as it arrives.
//!
//! Depends on `errors`.

use std::sync::{Arc, Mutex};

use safehome_core::sync::{HttpResponse, Transport, TransportError};

use crate::errors::ApiError;

/// The largest response body the core accepts (receipts and configurations are a few KB).
pub const MAX_RESPONSE_BODY: usize = 1 << 20;
/// The most headers a response may carry.
const MAX_HEADERS: usize = 200;

/// One header of a request.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// A request the core asks the app to send: the full URL, headers to set as given (they
/// include the request's signature), and the body (empty for GET and HEAD).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<HttpHeader>,
    pub body: Vec<u8>,
}

/// Why a request got no HTTP response at all (`reason`: not `message`, which Kotlin's
/// `Throwable` already has). Any HTTP status, 4xx and 5xx included, is a
/// response: hand it to the sink instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TransportException {
    /// No connection (no network, DNS, refused).
    #[error("cannot connect: {reason}")]
    Connect { reason: String },
    /// Cut or timed out mid-request or mid-response.
    #[error("connection lost: {reason}")]
    Interrupted { reason: String },
    /// TLS failed (certificate, handshake).
    #[error("TLS: {reason}")]
    Tls { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportException {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        TransportException::Interrupted { reason: format!("the transport threw: {}", e.reason) }
    }
}

/// Sends HTTP requests for the core: implemented by the app. Called on the thread running
/// `ProfileSession.sync` (never the UI thread: sync blocks); one request at a time.
#[uniffi::export(foreign)]
pub trait HttpTransport: Send + Sync {
    /// Send `request` and write the answer into `response`: `setStatus`, then each header
    /// (`addHeader`), then the body in pieces (`appendBody`). Throw only when there is no HTTP
    /// response.
    fn send(
        &self,
        request: HttpRequest,
        response: Arc<HttpResponseSink>,
    ) -> Result<(), TransportException>;
}

#[derive(Debug, Default)]
struct Partial {
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    overflow: bool,
}

/// Where the app's transport writes one response.
#[derive(Debug, Default, uniffi::Object)]
pub struct HttpResponseSink {
    inner: Mutex<Partial>,
}

#[uniffi::export]
impl HttpResponseSink {
    /// The HTTP status code (100-599).
    pub fn set_status(&self, status: i32) -> Result<(), ApiError> {
        let status =
            u16::try_from(status).ok().filter(|s| (100..=599).contains(s)).ok_or_else(|| {
                ApiError::InvalidInput {
                    detail: format!("status: {status} is not an HTTP status code"),
                }
            })?;
        self.lock().status = Some(status);
        Ok(())
    }

    /// One response header (call once per value of a repeated header).
    pub fn add_header(&self, name: String, value: String) {
        let mut p = self.lock();
        if p.headers.len() < MAX_HEADERS && name.len() + value.len() < 16 << 10 {
            p.headers.push((name, value));
        }
    }

    /// The next piece of the body. A body over 1 MiB is refused (the sync treats the response
    /// as lost and retries later).
    pub fn append_body(&self, chunk: Vec<u8>) -> Result<(), ApiError> {
        let mut p = self.lock();
        if p.body.len() + chunk.len() > MAX_RESPONSE_BODY {
            p.overflow = true;
            return Err(ApiError::InvalidInput { detail: "body: response body over 1 MiB".into() });
        }
        p.body.extend_from_slice(&chunk);
        Ok(())
    }
}

impl HttpResponseSink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Partial> {
        // A panic while holding this lock cannot leave a half-written Partial worse than a
        // cut connection: take it as it is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The app's transport, for the core: joins the server's base URL and the request's path.
pub struct ForeignTransport {
    base_url: String,
    inner: Arc<dyn HttpTransport>,
}

impl ForeignTransport {
    pub fn new(base_url: &str, inner: Arc<dyn HttpTransport>) -> ForeignTransport {
        ForeignTransport { base_url: base_url.trim_end_matches('/').to_string(), inner }
    }
}

impl Transport for ForeignTransport {
    fn send(
        &self,
        request: &safehome_core::sync::HttpRequest,
    ) -> Result<HttpResponse, TransportError> {
        let sink = Arc::new(HttpResponseSink::default());
        let call = HttpRequest {
            method: request.method.clone(),
            url: format!("{}{}", self.base_url, request.path),
            headers: request
                .headers
                .iter()
                .map(|(n, v)| HttpHeader { name: n.clone(), value: v.clone() })
                .collect(),
            body: request.body.clone(),
        };
        self.inner.send(call, sink.clone()).map_err(|e| match e {
            TransportException::Connect { reason } => TransportError::Connect(reason),
            TransportException::Interrupted { reason } => TransportError::Interrupted(reason),
            TransportException::Tls { reason } => TransportError::Tls(reason),
        })?;
        let p = std::mem::take(&mut *sink.lock());
        match p.status {
            _ if p.overflow => Err(TransportError::Interrupted("response body over 1 MiB".into())),
            Some(status) => Ok(HttpResponse { status, headers: p.headers, body: p.body }),
            None => Err(TransportError::Interrupted("the transport set no status".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Echo;
    impl HttpTransport for Echo {
        fn send(
            &self,
            request: HttpRequest,
            response: Arc<HttpResponseSink>,
        ) -> Result<(), TransportException> {
            response.set_status(201).unwrap();
            response.add_header("X-Url".into(), request.url);
            response.append_body(request.body).unwrap();
            Ok(())
        }
    }

    struct Huge;
    impl HttpTransport for Huge {
        fn send(&self, _: HttpRequest, r: Arc<HttpResponseSink>) -> Result<(), TransportException> {
            r.set_status(200).unwrap();
            for _ in 0..5 {
                let _ = r.append_body(vec![0; 300 << 10]);
            }
            Ok(())
        }
    }

    fn request() -> safehome_core::sync::HttpRequest {
        safehome_core::sync::HttpRequest {
            method: "PUT".into(),
            path: "/v1/submissions/x".into(),
            headers: vec![],
            body: b"abc".to_vec(),
        }
    }

    #[test]
    fn the_foreign_answer_becomes_the_core_response() {
        let t = ForeignTransport::new("http://127.0.0.1:9/", Arc::new(Echo));
        let r = t.send(&request()).unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.header("x-url"), Some("http://127.0.0.1:9/v1/submissions/x"));
        assert_eq!(r.body, b"abc");
    }

    #[test]
    fn an_oversized_body_is_a_lost_response_not_a_memory_bomb() {
        let t = ForeignTransport::new("http://h", Arc::new(Huge));
        assert!(matches!(t.send(&request()), Err(TransportError::Interrupted(_))));
    }
}
