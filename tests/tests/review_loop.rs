//! The supervisor's loop across devices, end to end over HTTP with a real server: a volunteer's
//! phone finalizes a visit with a photo and syncs; the supervisor's phone pulls it, opens the
//! photo, returns it with a comment on a question; the volunteer's sync reopens it as a draft
//! revision with the comment; the correction is finalized and synced; the supervisor pulls the
//! revision (which replaces the original) and approves it; the volunteer sees the approval.
//! Then the conflicts: two supervisors deciding at once, and a decision on a superseded record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use safehome_cli::transport::HttpTransport;
use safehome_core::clock::{Clock, SystemClock};
use safehome_core::store::Store;
use safehome_core::store::decisions::{
    DecisionContent, DecisionKind, DecisionState, QuestionComment,
};
use safehome_core::store::profiles::Actor;
use safehome_core::store::records::RecordState;
use safehome_core::sync::{self, Decision, NoProgress, SyncReport};
use safehome_server::Role as ServerRole;
use serde_json::json;

use common::{TEAM, TeamServer, enrolled_phone};

/// A phone enrolled with the server, and its user (a volunteer or a supervisor).
struct Phone {
    store: Store,
    user: Actor,
    transport: HttpTransport,
}

impl Phone {
    fn new(root: &Path, name: &str, server: &TeamServer, role: ServerRole, key: u8) -> Phone {
        let p = enrolled_phone(root, name, server, TEAM, role, key);
        let transport = HttpTransport::new(&server.server.url()).unwrap();
        Phone { store: p.store, user: p.user, transport }
    }

    fn sync(&self) -> SyncReport {
        sync::run(&self.store, &self.user, &self.transport, &NoProgress).unwrap()
    }

    fn decide(&self, record_id: &str, kind: DecisionKind, note: &str) -> String {
        let comments = if kind == DecisionKind::Return {
            vec![QuestionComment {
                path: "children[1]/child_age".into(),
                comment: "Tuổi của cháu có đúng không? / Is the child's age right?".into(),
            }]
        } else {
            Vec::new()
        };
        let action_at_ms =
            (kind == DecisionKind::Act).then(|| SystemClock::default().now_ms() - 600_000);
        let decision = Decision {
            kind,
            content: DecisionContent { note: note.into(), comments },
            action_at_ms,
        };
        sync::decide(&self.store, &self.user, record_id, &decision).unwrap()
    }
}

fn photo() -> PathBuf {
    safehome_testdata::photo("camera/DSCN0010.jpg")
}

