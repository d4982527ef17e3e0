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
use safehome_core::location::Fix;
use safehome_core::store::households::NewHousehold;
use safehome_core::store::profiles::{Actor, Role};
use safehome_core::store::{Store, StoreConfig, StoreError};
use serde_json::json;

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
        let h = store.add_household(
            &vol,
            &NewHousehold {
                commune_code: "05569".into(),
                village: "Thôn Bản Piềng".into(),
                address: None,
                head_name: format!("Nguyễn Văn {i}"),
                members: Vec::new(),
                location: None,
                volunteer_id: None,
            },
        )?;
        let mut d = store.start_visit(&vol, &h.id, "household_screening")?;
        let answers = [
            ("consent", json!("yes")),
            ("num_children", json!(1)),
            ("children[1]/child_name", json!("Nguyễn Thị Hoa")),
            ("children[1]/child_sex", json!("female")),
            ("children[1]/child_age", json!(4)),
            ("children[1]/child_disability", json!("no")),
            ("children[1]/child_lives_with", json!("both_parents")),
        ];
        for (path, value) in answers {
            store.answer(&mut d, path, &value)?;
        }
        // A fix from a mock provider: the store keeps it with the answer, and every finalized
        // record must carry the mock-provider flag after any kill.
        let mut fix = Fix::new(21.9, 105.6, 5.0, store.now_ms());
        fix.mock = true;
        store.answer_fix(&vol, &mut d, "household_gps", &fix, false)?;
        for field in [
            "pond_fenced",
            "well_covered",
            "poison_stored",
            "window_bars",
            "kitchen_separate",
            "hot_items_safe",
            "wiring_safe",
            "gate_fence",
            "helmet_use",
            "play_area",
            "child_injured_12m",
        ] {
            store.answer(
                &mut d,
                field,
                &json!(if i % 3 == 0 && field == "pond_fenced" { "no" } else { "yes" }),
            )?;
        }
        store.answer(&mut d, "stairs_railing", &json!("na"))?;
        store.answer(&mut d, "special_groups", &json!(["none"]))?;
        store.answer(&mut d, "serious_harm", &json!("no"))?;
        let f = store.finalize(&vol, &d)?;
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
