//! The audit anchor kept outside the database (store/anchor.rs): a database file put back to
//! an older copy is detected offline when the app opens it; an anchor from another device or
//! edited is refused; an anchor behind the chain (the app stopped before saving) is fine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use safehome_core::store::{AnchorKeeper, StoreError};

mod common;
use common::*;

/// Platform storage, in memory; counts the saves.
#[derive(Default)]
struct Kept(Mutex<(Option<String>, usize)>);

impl AnchorKeeper for Kept {
    fn load(&self) -> Option<String> {
        self.0.lock().unwrap().0.clone()
    }
    fn save(&self, anchor: &str) {
        let mut k = self.0.lock().unwrap();
        k.0 = Some(anchor.to_string());
        k.1 += 1;
    }
}

fn copy_db(from: &std::path::Path, to: &std::path::Path) {
    std::fs::copy(from, to).unwrap();
}

#[test]
fn an_older_copy_of_the_database_is_detected_offline() {
    let f = Fixture::new("anchor-rollback");
    let kept = Arc::new(Kept::default());
    let s = f.open();
    s.keep_anchor(kept.clone()).unwrap();
    let t = team(&s);
    drop(s);
    // The copy an attacker keeps (or a backup restored), before the visit below.
    let old = f.path.with_extension("old");
    copy_db(&f.path, &old);
    let s = f.open();
    s.keep_anchor(kept.clone()).unwrap();
    let saves = kept.0.lock().unwrap().1;
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    s.finalize(&t.vol, &d).unwrap();
    drop(d);
    // Every write that extended the chain renewed the anchor.
    assert!(kept.0.lock().unwrap().1 >= saves + 3);
    assert_eq!(kept.load().unwrap(), s.audit_anchor().unwrap());
    drop(s);
    copy_db(&old, &f.path);
    let s = f.open();
    match s.keep_anchor(kept.clone()) {
        Err(StoreError::RolledBack { kept_length, found_length }) => {
            assert!(kept_length > found_length, "{kept_length} {found_length}")
        }
        other => panic!("expected RolledBack, got {other:?}"),
    }
    // The kept anchor is not replaced by the older chain's.
    assert!(matches!(s.check_anchor(&kept.load().unwrap()), Err(StoreError::RolledBack { .. })));
}

#[test]
fn another_history_of_the_same_length_is_detected() {
    let f = Fixture::new("anchor-fork");
    let s = f.open();
    let t = team(&s);
    drop(s);
    let fork = f.path.with_extension("fork");
    copy_db(&f.path, &fork);
    // Two histories from the same start: one household here, another in the copy.
    let s = f.open();
    s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let anchor = s.audit_anchor().unwrap();
    drop(s);
    copy_db(&fork, &f.path);
    let s = f.open();
    s.add_household(&t.vol, &new_household("Hoàng Văn Páo")).unwrap();
    assert!(matches!(s.check_anchor(&anchor), Err(StoreError::RolledBack { .. })));
}

#[test]
fn an_anchor_behind_the_chain_passes_and_a_foreign_or_edited_one_is_refused() {
    let f = Fixture::new("anchor-ok");
    let s = f.open();
    let behind = s.audit_anchor().unwrap();
    let t = team(&s);
    s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    s.check_anchor(&behind).unwrap();
    s.check_anchor(&s.audit_anchor().unwrap()).unwrap();

    // Another device's anchor (another key and id), and this one's with its length raised.
    let g = Fixture::new("anchor-other");
    let other = g.open_with(&key(2)).unwrap().audit_anchor().unwrap();
    let tampered = |a: Result<(), StoreError>| {
        assert!(matches!(a, Err(StoreError::Tampered { table: "audit anchor", .. })), "{a:?}")
    };
    tampered(s.check_anchor(&other));
    let mine = s.audit_anchor().unwrap();
    let parts: Vec<&str> = mine.split('.').collect();
    tampered(s.check_anchor(&format!("{}.999.{}.{}", parts[0], parts[2], parts[3])));
    tampered(s.check_anchor("shanchor1.1.zz.00"));
    tampered(s.check_anchor(""));
}
