//! Child process for the crash test: opens the store given on the command line and, forever,
//! registers a household, starts a visit, autosaves answers one by one (the GPS question with a
//! platform fix) and finalizes. After each
//! finalize returns it prints `FINALIZED <record id> <sha256>` and flushes, so the parent knows
//! exactly which finalizes succeeded before it kills this process with SIGKILL.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use safehome_core::clock::{SystemClock, SystemEntropy};
use safehome_core::crypto::{DataKey, PinPolicy};
use safehome_core::store::profiles::{Actor, Role};
use safehome_core::store::{Store, StoreConfig, StoreError};

pub const KEY: [u8; 32] = [42u8; 32];

fn actor(store: &Store, sup: Option<&Actor>, name: &str, role: Role) -> Result<Actor, StoreError> {
    let p = match store.profile_by_name(name) {
        Ok(p) => p,
        Err(StoreError::NotFound { .. }) => store.create_profile(sup, name, role, "2468")?,
        Err(e) => return Err(e),
    };
    store.unlock(&p.id, "2468")
}

fn run() -> Result<(), StoreError> {
    let path = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "crash.db".into()));
    let config = StoreConfig {
        pin_iterations: 1_000,
        pin_policy: PinPolicy { lockout_after: 1_000_000, ..PinPolicy::default() },
        ..StoreConfig::default()
    };
    let store = Store::open(
        &path,
        &DataKey::from_bytes(KEY),
        Arc::new(SystemClock { offset_minutes: 420 }),
        Arc::new(SystemEntropy::default()),
        config,
    )?;
    let sup = actor(&store, None, "Giám sát", Role::Supervisor)?;
    let vol = actor(&store, Some(&sup), "Tình nguyện viên", Role::Volunteer)?;
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let f = safehome_e2e::screened_visit(&store, &vol, i, None)?;
        writeln!(out, "FINALIZED {} {}", f.record_id, f.submission_sha256)
            .map_err(|e| StoreError::BadData(e.to_string()))?;
        out.flush().map_err(|e| StoreError::BadData(e.to_string()))?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("crash_worker: {e}");
        std::process::exit(1);
    }
}