#[test]
fn a_visit_goes_to_the_supervisor_back_to_the_volunteer_corrected_and_approved() {
    let srv = TeamServer::start(&[]);
    let root = tempfile::tempdir().unwrap();
    // The supervisor enrolls first: the volunteer's submissions are sealed to it.
    let sup = Phone::new(root.path(), "supervisor", &srv, ServerRole::Supervisor, 1);
    let vol = Phone::new(root.path(), "volunteer", &srv, ServerRole::Volunteer, 2);

    // The volunteer finalizes a visit with a photo and syncs it.
    let f = safehome_e2e::screened_visit(&vol.store, &vol.user, 1, Some(&photo())).unwrap();
    let report = vol.sync();
    assert_eq!(report.acknowledged.len(), 1, "{report:?}");

    // The supervisor pulls it, verified and opened, with its photo within the sync's budget.
    let report = sup.sync();
    assert_eq!(report.review.pulled, 1, "{:?}", report.review);
    assert!(report.review.quarantined.is_empty(), "{:?}", report.review);
    assert_eq!(report.review.evidence_fetched, 1, "{:?}", report.review);
    let queue = sup.store.received_queue(&sup.user, 100).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].record_id, f.record_id);
    assert!(queue[0].quality_flags.contains(&"mock_provider".to_string()), "{:?}", queue[0]);
    let view = sup.store.received_record(&sup.user, &f.record_id).unwrap();
    let submission = view.submission.as_ref().unwrap();
    assert_eq!(submission["data"]["children"][0]["child_name"], "Nguyễn Thị Hoa");
    assert!(view.assessment.is_some());
    let evidence_id = view.evidence[0].id.clone();
    let (jpeg, opened) =
        sup.store.open_received_evidence(&sup.user, &f.record_id, &evidence_id).unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert_eq!(opened.device, vol.store.device_key().public());

    // Returned with a comment on a question; the decision goes up at the next sync.
    let decision = sup.decide(&f.record_id, DecisionKind::Return, "Xin kiểm tra lại tuổi.");
    let report = sup.sync();
    assert_eq!(report.review.decisions_sent, 1, "{:?}", report.review);

    // The volunteer's sync reopens the visit as a draft revision, with the comment.
    let report = vol.sync();
    assert_eq!(report.review.reopened.len(), 1, "{:?}", report.review);
    let draft_id = report.review.reopened[0].clone();
    let original = vol.store.record(&vol.user, &f.record_id).unwrap();
    assert_eq!(original.state, RecordState::Returned);
    assert_eq!(original.return_note.as_deref(), Some("Xin kiểm tra lại tuổi."));
    let decisions = vol.store.decisions_for(&vol.user, &f.record_id).unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].id, decision);
    assert_eq!(decisions[0].kind, DecisionKind::Return);
    let content = decisions[0].content.as_ref().expect("the volunteer can read it");
    assert_eq!(content.comments[0].path, "children[1]/child_age");
    let revision = vol.store.record(&vol.user, &draft_id).unwrap();
    assert_eq!(revision.state, RecordState::Draft);
    assert_eq!(revision.revision_of.as_deref(), Some(f.record_id.as_str()));
    assert_eq!(revision.data["children"][0]["child_age"], 4, "the answers come back");

    // Corrected, finalized, synced: the revision replaces the original on the server.
    let mut d = vol.store.open_draft(&vol.user, &draft_id).unwrap();
    vol.store.answer(&mut d, "children[1]/child_age", &json!(5)).unwrap();
    let corrected = vol.store.finalize(&vol.user, &d).unwrap();
    let report = vol.sync();
    assert_eq!(report.acknowledged.len(), 1, "{report:?}");

    // The supervisor pulls the revision; the original leaves the queue; approved.
    let report = sup.sync();
    assert_eq!(report.review.pulled, 1, "{:?}", report.review);
    let queue = sup.store.received_queue(&sup.user, 100).unwrap();
    assert_eq!(
        queue.iter().map(|q| q.record_id.as_str()).collect::<Vec<_>>(),
        [corrected.record_id.as_str()]
    );
    let original_view = sup.store.received_record(&sup.user, &f.record_id).unwrap();
    assert_eq!(original_view.superseded_by.as_deref(), Some(corrected.record_id.as_str()));
    sup.decide(&corrected.record_id, DecisionKind::Approve, "Đã đúng. / Correct.");
    assert_eq!(sup.sync().review.decisions_sent, 1);
    assert!(sup.store.received_queue(&sup.user, 100).unwrap().is_empty(), "approved: done");

    // The volunteer sees the approval and why.
    let report = vol.sync();
    assert_eq!(report.review.decisions_applied, 1, "{:?}", report.review);
    let decisions = vol.store.decisions_for(&vol.user, &corrected.record_id).unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].kind, DecisionKind::Approve);
    assert_eq!(decisions[0].state, DecisionState::Received);

    // Every step is in both devices' audit chains, which still verify.
    for p in [&vol, &sup] {
        let audit = p.store.verify_audit().unwrap();
        assert!(audit.problem.is_none(), "{audit:?}");
    }
}

