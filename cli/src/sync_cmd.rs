//! `safehome enroll` and `safehome sync`: the phone's side of upload (docs/protocol.md) over the
//! CLI's HTTP transport, and the sync lines of `safehome status`.
//!
//! `sync` exit codes: 0 when the sync ran and no record failed and nothing is parked in the
//! outbox; 1 when records failed (they are retried after the outbox's backoff) or are parked
//! (until an operator runs `safehome outbox unpark`), or when the server refused, stopped or
//! could not be reached; 2 when it could not start (not enrolled, no server URL, a store that
//! cannot be used).

use safehome_core::store::Store;
use safehome_core::store::outbox::OutboxState;
use safehome_core::sync::{self, NoProgress, SyncError, SyncReport, SyncSummary};

use crate::Outcome;
use crate::device_cmd::{DeviceArgs, actor, fail, json_out, open, store_fail};
use crate::outln;
use crate::transport::HttpTransport;

pub(crate) fn sync_fail(e: SyncError) -> Outcome {
    match e {
        SyncError::Store(e) => store_fail(e),
        e @ (SyncError::NotEnrolled | SyncError::Invalid { .. } | SyncError::Misuse(_)) => {
            fail(e, Outcome::Unusable)
        }
        e => fail(e, Outcome::Refused),
    }
}

/// `safehome enroll --server URL --code CODE [--server-key shserver1…] --user NAME`.
pub fn enroll(
    args: &DeviceArgs,
    user: &str,
    server: &str,
    code: &str,
    server_key: Option<&str>,
    recipient_key: Option<&str>,
) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let base = match sync::normalize_base_url(server) {
        Ok(b) => b,
        Err(e) => return sync_fail(e),
    };
    let transport = match HttpTransport::new(&base) {
        Ok(t) => t,
        Err(e) => return fail(e, Outcome::Unusable),
    };
    let a = match actor(&store, user) {
        Ok(a) => a,
        Err(o) => return o,
    };
    match sync::enroll(&store, &a, &transport, &base, code, server_key, recipient_key) {
        Ok(config) => {
            outln!(
                "enrolled with {base}: team {}, communes {}, {} recipient(s), role {}",
                config.team,
                config.communes.join(","),
                config.recipients.len(),
                config.role
            );
            outln!("server key {} (pinned)", config.server_public_key);
            Outcome::Ok
        }
        Err(e) => sync_fail(e),
    }
}

/// `safehome sync [--server URL] --user NAME [--json]`.
pub fn run(
    args: &DeviceArgs,
    user: &str,
    server: Option<&str>,
    evidence_budget: i64,
    json: bool,
) -> Outcome {
    let store = match open(args) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let state = match store.sync_state() {
        Ok(s) => s,
        Err(e) => return store_fail(e),
    };
    let base = match server.map(str::to_string).or(state.base_url) {
        Some(b) => b,
        None => {
            return fail(
                "no server: enroll first (safehome enroll) or give --server",
                Outcome::Unusable,
            );
        }
    };
    let base = match sync::normalize_base_url(&base) {
        Ok(b) => b,
        Err(e) => return sync_fail(e),
    };
    let transport = match HttpTransport::new(&base) {
        Ok(t) => t,
        Err(e) => return fail(e, Outcome::Unusable),
    };
    let a = match actor(&store, user) {
        Ok(a) => a,
        Err(o) => return o,
    };
    let report = match sync::run_with(&store, &a, &transport, &NoProgress, evidence_budget) {
        Ok(r) => r,
        Err(e) => return sync_fail(e),
    };
    if json {
        json_out(&report);
    } else {
        print_report(&store, &report);
    }
    if report.failed.is_empty() && report.interrupted.is_none() && report.outbox_parked == 0 {
        Outcome::Ok
    } else {
        Outcome::Refused
    }
}

