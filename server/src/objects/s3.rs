//! The object store in an S3-compatible bucket, path-style (`http(s)://host:port/bucket/key`),
//! every request signed with AWS Signature Version 4 ([`super::sigv4`]).
//!
//! Bounded: every call has timeouts, and an answer's body larger than [`S3::max_answer`] is
//! refused. Plain HTTP is accepted for loopback endpoints only (a local MinIO or a test peer);
//! anything else must be HTTPS, checked against the system's root certificates.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::digest;
use safehome_core::hex;
use ureq::http;
use zeroize::Zeroizing;

use super::sigv4::{self, EMPTY_SHA256, Signer, uri_encode};
use super::{Listed, ObjectError, ObjectStore, check_key, check_prefix, percent_decode};

/// The largest answer body read by default: a whole evidence file (64 MiB) with room to spare.
pub const MAX_ANSWER: u64 = 80 << 20;
/// How long one request may take at most, a large upload included.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the store may think before its answer's headers arrive.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Error bodies are read up to this many bytes (for their `<Code>`).
const MAX_ERROR_BODY: u64 = 64 << 10;

/// Where the bucket is (no credentials: those come from the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// `http(s)://host[:port]`, no path.
    pub endpoint: String,
    pub region: String,
}

fn config_err(message: String) -> ObjectError {
    ObjectError::Config(message)
}

/// A bucket name S3 accepts (and that is safe in a path): 3 to 63 of `a-z0-9.-`, a letter or
/// digit first and last.
fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.bytes().last().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Split `http(s)://authority` into the scheme and the host authority as the `Host` header
/// carries it (the scheme's default port left out).
fn parse_endpoint(endpoint: &str) -> Result<(bool, String), ObjectError> {
    let bad = |why: &str| config_err(format!("endpoint {endpoint}: {why}"));
    let (https, rest) = if let Some(r) = endpoint.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = endpoint.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad("must start with http:// or https://"));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty()
        || authority.contains(['/', '?', '#', '@'])
        || !authority.is_ascii()
        || authority.contains(char::is_whitespace)
    {
        return Err(bad("must be scheme://host[:port] (no path, no user, no query)"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("an unclosed [IPv6]"))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if let Some(p) = port {
        p.parse::<u16>().map_err(|_| bad("the port is not a number"))?;
    }
    if !https && !is_loopback(host) {
        return Err(bad("plain http is for loopback endpoints only; use https"));
    }
    let default_port = if https { "443" } else { "80" };
    let host_header = match port {
        Some(p) if p != default_port => {
            if authority.starts_with('[') {
                format!("[{host}]:{p}")
            } else {
                format!("{host}:{p}")
            }
        }
        _ if authority.starts_with('[') => format!("[{host}]"),
        _ => host.to_string(),
    };
    Ok((https, host_header))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl S3Config {
    /// Parse what follows `s3://`: `bucket?endpoint=…&region=…`.
    pub(super) fn parse(rest: &str) -> Result<S3Config, ObjectError> {
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        let bucket = bucket.strip_suffix('/').unwrap_or(bucket);
        if !valid_bucket(bucket) {
            return Err(config_err(format!(
                "s3://{bucket}: not a bucket name (3 to 63 of a-z 0-9 . -); credentials are \
                 never part of the URL (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
            )));
        }
        let (mut endpoint, mut region) = (None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v)?;
            match k {
                "endpoint" => endpoint = Some(v),
                "region" => region = Some(v),
                other => {
                    return Err(config_err(format!(
                        "s3://{bucket}: unknown setting {other:?} (endpoint, region); \
                         credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    )));
                }
            }
        }
        let region = region.unwrap_or_else(|| "us-east-1".into());
        if region.is_empty()
            || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(config_err(format!("region {region:?}: a-z, 0-9 and - only")));
        }
        let endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = endpoint.strip_suffix('/').unwrap_or(&endpoint).to_string();
        parse_endpoint(&endpoint)?;
        Ok(S3Config { bucket: bucket.to_string(), endpoint, region })
    }
}

/// An access key and its secret (wiped when dropped; never printed).
#[derive(Clone)]
pub struct Credentials {
    access_key: String,
    secret_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Credentials {
        Credentials {
            access_key: access_key.into(),
            secret_key: Zeroizing::new(secret_key.into()),
            session_token: None,
        }
    }

    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, and `AWS_SESSION_TOKEN` if set.
    pub fn from_env() -> Result<Credentials, ObjectError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(access), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(config_err(
                "an s3:// store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the \
                 environment"
                    .into(),
            ));
        };
        let mut creds = Credentials::new(access, secret);
        creds.session_token = var("AWS_SESSION_TOKEN").map(Zeroizing::new);
        Ok(creds)
    }
}

/// An S3-compatible bucket.
pub struct S3 {
    config: S3Config,
    host: String,
    creds: Credentials,
    agent: ureq::Agent,
    max_answer: u64,
    /// `max-keys` of a listing's pages (the store's default, 1000, when `None`).
    page_size: Option<u32>,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3").field("config", &self.config).finish_non_exhaustive()
    }
}

