//! The encrypted store: migrations, keys, profiles and PINs, the access matrix, the record
//! lifecycle from draft to acknowledged receipt, the audit chain, storage faults, and that no
//! sensitive text is ever written in plaintext.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;
use safehome_core::clock::SystemEntropy;
use safehome_core::crypto::PinPolicy;
use safehome_core::form::risk::Level;
use safehome_core::store::migrate::{self, schema::Schema};
use safehome_core::store::outbox::{OutboxItemKind, OutboxState};
use safehome_core::store::profiles::Role;
use safehome_core::store::records::{RecordKind, RecordState};
use safehome_core::store::{Store, StoreConfig, StoreError};
use serde_json::json;

mod common;
use common::*;

fn finalized_visit(s: &Store, t: &Team) -> (String, String) {
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    let f = s.finalize(&t.vol, &d).unwrap();
    (f.record_id, f.submission_sha256)
}

/// Through `Store::open` (migrations, then the key check and device key on the migrated
/// database), from every past version's snapshot: the same schema as a new store's. The
/// migrations themselves are checked step by step in `store::migrate`'s unit tests.
#[test]
fn a_database_from_every_past_version_opens_with_the_fresh_schema() {
    let f = Fixture::new("migrate");
    drop(f.open());
    let fresh = Schema::read(&Connection::open(&f.path).unwrap()).unwrap();
    assert_eq!(fresh.user_version, migrate::VERSION);

    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/schema_snapshots");
    for v in 1..=migrate::VERSION {
        let old = Fixture::new(&format!("migrate-v{v}"));
        {
            let c = Connection::open(&old.path).unwrap();
            let sql = std::fs::read_to_string(snapshots.join(format!("v{v}.sql"))).unwrap();
            c.execute_batch(&sql).unwrap();
            c.pragma_update(None, "user_version", v).unwrap();
        }
        drop(old.open());
        let migrated = Schema::read(&Connection::open(&old.path).unwrap()).unwrap();
        let d = migrated.differences(&fresh);
        assert!(d.is_empty(), "version {v} opened and migrated:\n  {}", d.join("\n  "));
    }
}

