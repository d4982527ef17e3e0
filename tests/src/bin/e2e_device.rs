//! A phone that syncs once and exits, for the fault tests: `e2e_device DB KEY_HEX PROFILE PIN`.
//! It opens the store, unlocks the profile, runs one sync against the server the device
//! enrolled with (the CLI's transport), and prints `ACKNOWLEDGED <record id>` for every record a
//! verified receipt acknowledged, then `DONE clean|unclean`. The tests kill it at random
//! moments; whatever it printed before is what it claims.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use safehome_cli::transport::HttpTransport;
use safehome_core::clock::{SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::store::{Store, StoreConfig};
use safehome_core::sync::{self, NoProgress};

fn run() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, key, profile, pin] = args.as_slice() else {
        return Err("usage: e2e_device DB KEY_HEX PROFILE PIN".into());
    };
    let key = safehome_core::hex::decode_array::<32>(key).map_err(|e| e.to_string())?;
    let store = Store::open(
        &PathBuf::from(db),
        &DataKey::from_bytes(key),
        Arc::new(SystemClock { offset_minutes: 420 }),
        Arc::new(SystemEntropy::default()),
        StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
    )
    .map_err(|e| e.to_string())?;
    let actor = store.unlock(profile, pin).map_err(|e| e.to_string())?;
    let base = store.sync_state().map_err(|e| e.to_string())?.base_url.ok_or("not enrolled")?;
    let transport = HttpTransport::new(&base)?;
    let report = sync::run(&store, &actor, &transport, &NoProgress).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for item in &report.acknowledged {
        let _ = writeln!(out, "ACKNOWLEDGED {}", item.record_id);
    }
    let _ = writeln!(out, "DONE {}", if report.is_clean() { "clean" } else { "unclean" });
    let _ = out.flush();
    Ok(report.is_clean())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("e2e_device: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
