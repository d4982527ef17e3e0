//! The supervisor's loop on the server (docs/protocol.md, "Review"): the team index, bodies and
//! evidence for those who may read them, decisions (who may decide, first verdict stands, a
//! superseded record refuses them, idempotence) and the decision feed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use safehome_core::evidence::keys::Identity;
use safehome_core::sync::base64;
use safehome_core::sync::protocol::{
    DECISION_CONTENT_TYPE, DECISION_SCHEMA, DecisionBody, DecisionHeader, DecisionKind,
    DecisionReceipt, FeedPage, HouseholdMerge, IndexPage, sha256_hex,
};
use safehome_server::Role;

fn supervisor(server: &TestServer, seed: u8) -> Phone {
    let phone = Phone::new(&server.url(), seed);
    let inbox = Identity::from_bytes([seed; 32]).recipient();
    let res = phone.enroll(&server.code(Role::Supervisor), Some(&inbox));
    assert_eq!(res.status, 200, "{}", res.text());
    phone
}

/// A stored submission of `phone`; returns its body.
fn submit(phone: &Phone, record_id: &str, revision_of: Option<&str>) -> Vec<u8> {
    let mut r = routing(phone, record_id, &[]);
    r.revision_of = revision_of.map(str::to_string);
    let body = submission(phone, r, b"{\"answers\":1}");
    let res = phone.put_submission(record_id, &body);
    assert_eq!(res.status, 201, "{}", res.text());
    body
}

fn envelope_sha(body: &[u8]) -> String {
    safehome_core::sync::protocol::SubmissionBody::decode(body).unwrap().routing.envelope_sha256
}

struct Decide<'a> {
    by: &'a Phone,
    id: &'a str,
    record_id: &'a str,
    record_sha: String,
    kind: DecisionKind,
    base: Option<&'a str>,
    team: &'a str,
}

impl Decide<'_> {
    fn body(&self) -> Vec<u8> {
        let header = DecisionHeader {
            schema: DECISION_SCHEMA.into(),
            decision_id: self.id.into(),
            record_id: self.record_id.into(),
            record_envelope_sha256: self.record_sha.clone(),
            team: self.team.into(),
            device_id: self.by.device_id.clone(),
            kind: self.kind,
            base: self.base.map(str::to_string),
            decided_at_ms: now_ms(),
            action_at_ms: (self.kind == DecisionKind::Act).then(|| now_ms() - 3_600_000),
            merge: None,
            envelope_sha256: String::new(),
            envelope_len: 0,
        };
        let envelope = evidence(&self.by.key, self.id, b"{\"note\":\"see question 3\"}");
        DecisionBody::build(header, envelope, &self.by.key).unwrap().encode()
    }

    fn put(&self) -> Resp {
        put_body(self.by, self.id, &self.body())
    }
}

fn put_body(by: &Phone, id: &str, body: &[u8]) -> Resp {
    by.send("PUT", &format!("/v1/decisions/{id}"), body, &[("Content-Type", DECISION_CONTENT_TYPE)])
}

fn index(phone: &Phone, after: i64, limit: usize) -> (u16, Option<IndexPage>) {
    let res =
        phone.send("GET", &format!("/v1/team/submissions?after={after}&limit={limit}"), b"", &[]);
    let page = (res.status == 200).then(|| serde_json::from_value(res.json()).unwrap());
    (res.status, page)
}

fn feed(phone: &Phone, after: i64) -> FeedPage {
    let res = phone.send("GET", &format!("/v1/decisions?after={after}"), b"", &[]);
    assert_eq!(res.status, 200, "{}", res.text());
    serde_json::from_value(res.json()).unwrap()
}