fn print_report(store: &Store, r: &SyncReport) {
    outln!(
        "sync: {} acknowledged, {} incomplete, {} parked, {} failed; {} bytes sent; clock offset {} ms",
        r.acknowledged.len(),
        r.incomplete.len(),
        r.parked.len(),
        r.failed.len(),
        r.bytes_sent,
        r.clock_offset_ms
    );
    let lines = [
        ("acknowledged", &r.acknowledged),
        ("incomplete", &r.incomplete),
        ("parked", &r.parked),
        ("failed", &r.failed),
    ];
    for (what, items) in lines {
        for i in items {
            match &i.reason {
                Some(why) => outln!("  {what:<12} {}: {why}", i.record_id),
                None => outln!("  {what:<12} {}", i.record_id),
            }
        }
    }
    if let Some(why) = &r.interrupted {
        outln!("interrupted: {why}; {} record(s) wait for the next sync", r.not_attempted);
    }
    if r.outbox_parked > 0 {
        outln!("parked in the outbox ({}), kept until resolved:", r.outbox_parked);
        if let Ok(entries) = store.outbox() {
            for e in entries.iter().filter(|e| e.state == OutboxState::Parked) {
                outln!(
                    "  {} {} {}: {}",
                    e.id,
                    e.item_kind.as_str(),
                    e.item_id,
                    e.park_code.as_deref().unwrap_or("?")
                );
            }
        }
    }
    let v = &r.review;
    outln!(
        "review: {} decision(s) sent, {} refused; {} listed, {} pulled, {} quarantined; {} photo(s) fetched ({} bytes); {} decision(s) applied, {} rejected",
        v.decisions_sent,
        v.decisions_refused.len(),
        v.listed,
        v.pulled,
        v.quarantined.len(),
        v.evidence_fetched,
        v.evidence_bytes,
        v.decisions_applied,
        v.decisions_rejected.len()
    );
    for id in &v.decisions_refused {
        outln!("  refused decision {id} (see `safehome review decisions`)");
    }
    for (id, why) in &v.quarantined {
        outln!("  quarantined {id}: {why}");
    }
    for (id, why) in &v.decisions_rejected {
        outln!("  rejected decision {id}: {why}");
    }
    for id in &v.reopened {
        outln!("  returned by the supervisor: draft revision {id} reopened");
    }
    if let Some(why) = &v.stopped {
        outln!("  review stopped early: {why}");
    }
    if r.regression {
        outln!(
            "WARNING: the server saw this device's audit chain go backwards (was the database restored from an old copy?)"
        );
    }
}

/// The sync part of `safehome status`: printed as lines, or returned as JSON.
pub fn status(
    store: &Store,
    print: bool,
) -> Result<serde_json::Value, safehome_core::store::StoreError> {
    let state = store.sync_state()?;
    let summary: Option<SyncSummary> =
        state.last_sync.as_deref().and_then(|s| serde_json::from_str(s).ok());
    if print {
        let now = store.now_ms();
        match (&state.server_key, &state.base_url) {
            (Some(key), url) => outln!("server {} (key {key})", url.as_deref().unwrap_or("?")),
            (None, _) => outln!("not enrolled with a server"),
        }
        match (state.last_sync_at_ms, &summary) {
            (Some(at), Some(s)) => outln!(
                "last sync at {at} ({} s ago): {}; {} acknowledged, {} incomplete, {} parked, {} failed, {} bytes sent",
                (now - at) / 1000,
                s.result,
                s.acknowledged,
                s.incomplete,
                s.parked,
                s.failed,
                s.bytes_sent
            ),
            _ => outln!("never synced"),
        }
        outln!(
            "regression flag: {}",
            if state.regression {
                "YES (the server saw the audit chain go backwards)"
            } else {
                "no"
            }
        );
    }
    Ok(serde_json::json!({
        "enrolled": state.is_enrolled(),
        "base_url": state.base_url,
        "server_key": state.server_key,
        "clock_offset_ms": state.clock_offset_ms,
        "last_sync_at_ms": state.last_sync_at_ms,
        "last_sync": summary,
        "regression": state.regression,
    }))
}
