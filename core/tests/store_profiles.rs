#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Profiles against an attacker who holds the database file (issue 14): the PIN verifier is
//! useless without the data key, every security field is MACed, parallel guesses cannot pass
//! the limit, and a clock moved backwards never blocks the user longer than the delay.

mod common;

use std::num::NonZeroU32;
use std::sync::{Arc, Barrier};

use common::*;
use rusqlite::Connection;
use safehome_core::clock::SystemEntropy;
use safehome_core::crypto::PinPolicy;
use safehome_core::store::profiles::Role;
use safehome_core::store::{Store, StoreConfig, StoreError};

fn bare_pbkdf2(pin: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(iterations).unwrap(),
        salt,
        pin.as_bytes(),
        &mut out,
    );
    out.to_vec()
}

fn pin_columns(c: &Connection, id: &str) -> (Vec<u8>, u32, Vec<u8>) {
    c.query_row(
        "SELECT pin_salt, pin_iterations, pin_hash FROM profiles WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

#[test]
fn the_database_file_alone_gives_nothing_to_test_pin_guesses_against() {
    let f = Fixture::new("offline-pin");
    let s = f.open();
    let t = team(&s);
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    let (salt, iterations, stored) = pin_columns(&c, t.vol.profile_id());
    // Every 4-digit PIN, the volunteer's among them, stretched as an offline attacker would:
    // none gives the stored value.
    let hit = (0..10_000)
        .map(|n| format!("{n:04}"))
        .find(|pin| bare_pbkdf2(pin, &salt, iterations) == stored);
    assert_eq!(hit, None, "the stored verifier is the bare PBKDF2 of a PIN");
    // The PIN still opens the profile with the key.
    let s = f.open();
    assert!(s.unlock(t.vol.profile_id(), "2222").is_ok());
}

/// Each security field edited with plain SQL (no key), and the row's MAC removed, copied or
/// replaced: the profile is refused as tampered, the picker does not list it as it reads, and
/// the audit check reports it.
#[test]
fn every_security_field_of_a_profile_is_checked_on_read() {
    let edits: [(&str, &str); 10] = [
        ("role", "UPDATE profiles SET role = 'supervisor' WHERE id = ?1"),
        ("pin_salt", "UPDATE profiles SET pin_salt = zeroblob(16) WHERE id = ?1"),
        ("pin_iterations", "UPDATE profiles SET pin_iterations = 1 WHERE id = ?1"),
        ("pin_hash", "UPDATE profiles SET pin_hash = zeroblob(32) WHERE id = ?1"),
        ("failed_attempts", "UPDATE profiles SET failed_attempts = 0 WHERE id = ?1"),
        ("next_attempt_at", "UPDATE profiles SET next_attempt_at = 0 WHERE id = ?1"),
        ("locked", "UPDATE profiles SET locked = 0 WHERE id = ?1"),
        ("row_mac NULL", "UPDATE profiles SET row_mac = NULL WHERE id = ?1"),
        (
            "another profile's PIN fields and MAC",
            "UPDATE profiles SET (pin_salt, pin_iterations, pin_hash, row_mac) =
               (SELECT pin_salt, pin_iterations, pin_hash, row_mac FROM profiles p
                WHERE p.role = 'supervisor') WHERE id = ?1",
        ),
        (
            "a row MAC from the same profile's earlier state",
            "UPDATE profiles SET failed_attempts = 0, next_attempt_at = 0, locked = 0,
               row_mac = (SELECT value FROM meta WHERE key = 'saved_mac') WHERE id = ?1",
        ),
    ];
    for (what, sql) in edits {
        let f = Fixture::new("tamper-profile");
        let s = f.open();
        let t = team(&s);
        let id = t.vol.profile_id().to_string();
        {
            let c = Connection::open(&f.path).unwrap();
            // The MAC of the unlocked state, kept for the replay edit.
            c.execute(
                "INSERT INTO meta (key, value) SELECT 'saved_mac', row_mac FROM profiles WHERE id = ?1",
                [&id],
            )
            .unwrap();
        }
        // The volunteer locks their profile (the state the attacker wants to undo).
        for _ in 0..PinPolicy::default().lockout_after {
            let _ = s.unlock(&id, "9999");
            f.clock.advance(PinPolicy::default().max_delay_ms);
        }
        assert!(matches!(s.unlock(&id, "2222"), Err(StoreError::LockedOut)));
        drop(s);
        let c = Connection::open(&f.path).unwrap();
        assert_eq!(c.execute(sql, [&id]).unwrap(), 1, "{what}");
        drop(c);
        let s = f.open();
        match s.unlock(&id, "2222") {
            Err(StoreError::Tampered { table: "profiles", row }) => assert_eq!(row, id, "{what}"),
            other => panic!("{what}: expected Tampered, got {:?}", other.map(|a| a.role())),
        }
        assert!(matches!(s.profiles(), Err(StoreError::Tampered { .. })), "{what}");
        let audit = s.verify_audit().unwrap();
        assert!(
            audit.problem.as_deref().is_some_and(|p| p.contains(&id)),
            "{what}: {:?}",
            audit.problem
        );
        // A tampered supervisor row does not reopen the first-supervisor bootstrap either.
        assert!(s.create_profile(None, "Kẻ lạ", Role::Supervisor, "123456").is_err(), "{what}");
    }
}

/// `wrong` threads guessing "9999" and, if `right`, one giving the right PIN, all at once.
fn burst(
    s: &Arc<Store>,
    id: &str,
    wrong: usize,
    right: Option<&str>,
) -> Vec<Result<(), StoreError>> {
    let pins: Vec<String> =
        std::iter::repeat_n("9999".to_string(), wrong).chain(right.map(str::to_string)).collect();
    let barrier = Arc::new(Barrier::new(pins.len() + 1));
    let handles: Vec<_> = pins
        .into_iter()
        .map(|pin| {
            let (s, id, b) = (Arc::clone(s), id.to_string(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                b.wait();
                s.unlock(&id, &pin).map(drop)
            })
        })
        .collect();
    barrier.wait();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// The audit entries of `action` about profile `id`, by sequence number.
fn audited(path: &std::path::Path, action: &str, id: &str) -> Vec<i64> {
    let c = Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT seq FROM audit WHERE action = ?1 AND entity_id = ?2 ORDER BY seq")
        .unwrap();
    st.query_map([action, id], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn parallel_guesses_never_compare_more_pins_than_the_limit() {
    let f = Fixture::new("pin-race");
    // No delays: only the lockout limits a burst.
    let policy = PinPolicy { free_attempts: 100, lockout_after: 10, ..PinPolicy::default() };
    let s = Arc::new(
        Store::open(
            &f.path,
            &key(1),
            f.clock.clone(),
            Arc::new(SystemEntropy::default()),
            StoreConfig { pin_policy: policy, ..config() },
        )
        .unwrap(),
    );
    let t = team(&s);

    // 30 wrong guesses at once: at most 10 compared (one audit entry each), then locked, and
    // the right PIN is refused afterwards.
    let id = t.vol.profile_id().to_string();
    let results = burst(&s, &id, 30, None);
    let failures = audited(&f.path, "pin_failure", &id).len();
    assert!((1..=10).contains(&failures), "{failures} PINs compared");
    let wrong = results.iter().filter(|r| matches!(r, Err(StoreError::WrongPin { .. }))).count();
    let locked = results.iter().filter(|r| matches!(r, Err(StoreError::LockedOut))).count();
    assert_eq!((wrong + locked, wrong <= failures), (30, true), "{results:?}");
    assert!(matches!(s.unlock(&id, "2222"), Err(StoreError::LockedOut)));

    // The right PIN in a burst of 30 wrong ones: a success resets the count, so at most 10
    // are compared on either side of it (20 in all), and it is never accepted once a lockout
    // has been recorded.
    let id = t.vol2.profile_id().to_string();
    let results = burst(&s, &id, 30, Some("3333"));
    let failures = audited(&f.path, "pin_failure", &id).len();
    assert!(failures <= 20, "{failures} PINs compared");
    let unlocks = audited(&f.path, "unlocked", &id);
    let lockouts = audited(&f.path, "lockout", &id);
    // The team's own unlock of this profile comes first.
    let burst_unlock = unlocks.get(1).copied();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), usize::from(burst_unlock.is_some()));
    if let (Some(u), Some(&l)) = (burst_unlock, lockouts.first()) {
        assert!(u < l, "the right PIN was accepted (entry {u}) after the lockout (entry {l})");
    }
    if s.profiles().unwrap().iter().any(|p| p.id == id && p.locked) {
        assert!(matches!(s.unlock(&id, "3333"), Err(StoreError::LockedOut)));
    }
    assert!(s.verify_audit().unwrap().is_intact());
}

#[test]
fn a_clock_moved_back_never_blocks_longer_than_the_delay() {
    let f = Fixture::new("pin-clock");
    let s = f.open();
    let t = team(&s);
    let id = t.vol.profile_id().to_string();
    let policy = PinPolicy::default();
    for _ in 0..policy.free_attempts {
        assert!(matches!(s.unlock(&id, "9999"), Err(StoreError::WrongPin { .. })));
    }
    let delay = policy.delay_after(policy.free_attempts);
    // The phone's clock jumps three hours back (a wrong network time, a user fiddling).
    f.clock.advance(-3 * 3_600_000);
    let now = s.now_ms();
    match s.unlock(&id, "2222") {
        Err(StoreError::PinDelay { retry_at_ms }) => {
            assert!(retry_at_ms <= now + delay, "blocked until {retry_at_ms}, now {now}")
        }
        other => panic!("{:?}", other.map(|a| a.role())),
    }
    f.clock.advance(delay);
    assert!(s.unlock(&id, "2222").is_ok());
}

#[test]
fn duplicate_profile_names_are_refused() {
    let f = Fixture::new("dup-names");
    let s = f.open();
    let t = team(&s);
    match s.create_profile(Some(&t.sup), " Lục Văn Toàn ", Role::Volunteer, "7777") {
        Err(StoreError::Invalid { field: "name", .. }) => {}
        other => panic!("{:?}", other.map(|p| p.id)),
    }
}

#[test]
fn a_wrong_key_migrates_nothing_and_an_old_verifier_is_keyed_by_the_migration() {
    let f = Fixture::new("pin-migrate");
    let s = f.open();
    let t = team(&s);
    let id = t.vol.profile_id().to_string();
    drop(s);
    // Turn the database back into a version 6 one whose volunteer has a bare PBKDF2 verifier,
    // as every phone had before.
    {
        let c = Connection::open(&f.path).unwrap();
        let (salt, iterations, _) = pin_columns(&c, &id);
        let bare = bare_pbkdf2("2222", &salt, iterations);
        c.execute("UPDATE profiles SET pin_hash = ?2 WHERE id = ?1", rusqlite::params![id, bare])
            .unwrap();
        // (Version 8's sync_state goes too; its outbox rebuild copies the rows it finds;
        // version 9's row seals; and version 10's review tables.)
        c.execute_batch(
            "ALTER TABLE profiles DROP COLUMN row_mac; DROP INDEX audit_entity;
             DROP INDEX audit_entity_id; ALTER TABLE records DROP COLUMN row_mac;
             ALTER TABLE outbox DROP COLUMN row_mac; ALTER TABLE recipients DROP COLUMN row_mac;
             ALTER TABLE device DROP COLUMN row_mac;
             DROP TABLE sync_state; DROP TABLE inbox; DROP TABLE received;
             DROP TABLE received_evidence; DROP TABLE evidence_wanted; DROP TABLE decisions;
             DROP TABLE sync_cursors; PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    // A wrong key is refused before anything changes.
    assert!(matches!(f.open_with(&key(2)), Err(StoreError::WrongKey)));
    let v: i64 = Connection::open(&f.path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 6, "a wrong key migrated the database");
    // The right key migrates; the PIN still works and the stored verifier is no longer bare.
    let s = f.open();
    assert!(s.unlock(&id, "2222").is_ok());
    assert!(matches!(s.unlock(&id, "2223"), Err(StoreError::WrongPin { .. })));
    drop(s);
    let c = Connection::open(&f.path).unwrap();
    let (salt, iterations, stored) = pin_columns(&c, &id);
    assert_ne!(stored, bare_pbkdf2("2222", &salt, iterations));
}

#[cfg(unix)]
#[test]
fn a_new_database_and_its_journal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new("file-mode");
    let s = f.open();
    team(&s); // writes, so the -wal file exists
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", f.path.display());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p}: mode {mode:o}");
    }
}
