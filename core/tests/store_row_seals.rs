//! Row seals (store/sealed.rs, docs/storage.md): every security-relevant column of records,
//! outbox rows, recipients and the device row, edited, emptied or deleted with plain SQL (no
//! key), is reported as `Tampered` naming the table and row on the next read, and by the audit
//! verification; a row put back to an earlier state with that state's MAC is caught; the app's
//! own writes never re-seal an edit they did not make; the audit chain cannot be wiped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rusqlite::Connection;
use safehome_core::store::{Store, StoreError};

mod common;
use common::*;

/// A volunteer's finalized visit, queued with its outbox row, on a device with an archive
/// recipient and a team.
fn finalized(f: &Fixture) -> (Store, Team, String) {
    let s = f.open();
    let t = team(&s);
    add_archive_recipient(&s, &t);
    s.enroll(&t.sup, "doi-05569", &["05569".to_string()]).unwrap();
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    let fin = s.finalize(&t.vol, &d).unwrap();
    (s, t, fin.record_id)
}

fn sql(f: &Fixture, sql: &str, id: &str) -> usize {
    let c = Connection::open(&f.path).unwrap();
    c.execute(sql, [id]).unwrap()
}

fn assert_tampered<T: std::fmt::Debug>(
    what: &str,
    got: Result<T, StoreError>,
    table: &str,
    row: &str,
) {
    match got {
        Err(StoreError::Tampered { table: t, row: r }) => {
            assert_eq!((t, r.as_str()), (table, row), "{what}")
        }
        other => panic!("{what}: expected Tampered {{ {table}, {row} }}, got {other:?}"),
    }
}

fn assert_tampered_any<T: std::fmt::Debug>(what: &str, got: Result<T, StoreError>) {
    assert!(matches!(got, Err(StoreError::Tampered { .. })), "{what}: {got:?}");
}

fn assert_audit_names(s: &Store, what: &str, row: &str) {
    let audit = s.verify_audit().unwrap();
    assert!(
        audit.problem.as_deref().is_some_and(|p| p.contains(row)),
        "{what}: audit says {:?}",
        audit.problem
    );
}

#[test]
fn every_sealed_column_of_a_record_is_checked_on_read() {
    let edits: [(&str, &str); 14] = [
        ("state", "UPDATE records SET state = 'acknowledged' WHERE id = ?1"),
        ("risk level", "UPDATE records SET risk_level = 'low' WHERE id = ?1"),
        ("due time", "UPDATE records SET due_at = due_at + 86400000 WHERE id = ?1"),
        (
            "owner",
            "UPDATE records SET owner_id = (SELECT p.id FROM profiles p
               WHERE p.id <> records.owner_id LIMIT 1) WHERE id = ?1",
        ),
        ("kind", "UPDATE records SET kind = 'incident' WHERE id = ?1"),
        ("household", "UPDATE records SET household_id = NULL WHERE id = ?1"),
        // (This visit has no flags or platform fixes: their columns are NULL. Emptying them
        // where they are set is the same check, on the digest's NULL.)
        ("quality flags set", "UPDATE records SET quality_flags_enc = zeroblob(48) WHERE id = ?1"),
        ("fixes set", "UPDATE records SET fixes_enc = zeroblob(48) WHERE id = ?1"),
        ("submission hash", "UPDATE records SET submission_hash = zeroblob(32) WHERE id = ?1"),
        ("acknowledged time", "UPDATE records SET acknowledged_at = 1 WHERE id = ?1"),
        ("revision link", "UPDATE records SET revision_of = id WHERE id = ?1"),
        ("MAC removed", "UPDATE records SET row_mac = NULL WHERE id = ?1"),
        (
            "another record's MAC",
            "UPDATE records SET row_mac = (SELECT row_mac FROM records r WHERE r.id <> ?1 LIMIT 1)
             WHERE id = ?1",
        ),
        (
            "its outbox row deleted",
            "DELETE FROM outbox WHERE item_kind = 'submission' AND item_id = ?1",
        ),
    ];
    for (what, edit) in edits {
        let f = Fixture::new("seal-record");
        let (s, t, id) = finalized(&f);
        // A second record, so that a MAC can be copied from it.
        let h = s.add_household(&t.vol, &new_household("Hoàng Văn Páo")).unwrap();
        s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
        assert!(s.verify_audit().unwrap().is_intact(), "{what}: before");
        drop(s);
        assert!(sql(&f, edit, &id) >= 1, "{what}: the edit changed nothing");
        let s = f.open();
        assert_tampered(what, s.record(&t.sup, &id), "records", &id);
        // The queue reads its rows, then the device row that counts the live ones: an edit
        // that takes the visit out of the queue's filter fails the device row's seal.
        assert_tampered_any(what, s.review_queue(&t.sup, 100));
        assert_audit_names(&s, what, &id);
    }
}

