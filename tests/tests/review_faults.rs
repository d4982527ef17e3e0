//! The supervisor's loop under faults: the supervisor's phone killed (SIGKILL) at random moments
//! while it pulls and while it uploads decisions; a decision whose answer is lost after the
//! server stored it; and decisions forged on a breached server (signed by a volunteer's device,
//! by a supervisor of another team, or not by the device they name), which every receiving
//! phone rejects. Each test ends with every record held once, every decision stored once, and
//! both phones' audit chains intact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use safehome_cli::transport::HttpTransport;
use safehome_core::clock::{Clock, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::evidence::envelope::{Randomness, seal_bytes};
use safehome_core::evidence::keys::{DeviceSigningKey, Identity};
use safehome_core::evidence::meta::EvidenceInfo;
use safehome_core::store::decisions::{DecisionContent, DecisionKind, DecisionState};
use safehome_core::store::profiles::{Actor, Role};
use safehome_core::store::received::ReceivedState;
use safehome_core::store::{Store, StoreConfig};
use safehome_core::sync::protocol::{DECISION_SCHEMA, DecisionBody, DecisionHeader};
use safehome_core::sync::{
    self, Decision, HttpRequest, HttpResponse, NoProgress, Transport, TransportError,
};
use safehome_server::{Admin, BackgroundServer, Role as ServerRole, ServerConfig};

const TEAM: &str = "e2e-05569";

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
    let archive = Identity::generate(&SystemEntropy::default()).recipient();
    let mut admin = Admin::open(&data).unwrap();
    admin.add_team(TEAM, &["05569".into()], &archive, "Archive", now).unwrap();
    admin.add_team("other-team", &["05570".into()], &archive, "Archive", now).unwrap();
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
    Server { _dir: dir, data, server }
}

impl Server {
    fn code(&self, team: &str, role: ServerRole) -> String {
        Admin::open(&self.data)
            .unwrap()
            .create_enrollment_code(team, role, 3_600_000, SystemClock::default().now_ms())
            .unwrap()
            .code
    }

    fn count(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(self.data.join("server.db"))
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }
}

struct Phone {
    db: PathBuf,
    key: [u8; 32],
    store: Store,
    user: Actor,
    user_id: String,
    pin: &'static str,
}

fn open(db: &Path, key: [u8; 32]) -> Store {
    Store::open(
        db,
        &DataKey::from_bytes(key),
        Arc::new(SystemClock { offset_minutes: 420 }),
        Arc::new(SystemEntropy::default()),
        StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
    )
    .unwrap()
}

impl Phone {
    fn new(root: &Path, name: &str, srv: &Server, team: &str, role: ServerRole, key: u8) -> Phone {
        let db = root.join(format!("{name}.db"));
        let store = open(&db, [key; 32]);
        let admin = store.create_profile(None, "Đỗ Thị Hằng", Role::Supervisor, "1111").unwrap();
        let admin = store.unlock(&admin.id, "1111").unwrap();
        let (user, pin) = if role == ServerRole::Supervisor {
            (admin.clone(), "1111")
        } else {
            let v =
                store.create_profile(Some(&admin), "Ma Văn Hùng", Role::Volunteer, "2222").unwrap();
            (store.unlock(&v.id, "2222").unwrap(), "2222")
        };
        let url = srv.server.url();
        let t = HttpTransport::new(&url).unwrap();
        sync::enroll(&store, &admin, &t, &url, &srv.code(team, role), None, None).unwrap();
        let user_id = user.profile_id().to_string();
        Phone { db, key: [key; 32], store, user, user_id, pin }
    }

    fn transport(&self) -> HttpTransport {
        HttpTransport::new(&self.store.sync_state().unwrap().base_url.unwrap()).unwrap()
    }

    fn sync(&self) -> sync::SyncReport {
        sync::run(&self.store, &self.user, &self.transport(), &NoProgress).unwrap()
    }

    /// One sync in its own process, SIGKILLed after `after` unless it ends first.
    fn sync_process_killed_after(&self, after: Duration) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_e2e_device"))
            .arg(&self.db)
            .arg(safehome_core::hex::encode(&self.key))
            .args([&self.user_id, self.pin])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(after);
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn photo() -> PathBuf {
    safehome_testdata::photo("camera/DSCN0010.jpg")
}

/// A small deterministic sequence of delays.
fn delays(seed: u64, n: usize, max_ms: u64) -> Vec<Duration> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            Duration::from_millis(20 + (x >> 33) % max_ms)
        })
        .collect()
}

