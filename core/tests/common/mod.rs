//! Shared fixtures of the store tests: a temporary database on a fixed clock, a team of
//! profiles, a household and a complete screening.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use safehome_core::clock::{FixedClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::evidence::keys::Identity;
use safehome_core::store::households::{Location, Member, NewHousehold};
use safehome_core::store::profiles::{Actor, Role};
use safehome_core::store::team::RecipientKind;
use safehome_core::store::{Store, StoreConfig, StoreError};
use serde_json::json;

pub const NOW: i64 = 1_795_924_800_000;

pub struct Fixture {
    _dir: TempDir,
    pub path: PathBuf,
    pub clock: Arc<FixedClock>,
}

/// A temporary directory removed on drop (no extra dependency for one helper).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let p = std::env::temp_dir().join(format!("safehome-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn key(b: u8) -> DataKey {
    DataKey::from_bytes([b; 32])
}

pub fn config() -> StoreConfig {
    StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() }
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        let dir = TempDir::new(tag);
        let path = dir.0.join("safehome.db");
        Fixture { _dir: dir, path, clock: Arc::new(FixedClock::new(NOW, 420)) }
    }
    pub fn open(&self) -> Store {
        self.open_with(&key(1)).unwrap()
    }
    pub fn open_with(&self, k: &DataKey) -> Result<Store, StoreError> {
        Store::open(&self.path, k, self.clock.clone(), Arc::new(SystemEntropy::default()), config())
    }
}

/// A device with a supervisor, two volunteers and a health worker, all unlocked.
pub struct Team {
    pub sup: Actor,
    pub vol: Actor,
    pub vol2: Actor,
    pub hw: Actor,
}

pub fn team(s: &Store) -> Team {
    let sup = s.create_profile(None, "Đỗ Thị Hằng", Role::Supervisor, "1111").unwrap();
    let sup = s.unlock(&sup.id, "1111").unwrap();
    let v = s.create_profile(Some(&sup), "Lục Văn Toàn", Role::Volunteer, "2222").unwrap();
    let v2 = s.create_profile(Some(&sup), "Hà Thị Nhung", Role::Volunteer, "3333").unwrap();
    let h =
        s.create_profile(Some(&sup), "Bác sĩ Nông Văn Khải", Role::HealthWorker, "4444").unwrap();
    Team {
        vol: s.unlock(&v.id, "2222").unwrap(),
        vol2: s.unlock(&v2.id, "3333").unwrap(),
        hw: s.unlock(&h.id, "4444").unwrap(),
        sup,
    }
}

/// A freshly generated archive recipient, added by the supervisor: photos can then be sealed.
pub fn add_archive_recipient(s: &Store, t: &Team) -> Identity {
    let archive = Identity::generate(&SystemEntropy::default());
    s.add_recipient(&t.sup, &archive.recipient().to_string(), RecipientKind::Archive, "Lưu trữ")
        .unwrap();
    archive
}

pub fn new_household(head: &str) -> NewHousehold {
    NewHousehold {
        commune_code: "05569".into(),
        village: "Thôn Khuôn Tát".into(),
        address: Some("Nhà thứ ba sau cầu treo".into()),
        head_name: head.into(),
        members: vec![Member {
            name: "Ma Thị Lan".into(),
            birth_year: Some(2022),
            sex: Some("female".into()),
            relation: Some("con".into()),
        }],
        location: Some(Location { lat: 21.905, lon: 105.648, accuracy_m: 6.0 }),
        volunteer_id: None,
    }
}

pub fn answers() -> serde_json::Value {
    json!({
        "consent": "yes", "commune_code": "05569", "village": "Thôn Khuôn Tát", "head_name": "Ma Văn Hùng",
        "household_gps": {"lat": 21.905, "lon": 105.648, "alt": 120, "accuracy": 6},
        "num_children": 1,
        "children": [{"child_name": "Ma Thị Lan", "child_sex": "female", "child_age": 3,
                      "child_disability": "no", "child_lives_with": "both_parents"}],
        "pond_fenced": "no", "well_covered": "yes", "poison_stored": "no", "window_bars": "yes",
        "kitchen_separate": "yes", "hot_items_safe": "yes", "wiring_safe": "yes", "stairs_railing": "na",
        "gate_fence": "yes", "helmet_use": "yes", "play_area": "yes", "child_injured_12m": "no",
        "special_groups": ["none"], "serious_harm": "no",
        "notes": "Ao cá sau nhà chưa có rào"
    })
}

pub fn fixture(rel: &str) -> PathBuf {
    safehome_testdata::photo(rel)
}