/// A request's body.
enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// `len` bytes from a reader whose SHA-256 (hex) is known.
    Reader(&'a mut dyn Read, u64, String),
}

/// One call's answer: its status and body (read within the limit).
struct Answer {
    status: u16,
    body: Vec<u8>,
    headers: http::HeaderMap,
}

impl S3 {
    pub fn new(config: S3Config, creds: Credentials) -> Result<S3, ObjectError> {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let (https, host) = parse_endpoint(&config.endpoint)?;
        let mut agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(CALL_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(ANSWER_TIMEOUT))
            .user_agent("safehome-server-objects");
        if https {
            let found = rustls_native_certs::load_native_certs();
            let roots: Vec<Certificate<'static>> =
                found.certs.iter().map(|c| Certificate::from_der(c.as_ref()).to_owned()).collect();
            agent = agent.tls_config(
                TlsConfig::builder().root_certs(RootCerts::new_with_certs(&roots)).build(),
            );
        }
        Ok(S3 {
            config,
            host,
            creds,
            agent: agent.build().into(),
            max_answer: MAX_ANSWER,
            page_size: None,
        })
    }

    /// Refuse answers larger than `limit` bytes (default [`MAX_ANSWER`]).
    pub fn with_max_answer(mut self, limit: u64) -> S3 {
        self.max_answer = limit;
        self
    }

    /// List in pages of `n` keys (tests use small pages to exercise the continuation).
    pub fn with_page_size(mut self, n: u32) -> S3 {
        self.page_size = Some(n);
        self
    }

    pub fn max_answer(&self) -> u64 {
        self.max_answer
    }

    /// Create the bucket (tests, and a first setup); an existing one of ours is fine.
    pub fn create_bucket(&self) -> Result<(), ObjectError> {
        let path = format!("/{}", self.config.bucket);
        let a = self.call("create bucket", "", "PUT", &path, &[], &[], Payload::Empty)?;
        match a.status {
            200..=299 => Ok(()),
            409 if error_code(&a.body) == "BucketAlreadyOwnedByYou" => Ok(()),
            status => Err(self.http_err("create bucket", "", status, &a.body)),
        }
    }

    fn object_path(&self, key: &str) -> Result<String, ObjectError> {
        check_key(key)?;
        Ok(format!("/{}/{}", self.config.bucket, uri_encode(key, true)))
    }

    fn http_err(&self, op: &'static str, key: &str, status: u16, body: &[u8]) -> ObjectError {
        let code = error_code(body);
        ObjectError::Http {
            op,
            key: format!("{}/{key}", self.config.bucket),
            status,
            code: if code.is_empty() { "-".into() } else { code },
        }
    }

    /// Sign and send one request; read the answer's body within the limit.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        op: &'static str,
        key: &str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        extra: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Answer, ObjectError> {
        let where_ = || format!("{}/{key}", self.config.bucket);
        let payload_sha = match &payload {
            Payload::Empty => EMPTY_SHA256.to_string(),
            Payload::Bytes(b) => hex::encode(digest::digest(&digest::SHA256, b).as_ref()),
            Payload::Reader(_, _, sha) => sha.clone(),
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let amz_date = sigv4::amz_date(now);
        let mut headers: Vec<(&str, &str)> =
            vec![("host", &self.host), ("x-amz-content-sha256", &payload_sha)];
        if let Some(token) = &self.creds.session_token {
            headers.push(("x-amz-security-token", token.as_str()));
        }
        headers.extend_from_slice(extra);
        let signer = Signer {
            access_key: &self.creds.access_key,
            secret_key: &self.creds.secret_key,
            region: &self.config.region,
            service: "s3",
        };
        let signed = signer.sign(
            &sigv4::Request {
                method,
                path,
                query,
                headers: &headers,
                payload_sha256: &payload_sha,
            },
            &amz_date,
        );
        let mut url = format!("{}{path}", self.config.endpoint);
        if !signed.query.is_empty() {
            url.push('?');
            url.push_str(&signed.query);
        }
        let mut builder = http::Request::builder().method(method).uri(&url);
        for (name, value) in &headers {
            builder = builder.header(*name, *value);
        }
        builder =
            builder.header("x-amz-date", &amz_date).header("authorization", &signed.authorization);
        let malformed = |reason: String| ObjectError::Malformed { op, key: where_(), reason };
        let transport = |e: ureq::Error| ObjectError::Transport {
            op,
            key: where_(),
            reason: transport_reason(&e),
        };
        let response = match payload {
            Payload::Empty => {
                let request = builder.body(()).map_err(|e| malformed(e.to_string()))?;
                self.agent.run(request)
            }
            Payload::Bytes(bytes) => {
                let request = builder.body(bytes).map_err(|e| malformed(e.to_string()))?;
                self.agent.run(request)
            }
            Payload::Reader(reader, len, _) => {
                let request = builder
                    .header("content-length", len)
                    .body(ureq::SendBody::from_reader(reader))
                    .map_err(|e| malformed(e.to_string()))?;
                self.agent.run(request)
            }
        }
        .map_err(transport)?;
        let status = response.status().as_u16();
        let (parts, mut body) = response.into_parts();
        let limit = if (200..300).contains(&status) { self.max_answer } else { MAX_ERROR_BODY };
        let body = match body.with_config().limit(limit).read_to_vec() {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(_)) if (200..300).contains(&status) => {
                return Err(ObjectError::TooLarge { op, key: where_(), limit });
            }
            // An error's body is only read for its code.
            Err(_) if !(200..300).contains(&status) => Vec::new(),
            Err(e) => return Err(transport(e)),
        };
        Ok(Answer { status, body, headers: parts.headers })
    }

