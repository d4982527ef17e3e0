//! The sync engine against a fake server (`tests/fake.rs`): enrollment and pinning, the order
//! records go in, idempotent retries, resumed evidence uploads, forged receipts, parking,
//! backoff, a wrong clock, a revoked device and a tampered sync state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake;

use std::path::PathBuf;
use std::sync::Arc;

use rusqlite::params;
use serde_json::json;

use super::protocol::ConfigRecipient;
use super::report::{NoProgress, Progress, SyncError, SyncProgress, SyncReport};
use super::{CHUNK_LEN, enroll, run};
use crate::clock::{Clock, Entropy, FixedClock, SystemEntropy};
use crate::crypto::DataKey;
use crate::evidence::keys::Identity;
use crate::store::households::NewHousehold;
use crate::store::outbox::{OutboxEntry, OutboxState};
use crate::store::profiles::{Actor, Role};
use crate::store::records::RecordState;
use crate::store::{Store, StoreConfig, StoreError};
use fake::{FakeServer, Fault, FaultAction};

const NOW: i64 = 1_795_924_800_000;
const DAY: i64 = 86_400_000;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Device {
    _dir: TempDir,
    path: PathBuf,
    store: Store,
    clock: Arc<FixedClock>,
    sup: Actor,
    vol: Actor,
    server: FakeServer,
}

fn recipient(label: &str) -> ConfigRecipient {
    let id = Identity::generate(&SystemEntropy::default());
    ConfigRecipient {
        public_key: id.recipient().to_string(),
        kind: "archive".into(),
        label: label.into(),
    }
}

fn open(path: &std::path::Path, clock: &Arc<FixedClock>) -> Store {
    Store::open(
        path,
        &DataKey::from_bytes([1; 32]),
        clock.clone(),
        Arc::new(SystemEntropy::default()),
        StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
    )
    .unwrap()
}

