//! Duplicate households across the team, end to end over HTTP with a real server: two
//! volunteers register the same family (2 m apart, once as "Ma Văn Hùng" and once as "Ma Van
//! Hung") and both submit a visit; the supervisor pulls, sees the pair with its reasons and
//! merges one into the other; the volunteers sync: the merged household reads as merged on its
//! phone (and, where one phone holds both, its visits are re-linked); the server's console
//! counts the household once. A merge forged on a breached server is rejected by every phone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use safehome_cli::transport::HttpTransport;
use safehome_core::clock::{Clock, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::evidence::envelope::{Randomness, seal_bytes};
use safehome_core::evidence::keys::Identity;
use safehome_core::evidence::meta::EvidenceInfo;
use safehome_core::store::decisions::{DecisionKind, DecisionState, HouseholdMerge};
use safehome_core::store::duplicates::DuplicateBasis;
use safehome_core::store::households::{Household, Location, NewHousehold};
use safehome_core::store::profiles::{Actor, Role};
use safehome_core::store::{Store, StoreConfig};
use safehome_core::sync::protocol::{DECISION_SCHEMA, DecisionBody, DecisionHeader};
use safehome_core::sync::{self, NoProgress, SyncReport};
use safehome_server::{Admin, BackgroundServer, Role as ServerRole, ServerConfig};
use serde_json::json;

const TEAM: &str = "e2e-05569";
/// 1 m of latitude, in degrees.
const METRE: f64 = 1.0 / 110_600.0;

struct Server {
    _dir: tempfile::TempDir,
    data: PathBuf,
    server: BackgroundServer,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    safehome_server::init(&data).unwrap();
    let now = SystemClock::default().now_ms();
    let archive = Identity::generate(&SystemEntropy::default());
    Admin::open(&data)
        .unwrap()
        .add_team(TEAM, &["05569".into()], &archive.recipient(), "Archive", now)
        .unwrap();
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
    Server { _dir: dir, data, server }
}

impl Server {
    fn code(&self, role: ServerRole) -> String {
        Admin::open(&self.data)
            .unwrap()
            .create_enrollment_code(TEAM, role, 3_600_000, SystemClock::default().now_ms())
            .unwrap()
            .code
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.data.join("server.db")).unwrap()
    }

    /// What the district's console counts: screened households.
    fn screened(&self) -> i64 {
        self.db().query_row("SELECT count(*) FROM screened_households", [], |r| r.get(0)).unwrap()
    }
}

struct Phone {
    db: PathBuf,
    store: Store,
    user: Actor,
    transport: HttpTransport,
}

impl Phone {
    fn new(root: &Path, name: &str, server: &Server, role: ServerRole, key: u8) -> Phone {
        let db = root.join(format!("{name}.db"));
        let store = Store::open(
            &db,
            &DataKey::from_bytes([key; 32]),
            Arc::new(SystemClock { offset_minutes: 420 }),
            Arc::new(SystemEntropy::default()),
            StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
        )
        .unwrap();
        let admin = store.create_profile(None, "Đỗ Thị Hằng", Role::Supervisor, "1111").unwrap();
        let admin = store.unlock(&admin.id, "1111").unwrap();
        let user = if role == ServerRole::Supervisor {
            admin.clone()
        } else {
            let v = store
                .create_profile(Some(&admin), "Lục Văn Toàn", Role::Volunteer, "2222")
                .unwrap();
            store.unlock(&v.id, "2222").unwrap()
        };
        let url = server.server.url();
        let transport = HttpTransport::new(&url).unwrap();
        sync::enroll(&store, &admin, &transport, &url, &server.code(role), None, None).unwrap();
        Phone { db, store, user, transport }
    }

    fn sync(&self) -> SyncReport {
        sync::run(&self.store, &self.user, &self.transport, &NoProgress).unwrap()
    }

