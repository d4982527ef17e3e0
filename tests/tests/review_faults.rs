//! The supervisor's loop under faults: the supervisor's phone killed (SIGKILL) at random moments
//! while it pulls and while it uploads decisions; a decision whose answer is lost after the
//! server stored it; and decisions forged on a breached server (signed by a volunteer's device,
//! by a supervisor of another team, or not by the device they name), which every receiving
//! phone rejects. Each test ends with every record held once, every decision stored once, and
//! both phones' audit chains intact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use safehome_cli::transport::HttpTransport;
use safehome_core::clock::{Clock, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::evidence::envelope::{Randomness, seal_bytes};
use safehome_core::evidence::keys::DeviceSigningKey;
use safehome_core::evidence::meta::EvidenceInfo;
use safehome_core::store::decisions::{DecisionContent, DecisionKind, DecisionState};
use safehome_core::store::profiles::Actor;
use safehome_core::store::received::ReceivedState;
use safehome_core::store::{Store, StoreConfig};
use safehome_core::sync::protocol::{DECISION_SCHEMA, DecisionBody, DecisionHeader};
use safehome_core::sync::{
    self, Decision, HttpRequest, HttpResponse, NoProgress, Transport, TransportError,
};
use safehome_server::Role as ServerRole;

use common::{TEAM, TeamServer, enrolled_phone};

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
    fn new(
        root: &Path,
        name: &str,
        srv: &TeamServer,
        team: &str,
        role: ServerRole,
        key: u8,
    ) -> Phone {
        let p = enrolled_phone(root, name, srv, team, role, key);
        let user_id = p.user.profile_id().to_string();
        Phone { db: p.db, key: p.key, store: p.store, user: p.user, user_id, pin: p.pin }
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
    let srv = TeamServer::start(&["other-team"]);
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
    let srv = TeamServer::start(&["other-team"]);
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
    let srv = TeamServer::start(&["other-team"]);
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

/// Put a submission straight into the server's database, as a breached server (or a test
/// staging what no phone would send) could: its row and its routing columns.
fn plant(
    db: &rusqlite::Connection,
    record: &str,
    device: &str,
    body: &safehome_core::sync::protocol::SubmissionBody,
    risk: &str,
    now: i64,
) {
    db.execute(
        "INSERT INTO submissions (record_id, device_id, team, envelope_sha256, received_at_ms,
                                  routing, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            record,
            device,
            TEAM,
            body.routing.envelope_sha256,
            now,
            String::from_utf8(body.routing_bytes.clone()).unwrap(),
            body.encode()
        ],
    )
    .unwrap();
    db.execute(
        "INSERT INTO submission_routing (record_id, team, device_id, commune, kind, risk_level,
                                         finalized_at_ms, received_at_ms)
         VALUES (?1, ?2, ?3, '05569', 'visit', ?4, ?5, ?5)",
        rusqlite::params![record, TEAM, device, risk, now],
    )
    .unwrap();
}

#[test]
fn submissions_forged_on_a_breached_server_are_quarantined_never_shown_as_valid() {
    use safehome_core::sync::protocol::{
        ROUTING_SCHEMA, RoutingForm, RoutingHeader, SubmissionBody,
    };
    let srv = TeamServer::start(&["other-team"]);
    let root = tempfile::tempdir().unwrap();
    let sup = Phone::new(root.path(), "sup", &srv, TEAM, ServerRole::Supervisor, 1);
    let vol = Phone::new(root.path(), "vol", &srv, TEAM, ServerRole::Volunteer, 2);
    let genuine = safehome_e2e::screened_visit(&vol.store, &vol.user, 1, None).unwrap();
    vol.sync();
    let sup_inbox = sup.store.inbox_key().unwrap();
    // A body sealed to the supervisor and signed by `signer`, claiming to be `device_id`'s.
    let forge = |record_id: &str, signer: &DeviceSigningKey, device_id: &str| {
        let doc = serde_json::json!({"record_id": record_id, "device_id": device_id, "data": {}});
        let info = EvidenceInfo { evidence_id: record_id.into(), ..EvidenceInfo::default() };
        let (env, _) = seal_bytes(
            doc.to_string().as_bytes(),
            info,
            &[sup_inbox],
            signer,
            SystemClock::default().now_ms(),
            Randomness::System,
        )
        .unwrap();
        let routing = RoutingHeader {
            schema: ROUTING_SCHEMA.into(),
            record_id: record_id.into(),
            kind: "visit".into(),
            form: RoutingForm { id: "household_screening".into(), version: "2024.1".into() },
            team: TEAM.into(),
            commune: Some("05569".into()),
            household_code: None,
            risk_level: Some("urgent".into()),
            due_at_ms: None,
            finalized_at_ms: SystemClock::default().now_ms(),
            clock_offset_ms: 0,
            device_id: device_id.into(),
            revision: 1,
            revision_of: None,
            envelope_sha256: String::new(),
            envelope_len: 0,
            evidence: Vec::new(),
        };
        SubmissionBody::build(routing, env, signer).unwrap()
    };
    let stranger_key = DeviceSigningKey::generate(&SystemEntropy::default()).unwrap();
    let forged = [
        // A device the team never enrolled.
        ("forged-unknown", forge("forged-unknown", &stranger_key, "not-a-team-device")),
        // The volunteer's device id, but not its key.
        ("forged-signature", forge("forged-signature", &stranger_key, vol.store.device_id())),
    ];
    let db = rusqlite::Connection::open(srv.data.join("server.db")).unwrap();
    db.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    for (id, body) in &forged {
        let now = SystemClock::default().now_ms();
        plant(&db, id, &body.routing.device_id, body, "urgent", now);
    }
    let report = sup.sync();
    assert_eq!(report.review.pulled, 1, "only the genuine record: {:?}", report.review);
    let mut quarantined = sup.store.quarantined(&sup.user).unwrap();
    quarantined.sort();
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    assert_eq!(quarantined[0].0, "forged-signature");
    assert!(quarantined[0].1.contains("signature"), "{quarantined:?}");
    assert_eq!(quarantined[1].0, "forged-unknown");
    assert!(quarantined[1].1.contains("unknown device"), "{quarantined:?}");
    // The queue shows the genuine record only; a quarantined one cannot be decided on.
    let queue = sup.store.received_queue(&sup.user, 100).unwrap();
    assert_eq!(
        queue.iter().map(|q| q.record_id.as_str()).collect::<Vec<_>>(),
        [genuine.record_id.as_str()]
    );
    let d = Decision {
        kind: DecisionKind::Approve,
        content: DecisionContent::default(),
        action_at_ms: None,
    };
    assert!(sync::decide(&sup.store, &sup.user, "forged-unknown", &d).is_err());
    // Editing the quarantine away in the database file is detected (the row is sealed).
    drop(sup.store);
    let c = rusqlite::Connection::open(&sup.db).unwrap();
    c.execute("UPDATE received SET state = 'valid' WHERE record_id = 'forged-unknown'", [])
        .unwrap();
    drop(c);
    let reopened = open(&sup.db, sup.key);
    let officer = reopened.unlock(&sup.user_id, "1111").unwrap();
    assert!(matches!(
        reopened.received_queue(&officer, 100),
        Err(safehome_core::store::StoreError::Tampered { table: "received", .. })
    ));
}