    /// One page of a listing.
    fn list_page(
        &self,
        prefix: &str,
        token: Option<&str>,
    ) -> Result<(Vec<Listed>, Option<String>), ObjectError> {
        let path = format!("/{}", self.config.bucket);
        let page_size = self.page_size.map(|n| n.to_string());
        let mut query = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(n) = &page_size {
            query.push(("max-keys", n));
        }
        if let Some(t) = token {
            query.push(("continuation-token", t));
        }
        let a = self.call("list", prefix, "GET", &path, &query, &[], Payload::Empty)?;
        if a.status != 200 {
            return Err(self.http_err("list", prefix, a.status, &a.body));
        }
        let malformed = |reason: &str| ObjectError::Malformed {
            op: "list",
            key: format!("{}/{prefix}", self.config.bucket),
            reason: reason.into(),
        };
        let xml = std::str::from_utf8(&a.body).map_err(|_| malformed("not UTF-8"))?;
        let mut out = Vec::new();
        for item in elements(xml, "Contents") {
            let key = element(item, "Key").map(unescape).ok_or_else(|| malformed("no Key"))?;
            let size = element(item, "Size")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| malformed("no Size"))?;
            if key.starts_with(prefix) && check_key(&key).is_ok() {
                out.push(Listed { key, size });
            }
        }
        let truncated = element(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
        let next = if truncated {
            let t = element(xml, "NextContinuationToken")
                .map(unescape)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| malformed("truncated without a continuation token"))?;
            Some(t)
        } else {
            None
        };
        Ok((out, next))
    }
}

impl ObjectStore for S3 {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ObjectError> {
        let path = self.object_path(key)?;
        let a = self.call("put", key, "PUT", &path, &[], &[], Payload::Bytes(bytes))?;
        if (200..300).contains(&a.status) {
            Ok(())
        } else {
            Err(self.http_err("put", key, a.status, &a.body))
        }
    }