#[test]
fn the_supervisors_phone_killed_while_pulling_and_deciding_loses_and_repeats_nothing() {
    let srv = server();
    let root = tempfile::tempdir().unwrap();
    let sup = Phone::new(root.path(), "sup", &srv, TEAM, ServerRole::Supervisor, 1);
    let vol = Phone::new(root.path(), "vol", &srv, TEAM, ServerRole::Volunteer, 2);
    let n = 24;
    let mut ids = Vec::new();
    for i in 0..n {
        let photo = (i % 3 == 0).then(photo);
        ids.push(
            safehome_e2e::screened_visit(&vol.store, &vol.user, i, photo.as_deref())
                .unwrap()
                .record_id,
        );
    }
    assert_eq!(vol.sync().acknowledged.len(), n as usize);

    // Pulls killed at random moments, then one to the end.
    for d in delays(7, 8, 400) {
        sup.sync_process_killed_after(d);
    }
    let report = sup.sync();
    assert!(report.review.quarantined.is_empty(), "{:?}", report.review);
    let queue = sup.store.received_queue(&sup.user, 1000).unwrap();
    let mut got: Vec<_> = queue.iter().map(|q| q.record_id.clone()).collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "every record pulled once, none lost");
    for id in &ids {
        assert_eq!(sup.store.received_record(&sup.user, id).unwrap().state, ReceivedState::Valid);
    }

    // A decision on each, uploads killed at random moments, then one to the end.
    for id in &ids {
        let d = Decision {
            kind: DecisionKind::Approve,
            content: DecisionContent { note: "ok".into(), comments: Vec::new() },
            action_at_ms: None,
        };
        sync::decide(&sup.store, &sup.user, id, &d).unwrap();
    }
    for d in delays(11, 6, 300) {
        sup.sync_process_killed_after(d);
    }
    sup.sync();
    assert_eq!(srv.count("SELECT count(*) FROM decisions"), n as i64, "each decision stored once");
    assert!(sup.store.pending_decisions().unwrap().is_empty());
    assert!(sup.store.received_queue(&sup.user, 1000).unwrap().is_empty(), "all approved");
    // The volunteer gets each approval once.
    let report = vol.sync();
    assert_eq!(report.review.decisions_applied, n as i64, "{:?}", report.review);
    for p in [&sup, &vol] {
        let audit = p.store.verify_audit().unwrap();
        assert!(audit.problem.is_none(), "{audit:?}");
    }
}

/// Forwards to the server, but throws away the answer to the first decision `PUT` (after the
/// server stored it), as a connection cut at that moment would.
struct LosesFirstDecisionAnswer {
    inner: HttpTransport,
    armed: AtomicBool,
}

impl Transport for LosesFirstDecisionAnswer {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let answer = self.inner.send(request);
        if request.method == "PUT"
            && request.path.starts_with("/v1/decisions/")
            && self.armed.swap(false, Ordering::SeqCst)
        {
            return Err(TransportError::Interrupted("cut after the server answered".into()));
        }
        answer
    }
}

#[test]
fn a_decision_whose_answer_was_lost_is_sent_again_and_stored_once() {
    let srv = server();
    let root = tempfile::tempdir().unwrap();
    let sup = Phone::new(root.path(), "sup", &srv, TEAM, ServerRole::Supervisor, 1);
    let vol = Phone::new(root.path(), "vol", &srv, TEAM, ServerRole::Volunteer, 2);
    let f = safehome_e2e::screened_visit(&vol.store, &vol.user, 1, None).unwrap();
    vol.sync();
    sup.sync();
    let d = Decision {
        kind: DecisionKind::Act,
        content: DecisionContent {
            note: "Đã đến nhà / visited".into(), comments: Vec::new()
        },
        action_at_ms: Some(SystemClock::default().now_ms() - 3_600_000),
    };
    let id = sync::decide(&sup.store, &sup.user, &f.record_id, &d).unwrap();
    let lossy = LosesFirstDecisionAnswer { inner: sup.transport(), armed: AtomicBool::new(true) };
    let report = sync::run(&sup.store, &sup.user, &lossy, &NoProgress).unwrap();
    assert!(report.review.stopped.is_some(), "{:?}", report.review);
    assert_eq!(sup.store.pending_decisions().unwrap().len(), 1, "kept pending, not lost");
    assert_eq!(srv.count("SELECT count(*) FROM decisions"), 1, "the server had stored it");
    // The next sync sends the same bytes: answered with the stored receipt, stored once.
    assert_eq!(sup.sync().review.decisions_sent, 1);
    assert_eq!(srv.count("SELECT count(*) FROM decisions"), 1);
    let mine = sup.store.decisions_for(&sup.user, &f.record_id).unwrap();
    assert_eq!(mine.iter().filter(|x| x.id == id).count(), 1);
    assert_eq!(mine[0].state, DecisionState::Sent);
    // The district's case clock has the action, at the time the supervisor stated.
    assert_eq!(srv.count("SELECT count(*) FROM case_actions WHERE action = 'act'"), 1);
}