#[test]
fn two_supervisors_at_once_the_first_stands_and_a_superseded_record_refuses_decisions() {
    let srv = TeamServer::start(&[]);
    let root = tempfile::tempdir().unwrap();
    let a = Phone::new(root.path(), "sup-a", &srv, ServerRole::Supervisor, 1);
    let b = Phone::new(root.path(), "sup-b", &srv, ServerRole::Supervisor, 3);
    let vol = Phone::new(root.path(), "volunteer", &srv, ServerRole::Volunteer, 2);
    let f = safehome_e2e::screened_visit(&vol.store, &vol.user, 3, None).unwrap();
    vol.sync();
    a.sync();
    b.sync();

    // Both decide before seeing the other's decision: A's reaches the server first.
    let first = a.decide(&f.record_id, DecisionKind::Approve, "ok");
    let second = b.decide(&f.record_id, DecisionKind::Escalate, "Chuyển huyện / to the district");
    assert_eq!(a.sync().review.decisions_sent, 1);
    let report = b.sync();
    assert_eq!(
        report.review.decisions_refused,
        std::slice::from_ref(&second),
        "{:?}",
        report.review
    );
    // B's device shows its decision refused, with where the record stands, and A's verdict.
    let decisions = b.store.decisions_for(&b.user, &f.record_id).unwrap();
    let mine = decisions.iter().find(|d| d.id == second).unwrap();
    assert_eq!(mine.state, DecisionState::Conflict);
    assert!(mine.detail.as_deref().unwrap().contains(&first), "{mine:?}");
    let theirs = decisions.iter().find(|d| d.id == first).unwrap();
    assert_eq!(theirs.state, DecisionState::Received);
    assert_eq!(b.store.current_verdict(&f.record_id).unwrap().unwrap().0, first);
    // Having seen it, B escalates on top of it: accepted.
    b.decide(&f.record_id, DecisionKind::Escalate, "Chuyển huyện / to the district");
    assert_eq!(b.sync().review.decisions_sent, 1);

    // A second visit is returned by A; the volunteer corrects it; B, who has not pulled the
    // revision yet, decides on the original: refused, the record was superseded.
    let g = safehome_e2e::screened_visit(&vol.store, &vol.user, 4, None).unwrap();
    vol.sync();
    a.sync();
    b.sync();
    a.decide(&g.record_id, DecisionKind::Return, "sai / wrong");
    a.sync();
    let report = vol.sync();
    let draft = report.review.reopened[0].clone();
    let d = vol.store.open_draft(&vol.user, &draft).unwrap();
    vol.store.finalize(&vol.user, &d).unwrap();
    vol.sync();
    let late = b.decide(&g.record_id, DecisionKind::Act, "Đã đến thăm / visited");
    let report = b.sync();
    assert_eq!(report.review.decisions_refused, std::slice::from_ref(&late), "{:?}", report.review);
    let refused = b.store.decisions_for(&b.user, &g.record_id).unwrap();
    let refused = refused.iter().find(|d| d.id == late).unwrap();
    assert_eq!(refused.state, DecisionState::Refused);
    assert!(refused.detail.as_deref().unwrap().contains("record_superseded"), "{refused:?}");
    // The same sync pulled the revision, so B can no longer decide on the original at all.
    assert!(
        sync::decide(
            &b.store,
            &b.user,
            &g.record_id,
            &Decision {
                kind: DecisionKind::Approve,
                content: DecisionContent::default(),
                action_at_ms: None
            }
        )
        .is_err()
    );
}

#[test]
fn a_volunteer_editing_a_draft_revision_when_a_return_arrives_keeps_both() {
    let srv = TeamServer::start(&[]);
    let root = tempfile::tempdir().unwrap();
    let sup = Phone::new(root.path(), "sup", &srv, ServerRole::Supervisor, 1);
    let vol = Phone::new(root.path(), "volunteer", &srv, ServerRole::Volunteer, 2);
    let f = safehome_e2e::screened_visit(&vol.store, &vol.user, 5, None).unwrap();
    vol.sync();
    sup.sync();
    // A first return reopens it; the volunteer starts correcting (not finalized yet).
    sup.decide(&f.record_id, DecisionKind::Return, "một");
    sup.sync();
    let draft = vol.sync().review.reopened[0].clone();
    let mut d = vol.store.open_draft(&vol.user, &draft).unwrap();
    vol.store.answer(&mut d, "children[1]/child_age", &json!(6)).unwrap();
    // Meanwhile the supervisor (on top of its own return) escalates, then another return
    // comes: the volunteer's draft keeps the edit, and the return's comments are beside it.
    let standing = sup.store.current_verdict(&f.record_id).unwrap();
    assert_eq!(standing.map(|s| s.1), Some(DecisionKind::Return));
    sup.decide(&f.record_id, DecisionKind::Escalate, "hai");
    sup.sync();
    sup.decide(&f.record_id, DecisionKind::Return, "ba");
    sup.sync();
    let report = vol.sync();
    assert!(report.review.reopened.is_empty(), "{:?}", report.review);
    let kept = vol.store.record(&vol.user, &draft).unwrap();
    assert_eq!(kept.state, RecordState::Draft);
    assert_eq!(kept.data["children"][0]["child_age"], 6, "the edit is kept");
    let notes: Vec<String> = vol
        .store
        .decisions_for(&vol.user, &f.record_id)
        .unwrap()
        .into_iter()
        .filter_map(|d| d.content.map(|c| c.note))
        .collect();
    assert_eq!(notes, ["một", "hai", "ba"]);
}