/// A device with a supervisor and a volunteer, not enrolled yet.
fn new_device(tag: &str) -> Device {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("safehome-sync-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("safehome.db");
    let clock = Arc::new(FixedClock::new(NOW, 420));
    let store = open(&path, &clock);
    let sup = store.create_profile(None, "Hằng", Role::Supervisor, "1111").unwrap();
    let sup = store.unlock(&sup.id, "1111").unwrap();
    let vol = store.create_profile(Some(&sup), "Toàn", Role::Volunteer, "2222").unwrap();
    let vol = store.unlock(&vol.id, "2222").unwrap();
    let server = FakeServer::new(7, clock.clone(), vec![recipient("Archive")]);
    Device { _dir: TempDir(dir), path, store, clock, sup, vol, server }
}

/// A device enrolled with its fake server.
fn device(tag: &str) -> Device {
    let d = new_device(tag);
    let key = d.server.public_key();
    enroll(&d.store, &d.sup, &d.server, "https://fake.example/", &d.server.code, Some(&key), None)
        .unwrap();
    d
}

fn answers() -> serde_json::Value {
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

impl Device {
    /// A finalized visit; returns its record id.
    fn visit(&self) -> String {
        let h = self
            .store
            .add_household(
                &self.vol,
                &NewHousehold {
                    commune_code: "05569".into(),
                    village: "Thôn Khuôn Tát".into(),
                    address: None,
                    head_name: "Ma Văn Hùng".into(),
                    members: Vec::new(),
                    location: None,
                    volunteer_id: None,
                },
            )
            .unwrap();
        let mut d = self.store.start_visit(&self.vol, &h.id, "household_screening").unwrap();
        self.store
            .edit(&mut d, |s| s.load_answers(&answers()).map_err(|mut e| e.remove(0)))
            .unwrap();
        let f = self.store.finalize(&self.vol, &d).unwrap();
        self.clock.advance(1_000);
        f.record_id
    }

    /// Set a record's risk level and due time (as an assessment would have).
    fn set_risk(&self, record: &str, level: Option<&str>, due: Option<i64>) {
        self.store
            .write(|tx, _| {
                tx.execute(
                    "UPDATE records SET risk_level = ?2, due_at = ?3 WHERE id = ?1",
                    params![record, level, due],
                )?;
                Ok(())
            })
            .unwrap();
    }

    /// An evidence file of `len` bytes for a record, queued as finalize queues photos.
    fn attach(&self, record: &str, len: usize) -> (String, String) {
        let mut env = vec![0u8; len];
        SystemEntropy::default().fill(&mut env);
        let id = self.store.new_id();
        let sha = ring::digest::digest(&ring::digest::SHA256, &env).as_ref().to_vec();
        let now = self.store.now_ms();
        self.store
            .write(|tx, s| {
                tx.execute(
                    "INSERT INTO attachments (id, record_id, field, envelope, envelope_len, plain_len,
                        plain_sha256, orig_sha256, created_at)
                     VALUES (?1, ?2, 'photo', ?3, ?4, ?4, ?5, ?5, ?6)",
                    params![id, record, env, len as i64, sha, now],
                )?;
                tx.execute(
                    "INSERT INTO outbox (id, item_kind, item_id, state, payload_sha256, size_bytes,
                        next_attempt_at, created_at)
                     VALUES (?1, 'attachment', ?2, 'pending', ?3, ?4, ?5, ?5)",
                    params![s.new_id(), id, sha, len as i64, now],
                )?;
                Ok(())
            })
            .unwrap();
        (id, crate::hex::encode(&sha))
    }

    fn sync(&self) -> Result<SyncReport, SyncError> {
        run(&self.store, &self.vol, &self.server, &NoProgress)
    }

    fn entry(&self, item_id: &str) -> OutboxEntry {
        self.store.outbox().unwrap().into_iter().find(|e| e.item_id == item_id).unwrap()
    }

    fn record_state(&self, id: &str) -> RecordState {
        self.store.record(&self.sup, id).unwrap().state
    }

    /// How many audit entries say `action` about outbox item `id`.
    fn audited(&self, action: &str, id: &str) -> i64 {
        self.store
            .reader()
            .unwrap()
            .query_row(
                "SELECT count(*) FROM audit WHERE action = ?1 AND entity_id = ?2",
                params![action, id],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// The record ids of the submissions PUT, in order.
    fn puts(&self) -> Vec<String> {
        self.server
            .seen("PUT")
            .iter()
            .map(|s| s.path.trim_start_matches("/v1/submissions/").to_string())
            .collect()
    }
}

#[test]
fn enrollment_pins_the_key_and_sets_team_communes_and_recipients() {
    let d = new_device("enroll");
    assert!(matches!(d.sync(), Err(SyncError::NotEnrolled)));
    // Refused with a wrong code, and with a key other than the one given to check against.
    assert!(matches!(
        enroll(&d.store, &d.sup, &d.server, "https://fake.example", "NOPE", None, None),
        Err(SyncError::Refused { status: 404, .. })
    ));
    let other = FakeServer::new(8, d.clock.clone(), vec![]).public_key();
    assert!(matches!(
        enroll(
            &d.store,
            &d.sup,
            &d.server,
            "https://fake.example",
            &d.server.code,
            Some(&other),
            None
        ),
        Err(SyncError::ServerKeyMismatch { .. })
    ));
    // A volunteer may not enroll the device.
    assert!(matches!(
        enroll(&d.store, &d.vol, &d.server, "https://fake.example", &d.server.code, None, None),
        Err(SyncError::Store(StoreError::Forbidden { .. }))
    ));
    assert!(!d.store.sync_state().unwrap().is_enrolled());

    let config =
        enroll(&d.store, &d.sup, &d.server, "https://fake.example/", &d.server.code, None, None)
            .unwrap();
    assert_eq!(config.team, "tn-05569");
    let state = d.store.sync_state().unwrap();
    assert_eq!(state.server_key.as_deref(), Some(d.server.public_key().as_str()));
    assert_eq!(state.base_url.as_deref(), Some("https://fake.example"));
    let e = d.store.enrollment().unwrap();
    assert_eq!((e.team.as_deref(), e.communes), (Some("tn-05569"), vec!["05569".to_string()]));
    let recipients = d.store.recipients().unwrap();
    assert_eq!(recipients.len(), 1);
    assert_eq!(recipients[0].public_key, d.server.state.borrow().recipients[0].public_key);
    assert_eq!(d.audited("enrolled", d.store.device_id()), 1);

    // A later configuration with a new supervisor replaces the recipients at the next sync.
    d.server
        .state
        .borrow_mut()
        .recipients
        .push(ConfigRecipient { kind: "supervisor".into(), ..recipient("Supervisor") });
    d.sync().unwrap();
    assert_eq!(d.store.recipients().unwrap().len(), 2);

    // A server answering with another key: refused on enrollment and on sync, nothing applied.
    d.server.forger.set(Some(9));
    assert!(matches!(
        enroll(&d.store, &d.sup, &d.server, "https://fake.example", &d.server.code, None, None),
        Err(SyncError::ServerKeyMismatch { .. })
    ));
    d.server.state.borrow_mut().recipients.truncate(1);
    assert!(matches!(d.sync(), Err(SyncError::UntrustedConfig(_))));
    assert_eq!(d.store.recipients().unwrap().len(), 2);
    assert_eq!(d.store.sync_state().unwrap().server_key, Some(d.server.public_key()));
    assert!(d.store.verify_audit().unwrap().is_intact());
}

#[test]
fn urgent_records_go_first_then_by_due_time_then_oldest() {
    let d = device("order");
    let old_low = d.visit();
    let none = d.visit();
    let high_late = d.visit();
    let high_soon = d.visit();
    let urgent = d.visit();
    d.set_risk(&old_low, Some("low"), None);
    d.set_risk(&none, None, None);
    d.set_risk(&high_late, Some("high"), Some(NOW + 5 * DAY));
    d.set_risk(&high_soon, Some("high"), Some(NOW + DAY));
    d.set_risk(&urgent, Some("urgent"), Some(NOW + 10 * DAY));

    let progress = Recorder::default();
    let report = run(&d.store, &d.vol, &d.server, &progress).unwrap();
    assert_eq!(d.puts(), [&urgent, &high_soon, &high_late, &old_low, &none].map(String::clone));
    assert_eq!(report.acknowledged.len(), 5);
    assert!(report.is_clean(), "{report:?}");
    for id in [&urgent, &high_soon, &high_late, &old_low, &none] {
        assert_eq!(d.record_state(id), RecordState::Acknowledged);
        assert_eq!(d.entry(id).state, OutboxState::Acknowledged);
    }
    // The routing header carries the record's risk, commune and household code.
    let stored = d.server.state.borrow().submissions[&urgent].body.clone();
    let body = super::protocol::SubmissionBody::decode(&stored).unwrap();
    assert_eq!(body.routing.risk_level.as_deref(), Some("urgent"));
    assert_eq!(body.routing.commune.as_deref(), Some("05569"));
    assert!(body.routing.household_code.unwrap().starts_with("05569-"));
    // Progress: every item, and the bytes of every body.
    let last = progress.0.borrow().last().cloned().unwrap();
    assert_eq!((last.items_done, last.items_total), (5, 5));
    assert_eq!(last.bytes_sent, report.bytes_sent);
    assert!(last.bytes_total > 0 && last.bytes_sent >= last.bytes_total, "{last:?}");
    // Nothing is due any more: the next sync sends nothing.
    let again = d.sync().unwrap();
    assert!(again.acknowledged.is_empty());
    assert_eq!(d.puts().len(), 5);
    let summary = d.store.sync_state().unwrap().last_sync.unwrap();
    assert!(summary.contains("\"result\":\"ok\""), "{summary}");
}

#[derive(Default)]
struct Recorder(std::cell::RefCell<Vec<SyncProgress>>);

impl Progress for Recorder {
    fn update(&self, p: &SyncProgress) {
        self.0.borrow_mut().push(p.clone());
    }
}

#[test]
fn a_cut_after_the_server_committed_repeats_the_same_bytes_and_acknowledges_once() {
    let d = device("idempotent");
    let id = d.visit();
    // Every PUT of this sync is cut after the server stored it: the engine repeats the PUT
    // until its immediate retries are spent, then backs off.
    d.server.fault(Fault::new("PUT", "/v1/submissions/", FaultAction::CutAfter).times(100));
    let first = d.sync().unwrap();
    assert_eq!(first.failed.len(), 1, "{first:?}");
    assert!(first.interrupted.is_some());
    let e = d.entry(&id);
    assert_eq!((e.state, e.attempts), (OutboxState::Pending, 1));
    assert_eq!(e.next_attempt_at_ms, d.clock.now_ms() + 60_000);
    assert_eq!(d.server.state.borrow().submissions.len(), 1, "stored once");

    // The app restarts; after the backoff the same bytes go again and get the first receipt.
    d.server.faults.borrow_mut().clear();
    let store = open(&d.path, &d.clock);
    assert!(run(&store, &d.vol, &d.server, &NoProgress).unwrap().acknowledged.is_empty());
    d.clock.advance(60_000);
    let second = run(&store, &d.vol, &d.server, &NoProgress).unwrap();
    assert_eq!(second.acknowledged.len(), 1);
    let puts = d.server.seen("PUT");
    assert!(puts.len() >= 2);
    assert!(puts.windows(2).all(|w| w[0].body == w[1].body), "every PUT sends the same bytes");
    assert_eq!(puts.last().unwrap().status, Some(200), "the repeat gets the first receipt");
    let stored = d.server.state.borrow().submissions[&id].clone();
    assert_eq!(stored.seq, 1);
    let e = d.entry(&id);
    assert_eq!(e.state, OutboxState::Acknowledged);
    assert_eq!(e.payload_sha256, stored.envelope_sha256, "named by the sealed envelope");
    assert_eq!(d.audited("acknowledged", &e.id), 1);
    assert_eq!(d.audited("sealed", &e.id), 1, "sealed once");
    // The old manual path still finds nothing left to acknowledge.
    assert!(store.acknowledge(&stored.envelope_sha256).is_err());
}

#[test]
fn an_evidence_upload_resumes_from_the_servers_offset_after_a_cut_and_an_app_kill() {
    let d = device("resume");
    let id = d.visit();
    let len = 3 * CHUNK_LEN + 1_000;
    let (att, sha) = d.attach(&id, len);
    // The second chunk is cut after 1,000 of its bytes arrived; later, the network goes away
    // before the fourth chunk.
    d.server.fault(Fault::new("PATCH", "/v1/evidence/", FaultAction::Partial(1_000)).skip(1));
    d.server.fault(Fault::new("PATCH", "/v1/evidence/", FaultAction::Down).skip(1));
    let first = d.sync().unwrap();
    assert_eq!(first.failed.len(), 1, "{first:?}");
    let e = d.entry(&att);
    assert_eq!(e.state, OutboxState::Pending);
    let patches = d.server.seen("PATCH");
    let offsets: Vec<u64> = patches.iter().map(|p| p.upload_offset.unwrap()).collect();
    // 0; the cut one at CHUNK_LEN; after HEAD, from CHUNK_LEN + 1000; then the cut-off one.
    let c = CHUNK_LEN as u64;
    assert_eq!(offsets, [0, c, c + 1_000, 2 * c + 1_000]);
    assert_eq!(d.server.seen("HEAD").len(), 1);

    // The app is killed and started again: the upload URL was kept, so the next sync asks
    // the server where the upload stands and sends only the rest.
    let store = open(&d.path, &d.clock);
    d.clock.advance(60_000);
    let second = run(&store, &d.vol, &d.server, &NoProgress).unwrap();
    assert_eq!(second.acknowledged.len(), 1, "{second:?}");
    assert_eq!(d.server.seen("POST").iter().filter(|p| p.path == "/v1/evidence/").count(), 1);
    assert_eq!(d.server.seen("HEAD").len(), 2);
    let patches = d.server.seen("PATCH");
    assert_eq!(patches[4].upload_offset, Some(2 * c + 1_000));
    let bytes: usize = patches.iter().filter(|p| p.status == Some(204)).map(|p| p.body.len()).sum();
    assert_eq!(bytes, len - 1_000, "acknowledged chunks, plus the 1,000 bytes kept from the cut");
    assert!(d.server.state.borrow().files.contains_key(&sha));
    assert_eq!(d.entry(&att).state, OutboxState::Acknowledged);
    assert_eq!(d.entry(&id).state, OutboxState::Acknowledged);
}

#[test]
fn a_receipt_not_signed_by_the_pinned_key_acknowledges_nothing() {
    let d = device("forged");
    let id = d.visit();
    let (att, _) = d.attach(&id, 10_000);
    d.server.forger.set(Some(9));
    // The configuration is forged too: the sync refuses it before sending anything.
    assert!(matches!(d.sync(), Err(SyncError::UntrustedConfig(_))));
    assert!(d.server.seen("PUT").is_empty());
    // Only the receipts are forged.
    d.server.forger.set(None);
    let forged = ForgingReceipts(&d.server);
    let report = run(&d.store, &d.vol, &forged, &NoProgress).unwrap();
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].reason.as_deref().unwrap().contains("does not verify"));
    assert_eq!(d.entry(&id).state, OutboxState::Pending);
    assert_eq!(d.entry(&att).state, OutboxState::Uploaded, "sent, not acknowledged");
    assert_eq!(d.record_state(&id), RecordState::Queued);
    // The real receipt, after the backoff: acknowledged.
    d.clock.advance(60_000);
    assert_eq!(d.sync().unwrap().acknowledged.len(), 1);
    assert_eq!(d.entry(&att).state, OutboxState::Acknowledged);
}

