//! Sign-in and sessions: cookies, CSRF tokens, the login rate limit per address and the lockout
//! per user.
//!
//! - The session cookie holds 32 random bytes (hex); the database keeps only their SHA-256.
//!   `HttpOnly`, `SameSite=Strict`, `Path=/console`, and `Secure` when the console is served
//!   over TLS. A session ends after [`IDLE_MS`] without a request or [`ABSOLUTE_MS`] after login.
//! - Each session has a CSRF token that every form carries and every `POST` must return. The
//!   login form, before any session, is protected the same way by a cookie of its own
//!   (double submit).
//! - [`MAX_FAILED_LOGINS`] wrong passwords in a row lock the user for [`LOCK_MS`]; an address
//!   that fails [`MAX_FAILURES_PER_ADDR`] times within [`ADDR_WINDOW_MS`] is refused (`429`)
//!   until the window has passed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue};
use safehome_core::clock::{Entropy, SystemEntropy};
use safehome_core::hex;
use safehome_core::sync::protocol::sha256_hex;

pub const SESSION_COOKIE: &str = "sh_console";
pub const LOGIN_COOKIE: &str = "sh_login";
pub const LANG_COOKIE: &str = "sh_lang";
/// A session ends after an hour without a request...
pub const IDLE_MS: i64 = 3_600_000;
/// ...and twelve hours after login in any case.
pub const ABSOLUTE_MS: i64 = 12 * 3_600_000;
/// Wrong passwords in a row before a lockout.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOCK_MS: i64 = 15 * 60_000;
/// Failed logins from one address within the window before it is refused.
pub const MAX_FAILURES_PER_ADDR: usize = 20;
pub const ADDR_WINDOW_MS: i64 = 15 * 60_000;

/// 32 random bytes, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    SystemEntropy::default().fill(&mut bytes);
    hex::encode(&bytes)
}

/// What the database keeps of a session token.
pub fn token_digest(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Compare two secrets in time that depends on their length only.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value for the console's path; `max_age` 0 deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age_s: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age_s {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Failed logins per address, in memory (a restart forgets them; the per-user lockout is in
/// the database).
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<IpAddr, Vec<i64>>>,
}

impl LoginLimiter {
    /// Whether `addr` may try to log in now.
    pub fn allows(&self, addr: IpAddr, now_ms: i64) -> bool {
        let Ok(mut map) = self.failures.lock() else {
            return false;
        };
        let times = map.entry(addr).or_default();
        times.retain(|t| *t > now_ms - ADDR_WINDOW_MS);
        times.len() < MAX_FAILURES_PER_ADDR
    }

    pub fn failed(&self, addr: IpAddr, now_ms: i64) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 10_000 {
                map.retain(|_, times| times.iter().any(|t| *t > now_ms - ADDR_WINDOW_MS));
            }
            map.entry(addr).or_default().push(now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn cookies_are_read_by_name_and_set_strict() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1; sh_console=abc"));
        h.append("cookie", HeaderValue::from_static("sh_lang=en"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, LANG_COOKIE).as_deref(), Some("en"));
        assert_eq!(cookie(&h, "b"), None);
        let set = set_cookie(SESSION_COOKIE, "x", None, true);
        assert_eq!(set, "sh_console=x; Path=/console; HttpOnly; SameSite=Strict; Secure");
    }

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_passes() {
        let l = LoginLimiter::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        for i in 0..MAX_FAILURES_PER_ADDR as i64 {
            assert!(l.allows(a, i));
            l.failed(a, i);
        }
        assert!(!l.allows(a, 100));
        assert!(l.allows("127.0.0.2".parse().unwrap(), 100));
        assert!(l.allows(a, ADDR_WINDOW_MS + MAX_FAILURES_PER_ADDR as i64));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
