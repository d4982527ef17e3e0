//! Two `safehome-server` processes over one database, behind a round-robin (docs/operations.md,
//! "Several processes"): the same submission, enrollment code or decision reaching both at once
//! is stored once; an upload begun on one is resumed on the other; a request replayed to the
//! other process is refused (PostgreSQL: the nonces are shared).
//!
//! Runs on the engine the suite runs on: SQLite (two processes over one file, serialized by
//! its lock) or PostgreSQL (`SAFEHOME_TEST_POSTGRES`; serialized by the write lock).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Child;
use std::sync::{Arc, Barrier};

use common::*;
use safehome_core::sync::protocol::Receipt;
use safehome_server::{Admin, DataDir, Role};

/// A server process on a loopback port; killed when dropped.
struct Proc {
    child: Child,
    url: String,
}

impl Proc {
    fn start(data: &std::path::Path) -> Proc {
        let (child, addr, lines) = spawn_serve(data);
        // Keep draining its log so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Proc { child, url: format!("http://{addr}") }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same phone, talking to another process.
fn via(phone: &Phone, base: &str) -> Phone {
    Phone {
        base: base.to_string(),
        agent: agent(),
        device_id: phone.device_id.clone(),
        key: phone.key.to_text().parse().unwrap(),
        offset_ms: std::sync::atomic::AtomicI64::new(0),
    }
}

/// Run `a` and `b` at the same instant (as near as two threads get); both results.
fn at_once<T: Send + 'static>(
    a: impl FnOnce() -> T + Send + 'static,
    b: impl FnOnce() -> T + Send + 'static,
) -> (T, T) {
    let gate = Arc::new(Barrier::new(2));
    let g = Arc::clone(&gate);
    let first = std::thread::spawn(move || {
        g.wait();
        a()
    });
    gate.wait();
    let second = b();
    (first.join().unwrap(), second)
}

#[test]
fn two_processes_store_what_reaches_both_at_once_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (public, _pg) = init_data(&data);
    Admin::open(&data)
        .unwrap()
        .add_team(TEAM, &["19001".into()], &archive().recipient(), "Archive", now_ms())
        .unwrap();
    let (a, b) = (Proc::start(&data), Proc::start(&data));

    // One enrollment code sent to both processes by two phones at once: one phone gets it.
    let code = Admin::open(&data)
        .unwrap()
        .create_enrollment_code(TEAM, Role::Volunteer, 3_600_000, now_ms())
        .unwrap()
        .code;
    let (p1, p2) = (Phone::new(&a.url, 31), Phone::new(&b.url, 32));
    let (c1, c2) = (code.clone(), code);
    let (r1, r2) = at_once(move || (p1.enroll(&c1, None), p1), move || (p2.enroll(&c2, None), p2));
    let winners = [&r1.0, &r2.0].iter().filter(|r| r.status == 200).count();
    assert_eq!(winners, 1, "{} / {}", r1.0.text(), r2.0.text());
    let phone = if r1.0.status == 200 { r1.1 } else { r2.1 };
    let (on_a, on_b) = (Arc::new(via(&phone, &a.url)), Arc::new(via(&phone, &b.url)));

    // Each record's submission sent to both processes at once: stored once, and both answers
    // are the same signed receipt.
    for n in 0..12 {
        let id = record_id(n);
        let body = Arc::new(submission(&phone, routing(&phone, &id, &[]), b"sealed answers"));
        let (x, y) = (Arc::clone(&on_a), Arc::clone(&on_b));
        let (bx, by) = (Arc::clone(&body), Arc::clone(&body));
        let (ix, iy) = (id.clone(), id.clone());
        let (rx, ry) =
            at_once(move || x.put_submission(&ix, &bx), move || y.put_submission(&iy, &by));
        let mut statuses = [rx.status, ry.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 201], "{}: {} / {}", id, rx.text(), ry.text());
        let (kx, ky) = (
            Receipt::verify(&rx.json(), &public).unwrap(),
            Receipt::verify(&ry.json(), &public).unwrap(),
        );
        assert_eq!((kx.seq, kx.record_id.as_str()), (ky.seq, id.as_str()));
    }
    let conn = DataDir::new(&data).open_db().unwrap();
    let stored: i64 = conn.query_row("SELECT count(*) FROM submissions", [], |r| r.get(0)).unwrap();
    let distinct: i64 = conn
        .query_row("SELECT count(DISTINCT record_id) FROM submission_routing", [], |r| r.get(0))
        .unwrap();
    assert_eq!((stored, distinct), (12, 12));

    // An upload begun on one process is resumed on the other: offset, bytes and completion
    // are shared.
    let id = record_id(100);
    let photo = evidence(&phone.key, "ev", &[7u8; 300_000]);
    let created = on_a.create_upload(&id, "ev", &photo);
    assert_eq!(created.status, 201, "{}", created.text());
    let location = created.header("Location").unwrap().to_string();
    let half = photo.len() / 2;
    assert_eq!(on_a.patch(&location, 0, &photo[..half]).status, 204);
    let head = on_b.tus("HEAD", &location, b"", &[]);
    assert_eq!(head.header("Upload-Offset"), Some(half.to_string().as_str()));
    // A PATCH at a stale offset, on either process, is refused.
    assert_eq!(on_a.patch(&location, 0, &photo[..half]).status, 409);
    assert_eq!(on_b.patch(&location, half, &photo[half..]).status, 204);
    let body = submission(&phone, routing(&phone, &id, &[("ev", &photo)]), b"with a photo");
    let put = on_a.put_submission(&id, &body);
    assert_eq!(put.status, 201, "{}", put.text());
    assert!(Receipt::verify(&put.json(), &public).unwrap().complete, "the photo counted");

    // The same signed request replayed to the other process: refused when the processes share
    // their nonces (PostgreSQL). SQLite's server is one process and keeps them in memory.
    if on_postgres() {
        let path = "/v1/config";
        let auth = phone.auth("GET", path, b"");
        assert_eq!(on_a.send_as(&auth, "GET", path, b"", &[]).status, 200);
        let replay = on_b.send_as(&auth, "GET", path, b"", &[]);
        assert_eq!((replay.status, replay.code().as_str()), (401, "replayed"), "{}", replay.text());
    }
    drop((a, b));
}
