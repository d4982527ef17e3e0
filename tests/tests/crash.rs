//! Crash test: a child process autosaves and finalizes in a loop and is killed with SIGKILL at
//! random moments. After every kill the database must pass SQLite's integrity check, every
//! finalize that reported success must have its signed submission, its location flags and its
//! outbox entry, and the audit chain must verify. CI runs 24 kills; `SAFEHOME_CRASH_KILLS=500`
//! runs a longer one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use safehome_core::clock::{FixedClock, SeededEntropy, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::location::FlagCode;
use safehome_core::store::profiles::Role;
use safehome_core::store::records::RecordState;
use safehome_core::store::{Store, StoreConfig};

#[test]
fn sigkill_at_random_moments_loses_nothing_that_was_finalized() {
    let kills: usize =
        std::env::var("SAFEHOME_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
    let dir = std::env::temp_dir().join(format!("safehome-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("crash.db");
    let rng = SeededEntropy::new(20261129);
    let mut finalized: BTreeMap<String, String> = BTreeMap::new();
    let mut killed_mid_run = 0;
    for round in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_worker"))
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (reader, lines) = safehome_e2e::collect_lines(child.stdout.take().unwrap());
        // Kill at a random moment: sometimes while opening, mostly mid-autosave or finalize.
        let mut b = [0u8; 2];
        use safehome_core::clock::Entropy;
        rng.fill(&mut b);
        let delay = 20 + u64::from(u16::from_le_bytes(b)) % 400;
        std::thread::sleep(Duration::from_millis(delay));
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        reader.join().unwrap();
        if still_running {
            killed_mid_run += 1;
        } else {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("round {round}: worker exited by itself ({status:?}): {err}");
        }
        for line in lines.lock().unwrap().iter() {
            let mut parts = line.split_whitespace();
            if parts.next() == Some("FINALIZED") {
                finalized
                    .insert(parts.next().unwrap().to_string(), parts.next().unwrap().to_string());
            }
        }
        check(&db, &finalized, round);
    }
    assert_eq!(killed_mid_run, kills);
    assert!(
        finalized.len() >= 3,
        "the worker finalized too little to test anything: {}",
        finalized.len()
    );
    eprintln!("crash test: {kills} kills, {} finalized submissions checked", finalized.len());
    let _ = std::fs::remove_dir_all(&dir);
}

fn check(db: &std::path::Path, finalized: &BTreeMap<String, String>, round: usize) {
    let store = Store::open(
        db,
        &DataKey::from_bytes([42u8; 32]),
        Arc::new(FixedClock::new(0, 420)),
        Arc::new(SystemEntropy::default()),
        StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
    )
    .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
    assert_eq!(store.integrity_check().unwrap(), "ok", "round {round}");
    let audit = store.verify_audit().unwrap();
    assert!(audit.is_intact(), "round {round}: {audit:?}");
    if finalized.is_empty() {
        return;
    }
    let sup = store.profile_by_name("Giám sát").unwrap();
    assert_eq!(sup.role, Role::Supervisor);
    let sup = store.unlock(&sup.id, "2468").unwrap();
    let outbox = store.outbox().unwrap();
    for (id, sha) in finalized {
        let r = store
            .record(&sup, id)
            .unwrap_or_else(|e| panic!("round {round}: finalized {id} lost: {e}"));
        assert_eq!(r.state, RecordState::Queued, "round {round}: {id}");
        assert!(r.signature.is_some(), "round {round}: {id} unsigned");
        assert!(store.verify_submission(&sup, id).unwrap(), "round {round}: {id} signature");
        assert_eq!(r.submission_sha256.as_deref(), Some(sha.as_str()));
        let flags: Vec<FlagCode> = r.quality_flags.iter().map(|f| f.code).collect();
        assert_eq!(flags, [FlagCode::MockProvider], "round {round}: {id} location flags");
        assert!(
            outbox.iter().any(|o| &o.item_id == id && &o.payload_sha256 == sha),
            "round {round}: {id} has no outbox entry"
        );
    }
}