/// Forwards to the server and remembers the largest answer body.
struct Measuring {
    inner: HttpTransport,
    largest: std::sync::atomic::AtomicUsize,
}

impl Transport for Measuring {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let answer = self.inner.send(request)?;
        self.largest.fetch_max(answer.body.len(), Ordering::SeqCst);
        Ok(answer)
    }
}

#[test]
fn a_large_photo_comes_in_ranges_under_the_apps_answer_limit() {
    use safehome_core::sync::protocol::{
        ROUTING_SCHEMA, RoutingEvidence, RoutingForm, RoutingHeader, SubmissionBody, sha256_hex,
    };
    let srv = TeamServer::start(&[]);
    let root = tempfile::tempdir().unwrap();
    let sup = Phone::new(root.path(), "sup", &srv, TEAM, ServerRole::Supervisor, 1);
    let vol = Phone::new(root.path(), "vol", &srv, TEAM, ServerRole::Volunteer, 2);
    // A 2.5 MB evidence file (an 8 MP photo kept at full size, say), sealed by the volunteer's
    // device to the supervisor, and its submission, as the server holds them.
    let sup_inbox = sup.store.inbox_key().unwrap();
    let now = SystemClock::default().now_ms();
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    let info = EvidenceInfo { evidence_id: "ev-big".into(), ..EvidenceInfo::default() };
    let key = vol.store.device_key();
    let (photo, _) = seal_bytes(&big, info, &[sup_inbox], key, now, Randomness::System).unwrap();
    let record = "big-photo-record";
    let doc =
        serde_json::json!({"record_id": record, "device_id": vol.store.device_id(), "data": {}});
    let info = EvidenceInfo { evidence_id: record.into(), ..EvidenceInfo::default() };
    let (env, _) =
        seal_bytes(doc.to_string().as_bytes(), info, &[sup_inbox], key, now, Randomness::System)
            .unwrap();
    let routing = RoutingHeader {
        schema: ROUTING_SCHEMA.into(),
        record_id: record.into(),
        kind: "visit".into(),
        form: RoutingForm { id: "household_screening".into(), version: "2024.1".into() },
        team: TEAM.into(),
        commune: Some("05569".into()),
        household_code: None,
        risk_level: Some("high".into()),
        due_at_ms: None,
        finalized_at_ms: now,
        clock_offset_ms: 0,
        device_id: vol.store.device_id().into(),
        revision: 1,
        revision_of: None,
        envelope_sha256: String::new(),
        envelope_len: 0,
        evidence: vec![RoutingEvidence {
            id: "ev-big".into(),
            sha256: sha256_hex(&photo),
            len: photo.len() as i64,
        }],
    };
    let body = SubmissionBody::build(routing, env, key).unwrap();
    let sha = sha256_hex(&photo);
    let blob = srv.data.join("blobs").join(&sha[..2]);
    std::fs::create_dir_all(&blob).unwrap();
    std::fs::write(blob.join(&sha), &photo).unwrap();
    let db = rusqlite::Connection::open(srv.data.join("server.db")).unwrap();
    plant(&db, record, vol.store.device_id(), &body, "high", now);
    db.execute(
        "INSERT INTO submission_evidence (record_id, position, evidence_id, sha256, len)
         VALUES (?1, 0, 'ev-big', ?2, ?3)",
        rusqlite::params![record, sha, photo.len() as i64],
    )
    .unwrap();
    db.execute(
        "INSERT INTO blobs (sha256, len, device_id, stored_at_ms) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![sha, photo.len() as i64, vol.store.device_id(), now],
    )
    .unwrap();
    let measuring = Measuring { inner: sup.transport(), largest: Default::default() };
    let report = sync::run(&sup.store, &sup.user, &measuring, &NoProgress).unwrap();
    assert_eq!(report.review.evidence_fetched, 1, "{:?}", report.review);
    let largest = measuring.largest.load(Ordering::SeqCst);
    assert!(largest <= sync::review::EVIDENCE_RANGE, "an answer of {largest} bytes");
    let (plain, _) = sup.store.open_received_evidence(&sup.user, record, "ev-big").unwrap();
    assert_eq!(plain, big, "every range in its place");
}