#[test]
fn decisions_forged_on_a_breached_server_are_rejected_by_every_phone() {
    let srv = server();
    let root = tempfile::tempdir().unwrap();
    let sup = Phone::new(root.path(), "sup", &srv, TEAM, ServerRole::Supervisor, 1);
    let vol = Phone::new(root.path(), "vol", &srv, TEAM, ServerRole::Volunteer, 2);
    let other_vol = Phone::new(root.path(), "vol2", &srv, TEAM, ServerRole::Volunteer, 3);
    let stranger =
        Phone::new(root.path(), "stranger", &srv, "other-team", ServerRole::Supervisor, 4);
    let f = safehome_e2e::screened_visit(&vol.store, &vol.user, 1, None).unwrap();
    vol.sync();
    sup.sync();
    let record_sha: String = rusqlite::Connection::open(srv.data.join("server.db"))
        .unwrap()
        .query_row(
            "SELECT envelope_sha256 FROM submissions WHERE record_id = ?1",
            [&f.record_id],
            |r| r.get(0),
        )
        .unwrap();
    let forge = |id: &str, signer: &DeviceSigningKey, device_id: &str, team: &str| {
        let header = DecisionHeader {
            schema: DECISION_SCHEMA.into(),
            decision_id: id.into(),
            record_id: f.record_id.clone(),
            record_envelope_sha256: record_sha.clone(),
            team: team.into(),
            device_id: device_id.into(),
            kind: DecisionKind::Return,
            base: None,
            decided_at_ms: SystemClock::default().now_ms(),
            action_at_ms: None,
            merge: None,
            envelope_sha256: String::new(),
            envelope_len: 0,
        };
        let inbox = vol.store.inbox_key().unwrap();
        let info = EvidenceInfo { evidence_id: id.into(), ..EvidenceInfo::default() };
        let content = br#"{"note":"forged","comments":[]}"#;
        let (env, _) = seal_bytes(
            content,
            info,
            &[inbox],
            signer,
            SystemClock::default().now_ms(),
            Randomness::System,
        )
        .unwrap();
        DecisionBody::build(header, env, signer).unwrap().encode()
    };
    let wrong_key = DeviceSigningKey::generate(&SystemEntropy::default()).unwrap();
    let forged = [
        (
            "forged-volunteer",
            forge(
                "forged-volunteer",
                other_vol.store.device_key(),
                other_vol.store.device_id(),
                TEAM,
            ),
            other_vol.store.device_id().to_string(),
        ),
        (
            "forged-stranger",
            forge("forged-stranger", stranger.store.device_key(), stranger.store.device_id(), TEAM),
            stranger.store.device_id().to_string(),
        ),
        (
            "forged-key",
            forge("forged-key", &wrong_key, sup.store.device_id(), TEAM),
            sup.store.device_id().to_string(),
        ),
    ];
    // A breached server writes them straight into its feed.
    let db = rusqlite::Connection::open(srv.data.join("server.db")).unwrap();
    for (id, body, device) in &forged {
        db.execute(
            "INSERT INTO decisions (decision_id, record_id, team, origin_device, device_id, kind,
                                    base, decided_at_ms, envelope_sha256, received_at_ms, body)
             VALUES (?1, ?2, ?3, ?4, ?5, 'return', NULL, 0, 'x', ?6, ?7)",
            rusqlite::params![
                id,
                f.record_id,
                TEAM,
                vol.store.device_id(),
                device,
                SystemClock::default().now_ms(),
                body
            ],
        )
        .unwrap();
    }
    for phone in [&vol, &sup] {
        let report = phone.sync();
        let mut rejected: Vec<&str> =
            report.review.decisions_rejected.iter().map(|(id, _)| id.as_str()).collect();
        rejected.sort_unstable();
        assert_eq!(
            rejected,
            ["forged-key", "forged-stranger", "forged-volunteer"],
            "{:?}",
            report.review
        );
        assert!(report.review.reopened.is_empty(), "a forged return reopened nothing");
        assert_eq!(report.review.decisions_applied, 0);
    }
    // The visit is untouched on the volunteer's phone; the rejections are kept with why.
    let record = vol.store.record(&vol.user, &f.record_id).unwrap();
    assert_ne!(record.state, safehome_core::store::records::RecordState::Returned);
    let kept = vol.store.decisions_for(&vol.user, &f.record_id).unwrap();
    assert_eq!(kept.len(), 3);
    assert!(
        kept.iter().all(|d| d.state == DecisionState::Rejected && d.content.is_none()),
        "{kept:?}"
    );
    assert!(sup.store.current_verdict(&f.record_id).unwrap().is_none());
}
