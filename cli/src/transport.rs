//! The CLI's [`Transport`]: blocking HTTP(S) with `ureq` over rustls (ring), the operating
//! system's root certificates, timeouts, no redirects (a redirect would change the signed
//! path) and a bounded response body. The apps bring their own (Kotlin, Swift).

use std::io::ErrorKind;
use std::time::Duration;

use safehome_core::sync::{HttpRequest, HttpResponse, Transport, TransportError};
use ureq::Agent;
use ureq::http::{Method, Request};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// The largest response body read: every answer of the protocol is a small JSON document.
pub const MAX_RESPONSE_BODY: u64 = 1 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A whole request and its answer (one 256 KiB chunk at 5 KB/s takes under a minute).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

pub struct HttpTransport {
    base_url: String,
    agent: Agent,
}

impl HttpTransport {
    /// A transport to the server at `base_url` (`http(s)://host[:port]`, no trailing slash).
    pub fn new(base_url: &str) -> Result<HttpTransport, String> {
        let mut config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_TIMEOUT))
            .user_agent(format!("safehome-cli/{}", safehome_core::VERSION));
        if base_url.starts_with("https://") {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return Err("no root certificates found on this system for https".into());
            }
            let roots: Vec<Certificate<'static>> =
                found.certs.iter().map(|c| Certificate::from_der(c.as_ref()).to_owned()).collect();
            let tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&roots)).build();
            config = config.tls_config(tls);
        }
        Ok(HttpTransport {
            base_url: base_url.trim_end_matches('/').to_string(),
            agent: config.build().into(),
        })
    }

    fn call(&self, r: &HttpRequest) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let method = Method::from_bytes(r.method.as_bytes())
            .map_err(|_| ureq::Error::BadUri(format!("method {}", r.method)))?;
        let mut builder =
            Request::builder().method(method).uri(format!("{}{}", self.base_url, r.path));
        for (name, value) in &r.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if r.body.is_empty() && matches!(r.method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS") {
            self.agent.run(builder.body(())?)
        } else {
            self.agent.run(builder.body(r.body.as_slice())?)
        }
    }
}

impl Transport for HttpTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut response = self.call(request).map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_string(), v.to_string())))
            .collect();
        let body = if request.method == "HEAD" {
            Vec::new()
        } else {
            response
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE_BODY)
                .read_to_vec()
                .map_err(transport_error)?
        };
        Ok(HttpResponse { status, headers, body })
    }
}

fn transport_error(e: ureq::Error) -> TransportError {
    use ureq::Error as E;
    match e {
        E::HostNotFound
        | E::ConnectionFailed
        | E::BadUri(_)
        | E::Http(_)
        | E::RequireHttpsOnly(_) => TransportError::Connect(e.to_string()),
        E::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable | ErrorKind::NotFound
            ) =>
        {
            TransportError::Connect(io.to_string())
        }
        E::Tls(_) | E::Rustls(_) | E::Pem(_) | E::TlsRequired => TransportError::Tls(e.to_string()),
        E::BodyExceedsLimit(n) => {
            TransportError::Interrupted(format!("the response body is over {n} bytes"))
        }
        other => TransportError::Interrupted(other.to_string()),
    }
}
