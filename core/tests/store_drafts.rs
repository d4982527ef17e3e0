#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A draft in memory always equals the stored draft: a change is kept only if its save
//! committed, and a second copy of the same record can never overwrite the first.

mod common;

use common::*;
use proptest::prelude::*;
use safehome_core::location::{Fix, Provider};
use safehome_core::store::profiles::Actor;
use safehome_core::store::records::Draft;
use safehome_core::store::{Store, StoreError};
use serde_json::{Value, json};

/// Everything a draft holds that is saved: answers, language, position, confirmations, timing
/// events, and the platform fixes of its geopoints.
fn snapshot(d: &Draft) -> Value {
    json!({
        "state": serde_json::to_value(d.session().state()).unwrap(),
        "fixes": serde_json::to_value(d.fixes()).unwrap(),
    })
}

/// The draft as stored, read back through a fresh open.
fn stored(s: &Store, by: &Actor, d: &Draft) -> Value {
    snapshot(&s.open_draft(by, &d.record_id).unwrap())
}

fn gps(s: &Store, lat: f64) -> Fix {
    let mut f = Fix::new(lat, 105.648, 6.0, s.now_ms() - 2_000);
    f.provider = Provider::Gps;
    f
}

fn notes(d: &Draft) -> Value {
    d.session().prompt_at("notes").unwrap().value
}