#[test]
fn a_supervisor_pulls_its_teams_index_page_by_page_and_reads_bodies_and_evidence() {
    let server = TestServer::start();
    let sup = supervisor(&server, 40);
    let vol = server.volunteer(41);
    let other = server.volunteer(42);
    let mut bodies = Vec::new();
    for n in 0..5 {
        let id = record_id(n);
        let phone = if n % 2 == 0 { &vol } else { &other };
        bodies.push((id.clone(), submit(phone, &id, None)));
    }
    // Two pages of 3 and 2, by sequence number, resumable from the cursor.
    let (_, first) = index(&sup, 0, 3);
    let first = first.unwrap();
    assert_eq!(first.items.len(), 3);
    assert!(first.more);
    let (_, second) = index(&sup, first.next_after, 3);
    let second = second.unwrap();
    assert_eq!(second.items.len(), 2);
    assert!(!second.more);
    let ids: Vec<_> =
        first.items.iter().chain(&second.items).map(|i| i.record_id.clone()).collect();
    assert_eq!(ids, bodies.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
    assert_eq!(first.items[0].risk_level.as_deref(), Some("urgent"));
    assert_eq!(first.items[0].body_len, bodies[0].1.len() as i64);
    // A volunteer's device may not pull the team.
    assert_eq!(index(&vol, 0, 10).0, 403);

    // The body as sent, for the supervisor and the sending device; not for a teammate.
    let path = format!("/v1/submissions/{}", bodies[0].0);
    let res = sup.send("GET", &path, b"", &[]);
    assert_eq!(res.status, 200);
    assert_eq!(res.body, bodies[0].1);
    assert_eq!(vol.send("GET", &path, b"", &[]).status, 200);
    assert_eq!(other.send("GET", &path, b"", &[]).status, 403);
    assert_eq!(sup.send("GET", "/v1/submissions/nope", b"", &[]).status, 404);

    // Evidence: uploaded by the volunteer, fetched by the supervisor.
    let photo = evidence(&vol.key, "ev-1", &[9u8; 5000]);
    let id = record_id(99);
    let create = vol.create_upload(&id, "ev-1", &photo);
    let location = create.header("Location").unwrap().to_string();
    assert_eq!(vol.patch(&location, 0, &photo).status, 204);
    let r = routing(&vol, &id, &[("ev-1", &photo)]);
    assert_eq!(vol.put_submission(&id, &submission(&vol, r, b"x")).status, 201);
    let blob = format!("/v1/blobs/{}", sha256_hex(&photo));
    let res = sup.send("GET", &blob, b"", &[]);
    assert_eq!(res.status, 200);
    assert_eq!(res.body, photo);
    assert_eq!(other.send("GET", &blob, b"", &[]).status, 403);
    // In ranges, for a phone whose HTTP stack caps an answer's size.
    let res = sup.send("GET", &blob, b"", &[("Range", "bytes=100-1099")]);
    assert_eq!(res.status, 206);
    assert_eq!(res.body, photo[100..1100]);
    let total = photo.len();
    assert_eq!(res.header("Content-Range"), Some(format!("bytes 100-1099/{total}").as_str()));
    let res = sup.send("GET", &blob, b"", &[("Range", &format!("bytes={total}-{}", total + 10))]);
    assert_eq!(res.status, 416);
    assert_eq!(sup.send("GET", &format!("/v1/blobs/{}", "0".repeat(64)), b"", &[]).status, 404);
    assert_eq!(sup.send("GET", "/v1/blobs/../../key", b"", &[]).status, 404);
}

#[test]
fn the_first_verdict_stands_and_the_second_supervisor_gets_the_standing_back() {
    let server = TestServer::start();
    let a = supervisor(&server, 50);
    let b = supervisor(&server, 51);
    let vol = server.volunteer(52);
    let rec = record_id(1);
    let sha = envelope_sha(&submit(&vol, &rec, None));
    let d = |by, id, kind, base| Decide {
        by,
        id,
        record_id: &rec,
        record_sha: sha.clone(),
        kind,
        base,
        team: TEAM,
    };
    let first = d(&a, "dec-a", DecisionKind::Approve, None);
    let body = first.body();
    let res = put_body(&a, "dec-a", &body);
    assert_eq!(res.status, 201, "{}", res.text());
    let receipt = DecisionReceipt::verify(&res.json(), &server.public).unwrap();
    assert_eq!(receipt.decision_id, "dec-a");
    // The same decision again (a retry after a cut connection): the same receipt, stored once.
    let again = put_body(&a, "dec-a", &body);
    assert_eq!(again.status, 200);
    assert_eq!(DecisionReceipt::verify(&again.json(), &server.public).unwrap().seq, receipt.seq);
    // Other bytes under that id: refused.
    let res = d(&a, "dec-a", DecisionKind::Approve, None).put();
    assert_eq!((res.status, res.code().as_str()), (409, "decision_conflict"));

    // B decided without seeing A's verdict: 409 with where the record stands.
    let res = d(&b, "dec-b", DecisionKind::Return, None).put();
    assert_eq!((res.status, res.code().as_str()), (409, "decision_conflict"));
    let standing = &res.json()["standing"];
    assert_eq!(standing["verdict"]["decision_id"], "dec-a");
    assert_eq!(standing["verdict"]["kind"], "approve");
    assert_eq!(standing["verdict"]["device_id"], a.device_id.as_str());
    // Having seen it, B may change the verdict (escalating, say), naming it as its base.
    let res = d(&b, "dec-b2", DecisionKind::Escalate, Some("dec-a")).put();
    assert_eq!(res.status, 201, "{}", res.text());
    // An action note conflicts with nothing, and reaches the console's case clock.
    let res = d(&a, "dec-act", DecisionKind::Act, None).put();
    assert_eq!(res.status, 201, "{}", res.text());
    let action: String = server
        .admin()
        .connection()
        .query_row("SELECT action FROM case_actions WHERE record_id = ?1", [&rec], |r| r.get(0))
        .unwrap();
    assert_eq!(action, "act");
}

#[test]
fn a_decision_on_a_superseded_record_is_refused_with_the_revision() {
    let server = TestServer::start();
    let sup = supervisor(&server, 60);
    let vol = server.volunteer(61);
    let rec = record_id(1);
    let sha = envelope_sha(&submit(&vol, &rec, None));
    let revision = record_id(2);
    submit(&vol, &revision, Some(&rec));
    let res = Decide {
        by: &sup,
        id: "dec-late",
        record_id: &rec,
        record_sha: sha,
        kind: DecisionKind::Approve,
        base: None,
        team: TEAM,
    }
    .put();
    assert_eq!((res.status, res.code().as_str()), (409, "record_superseded"));
    assert_eq!(res.json()["superseded_by"], revision.as_str());
}

#[test]
fn forged_decisions_are_refused() {
    let server = TestServer::start();
    let sup = supervisor(&server, 70);
    let vol = server.volunteer(71);
    let rec = record_id(1);
    let sha = envelope_sha(&submit(&vol, &rec, None));
    let decide = |by, team, record_sha: String| Decide {
        by,
        id: "dec-x",
        record_id: &rec,
        record_sha,
        kind: DecisionKind::Approve,
        base: None,
        team,
    };
    // Signed by a volunteer's device.
    let res = decide(&vol, TEAM, sha.clone()).put();
    assert_eq!((res.status, res.code().as_str()), (403, "forbidden"));
    // A supervisor of another team: under its own team, the record is not its team's...
    let mut admin = server.admin();
    admin
        .add_team("tn-other", &["20001".into()], &archive().recipient(), "Archive", now_ms())
        .unwrap();
    let code =
        admin.create_enrollment_code("tn-other", Role::Supervisor, 86_400_000, now_ms()).unwrap();
    let stranger = Phone::new(&server.url(), 72);
    let res = stranger.enroll(&code.code, Some(&Identity::from_bytes([72; 32]).recipient()));
    assert_eq!(res.status, 200, "{}", res.text());
    let res = decide(&stranger, "tn-other", sha.clone()).put();
    assert_eq!((res.status, res.code().as_str()), (403, "forbidden"));
    // ...and claiming the record's team is refused too.
    let res = decide(&stranger, TEAM, sha.clone()).put();
    assert_eq!((res.status, res.json()["field"].as_str()), (400, Some("decision.team")));
    // The other team's supervisor sees nothing of this team.
    assert_eq!(index(&stranger, 0, 10).1.unwrap().items.len(), 0);
    // Signed by the supervisor's key but sent by another device: the signature fails.
    let body = decide(&sup, TEAM, sha.clone()).body();
    let mut forged = DecisionBody::decode(&body).unwrap();
    forged.header.device_id = stranger.device_id.clone();
    let res = put_body(&stranger, "dec-x", &forged.encode());
    assert_eq!(res.status, 400);
    // A decision about another version of the record than the one stored.
    let res = decide(&sup, TEAM, "ab".repeat(32)).put();
    assert_eq!(res.json()["field"], "decision.record_envelope_sha256");
    // None of them was stored.
    assert!(feed(&sup, 0).items.is_empty());
}

#[test]
fn the_feed_carries_decisions_to_the_records_device_and_to_the_team_supervisors() {
    let server = TestServer::start();
    let sup = supervisor(&server, 80);
    let vol = server.volunteer(81);
    let other = server.volunteer(82);
    let mine = record_id(1);
    let theirs = record_id(2);
    let sha_mine = envelope_sha(&submit(&vol, &mine, None));
    let sha_theirs = envelope_sha(&submit(&other, &theirs, None));
    for (id, rec, sha) in [("d1", &mine, &sha_mine), ("d2", &theirs, &sha_theirs)] {
        let res = Decide {
            by: &sup,
            id,
            record_id: rec,
            record_sha: sha.clone(),
            kind: DecisionKind::Return,
            base: None,
            team: TEAM,
        }
        .put();
        assert_eq!(res.status, 201, "{}", res.text());
    }
    let page = feed(&vol, 0);
    assert_eq!(page.items.len(), 1);
    let body = base64::decode(&page.items[0].body).unwrap();
    let decision = DecisionBody::decode(&body).unwrap();
    decision.verify(&sup.key.public()).unwrap();
    assert_eq!(decision.header.record_id, mine);
    // The cursor: nothing new after the last item.
    assert!(feed(&vol, page.next_after).items.is_empty());
    assert_eq!(feed(&other, 0).items.len(), 1);
    assert_eq!(feed(&sup, 0).items.len(), 2);
    let res = vol.send("GET", "/v1/decisions?after=-1", b"", &[]);
    assert_eq!(res.status, 400);
}

/// A merge of household `household` (the record's) into `into`, signed by `by`.
fn merge_body(
    by: &Phone,
    id: &str,
    record_id: &str,
    record_sha: &str,
    merge: Option<(&str, &str)>,
) -> Vec<u8> {
    let header = DecisionHeader {
        schema: DECISION_SCHEMA.into(),
        decision_id: id.into(),
        record_id: record_id.into(),
        record_envelope_sha256: record_sha.into(),
        team: TEAM.into(),
        device_id: by.device_id.clone(),
        kind: DecisionKind::Merge,
        base: None,
        decided_at_ms: now_ms(),
        action_at_ms: None,
        merge: merge.map(|(household, into)| HouseholdMerge {
            household: household.into(),
            into: into.into(),
        }),
        envelope_sha256: String::new(),
        envelope_len: 0,
    };
    let envelope = evidence(&by.key, id, b"{\"note\":\"one family\"}");
    DecisionBody::build(header, envelope, &by.key).unwrap().encode()
}

#[test]
fn a_household_is_merged_once_into_a_household_of_the_team_and_counted_once() {
    let server = TestServer::start();
    let sup = supervisor(&server, 70);
    let vol = server.volunteer(71);
    let other = server.volunteer(72);
    let submit_for = |phone: &Phone, n: u64, household: &str| {
        let id = record_id(n);
        let mut r = routing(phone, &id, &[]);
        r.household_code = Some(household.into());
        let res = phone.put_submission(&id, &submission(phone, r, b"x"));
        assert_eq!(res.status, 201, "{}", res.text());
        let sha = server
            .admin()
            .connection()
            .query_row("SELECT envelope_sha256 FROM submissions WHERE record_id = ?1", [&id], |r| {
                r.get::<_, String>(0)
            })
            .unwrap();
        (id, sha)
    };
    let (ra, sha_a) = submit_for(&vol, 1, "19001-aaaa-0001");
    let (rb, sha_b) = submit_for(&other, 2, "19001-bbbb-0001");
    let (rc, sha_c) = submit_for(&other, 3, "19001-bbbb-0002");
    let screened = || -> i64 {
        server
            .admin()
            .connection()
            .query_row("SELECT count(*) FROM screened_households", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(screened(), 3);
    let put = |id: &str, record: &str, sha: &str, merge| {
        put_body(&sup, id, &merge_body(&sup, id, record, sha, merge))
    };
    // A merge names its households, and the household must be the decided record's.
    let res = put("m-0", &rb, &sha_b, None);
    assert_eq!((res.status, res.code().as_str()), (400, "bad_request"), "{}", res.text());
    let res = put("m-1", &ra, &sha_a, Some(("19001-bbbb-0001", "19001-aaaa-0001")));
    assert_eq!(res.status, 400, "{}", res.text());
    // Into a household the team's server has never seen: 404.
    let res = put("m-2", &rb, &sha_b, Some(("19001-bbbb-0001", "19001-zzzz-0009")));
    assert_eq!(res.status, 404, "{}", res.text());
    // A volunteer's device cannot merge, however well signed.
    let body = merge_body(&vol, "m-v", &rb, &sha_b, Some(("19001-bbbb-0001", "19001-aaaa-0001")));
    assert_eq!(put_body(&vol, "m-v", &body).status, 403);

    let res = put("m-3", &rb, &sha_b, Some(("19001-bbbb-0001", "19001-aaaa-0001")));
    assert_eq!(res.status, 201, "{}", res.text());
    assert_eq!(screened(), 2, "B counts as A");
    // The first merge of a household stands; merges never chain either way.
    let res = put("m-4", &rb, &sha_b, Some(("19001-bbbb-0001", "19001-bbbb-0002")));
    assert_eq!((res.status, res.code().as_str()), (409, "household_merged"), "{}", res.text());
    assert_eq!(res.json()["merged_into"], "19001-aaaa-0001");
    let res = put("m-5", &rc, &sha_c, Some(("19001-bbbb-0002", "19001-bbbb-0001")));
    assert_eq!((res.status, res.code().as_str()), (409, "household_merged"), "{}", res.text());
    let res = put("m-6", &ra, &sha_a, Some(("19001-aaaa-0001", "19001-bbbb-0002")));
    assert_eq!((res.status, res.code().as_str()), (409, "household_merged"), "{}", res.text());
    assert_eq!(screened(), 2);
    // The merge reaches the merged household's device, not the kept one's.
    let ids = |p: &Phone| -> Vec<i64> { feed(p, 0).items.iter().map(|i| i.seq).collect() };
    assert_eq!(ids(&other).len(), 1);
    assert!(ids(&vol).is_empty());
    // The merge is no case action.
    let actions: i64 = server
        .admin()
        .connection()
        .query_row("SELECT count(*) FROM case_actions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(actions, 0);
}
