//! Cross-crate end-to-end tests live in `tests/`; this library holds what their worker
//! processes and the tests share: a household screening visit filled as a volunteer would.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::ChildStdout;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use safehome_core::location::Fix;
use safehome_core::store::households::NewHousehold;
use safehome_core::store::profiles::Actor;
use safehome_core::store::records::Finalized;
use safehome_core::store::{Store, StoreError};
use serde_json::json;

/// Register household `i`, fill its screening visit (autosaving each answer, the GPS question
/// with a mock-provider fix, a photo of the pond when given) and finalize it.
pub fn screened_visit(
    store: &Store,
    vol: &Actor,
    i: u64,
    photo: Option<&Path>,
) -> Result<Finalized, StoreError> {
    let h = store.add_household(
        vol,
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
    let mut d = store.start_visit(vol, &h.id, "household_screening")?;
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
    // record carries the mock-provider flag.
    let mut fix = Fix::new(21.9, 105.6, 5.0, store.now_ms());
    fix.mock = true;
    store.answer_fix(vol, &mut d, "household_gps", &fix, false)?;
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
            &json!(if i.is_multiple_of(3) && field == "pond_fenced" { "no" } else { "yes" }),
        )?;
    }
    store.answer(&mut d, "stairs_railing", &json!("na"))?;
    store.answer(&mut d, "special_groups", &json!(["none"]))?;
    store.answer(&mut d, "serious_harm", &json!("no"))?;
    if let Some(photo) = photo {
        store.attach_photo(vol, &mut d, "hazard_photo", photo)?;
    }
    store.finalize(vol, &d)
}

/// Collect a child process's stdout lines as they come, on a thread, so that the test can kill
/// the child at any moment and still read every line it printed before (join the handle after
/// the child is gone).
pub fn collect_lines(stdout: ChildStdout) -> (JoinHandle<()>, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    (reader, lines)
}