/// The fake server, except that submission receipts are signed by another key.
struct ForgingReceipts<'a>(&'a FakeServer);

impl super::Transport for ForgingReceipts<'_> {
    fn send(&self, r: &super::HttpRequest) -> Result<super::HttpResponse, super::TransportError> {
        let forge = r.path.starts_with("/v1/submissions/");
        if forge {
            self.0.forger.set(Some(9));
        }
        let out = self.0.send(r);
        self.0.forger.set(None);
        out
    }
}

#[test]
fn a_conflict_parks_the_record_which_is_kept_and_not_sent_again() {
    let d = device("park");
    let id = d.visit();
    let other = d.visit();
    d.set_risk(&id, Some("urgent"), None);
    d.server.fault(Fault::new(
        "PUT",
        "/v1/submissions/",
        FaultAction::Error(409, "submission_conflict"),
    ));
    let report = d.sync().unwrap();
    assert_eq!(report.parked.len(), 1);
    assert_eq!(report.parked[0].record_id, id);
    assert_eq!(report.parked[0].reason.as_deref(), Some("submission_conflict"));
    assert_eq!(report.acknowledged.len(), 1, "the next record still goes");
    assert_eq!(report.outbox_parked, 1);
    assert!(!report.is_clean());
    let e = d.entry(&id);
    assert_eq!(
        (e.state, e.park_code.as_deref()),
        (OutboxState::Parked, Some("submission_conflict"))
    );
    assert_eq!(d.audited("parked", &e.id), 1);
    // Not sent again, not purged (the acknowledged one is: its sealed body goes with it).
    let acked = d.entry(&other).id;
    assert!(d.store.sealed_body(&acked).unwrap().is_some());
    d.clock.advance(365 * DAY);
    assert_eq!(d.store.purge_expired().unwrap(), 1);
    assert!(d.store.sealed_body(&acked).unwrap().is_none());
    assert!(d.store.sealed_body(&e.id).unwrap().is_some());
    d.sync().unwrap();
    assert_eq!(d.puts(), [id.clone(), other]);
    assert!(d.store.verify_submission(&d.sup, &id).unwrap());
    // An operator puts it back: it goes with the next sync.
    assert!(d.store.unpark(&d.vol, &e.id).is_err());
    d.store.unpark(&d.sup, &e.id).unwrap();
    assert_eq!(d.sync().unwrap().acknowledged.len(), 1);
    assert_eq!(d.entry(&id).state, OutboxState::Acknowledged);
}

