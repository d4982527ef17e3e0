//! The request nonces this server process has seen (docs/protocol.md, "Request signing", step
//! 5), kept in memory: a database write per request (and a scan to forget old ones) would cost
//! more than everything else a request does.
//!
//! Memory forgets on a restart, so a request signed more than [`START_GRACE_MS`] before this
//! process started is refused as a possible replay (`401 replayed`): its nonce could have been
//! seen by the process before. The client's answer to `replayed` is to sign again with a fresh
//! nonce and time, so a request cut by a restart costs one retry. The grace lets requests that
//! were on their way while the server started through; a replay inside it does no harm, as
//! nothing a request does can happen twice (an identical `PUT` returns the same receipt, a
//! `PATCH` at an offset already written is a mismatch, enrollment and checkin are idempotent) —
//! the nonce is a second line, not the only one. Entries live as long as a request carrying them could pass
//! the clock window ([`NONCE_TTL_MS`]) and are forgotten oldest first as new ones arrive, so the
//! book holds at most the requests of the last ten minutes.
//!
//! Several server processes over one database (the PostgreSQL deployment) also share their
//! nonces in the database ([`record_shared`], table `request_nonces`): a request replayed to
//! the other process is refused there. Those inserts skip the commit's fsync — a nonce lost
//! in a database crash only reopens the replay window that the idempotence above covers —
//! and the housekeeping forgets rows past their window ([`forget_shared`]).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use safehome_core::sync::protocol::NONCE_TTL_MS;

use crate::error::ApiError;

/// How long before this process started a request may have been signed.
pub const START_GRACE_MS: i64 = 5_000;

pub struct NonceBook {
    started_at_ms: i64,
    inner: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    seen: HashSet<(String, String)>,
    /// (forget at, device, nonce), in order of arrival (times only grow, give or take clock
    /// steps, which only delay forgetting).
    order: VecDeque<(i64, String, String)>,
}

impl NonceBook {
    pub fn new(started_at_ms: i64) -> NonceBook {
        NonceBook { started_at_ms, inner: Mutex::new(Book::default()) }
    }

    /// Record `nonce` of `device`, signed at `signed_at_ms`; refused if seen before or signed
    /// before this process started.
    pub fn record(
        &self,
        device: &str,
        nonce: &str,
        signed_at_ms: i64,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        if signed_at_ms < self.started_at_ms.saturating_sub(START_GRACE_MS) {
            return Err(replayed("this request was signed before the server started"));
        }
        let mut book = self.inner.lock().map_err(|_| ApiError::internal("nonce book poisoned"))?;
        while book.order.front().is_some_and(|(t, _, _)| *t < now_ms) {
            if let Some((_, d, n)) = book.order.pop_front() {
                book.seen.remove(&(d, n));
            }
        }
        let key = (device.to_string(), nonce.to_ascii_lowercase());
        if !book.seen.insert(key.clone()) {
            return Err(replayed("this nonce was already used"));
        }
        book.order.push_back((now_ms.saturating_add(NONCE_TTL_MS), key.0, key.1));
        Ok(())
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|b| b.seen.len()).unwrap_or(0)
    }
}

/// Record `nonce` of `device` in the database (PostgreSQL's deployment, several processes):
/// refused if any process recorded it before.
pub async fn record_shared(
    db: &crate::db::Db,
    device: &str,
    nonce: &str,
    now_ms: i64,
) -> Result<(), ApiError> {
    let (device, nonce) = (device.to_string(), nonce.to_ascii_lowercase());
    let forget_at = now_ms.saturating_add(NONCE_TTL_MS);
    // A reader connection (its commits do not wait for an fsync: a row whose loss costs
    // nothing), one statement committed on its own: no wait for the writer's group.
    let inserted = db
        .read(move |c| {
            Ok(c.execute(
                "INSERT INTO request_nonces (device_id, nonce, forget_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                crate::params![device, nonce, forget_at],
            )?)
        })
        .await?;
    if inserted == 0 {
        return Err(replayed("this nonce was already used"));
    }
    Ok(())
}

/// Forget the shared nonces past their window; returns how many.
pub async fn forget_shared(db: &crate::db::Db, now_ms: i64) -> Result<usize, ApiError> {
    db.call_lazy(move |c| {
        Ok(c.execute("DELETE FROM request_nonces WHERE forget_at_ms < ?1", [now_ms])?)
    })
    .await
}

fn replayed(message: &str) -> ApiError {
    ApiError::new(401, "replayed", message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_nonce_is_refused_twice_then_forgotten_after_its_window() {
        let book = NonceBook::new(1_000);
        book.record("d", "ab", 1_000, 1_000).unwrap();
        assert_eq!(book.record("d", "AB", 1_000, 1_001).unwrap_err().body.code, "replayed");
        // Another device may use the same nonce.
        book.record("e", "ab", 1_000, 1_001).unwrap();
        // Past the window the entry is gone (a request carrying it fails the clock check).
        book.record("d", "cd", 1_000 + NONCE_TTL_MS + 10, 1_000 + NONCE_TTL_MS + 10).unwrap();
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn a_request_signed_before_the_process_started_is_refused() {
        let book = NonceBook::new(10_000);
        let err = book.record("d", "ab", 10_000 - START_GRACE_MS - 1, 10_001).unwrap_err();
        assert_eq!((err.status.as_u16(), err.body.code.as_str()), (401, "replayed"));
        // Within the grace: on its way while the server started.
        book.record("d", "ab", 10_000 - START_GRACE_MS, 10_001).unwrap();
    }
}