#[test]
fn a_second_copy_of_a_draft_is_refused_as_stale_never_a_storage_error() {
    let f = Fixture::new("two-copies");
    let s = f.open();
    let t = team(&s);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    let mut a = s.open_draft(&t.vol, &d.record_id).unwrap();
    let mut b = s.open_draft(&t.vol, &d.record_id).unwrap();
    s.answer(&mut a, "notes", &json!("Ao cá chưa có rào")).unwrap();
    match s.answer(&mut b, "notes", &json!("Giếng có nắp")) {
        Err(StoreError::StaleDraft { id }) => assert_eq!(id, d.record_id),
        other => panic!("expected StaleDraft, got {other:?}"),
    }
    // The refused copy now shows what is stored (the other copy's answer), never an answer that
    // was not saved; both copies equal the database.
    assert_eq!(notes(&b), json!("Ao cá chưa có rào"));
    assert_eq!(stored(&s, &t.vol, &b), snapshot(&b));
    assert_eq!(stored(&s, &t.vol, &a), snapshot(&a));
    // Read back, it is current again: its next change is saved, and now `a` is the stale one.
    s.edit(&mut b, |x| Ok(x.next_prompt())).unwrap();
    assert!(matches!(s.answer(&mut a, "notes", &json!("x")), Err(StoreError::StaleDraft { .. })));
    assert_eq!(snapshot(&a), snapshot(&b));
    // A stale copy cannot finalize answers that are not the stored ones.
    s.edit(&mut a, |x| x.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    let mut b = s.open_draft(&t.vol, &d.record_id).unwrap();
    s.answer(&mut a, "notes", &json!("Đã nhắc gia đình rào ao")).unwrap();
    assert!(matches!(s.finalize(&t.vol, &b), Err(StoreError::StaleDraft { .. })));
    // The live copy finalizes; after that every copy is refused as not a draft.
    s.finalize(&t.vol, &a).unwrap();
    match s.answer(&mut b, "notes", &json!("muộn")) {
        Err(StoreError::InvalidState { state, .. }) => assert_eq!(state, "queued"),
        other => panic!("expected InvalidState, got {other:?}"),
    }
    assert!(s.verify_audit().unwrap().is_intact());
}

#[test]
fn a_failed_save_of_any_change_leaves_the_draft_as_stored() {
    let f = Fixture::new("failed-saves");
    let s = f.open();
    let t = team(&s);
    add_archive_recipient(&s, &t);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.answer(&mut d, "num_children", &json!(2)).unwrap();
    let photo = fixture("camera/DSCN0010.jpg");
    type Change = Box<dyn Fn(&Store, &Actor, &mut Draft) -> Result<(), StoreError>>;
    let changes: Vec<(&str, Change)> = vec![
        ("answer", Box::new(|s, _, d| s.answer(d, "notes", &json!("ghi chú")).map(drop))),
        ("clear", Box::new(|s, _, d| s.edit(d, |x| x.clear_answer("num_children")))),
        ("roster", Box::new(|s, _, d| s.answer(d, "num_children", &json!(3)).map(drop))),
        ("next", Box::new(|s, _, d| s.edit(d, |x| Ok(x.next_prompt())).map(drop))),
        ("previous", Box::new(|s, _, d| s.edit(d, |x| Ok(x.previous_prompt())).map(drop))),
        ("go_to", Box::new(|s, _, d| s.edit(d, |x| x.go_to("notes")).map(drop))),
        ("language", Box::new(|s, _, d| s.edit(d, |x| x.set_language("en")))),
        (
            "fix",
            Box::new(|s, by, d| {
                s.answer_fix(by, d, "household_gps", &gps(s, 21.9051), false).map(drop)
            }),
        ),
        (
            "photo",
            Box::new(move |s, by, d| s.attach_photo(by, d, "hazard_photo", &photo).map(drop)),
        ),
    ];
    for (name, change) in &changes {
        let before = snapshot(&d);
        s.fail_write_after(Some(0));
        match change(&s, &t.vol, &mut d) {
            Err(StoreError::DiskFull) => {}
            other => panic!("{name}: expected DiskFull, got {:?}", other.map(|()| "ok")),
        }
        assert_eq!(snapshot(&d), before, "{name}: memory moved ahead of disk");
        assert_eq!(stored(&s, &t.vol, &d), before, "{name}: the database changed");
        // The same change goes through once the disk has room again.
        change(&s, &t.vol, &mut d).unwrap_or_else(|e| panic!("{name}: retry failed: {e}"));
        assert_eq!(stored(&s, &t.vol, &d), snapshot(&d), "{name}: after the retry");
    }
    assert_eq!(s.integrity_check().unwrap(), "ok");
}

/// One operation of the random sequences: what a volunteer (or the app) does to a draft.
#[derive(Debug, Clone)]
enum Op {
    Notes(u8),
    Children(i64),
    Pond(&'static str),
    Clear,
    Next,
    Previous,
    GoTo,
    Language(&'static str),
    Fix(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u8>().prop_map(Op::Notes),
        (-1i64..5).prop_map(Op::Children),
        prop::sample::select(vec!["yes", "no", "maybe"]).prop_map(Op::Pond),
        Just(Op::Clear),
        Just(Op::Next),
        Just(Op::Previous),
        Just(Op::GoTo),
        prop::sample::select(vec!["vi", "en", "fr"]).prop_map(Op::Language),
        any::<u8>().prop_map(Op::Fix),
    ]
}

fn apply(s: &Store, by: &Actor, d: &mut Draft, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::Notes(n) => s.answer(d, "notes", &json!(format!("ghi chú số {n}"))).map(drop),
        Op::Children(n) => s.answer(d, "num_children", &json!(n)).map(drop),
        Op::Pond(v) => s.answer(d, "pond_fenced", &json!(v)).map(drop),
        Op::Clear => s.edit(d, |x| x.clear_answer("notes")),
        Op::Next => s.edit(d, |x| Ok(x.next_prompt())).map(drop),
        Op::Previous => s.edit(d, |x| Ok(x.previous_prompt())).map(drop),
        Op::GoTo => s.edit(d, |x| x.go_to("pond_fenced")).map(drop),
        Op::Language(l) => s.edit(d, |x| x.set_language(l)),
        Op::Fix(n) => s
            .answer_fix(by, d, "household_gps", &gps(s, 21.9 + f64::from(*n) * 1e-5), false)
            .map(drop),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random operations, each possibly preceded by a storage fault armed to hit it or a later
    /// write: after every operation, failed or not, the draft equals the draft reopened from
    /// disk, and no failure is anything but the injected fault or a refusal of the input.
    #[test]
    fn with_storage_faults_anywhere_the_draft_always_equals_the_stored_draft(
        ops in prop::collection::vec((op(), prop::option::weighted(0.35, 0u32..3)), 1..14)
    ) {
        let f = Fixture::new("draft-faults");
        let s = f.open();
        let t = team(&s);
        let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
        let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
        for (op, fault) in &ops {
            if let Some(k) = fault {
                s.fail_write_after(Some(*k));
            }
            match apply(&s, &t.vol, &mut d, op) {
                Ok(())
                | Err(StoreError::DiskFull)
                | Err(StoreError::Session(_))
                | Err(StoreError::Fix(_))
                | Err(StoreError::FixNotAccepted(_)) => {}
                Err(other) => prop_assert!(false, "{op:?}: unexpected {other:?}"),
            }
            prop_assert_eq!(stored(&s, &t.vol, &d), snapshot(&d), "after {:?}", op);
        }
        s.fail_write_after(None);
    }
}