    /// Register a household (at `metres` north of the village's well, when located) and
    /// finalize one screening visit of it; the visit's GPS answer is the registered location.
    fn household_with_visit(&self, head: &str, metres: Option<f64>) -> (Household, String) {
        let h = self
            .store
            .add_household(
                &self.user,
                &NewHousehold {
                    commune_code: "05569".into(),
                    village: "Thôn Khuôn Tát".into(),
                    address: None,
                    head_name: head.into(),
                    members: Vec::new(),
                    location: metres.map(|m| Location {
                        lat: 21.905 + m * METRE,
                        lon: 105.648,
                        accuracy_m: 5.0,
                    }),
                    volunteer_id: None,
                },
            )
            .unwrap();
        let mut d = self.store.start_visit(&self.user, &h.id, "household_screening").unwrap();
        // In order, as the volunteer answers them (the roster exists once its size is known).
        let answers = json!([
            ["consent", "yes"],
            ["num_children", 1],
            ["children[1]/child_name", "Ma Thị Lan"],
            ["children[1]/child_sex", "female"],
            ["children[1]/child_age", 3],
            ["children[1]/child_disability", "no"],
            ["children[1]/child_lives_with", "both_parents"],
            ["pond_fenced", "no"],
            ["well_covered", "yes"],
            ["poison_stored", "no"],
            ["window_bars", "yes"],
            ["kitchen_separate", "yes"],
            ["hot_items_safe", "yes"],
            ["wiring_safe", "yes"],
            ["stairs_railing", "na"],
            ["gate_fence", "yes"],
            ["helmet_use", "yes"],
            ["play_area", "yes"],
            ["child_injured_12m", "no"],
            ["special_groups", ["none"]],
            ["serious_harm", "no"]
        ]);
        for pair in answers.as_array().unwrap() {
            self.store.answer(&mut d, pair[0].as_str().unwrap(), &pair[1]).unwrap();
        }
        let f = self.store.finalize(&self.user, &d).unwrap();
        (h, f.record_id)
    }

    fn household(&self, id: &str) -> Household {
        self.store.household(&self.user, id).unwrap()
    }

    fn audited(&self, action: &str, entity_id: &str) -> bool {
        let report = self.store.verify_audit().unwrap();
        assert!(report.problem.is_none(), "{report:?}");
        // The chain verifies (above); its entries are plain rows: codes and ids, no content.
        rusqlite::Connection::open(&self.db)
            .unwrap()
            .query_row(
                "SELECT count(*) > 0 FROM audit WHERE action = ?1 AND entity_id = ?2",
                [action, entity_id],
                |r| r.get(0),
            )
            .unwrap()
    }
}