#[test]
fn a_full_server_disk_backs_off_and_keeps_everything() {
    let d = device("full");
    let a = d.visit();
    let b = d.visit();
    d.server.fault(Fault::new("PUT", "/v1/submissions/", FaultAction::Error(507, "storage_full")));
    let report = d.sync().unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.not_attempted, 1, "a full server takes nothing more in this sync");
    assert!(report.interrupted.as_deref().unwrap().contains("507"));
    let e = d.entry(&a);
    assert_eq!((e.state, e.attempts), (OutboxState::Pending, 1));
    assert_eq!(e.next_attempt_at_ms, d.clock.now_ms() + 60_000);
    assert_eq!(e.last_error.as_deref(), Some("507 storage_full"));
    let body = d.store.sealed_body(&e.id).unwrap().unwrap();
    assert_eq!(d.record_state(&a), RecordState::Queued);
    assert_eq!(d.entry(&b).state, OutboxState::Pending);
    // Before the backoff only the other record goes; after it, the same sealed bytes.
    d.sync().unwrap();
    assert_eq!(d.puts(), [a.clone(), b.clone()]);
    d.clock.advance(60_000);
    d.sync().unwrap();
    assert_eq!(d.puts(), [a.clone(), b, a.clone()]);
    assert_eq!(d.server.seen("PUT")[2].body, body);
    assert_eq!(d.record_state(&a), RecordState::Acknowledged);
}