#[test]
fn an_outbox_row_edited_or_held_back_is_detected() {
    let edits: [(&str, &str); 5] = [
        ("marked acknowledged", "UPDATE outbox SET state = 'acknowledged' WHERE id = ?1"),
        ("postponed for ever", "UPDATE outbox SET next_attempt_at = 9e15 WHERE id = ?1"),
        ("parked", "UPDATE outbox SET state = 'parked', park_code = 'x' WHERE id = ?1"),
        ("payload hash", "UPDATE outbox SET payload_sha256 = zeroblob(32) WHERE id = ?1"),
        ("MAC removed", "UPDATE outbox SET row_mac = NULL WHERE id = ?1"),
    ];
    for (what, edit) in edits {
        let f = Fixture::new("seal-outbox");
        let (s, _t, record) = finalized(&f);
        let entry = s.outbox().unwrap().into_iter().find(|e| e.item_id == record).unwrap();
        drop(s);
        assert_eq!(sql(&f, edit, &entry.id), 1, "{what}");
        let s = f.open();
        assert_tampered(what, s.outbox(), "outbox", &entry.id);
        assert_tampered_any(what, s.upload_queue());
        assert_audit_names(&s, what, &entry.id);
    }
}

#[test]
fn the_recipient_set_and_the_team_cannot_be_changed_without_the_key() {
    // The archive's key deleted: submissions would no longer be sealed to the archive.
    let f = Fixture::new("seal-recipients");
    let (s, _t, _) = finalized(&f);
    let device = s.device_id().to_string();
    let key = s.recipients().unwrap()[0].public_key.clone();
    drop(s);
    assert_eq!(sql(&f, "DELETE FROM recipients WHERE public_key = ?1", &key), 1);
    // The device row's seal covers the recipient set: whatever reads it is refused.
    let s = f.open();
    assert_tampered("archive deleted", s.recipients().and(s.enrollment()), "device", &device);
    assert_audit_names(&s, "archive deleted", &device);

    // A stranger's key added, with another row's MAC.
    let f = Fixture::new("seal-recipients-add");
    let (s, _t, _) = finalized(&f);
    let stranger = safehome_core::evidence::keys::Identity::generate(
        &safehome_core::clock::SystemEntropy::default(),
    )
    .recipient()
    .to_string();
    drop(s);
    sql(
        &f,
        "INSERT INTO recipients (public_key, label_enc, kind, added_at, row_mac)
         SELECT ?1, label_enc, 'supervisor', added_at, row_mac FROM recipients LIMIT 1",
        &stranger,
    );
    let s = f.open();
    assert!(matches!(s.recipients(), Err(StoreError::Tampered { .. })));
    assert!(matches!(s.enrollment(), Err(StoreError::Tampered { table: "device", .. })));

    for (what, edit) in [
        ("team", "UPDATE device SET team = 'doi-khac' WHERE id = ?1"),
        ("communes", "UPDATE device SET communes = '[\"00001\"]' WHERE id = ?1"),
        ("areas emptied", "UPDATE device SET areas_enc = NULL, areas_rev = 0 WHERE id = ?1"),
    ] {
        let f = Fixture::new("seal-device");
        let (s, _t, _) = finalized(&f);
        s.set_assigned_areas(&_t.sup, Some(AREAS)).unwrap();
        let device = s.device_id().to_string();
        drop(s);
        assert_eq!(sql(&f, edit, &device), 1, "{what}");
        let s = f.open();
        assert_tampered(what, s.enrollment(), "device", &device);
        assert_tampered(what, s.assigned_areas(), "device", &device);
        assert_audit_names(&s, what, &device);
    }
}

const AREAS: &str = r#"{"type":"FeatureCollection","features":[{"type":"Feature",
  "properties":{"code":"05569","name":"Xã Khuôn Tát"},
  "geometry":{"type":"Polygon","coordinates":[[[105.6,21.8],[105.7,21.8],[105.7,21.95],[105.6,21.95],[105.6,21.8]]]}}]}"#;

fn key_1() -> safehome_core::crypto::DataKey {
    key(1)
}