#[test]
fn two_volunteers_one_household_merged_by_the_supervisor_and_counted_once() {
    let srv = server();
    let root = tempfile::tempdir().unwrap();
    let sup = Phone::new(root.path(), "supervisor", &srv, ServerRole::Supervisor, 1);
    let toan = Phone::new(root.path(), "toan", &srv, ServerRole::Volunteer, 2);
    let nhung = Phone::new(root.path(), "nhung", &srv, ServerRole::Volunteer, 3);

    // The same family, registered by two volunteers 2 m apart, diacritics typed or not.
    let (kept, kept_visit) = toan.household_with_visit("Ma Văn Hùng", Some(0.0));
    let (dup, dup_visit) = nhung.household_with_visit("Ma Van Hung", Some(2.0));
    // Toàn also registered one family twice on his own phone (past the warning).
    let (own, own_visit) = toan.household_with_visit("Lò Văn Sáng", Some(40.0));
    let (own_dup, own_dup_visit) = toan.household_with_visit("Lo Van Sang", Some(43.0));
    // A namesake 700 m away is another family.
    let (_far, _) = nhung.household_with_visit("Ma Văn Hùng", Some(700.0));
    assert_eq!(toan.sync().acknowledged.len(), 3);
    assert_eq!(nhung.sync().acknowledged.len(), 2);
    assert_eq!(srv.screened(), 5);

    // The supervisor pulls and sees both pairs, with their reasons.
    let report = sup.sync();
    assert_eq!(report.review.pulled, 5, "{:?}", report.review);
    let pairs = sup.store.team_duplicates(&sup.user).unwrap();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    let two_phones = pairs.iter().find(|p| !p.same_device).unwrap();
    let codes = [two_phones.first.code.as_str(), two_phones.second.code.as_str()];
    assert_eq!(codes, [kept.code.as_str(), dup.code.as_str()], "the first registered first");
    assert_eq!(two_phones.reasons.basis, DuplicateBasis::Nearby);
    let d = two_phones.reasons.distance_m.unwrap();
    assert!((1.5..2.5).contains(&d), "{d}");
    assert_eq!(two_phones.reasons.name_similarity, 1.0);
    assert!(two_phones.reasons.same_village);
    let one_phone = pairs.iter().find(|p| p.same_device).unwrap();
    assert_eq!(one_phone.reasons.basis, DuplicateBasis::Nearby);
    assert_eq!(
        [one_phone.first.code.as_str(), one_phone.second.code.as_str()],
        [own.code.as_str(), own_dup.code.as_str()]
    );

    // Nhung's household into Toàn's; Toàn's second registration into his first.
    let m1 = sync::merge_households(&sup.store, &sup.user, &kept.code, &dup.code, "Cùng một hộ")
        .unwrap();
    let m2 =
        sync::merge_households(&sup.store, &sup.user, &own.code, &own_dup.code, "Đăng ký hai lần")
            .unwrap();
    // Not twice, not into a merged household, not into itself.
    assert!(sync::merge_households(&sup.store, &sup.user, &kept.code, &dup.code, "x").is_err());
    assert!(sync::merge_households(&sup.store, &sup.user, &dup.code, &own.code, "x").is_err());
    assert!(sync::merge_households(&sup.store, &sup.user, &own.code, &own.code, "x").is_err());
    let report = sup.sync();
    assert_eq!(report.review.decisions_sent, 2, "{:?}", report.review);
    assert!(report.review.decisions_refused.is_empty(), "{:?}", report.review);
    // The console counts each family once.
    assert_eq!(srv.screened(), 3);
    // The supervisor's phone shows each merged pair as one household holding both visits.
    assert!(sup.store.team_duplicates(&sup.user).unwrap().is_empty());
    let households = sup.store.team_households(&sup.user).unwrap();
    assert_eq!(households.len(), 3);
    let one = households.iter().find(|h| h.code == kept.code).unwrap();
    assert_eq!(one.record_ids, [kept_visit.clone(), dup_visit.clone()]);
    assert!(sup.audited("decided", &m1) && sup.audited("decided", &m2));

    // Nhung's phone does not hold the kept household: hers reads as merged into it.
    let report = nhung.sync();
    assert_eq!(report.review.decisions_applied, 1, "{:?}", report.review);
    let merged = nhung.household(&dup.id);
    assert_eq!(merged.merged_into.as_deref(), Some(kept.code.as_str()));
    assert_eq!(merged.risk_history.len(), 1, "her visit stays with her household");
    assert!(nhung.audited("merged", &dup.id));
    let decisions = nhung.store.decisions_for(&nhung.user, &dup_visit).unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].kind, DecisionKind::Merge);
    assert_eq!(decisions[0].content.as_ref().unwrap().note, "Cùng một hộ");
    assert_eq!(
        decisions[0].merge,
        Some(HouseholdMerge { household: dup.code.clone(), into: kept.code.clone() })
    );

    // Toàn's phone holds both of his own: the visit is re-linked to the kept household. His
    // household kept from Nhung's merge is unchanged.
    let report = toan.sync();
    assert_eq!(report.review.decisions_applied, 1, "{:?}", report.review);
    let own_now = toan.household(&own.id);
    let mut visits: Vec<_> = own_now.risk_history.iter().map(|p| p.record_id.clone()).collect();
    visits.sort();
    let mut want = vec![own_visit, own_dup_visit];
    want.sort();
    assert_eq!(visits, want);
    let own_dup_now = toan.household(&own_dup.id);
    assert_eq!(own_dup_now.merged_into.as_deref(), Some(own.code.as_str()));
    assert!(own_dup_now.risk_history.is_empty());
    assert!(toan.audited("merged", &own_dup.id));
    let kept_now = toan.household(&kept.id);
    assert_eq!(kept_now.merged_into, None);
    assert_eq!(kept_now.risk_history.len(), 1);
    assert_eq!(
        toan.store.record(&toan.user, &kept_visit).unwrap().household_id.as_deref(),
        Some(kept.id.as_str())
    );

    // A later visit of the merged household still counts once.
    let mut d = nhung.store.start_visit(&nhung.user, &dup.id, "household_screening").unwrap();
    nhung.store.answer(&mut d, "consent", &json!("no")).unwrap();
    nhung.store.finalize(&nhung.user, &d).unwrap();
    nhung.sync();
    assert_eq!(srv.screened(), 3);
    for p in [&sup, &toan, &nhung] {
        let audit = p.store.verify_audit().unwrap();
        assert!(audit.problem.is_none(), "{audit:?}");
    }
}

