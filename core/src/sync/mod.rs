//! Upload to the team's server (docs/protocol.md). `protocol` holds the wire types both sides
//! share; the phone's sync engine (`engine`, sans-IO) builds on them and does its I/O through
//! [`Transport`]; [`run`] drives it over a transport, [`enroll`] enrolls the device.

pub mod base64;
pub mod engine;
mod enroll;
#[cfg(feature = "test-hooks")]
pub mod fuzzing;
pub mod protocol;
mod report;
pub mod review;
pub mod transport;

pub use engine::Engine;
pub use enroll::{enroll, normalize_base_url};
pub use report::{
    ItemOutcome, NoProgress, Progress, SyncError, SyncProgress, SyncReport, SyncSummary,
};
pub use review::{Decision, ReviewReport, decide, merge_households};
pub use transport::{CHUNK_LEN, HttpRequest, HttpResponse, Transport, TransportError};

use crate::store::Store;
use crate::store::profiles::Actor;

/// One sync with the server: checkin, configuration, then every record due in the outbox
/// (urgent first), reporting progress after each request. Returns what went, what was parked
/// and what will be retried; an error when the sync could not run or was stopped by the server
/// (the last sync's result is kept in the store either way).
pub fn run(
    store: &Store,
    actor: &Actor,
    transport: &dyn Transport,
    progress: &dyn Progress,
) -> Result<SyncReport, SyncError> {
    run_with(store, actor, transport, progress, review::DEFAULT_EVIDENCE_BUDGET)
}

/// [`run`], with the bytes of the team's evidence a supervisor's device may fetch ahead of being
/// asked (0 on a metered network).
pub fn run_with(
    store: &Store,
    actor: &Actor,
    transport: &dyn Transport,
    progress: &dyn Progress,
    evidence_budget: i64,
) -> Result<SyncReport, SyncError> {
    let mut engine = Engine::new(store, actor)?;
    engine.set_evidence_budget(evidence_budget);
    loop {
        let request = match engine.poll_request() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                engine.abort(&e);
                return Err(e);
            }
        };
        let answer = transport.send(&request);
        if let Err(e) = engine.handle(answer) {
            engine.abort(&e);
            return Err(e);
        }
        progress.update(engine.progress());
    }
    engine.finish()
}

#[cfg(test)]
mod tests;
