//! The one I/O the sync engine needs, behind a trait: send an HTTP request, return the
//! response. The CLI implements it in Rust; the apps implement it in Kotlin (`HttpURLConnection`)
//! and Swift (`URLSession`) through the bindings. Requests are small (a submission, or one
//! evidence chunk of at most [`CHUNK_LEN`] bytes), so bodies cross as bytes.

/// The largest body the engine puts in one request: one tus `PATCH` chunk. A cut on a weak
/// network loses at most this much.
pub const CHUNK_LEN: usize = 256 << 10;

/// One HTTP request. `path` is the path and query, relative to the server's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One HTTP response. Header names are compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value by name, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why a request got no response. Every such failure is retried later, never parked: the
/// request may or may not have reached the server, and the protocol makes repeating it safe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made (no network, DNS, refused).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The connection was cut or timed out mid-request or mid-response.
    #[error("connection lost: {0}")]
    Interrupted(String),
    /// TLS failed (certificate, handshake): not retried automatically within a sync.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Sends requests to one server.
pub trait Transport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;
}