#[test]
fn a_device_clock_three_days_off_is_corrected_from_the_server() {
    let d = device("clock");
    let id = d.visit();
    d.server.skew_ms.set(3 * DAY);
    let report = d.sync().unwrap();
    assert_eq!(report.acknowledged.len(), 1, "{report:?}");
    assert!((report.clock_offset_ms - 3 * DAY).abs() < 1_000, "{}", report.clock_offset_ms);
    // One refused checkin, then everything with the corrected time.
    let checkins: Vec<_> =
        d.server.seen("POST").into_iter().filter(|p| p.path == "/v1/checkin").collect();
    assert_eq!(checkins[0].status, Some(401));
    assert_eq!(checkins[1].status, Some(200));
    assert_eq!(d.store.sync_state().unwrap().clock_offset_ms, report.clock_offset_ms);
    let stored = d.server.state.borrow().submissions[&id].body.clone();
    let body = super::protocol::SubmissionBody::decode(&stored).unwrap();
    assert_eq!(body.routing.clock_offset_ms, report.clock_offset_ms);
    assert_eq!(body.routing.finalized_at_ms, NOW, "the record keeps the device's own time");
    // The next sync starts with the learned offset: no refusal.
    let before = d.server.seen("POST").len();
    d.sync().unwrap();
    assert_eq!(d.server.seen("POST")[before].path, "/v1/checkin");
    assert_eq!(d.server.seen("POST")[before].status, Some(200));
}