#[test]
fn a_merge_forged_on_a_breached_server_is_rejected_by_every_phone() {
    let srv = server();
    let root = tempfile::tempdir().unwrap();
    let sup = Phone::new(root.path(), "supervisor", &srv, ServerRole::Supervisor, 1);
    let toan = Phone::new(root.path(), "toan", &srv, ServerRole::Volunteer, 2);
    let nhung = Phone::new(root.path(), "nhung", &srv, ServerRole::Volunteer, 3);
    let (kept, _) = toan.household_with_visit("Ma Văn Hùng", Some(0.0));
    let (dup, dup_visit) = nhung.household_with_visit("Hoàng Thị Mai", Some(30.0));
    toan.sync();
    nhung.sync();
    sup.sync();
    let screened = srv.screened();

    // Toàn's phone (a volunteer's device) signs a merge of Nhung's household into his.
    let db = srv.db();
    let record_sha: String = db
        .query_row(
            "SELECT envelope_sha256 FROM submissions WHERE record_id = ?1",
            [&dup_visit],
            |r| r.get(0),
        )
        .unwrap();
    let merge = HouseholdMerge { household: dup.code.clone(), into: kept.code.clone() };
    let header = DecisionHeader {
        schema: DECISION_SCHEMA.into(),
        decision_id: "forged-merge".into(),
        record_id: dup_visit.clone(),
        record_envelope_sha256: record_sha,
        team: TEAM.into(),
        device_id: toan.store.device_id().into(),
        kind: DecisionKind::Merge,
        base: None,
        decided_at_ms: SystemClock::default().now_ms(),
        action_at_ms: None,
        merge: Some(merge.clone()),
        envelope_sha256: String::new(),
        envelope_len: 0,
    };
    let info = EvidenceInfo { evidence_id: "forged-merge".into(), ..EvidenceInfo::default() };
    let (env, _) = seal_bytes(
        br#"{"note":"forged","comments":[]}"#,
        info,
        &[nhung.store.inbox_key().unwrap()],
        toan.store.device_key(),
        SystemClock::default().now_ms(),
        Randomness::System,
    )
    .unwrap();
    let body = DecisionBody::build(header, env, toan.store.device_key()).unwrap().encode();
    // A breached server writes it straight into its feed.
    db.execute(
        "INSERT INTO decisions (decision_id, record_id, team, origin_device, device_id, kind,
                                base, decided_at_ms, envelope_sha256, received_at_ms, body,
                                merge_household, merge_into)
         VALUES ('forged-merge', ?1, ?2, ?3, ?4, 'merge', NULL, 0, 'x', ?5, ?6, ?7, ?8)",
        rusqlite::params![
            dup_visit,
            TEAM,
            nhung.store.device_id(),
            toan.store.device_id(),
            SystemClock::default().now_ms(),
            body,
            merge.household,
            merge.into
        ],
    )
    .unwrap();

    for phone in [&nhung, &sup] {
        let report = phone.sync();
        let rejected: Vec<&str> =
            report.review.decisions_rejected.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(rejected, ["forged-merge"], "{:?}", report.review);
        assert_eq!(report.review.decisions_applied, 0);
        assert!(
            phone.store.household_merges().unwrap().is_empty(),
            "a forged merge counts for nothing"
        );
    }
    assert_eq!(nhung.household(&dup.id).merged_into, None);
    assert!(!nhung.audited("merged", &dup.id));
    let kept_decisions = nhung.store.decisions_for(&nhung.user, &dup_visit).unwrap();
    assert_eq!(kept_decisions.len(), 1);
    assert_eq!(kept_decisions[0].state, DecisionState::Rejected);
    // The supervisor still sees two households, and the forged merge moved no count.
    assert_eq!(sup.store.team_households(&sup.user).unwrap().len(), 2);
    assert_eq!(srv.screened(), screened);
}