    fn put_reader(
        &self,
        key: &str,
        len: u64,
        sha256: &[u8; 32],
        reader: &mut dyn Read,
    ) -> Result<(), ObjectError> {
        let path = self.object_path(key)?;
        // Exactly `len` bytes go out: a short reader fails the request (the store refuses a
        // body shorter than its Content-Length), a long one is cut (and the digest refuses it).
        let mut bounded = reader.take(len);
        let payload = Payload::Reader(&mut bounded, len, hex::encode(sha256));
        let a = self.call("put", key, "PUT", &path, &[], &[], payload)?;
        if (200..300).contains(&a.status) {
            Ok(())
        } else {
            Err(self.http_err("put", key, a.status, &a.body))
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        let path = self.object_path(key)?;
        let a = self.call("get", key, "GET", &path, &[], &[], Payload::Empty)?;
        match a.status {
            200 => Ok(Some(a.body)),
            404 if error_code(&a.body) != "NoSuchBucket" => Ok(None),
            status => Err(self.http_err("get", key, status, &a.body)),
        }
    }

    fn get_range(&self, key: &str, start: u64, len: u64) -> Result<Option<Vec<u8>>, ObjectError> {
        if len == 0 {
            return Ok(self.size(key)?.map(|_| Vec::new()));
        }
        let path = self.object_path(key)?;
        let range = format!("bytes={start}-{}", start.saturating_add(len - 1));
        let a = self.call("get", key, "GET", &path, &[], &[("range", &range)], Payload::Empty)?;
        match a.status {
            206 => Ok(Some(a.body)),
            // A store that ignores ranges sends the whole object.
            200 => {
                let from = usize::try_from(start).unwrap_or(usize::MAX).min(a.body.len());
                let to = usize::try_from(start.saturating_add(len))
                    .unwrap_or(usize::MAX)
                    .min(a.body.len());
                Ok(Some(a.body[from..to].to_vec()))
            }
            // Past the end (or an empty object).
            416 => Ok(Some(Vec::new())),
            404 if error_code(&a.body) != "NoSuchBucket" => Ok(None),
            status => Err(self.http_err("get", key, status, &a.body)),
        }
    }

    fn size(&self, key: &str) -> Result<Option<u64>, ObjectError> {
        let path = self.object_path(key)?;
        let a = self.call("size", key, "HEAD", &path, &[], &[], Payload::Empty)?;
        match a.status {
            200 => a
                .headers
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| ObjectError::Malformed {
                    op: "size",
                    key: format!("{}/{key}", self.config.bucket),
                    reason: "no Content-Length".into(),
                }),
            404 => Ok(None),
            status => Err(self.http_err("size", key, status, &a.body)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let path = self.object_path(key)?;
        let a = self.call("delete", key, "DELETE", &path, &[], &[], Payload::Empty)?;
        match a.status {
            200..=299 => Ok(()),
            404 if error_code(&a.body) != "NoSuchBucket" => Ok(()),
            status => Err(self.http_err("delete", key, status, &a.body)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, ObjectError> {
        check_prefix(prefix)?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = self.list_page(prefix, token.as_deref())?;
            out.extend(page);
            match next {
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                Some(_) => {
                    return Err(ObjectError::Malformed {
                        op: "list",
                        key: format!("{}/{prefix}", self.config.bucket),
                        reason: "the same continuation token twice".into(),
                    });
                }
                None => break,
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("s3://{} at {} ({})", self.config.bucket, self.config.endpoint, self.config.region)
    }
}

/// A transport failure in a few words (no URL: it holds nothing secret, but keep logs short).
fn transport_reason(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::Io(io) => format!("connection failed ({})", io.kind()),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS failed".into(),
        other => format!("HTTP failed ({other})"),
    }
}

/// The text of the first `<name>…</name>` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    elements(xml, name).next()
}

/// The texts of every `<name>…</name>` in `xml` (not nested in each other).
fn elements<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let text = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(text)
    })
}

/// XML's five predefined entities and numeric references.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let Some(end) = after.find(';') else {
            out.push_str(after);
            return out;
        };
        let entity = &after[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// An S3 error body's `<Code>`, or "".
fn error_code(body: &[u8]) -> String {
    std::str::from_utf8(body)
        .ok()
        .and_then(|x| element(x, "Code"))
        .map(unescape)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn listings_and_errors_are_read() {
        let xml = "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><IsTruncated>true\
                   </IsTruncated><Contents><Key>a/1</Key><Size>3</Size></Contents><Contents>\
                   <Key>a/2</Key><Size>0</Size></Contents><NextContinuationToken>x&amp;y=\
                   </NextContinuationToken></ListBucketResult>";
        let items: Vec<_> = elements(xml, "Contents").collect();
        assert_eq!(items.len(), 2);
        assert_eq!(element(items[1], "Key"), Some("a/2"));
        assert_eq!(unescape(element(xml, "NextContinuationToken").unwrap()), "x&y=");
        assert_eq!(unescape("&lt;&#65;&#x42;&bogus;"), "<AB&bogus;");
        assert_eq!(error_code(b"<Error><Code>NoSuchKey</Code></Error>"), "NoSuchKey");
        assert_eq!(error_code(b"\xff"), "");
    }

    #[test]
    fn endpoints_give_the_host_header() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:9000").unwrap(),
            (false, "127.0.0.1:9000".into())
        );
        assert_eq!(
            parse_endpoint("https://s3.example.org:443").unwrap(),
            (true, "s3.example.org".into())
        );
        assert_eq!(parse_endpoint("http://[::1]:80/").unwrap(), (false, "[::1]".into()));
        assert!(parse_endpoint("http://10.0.0.1:9000").is_err());
        assert!(parse_endpoint("https://host:notaport").is_err());
    }

    #[test]
    fn credentials_never_print() {
        let creds = Credentials::new("AKIDEXAMPLE", "very-secret");
        assert!(!format!("{creds:?}").contains("secret"));
        let config = S3Config::parse("bucket?endpoint=http://127.0.0.1:1").unwrap();
        let s3 = S3::new(config, creds).unwrap();
        let shown = format!("{s3:?} {}", s3.describe());
        assert!(!shown.contains("very-secret") && !shown.contains("AKIDEXAMPLE"), "{shown}");
    }
}