#[test]
fn a_revoked_device_stops_and_changes_nothing() {
    let d = device("revoked");
    let id = d.visit();
    d.server.state.borrow_mut().revoked = true;
    match d.sync() {
        Err(SyncError::Stopped { status: 403, code, .. }) => assert_eq!(code, "device_revoked"),
        other => panic!("{other:?}"),
    }
    let e = d.entry(&id);
    assert_eq!((e.state, e.attempts), (OutboxState::Pending, 0));
    let last = d.store.sync_state().unwrap().last_sync.unwrap();
    assert!(last.contains("device_revoked"), "{last}");
    // Revoked in the middle of a sync: the sync stops there too.
    d.server.state.borrow_mut().revoked = false;
    d.server.fault(Fault::new(
        "PUT",
        "/v1/submissions/",
        FaultAction::Error(403, "device_revoked"),
    ));
    assert!(matches!(d.sync(), Err(SyncError::Stopped { .. })));
    assert_eq!(d.entry(&id).state, OutboxState::Pending);
}

#[test]
fn a_tampered_sync_state_is_detected() {
    let d = device("tamper");
    d.visit();
    d.sync().unwrap();
    let other = FakeServer::new(9, d.clock.clone(), vec![]).public_key();
    {
        let c = rusqlite::Connection::open(&d.path).unwrap();
        c.execute("UPDATE sync_state SET server_key = ?1", params![other]).unwrap();
    }
    assert!(matches!(d.store.sync_state(), Err(StoreError::Tampered { table: "sync_state", .. })));
    assert!(matches!(d.sync(), Err(SyncError::Store(StoreError::Tampered { .. }))));
    let audit = d.store.verify_audit().unwrap();
    assert!(audit.problem.unwrap().starts_with("sync_state row"));
    // Deleting the row after an enrollment is detected too (it is not "not enrolled").
    {
        let c = rusqlite::Connection::open(&d.path).unwrap();
        c.execute("DELETE FROM sync_state", []).unwrap();
    }
    assert!(matches!(d.store.sync_state(), Err(StoreError::Tampered { .. })));
}