#[test]
fn a_newer_database_is_refused() {
    let f = Fixture::new("newer");
    drop(f.open());
    Connection::open(&f.path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    match f.open_with(&key(1)) {
        Err(StoreError::NewerSchema { found: 99, supported }) => {
            assert_eq!(supported, migrate::VERSION)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrong_data_key_is_detected_on_open() {
    let f = Fixture::new("wrongkey");
    let s = f.open();
    let device = s.device_id().to_string();
    drop(s);
    assert!(matches!(f.open_with(&key(2)), Err(StoreError::WrongKey)));
    let again = f.open();
    assert_eq!(again.device_id(), device, "the device key survives reopening");
}

#[test]
fn not_a_database_is_a_typed_error() {
    let f = Fixture::new("notdb");
    std::fs::write(
        &f.path,
        b"this is not sqlite, it is a text file with enough bytes to look like a header..",
    )
    .unwrap();
    assert!(
        matches!(f.open_with(&key(1)), Err(StoreError::Corrupt)),
        "{:?}",
        f.open_with(&key(1)).err()
    );
}

#[test]
fn pin_failures_delay_then_lock_until_a_supervisor_resets() {
    let f = Fixture::new("pin");
    let s = f.open();
    let t = team(&s);
    let id = t.vol.profile_id().to_string();
    let policy = PinPolicy::default();
    for i in 1..policy.lockout_after {
        match s.unlock(&id, "9999") {
            Err(StoreError::WrongPin { remaining }) => {
                assert_eq!(remaining, policy.lockout_after - i)
            }
            other => panic!("attempt {i}: {other:?}"),
        }
        // Right after a failure past the free ones, even the right PIN must wait.
        if i >= policy.free_attempts {
            assert!(matches!(s.unlock(&id, "2222"), Err(StoreError::PinDelay { .. })));
        }
        f.clock.advance(policy.delay_after(i));
    }
    assert!(matches!(s.unlock(&id, "9999"), Err(StoreError::LockedOut)));
    f.clock.advance(86_400_000);
    assert!(matches!(s.unlock(&id, "2222"), Err(StoreError::LockedOut)), "lockout does not expire");
    // The count survives a restart of the app.
    drop(s);
    let s = f.open();
    assert!(matches!(s.unlock(&id, "2222"), Err(StoreError::LockedOut)));
    assert!(matches!(s.reset_pin(&t.vol2, &id, "5555"), Err(StoreError::Forbidden { .. })));
    s.reset_pin(&t.sup, &id, "5555").unwrap();
    assert!(s.unlock(&id, "5555").is_ok());
    assert!(matches!(s.create_profile(None, "X", Role::Volunteer, "12"), Err(StoreError::WeakPin)));
}

#[test]
fn only_a_supervisor_adds_profiles_after_the_first() {
    let f = Fixture::new("profiles");
    let s = f.open();
    assert!(matches!(
        s.create_profile(None, "A", Role::Volunteer, "1234"),
        Err(StoreError::Forbidden { .. })
    ));
    let t = team(&s);
    assert!(matches!(
        s.create_profile(None, "B", Role::Supervisor, "1234"),
        Err(StoreError::Forbidden { .. })
    ));
    assert!(matches!(
        s.create_profile(Some(&t.vol), "C", Role::Volunteer, "1234"),
        Err(StoreError::Forbidden { .. })
    ));
    assert_eq!(s.profiles().unwrap().len(), 4);
    assert_eq!(s.profile_by_name("Hà Thị Nhung").unwrap().role, Role::Volunteer);
}

#[test]
fn access_matrix() {
    let f = Fixture::new("access");
    let s = f.open();
    let t = team(&s);
    let h1 = s.add_household(&t.vol, &new_household("Hộ A")).unwrap();
    let h2 = s.add_household(&t.vol2, &new_household("Hộ B")).unwrap();
    // Households: own only for volunteers, all for the supervisor, never for health workers.
    assert_eq!(s.households(&t.vol).unwrap().len(), 1);
    assert_eq!(s.households(&t.sup).unwrap().len(), 2);
    assert!(matches!(s.households(&t.hw), Err(StoreError::Forbidden { .. })));
    assert!(matches!(s.household(&t.vol, &h2.id), Err(StoreError::NotFound { .. })));
    assert!(s.household(&t.sup, &h2.id).is_ok());
    assert!(matches!(
        s.add_household(&t.hw, &new_household("X")),
        Err(StoreError::Forbidden { .. })
    ));
    // A health worker may find a household by code, to link an incident.
    assert_eq!(s.household_by_code(&t.hw, &h1.code).unwrap().id, h1.id);
    assert!(s.household_by_code(&t.vol2, &h1.code).is_err(), "another volunteer's household");
    // Visits: volunteers and supervisors; incidents: health workers and supervisors.
    assert!(s.start_visit(&t.vol, &h1.id, "household_screening").is_ok());
    assert!(matches!(
        s.start_visit(&t.vol, &h2.id, "household_screening"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.start_visit(&t.hw, &h1.id, "household_screening"),
        Err(StoreError::Forbidden { .. })
    ));
    assert!(matches!(
        s.start_incident(&t.vol, "injury_incident", None, None),
        Err(StoreError::Forbidden { .. })
    ));
    let inc = s.start_incident(&t.hw, "injury_incident", Some(&h1.id), Some("Ma Thị Lan")).unwrap();
    // Records: the owner and the supervisor see them; nobody else, not even that it exists.
    assert!(s.record(&t.hw, &inc.record_id).is_ok());
    assert!(s.record(&t.sup, &inc.record_id).is_ok());
    assert!(matches!(s.record(&t.vol, &inc.record_id), Err(StoreError::NotFound { .. })));
    assert!(matches!(s.open_draft(&t.vol, &inc.record_id), Err(StoreError::NotFound { .. })));
    assert_eq!(s.records(&t.vol).unwrap().len(), 1);
    assert_eq!(s.records(&t.sup).unwrap().len(), 2);
    assert!(matches!(s.review_queue(&t.vol, 500), Err(StoreError::Forbidden { .. })));
    assert!(matches!(
        s.return_record(&t.vol, &inc.record_id, "x"),
        Err(StoreError::Forbidden { .. })
    ));
    // Team configuration is the supervisor's.
    assert!(matches!(
        s.reset_pin(&t.hw, t.vol.profile_id(), "1234"),
        Err(StoreError::Forbidden { .. })
    ));
}

#[test]
fn a_draft_resumes_exactly_where_it_stopped() {
    let f = Fixture::new("resume");
    let s = f.open();
    let t = team(&s);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.answer(&mut d, "consent", &json!("yes")).unwrap();
    s.answer(&mut d, "num_children", &json!(2)).unwrap();
    s.answer(&mut d, "children[2]/child_name", &json!("Ma Văn Tú")).unwrap();
    s.edit(&mut d, |sess| sess.go_to("children[2]/child_age").map(|_| ())).unwrap();
    // A refused answer changes nothing, in memory or on disk.
    assert!(s.answer(&mut d, "children[2]/child_age", &json!("ba")).is_err());
    let id = d.record_id.clone();
    drop(d);
    drop(s); // the app is killed
    let s = f.open();
    let vol = s.unlock(t.vol.profile_id(), "2222").unwrap();
    let d = s.open_draft(&vol, &id).unwrap();
    assert_eq!(d.session().current().unwrap().path, "children[2]/child_age");
    assert_eq!(d.session().output()["children"][1]["child_name"], json!("Ma Văn Tú"));
}

#[test]
fn finalize_signs_queues_and_the_lifecycle_runs_to_a_purged_receipt() {
    let f = Fixture::new("lifecycle");
    let s = f.open();
    let t = team(&s);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    // Incomplete: refused with every violation, and still a draft.
    match s.finalize(&t.vol, &d) {
        Err(StoreError::NotValid(v)) => assert!(v.iter().any(|v| v.path == "consent")),
        other => panic!("{other:?}"),
    }
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    let fin = s.finalize(&t.vol, &d).unwrap();
    assert_eq!(fin.assessment.as_ref().unwrap().level, Level::High);
    assert!(matches!(s.finalize(&t.vol, &d), Err(StoreError::InvalidState { .. })), "only once");
    assert!(matches!(s.answer(&mut d, "notes", &json!("x")), Err(StoreError::InvalidState { .. })));

    let view = s.record(&t.sup, &fin.record_id).unwrap();
    assert_eq!(view.state, RecordState::Queued);
    assert_eq!(view.risk_level, Some(Level::High));
    assert_eq!(view.due_at_ms, Some(NOW + 168 * 3_600_000));
    // The typed assessment, read back from the signed submission.
    assert_eq!(view.assessment, fin.assessment);
    assert_eq!(view.submission_sha256.as_deref(), Some(fin.submission_sha256.as_str()));
    assert_eq!(view.data["head_name"], json!("Ma Văn Hùng"));
    assert_eq!(s.household(&t.vol, &h.id).unwrap().risk_history.len(), 1);

    let out = s.outbox().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].payload_sha256, fin.submission_sha256);
    assert_eq!(s.review_queue(&t.sup, 500).unwrap()[0].id, fin.record_id);

    // Failures back off; unknown acknowledgments are refused.
    s.outbox_failed(&out[0].id, "timeout").unwrap();
    assert!(s.outbox_due().unwrap().is_empty());
    f.clock.advance(61_000);
    assert_eq!(s.outbox_due().unwrap().len(), 1);
    assert!(s.acknowledge(&"00".repeat(32)).is_err());
    s.outbox_uploaded(&out[0].id).unwrap();
    assert_eq!(s.record(&t.vol, &fin.record_id).unwrap().state, RecordState::Uploaded);
    // Not purged before acknowledgment, however old.
    f.clock.advance(400 * 86_400_000);
    assert_eq!(s.purge_expired().unwrap(), 0);
    s.acknowledge(&fin.submission_sha256).unwrap();
    assert_eq!(s.record(&t.vol, &fin.record_id).unwrap().state, RecordState::Acknowledged);
    assert_eq!(s.purge_expired().unwrap(), 0, "retention counts from acknowledgment");
    f.clock.advance(31 * 86_400_000);
    assert_eq!(s.purge_expired().unwrap(), 1);
    let receipt = s.record(&t.sup, &fin.record_id).unwrap();
    assert_eq!(receipt.data, serde_json::Value::Null);
    assert_eq!(receipt.submission_sha256.as_deref(), Some(fin.submission_sha256.as_str()));
    assert!(s.verify_audit().unwrap().is_intact());
}

#[test]
fn a_returned_submission_becomes_a_linked_draft_revision() {
    let f = Fixture::new("return");
    let s = f.open();
    let t = team(&s);
    let (id, _) = finalized_visit(&s, &t);
    let new_id = s.return_record(&t.sup, &id, "Thiếu ảnh ao cá").unwrap();
    let old = s.record(&t.vol, &id).unwrap();
    assert_eq!(old.state, RecordState::Returned);
    assert_eq!(old.return_note.as_deref(), Some("Thiếu ảnh ao cá"));
    let mut d = s.open_draft(&t.vol, &new_id).unwrap();
    let view = s.record(&t.vol, &new_id).unwrap();
    assert_eq!((view.revision, view.revision_of.as_deref()), (2, Some(id.as_str())));
    assert_eq!(d.session().output()["head_name"], json!("Ma Văn Hùng"));
    s.answer(&mut d, "pond_fenced", &json!("yes")).unwrap();
    let fin = s.finalize(&t.vol, &d).unwrap();
    assert_ne!(fin.assessment.unwrap().level, Level::High);
    assert!(matches!(s.return_record(&t.sup, &id, "again"), Err(StoreError::InvalidState { .. })));
}

#[test]
fn the_audit_chain_detects_edits_deletions_reordering_and_truncation() {
    let f = Fixture::new("audit");
    let s = f.open();
    let t = team(&s);
    finalized_visit(&s, &t);
    let report = s.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert!(report.entries >= 8);
    let n = report.entries;
    drop(s);
    // Each tampering happens on a copy of the closed database.
    let tamper = |sql: &str| {
        let copy = f.path.with_extension(format!("tampered-{}", sql.len()));
        std::fs::copy(&f.path, &copy).unwrap();
        Connection::open(&copy).unwrap().execute_batch(sql).unwrap();
        let s = Store::open(
            &copy,
            &key(1),
            f.clock.clone(),
            Arc::new(SystemEntropy::default()),
            config(),
        )
        .unwrap();
        s.verify_audit().unwrap()
    };
    let r = tamper("UPDATE audit SET actor = 'someone-else' WHERE seq = 3");
    assert_eq!(r.problem.as_deref(), Some("seq 3: entry was altered"));
    let r = tamper("DELETE FROM audit WHERE seq = 4");
    assert!(r.problem.unwrap().starts_with("seq 5"));
    let r = tamper("UPDATE audit SET at = at + 1 WHERE seq = 2");
    assert!(r.problem.is_some());
    let r = tamper(&format!("DELETE FROM audit WHERE seq = {n}"));
    assert!(r.problem.unwrap().starts_with("head"), "truncation is caught by the keyed head");
    let r = tamper(
        "UPDATE audit SET seq = seq + 1000 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 1002",
    );
    assert!(r.problem.is_some(), "reordering");
    assert!(f.open().verify_audit().unwrap().is_intact(), "the original is untouched");
}

/// Scan a file's bytes for a needle.
fn contains(path: &Path, needle: &[u8]) -> bool {
    match std::fs::read(path) {
        Ok(bytes) => bytes.windows(needle.len()).any(|w| w == needle),
        Err(_) => false,
    }
}

#[test]
fn no_sensitive_text_is_stored_in_plaintext() {
    let f = Fixture::new("plaintext");
    let s = f.open();
    let t = team(&s);
    let secrets = [
        "Ma Văn Hùng",
        "Ma Thị Lan",
        "Thôn Khuôn Tát",
        "Nhà thứ ba sau cầu treo",
        "Ao cá sau nhà chưa có rào",
        "Lục Văn Toàn",
        "Thiếu ảnh ao cá",
        "21.905",
    ];
    let (id, _) = finalized_visit(&s, &t);
    s.return_record(&t.sup, &id, "Thiếu ảnh ao cá").unwrap();
    let inc = s.start_incident(&t.hw, "injury_incident", None, Some("Ma Thị Lan")).unwrap();
    drop(inc);
    let wal = PathBuf::from(format!("{}-wal", f.path.display()));
    assert!(std::fs::metadata(&wal).is_ok(), "the WAL is scanned while it still holds the writes");
    for secret in secrets {
        for file in [&f.path, &wal] {
            assert!(
                !contains(file, secret.as_bytes()),
                "{secret:?} in plaintext in {}",
                file.display()
            );
        }
    }
    drop(s);
    for secret in secrets {
        assert!(!contains(&f.path, secret.as_bytes()), "{secret:?} after checkpoint");
    }
    // The scan itself works: a plaintext column would be found.
    let c = Connection::open(&f.path).unwrap();
    c.execute("INSERT INTO meta (key, value) VALUES ('probe', ?1)", ["Ma Văn Hùng".as_bytes()])
        .unwrap();
    drop(c);
    assert!(
        contains(&f.path, "Ma Văn Hùng".as_bytes()) || contains(&wal, "Ma Văn Hùng".as_bytes())
    );
}

#[test]
fn a_full_disk_fails_cleanly_and_changes_nothing() {
    let f = Fixture::new("diskfull");
    let s = f.open();
    let t = team(&s);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    let before = s.storage_status().unwrap();
    let pages = before.database_bytes / 4096;
    s.simulate_disk_limit(pages as u32).unwrap();
    // Big notes need new pages: refused with DiskFull.
    let big = "Ghi chú rất dài. ".repeat(20_000);
    let mut failed = false;
    for _ in 0..5 {
        match s.finalize(&t.vol, &d).and_then(|_| s.answer(&mut d, "notes", &json!(big))) {
            Err(StoreError::DiskFull) => {
                failed = true;
                break;
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => {}
        }
    }
    assert!(failed, "the limit was never hit");
    s.simulate_disk_limit(1_000_000).unwrap();
    assert_eq!(s.integrity_check().unwrap(), "ok");
    assert!(s.verify_audit().unwrap().is_intact());
    let status = s.storage_status().unwrap();
    assert!(status.outbox_by_state.iter().map(|c| c.count).sum::<i64>() <= 1);
}

#[test]
fn a_read_only_database_gives_a_typed_error() {
    let f = Fixture::new("readonly");
    let s = f.open();
    let t = team(&s);
    drop(s);
    let _ = t;
    let mut perms = std::fs::metadata(&f.path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&f.path, perms.clone()).unwrap();
    // Root ignores file modes; only assert when the OS enforces them.
    if std::fs::OpenOptions::new().write(true).open(&f.path).is_err() {
        match f.open_with(&key(1)) {
            Err(StoreError::ReadOnly) => {}
            Ok(s) => assert!(matches!(
                s.create_profile(None, "A", Role::Supervisor, "1234"),
                Err(StoreError::ReadOnly)
            )),
            Err(other) => panic!("{other:?}"),
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _ = perms;
}

#[test]
fn storage_status_counts_what_is_pending() {
    let f = Fixture::new("status");
    let s = f.open();
    let t = team(&s);
    finalized_visit(&s, &t);
    let st = s.storage_status().unwrap();
    assert!(st.database_bytes > 0);
    assert_eq!(st.households, 1);
    assert!(st.pending_upload_bytes > 1000);
    assert_eq!(
        st.records_by_state.iter().find(|c| c.state == RecordState::Queued).map(|c| c.count),
        Some(1)
    );
}

/// Urgent first, then high, medium and low, then records without a level (the order is built
/// from `risk::Level`, so a new level cannot fall silently among the unassessed).
#[test]
fn the_review_queue_puts_the_most_serious_level_first() {
    let f = Fixture::new("queue-order");
    let s = f.open();
    let t = team(&s);
    let levels = [Some("low"), Some("urgent"), None, Some("medium"), Some("high")];
    let ids: Vec<String> = levels.iter().map(|_| finalized_visit(&s, &t).0).collect();
    for (id, level) in ids.iter().zip(levels) {
        let sql = "UPDATE records SET risk_level = nullif(?2, ''), due_at = 5 WHERE id = ?1";
        s.exec_sealed(sql, &[id, level.unwrap_or("")]).unwrap();
    }
    let queue: Vec<Option<Level>> =
        s.review_queue(&t.sup, 10).unwrap().into_iter().map(|q| q.risk_level).collect();
    assert_eq!(
        queue,
        [Some(Level::Urgent), Some(Level::High), Some(Level::Medium), Some(Level::Low), None]
    );
}

/// The table, column and text of an `UnknownValue` error; anything else fails the test.
fn unknown_value<T: std::fmt::Debug>(
    r: Result<T, StoreError>,
) -> (&'static str, &'static str, String) {
    match r {
        Err(StoreError::UnknownValue(u)) => (u.table, u.column, u.value),
        other => panic!("expected an unknown stored value, got {other:?}"),
    }
}

/// A state, kind, role or level the app does not know (the database edited outside the app, or
/// written by a newer one) is reported as a typed error naming the column, never read as some
/// default: an unknown record kind used to read as a visit.
#[test]
fn unknown_stored_text_is_a_typed_error_naming_the_column() {
    let f = Fixture::new("unknown-text");
    let s = f.open();
    let t = team(&s);
    add_archive_recipient(&s, &t);
    let (id, sha256) = finalized_visit(&s, &t);
    let h = s.households(&t.vol).unwrap().remove(0);
    let draft = s.start_visit(&t.vol, &h.id, "household_screening").unwrap().record_id;
    let entry = s.outbox().unwrap().remove(0).id;
    let c = Connection::open(&f.path).unwrap();
    // Values as a newer app (with the key) would write them: the rows stay sealed, and only
    // the text is unknown. (An edit without the key is `Tampered`: tests/store_row_seals.rs.)
    let edit = |sql: &str, id: &str| assert_eq!(s.exec_sealed(sql, &[id]).unwrap(), 1, "{sql}");

    // The CHECK lists stop such an edit; a database written without them (or an older or newer
    // app's) need not have them.
    assert!(c.execute("UPDATE records SET kind = 'inspection' WHERE id = ?1", [&id]).is_err());
    s.exec_sealed("PRAGMA ignore_check_constraints = 1", &[]).unwrap();

    edit("UPDATE records SET kind = 'inspection' WHERE id = ?1", &id);
    edit("UPDATE records SET kind = 'Incident' WHERE id = ?1", &draft);
    let kind = ("records", "kind", "inspection".to_string());
    assert_eq!(unknown_value(s.record(&t.sup, &id)), kind);
    assert_eq!(unknown_value(s.records(&t.sup)).1, "kind");
    assert_eq!(unknown_value(s.review_queue(&t.sup, 10)), kind);
    assert_eq!(unknown_value(s.open_draft(&t.vol, &draft)), ("records", "kind", "Incident".into()));
    edit("UPDATE records SET kind = 'visit' WHERE id = ?1", &id);
    edit("UPDATE records SET kind = 'visit' WHERE id = ?1", &draft);

    edit("UPDATE records SET state = 'archived' WHERE id = ?1", &id);
    let state = ("records", "state", "archived".to_string());
    assert_eq!(unknown_value(s.record(&t.sup, &id)), state);
    assert_eq!(unknown_value(s.records(&t.vol)), state);
    assert_eq!(unknown_value(s.storage_status()), state);
    // A transition reads the state too, and nothing is changed.
    assert_eq!(unknown_value(s.outbox_uploaded(&entry)), state);
    assert_eq!(s.outbox().unwrap()[0].state, OutboxState::Pending);
    edit("UPDATE records SET state = 'queued' WHERE id = ?1", &id);

    // No CHECK list guards the risk level: reading is the only check.
    edit("UPDATE records SET risk_level = 'critical' WHERE id = ?1", &id);
    let level = ("records", "risk_level", "critical".to_string());
    assert_eq!(unknown_value(s.record(&t.sup, &id)), level);
    assert_eq!(unknown_value(s.review_queue(&t.sup, 10)), level);
    assert_eq!(unknown_value(s.household(&t.vol, &h.id)), level);
    edit("UPDATE records SET risk_level = 'high' WHERE id = ?1", &id);

    edit("UPDATE outbox SET item_kind = 'photo' WHERE id = ?1", &entry);
    assert_eq!(unknown_value(s.outbox()), ("outbox", "item_kind", "photo".into()));
    assert_eq!(unknown_value(s.acknowledge(&sha256)).1, "item_kind");
    edit("UPDATE outbox SET item_kind = 'submission', state = 'sent' WHERE id = ?1", &entry);
    assert_eq!(unknown_value(s.outbox()), ("outbox", "state", "sent".into()));
    assert_eq!(unknown_value(s.storage_status()), ("outbox", "state", "sent".into()));
    edit("UPDATE outbox SET state = 'pending' WHERE id = ?1", &entry);

    // A profile's role is under its row's MAC (core/tests/store_profiles.rs): any edit, known
    // value or not, is reported as tampering.
    edit("UPDATE profiles SET role = 'admin' WHERE id = ?1", t.vol.profile_id());
    assert!(matches!(s.profiles(), Err(StoreError::Tampered { table: "profiles", .. })));
    assert!(matches!(
        s.unlock(t.vol.profile_id(), "2222"),
        Err(StoreError::Tampered { table: "profiles", .. })
    ));
    edit("UPDATE profiles SET role = 'volunteer' WHERE id = ?1", t.vol.profile_id());

    s.exec_sealed("UPDATE recipients SET kind = 'observer'", &[]).unwrap();
    assert_eq!(unknown_value(s.recipients()), ("recipients", "kind", "observer".into()));
    s.exec_sealed("UPDATE recipients SET kind = 'archive'", &[]).unwrap();

    // Put back, everything reads again, and the refused calls changed nothing.
    let view = s.record(&t.sup, &id).unwrap();
    assert_eq!(
        (view.kind, view.state, view.risk_level),
        (RecordKind::Visit, RecordState::Queued, Some(Level::High))
    );
    assert_eq!(s.outbox().unwrap()[0].attempts, 0);
    s.acknowledge(&sha256).unwrap();
    assert!(s.verify_audit().unwrap().is_intact());
}

#[test]
fn real_pin_hashing_uses_600k_iterations() {
    let f = Fixture::new("pbkdf2");
    let s = Store::open(
        &f.path,
        &key(1),
        f.clock.clone(),
        Arc::new(SystemEntropy::default()),
        StoreConfig::default(),
    )
    .unwrap();
    let p = s.create_profile(None, "Sup", Role::Supervisor, "123456").unwrap();
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    let it: i64 = c
        .query_row("SELECT pin_iterations FROM profiles WHERE id = ?1", [&p.id], |r| r.get(0))
        .unwrap();
    assert_eq!(it, 600_000);
}

#[test]
fn a_tampered_submission_fails_verification() {
    let f = Fixture::new("tamper");
    let s = f.open();
    let t = team(&s);
    let (id, _) = finalized_visit(&s, &t);
    assert!(s.verify_submission(&t.sup, &id).unwrap());
    // Written with the key (the row still sealed): the signature check itself fails.
    s.exec_sealed("UPDATE records SET signature = zeroblob(64) WHERE id = ?1", &[&id]).unwrap();
    assert!(!s.verify_submission(&t.sup, &id).unwrap());
    // Written without it: the row's seal reports the edit first.
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    c.execute("UPDATE records SET signature = zeroblob(63) WHERE id = ?1", [&id]).unwrap();
    drop(c);
    let s = f.open();
    let sup = s.unlock(t.sup.profile_id(), "1111").unwrap();
    assert!(matches!(
        s.verify_submission(&sup, &id),
        Err(StoreError::Tampered { table: "records", .. })
    ));
}

#[test]
fn a_photo_prepared_without_its_draft_attaches_only_to_that_draft() {
    use safehome_core::store::PhotoStep;

    let f = Fixture::new("photo-steps");
    let s = f.open();
    let t = team(&s);
    add_archive_recipient(&s, &t);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut a = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    let mut b = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    let photo = fixture("camera/DSCN0010.jpg");

    // The target is checked first: the owner and an image question.
    assert!(matches!(s.photo_target(&t.sup, &a, "hazard_photo"), Err(StoreError::NotFound { .. })));
    assert!(matches!(s.photo_target(&t.vol, &a, "notes"), Err(StoreError::Invalid { .. })));
    let target = s.photo_target(&t.vol, &a, "hazard_photo").unwrap();

    // Preparing reports its two steps in order and needs no draft.
    let mut steps = Vec::new();
    let prepared = s.prepare_photo(&target, &photo, &mut |step| steps.push(step)).unwrap();
    assert_eq!(steps, [PhotoStep::Processed, PhotoStep::Sealed]);
    // Meanwhile the draft moves on, and the photo still attaches to it afterwards.
    s.edit(&mut a, |sess| sess.set_answer("notes", &json!("trong lúc xử lý ảnh"))).unwrap();

    // Not to another draft: refused, nothing written there.
    let again = s.prepare_photo(&target, &photo, &mut |_| {}).unwrap();
    assert!(matches!(s.attach_prepared(&t.vol, &mut b, again), Err(StoreError::Invalid { .. })));
    assert_eq!(b.session().prompt_at("hazard_photo").unwrap().value, serde_json::Value::Null);

    let attached = s.attach_prepared(&t.vol, &mut a, prepared).unwrap();
    assert_eq!(a.session().prompt_at("hazard_photo").unwrap().value, json!(attached.id));
    assert_eq!(a.session().prompt_at("notes").unwrap().value, json!("trong lúc xử lý ảnh"));
    let reopened = s.open_draft(&t.vol, &a.record_id).unwrap();
    assert_eq!(reopened.session().prompt_at("hazard_photo").unwrap().value, json!(attached.id));
    assert_eq!(s.attachments(&t.vol, &a.record_id).unwrap().len(), 1);
    assert!(s.attachments(&t.vol, &b.record_id).unwrap().is_empty());
}

#[test]
fn photos_are_sealed_to_the_team_and_travel_with_the_submission() {
    use safehome_core::evidence::envelope::open_bytes;
    use safehome_core::evidence::keys::Identity;
    use safehome_core::store::team::RecipientKind;

    let f = Fixture::new("photo");
    let s = f.open();
    let t = team(&s);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    let photo = fixture("camera/DSCN0010.jpg");
    // No recipients yet: refused before any work, nothing attached.
    assert!(matches!(
        s.attach_photo(&t.vol, &mut d, "hazard_photo", &photo),
        Err(StoreError::NoRecipients)
    ));
    assert_eq!(d.session().prompt_at("hazard_photo").unwrap().value, serde_json::Value::Null);

    let archive = Identity::generate(&SystemEntropy::default());
    s.add_recipient(
        &t.sup,
        &archive.recipient().to_string(),
        RecipientKind::Archive,
        "Lưu trữ tỉnh",
    )
    .unwrap();
    assert!(s.add_recipient(&t.sup, "age1notakey", RecipientKind::Supervisor, "x").is_err());
    assert!(matches!(
        s.add_recipient(&t.vol, &archive.recipient().to_string(), RecipientKind::Archive, "x"),
        Err(StoreError::Forbidden { .. })
    ));

    // Bad input: typed error, the answer is unchanged.
    let bad = fixture("odd/not-an-image.jpg");
    assert!(matches!(
        s.attach_photo(&t.vol, &mut d, "hazard_photo", &bad),
        Err(StoreError::Photo(_))
    ));
    assert!(matches!(
        s.attach_photo(&t.vol, &mut d, "notes", &photo),
        Err(StoreError::Invalid { .. })
    ));

    let first = s.attach_photo(&t.vol, &mut d, "hazard_photo", &photo).unwrap();
    let second =
        s.attach_photo(&t.vol, &mut d, "hazard_photo", &fixture("camera/DSCN0012.jpg")).unwrap();
    assert!(first.had_gps);
    assert_eq!(d.session().prompt_at("hazard_photo").unwrap().value, json!(second.id));
    assert!(!s.thumbnail(&t.vol, &second.id).unwrap().is_empty());

    // The archive key opens the envelope; the device signed it; the photo is the processed one.
    let env = s.envelope(&t.vol, &second.id).unwrap();
    let (jpeg, opened) = open_bytes(&env, &archive, Some(&s.device_key().public())).unwrap();
    assert_eq!(opened.metadata.evidence_id, second.id);
    assert_eq!(
        safehome_core::hex::encode(&safehome_core::evidence::photo::sha256(&jpeg)),
        second.plain_sha256
    );
    assert!(!jpeg.windows(4).any(|w| w == b"Exif"), "no EXIF in the sealed photo");

    // The replaced photo is dropped at finalize; the kept one is queued and signed in.
    let fin = s.finalize(&t.vol, &d).unwrap();
    let outbox = s.outbox().unwrap();
    assert_eq!(outbox.len(), 2);
    let att = outbox.iter().find(|o| o.item_kind == OutboxItemKind::Attachment).unwrap();
    assert_eq!(att.item_id, second.id);
    assert_eq!(s.attachments(&t.sup, &fin.record_id).unwrap().len(), 1);
    assert!(s.verify_submission(&t.sup, &fin.record_id).unwrap());
    s.acknowledge(&att.payload_sha256).unwrap();

    // The sealed metadata kept the photo's GPS; nothing of it is readable in the database.
    let gps = opened.metadata.gps.expect("DSCN0010 has GPS tags");
    drop(d);
    drop(s);
    let lat_text = format!("{:.4}", gps.latitude);
    let needles: [&[u8]; 4] =
        [lat_text.as_bytes(), &gps.latitude.to_le_bytes(), &gps.latitude.to_be_bytes(), b"Exif"];
    for needle in needles {
        assert!(!contains(&f.path, needle), "{needle:?}");
    }
}