/// The attacker keeps a copy of the row as it was before finalize (a draft, with its MAC) and
/// puts it back afterwards, to keep the urgent visit from being uploaded: the MAC covers the
/// record's latest audit entry, which is now the finalize.
#[test]
fn a_record_row_put_back_to_an_earlier_state_with_its_mac_is_detected() {
    let f = Fixture::new("seal-replay");
    let s = f.open();
    let t = team(&s);
    add_archive_recipient(&s, &t);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    let id = d.record_id.clone();
    drop(d);
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    c.execute_batch("CREATE TABLE saved AS SELECT * FROM records").unwrap();
    drop(c);
    let s = f.open();
    let d = s.open_draft(&t.vol, &id).unwrap();
    s.finalize(&t.vol, &d).unwrap();
    drop(d);
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    c.execute_batch(
        "DELETE FROM outbox; DELETE FROM records; INSERT INTO records SELECT * FROM saved;
         DROP TABLE saved;",
    )
    .unwrap();
    drop(c);
    let s = f.open();
    assert_tampered("draft put back", s.record(&t.vol, &id), "records", &id);
    assert_audit_names(&s, "draft put back", &id);
}

/// An edit made without the key is not re-sealed by the app's next write to the row: the write
/// is refused and the edit stays detectable.
#[test]
fn the_apps_writes_never_launder_an_edit() {
    let f = Fixture::new("seal-launder");
    let (s, t, id) = finalized(&f);
    drop(s);
    sql(&f, "UPDATE records SET risk_level = 'low' WHERE id = ?1", &id);
    let s = f.open();
    assert_tampered("return", s.return_record(&t.sup, &id, "Thiếu ảnh"), "records", &id);
    assert_tampered_any("upload", s.upload_queue());
    assert_tampered("still", s.record(&t.sup, &id), "records", &id);
}

/// The audit chain deleted (entries and head): the device row's seal covers its creation
/// entry, so every read of the device row reports it; a database with a chain and no device row does
/// not start over with a new identity.
#[test]
fn the_audit_chain_cannot_be_wiped_or_the_device_row_deleted() {
    let f = Fixture::new("seal-wipe");
    let (s, _t, _) = finalized(&f);
    let device = s.device_id().to_string();
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    c.execute_batch("DELETE FROM audit; DELETE FROM meta WHERE key = 'audit_head';").unwrap();
    drop(c);
    let s = f.open();
    assert_tampered("chain wiped", s.enrollment(), "device", &device);
    assert!(!s.verify_audit().unwrap().is_intact());

    let f = Fixture::new("seal-device-gone");
    let (s, _t, _) = finalized(&f);
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    c.execute_batch("DELETE FROM device;").unwrap();
    drop(c);
    assert!(matches!(f.open_with(&key_1()), Err(StoreError::Tampered { table: "device", .. })));
}

/// A trigger planted in the database file cannot call the seal functions to re-seal its own
/// edits: they are refused in the file's schema (`trusted_schema = OFF`).
#[test]
fn a_planted_trigger_cannot_forge_seals() {
    let f = Fixture::new("seal-trigger");
    let (s, t, id) = finalized(&f);
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    c.execute_batch(
        "CREATE TRIGGER forge AFTER UPDATE OF state ON records BEGIN
           UPDATE records SET risk_level = 'low', row_mac = sh_row_mac('records', new.id, 0)
           WHERE id = new.id;
         END;",
    )
    .unwrap();
    drop(c);
    let s = f.open();
    // Any write that would fire the trigger fails; nothing is re-sealed by it.
    let _ = s.return_record(&t.sup, &id, "Thiếu ảnh");
    let level: Option<String> = Connection::open(&f.path)
        .unwrap()
        .query_row("SELECT risk_level FROM records WHERE id = ?1", [&id], |r| r.get(0))
        .unwrap();
    assert_ne!(level.as_deref(), Some("low"));
    assert!(s.record(&t.sup, &id).is_ok());
}

/// The app's own life leaves every seal intact: drafts, finalize, returns, recipients, areas.
#[test]
fn the_apps_own_writes_keep_every_seal_intact() {
    let f = Fixture::new("seal-honest");
    let (s, t, id) = finalized(&f);
    s.set_assigned_areas(&t.sup, Some(AREAS)).unwrap();
    let new_id = s.return_record(&t.sup, &id, "Thiếu ảnh ao").unwrap();
    let d = s.open_draft(&t.vol, &new_id).unwrap();
    s.finalize(&t.vol, &d).unwrap();
    drop(d);
    add_archive_recipient(&s, &t);
    assert!(s.verify_audit().unwrap().is_intact(), "{:?}", s.verify_audit().unwrap().problem);
    drop(s);
    let s = f.open();
    assert!(s.verify_audit().unwrap().is_intact());
    // The returned original and its corrected revision, queued.
    assert!(s.record(&t.sup, &id).is_ok());
    assert_eq!(s.review_queue(&t.sup, 100).unwrap().len(), 1);
}