#[test]
fn an_incomplete_receipt_leaves_the_record_uploaded_until_its_evidence_arrives() {
    let d = device("incomplete");
    let id = d.visit();
    let (att, sha) = d.attach(&id, 5_000);
    // The only chunk is cut after the server kept it: HEAD finds the upload complete.
    d.server.fault(Fault::new("PATCH", "/v1/evidence/", FaultAction::CutAfter));
    let report = d.sync().unwrap();
    assert_eq!(report.acknowledged.len(), 1, "the cut chunk had arrived");
    assert_eq!(d.server.seen("PATCH").len(), 1);
    assert!(d.server.state.borrow().files.contains_key(&sha));
    assert_eq!(d.entry(&att).state, OutboxState::Acknowledged);

    // A server that lost the file: the receipt lists it missing; the record stays uploaded,
    // the evidence goes back to pending and is sent again by the next sync.
    let id2 = d.visit();
    let (att2, sha2) = d.attach(&id2, 5_000);
    let lose = LosingFiles(&d.server, sha2.clone());
    let report = run(&d.store, &d.vol, &lose, &NoProgress).unwrap();
    assert_eq!(report.incomplete.len(), 1, "{report:?}");
    assert_eq!(d.entry(&id2).state, OutboxState::Uploaded);
    assert_eq!(d.record_state(&id2), RecordState::Uploaded);
    assert_eq!(d.entry(&att2).state, OutboxState::Pending);
    let report = d.sync().unwrap();
    assert_eq!(report.acknowledged.len(), 1, "{report:?}");
    assert_eq!(d.record_state(&id2), RecordState::Acknowledged);
    assert_eq!(d.entry(&att2).state, OutboxState::Acknowledged);
    // The record was PUT once: the later sync fetched its receipt.
    assert_eq!(d.puts().iter().filter(|p| **p == id2).count(), 1);
    assert!(d.server.seen("GET").iter().any(|g| g.path.ends_with("/receipt")));
}

/// The fake server, losing one evidence file (and its upload) as soon as it is complete.
struct LosingFiles<'a>(&'a FakeServer, String);

impl super::Transport for LosingFiles<'_> {
    fn send(&self, r: &super::HttpRequest) -> Result<super::HttpResponse, super::TransportError> {
        let out = self.0.send(r);
        if r.method == "PATCH" {
            self.0.state.borrow_mut().lose(&self.1);
        }
        out
    }
}

#[test]
fn checkin_reports_the_audit_chain_and_the_server_flags_a_restored_copy() {
    let d = device("regression");
    d.visit();
    let copy = d.path.with_extension("copy");
    d.sync().unwrap();
    rusqlite::Connection::open(&d.path)
        .unwrap()
        .execute("VACUUM INTO ?1", params![copy.to_str().unwrap()])
        .unwrap();
    assert!(!d.store.sync_state().unwrap().regression);
    d.visit();
    d.sync().unwrap();
    // The phone's database is put back to the older copy.
    let (length, head) = d.store.audit_head().unwrap();
    assert_eq!(head.len(), 64);
    drop(d.store);
    let _ = std::fs::remove_file(d.path.with_extension("db-wal"));
    let _ = std::fs::remove_file(d.path.with_extension("db-shm"));
    std::fs::copy(&copy, &d.path).unwrap();
    let store = open(&d.path, &d.clock);
    assert!(store.audit_head().unwrap().0 < length);
    let report = run(&store, &d.vol, &d.server, &NoProgress).unwrap();
    assert!(report.regression);
    assert!(store.sync_state().unwrap().regression);
    let _ = std::fs::remove_file(&copy);
}

#[test]
fn a_server_out_of_reach_changes_nothing_but_the_last_sync_result() {
    let d = device("unreachable");
    let id = d.visit();
    d.server.fault(Fault::new("POST", "/v1/checkin", FaultAction::CutBefore));
    assert!(matches!(d.sync(), Err(SyncError::Unreachable(_))));
    let e = d.entry(&id);
    assert_eq!((e.state, e.attempts, e.next_attempt_at_ms), (OutboxState::Pending, 0, NOW));
    let state = d.store.sync_state().unwrap();
    assert!(state.last_sync.unwrap().contains("cannot be reached"));
    // A network that fails on the records themselves: backed off, never parked.
    d.server.fault(Fault::new("PUT", "/v1/submissions/", FaultAction::Down));
    let report = d.sync().unwrap();
    assert_eq!((report.failed.len(), report.parked.len()), (1, 0));
    assert_eq!(d.entry(&id).state, OutboxState::Pending);
    assert!(d.store.verify_audit().unwrap().is_intact());
}
