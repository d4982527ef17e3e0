//! Rotating the server's key (docs/operations.md): phones re-pin at their next sync on the
//! strength of a statement signed by the key they pinned, through any number of rotations, and
//! keep being acknowledged by receipts signed with the new key; a rotation that the pinned key
//! did not sign is refused and the pin is kept.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use safehome_cli::transport::HttpTransport;
use safehome_core::clock::{Clock, SystemClock};
use safehome_core::store::Store;
use safehome_core::store::profiles::Actor;
use safehome_core::sync::{self, NoProgress, SyncError};
use safehome_server::{BackgroundServer, Role as ServerRole, ServerConfig};

use common::{TEAM, TeamServer, enrolled_phone};

fn phone(root: &Path, name: &str, srv: &TeamServer, key: u8) -> (Store, Actor) {
    let p = enrolled_phone(root, name, srv, TEAM, ServerRole::Volunteer, key);
    (p.store, p.user)
}

fn pinned(store: &Store) -> String {
    store.sync_state().unwrap().server_key.unwrap()
}

/// Stop the server, rotate its key, start it again; returns the new server and its key.
fn rotate(srv: TeamServer) -> (TeamServer, String) {
    let TeamServer { _dir, data, server } = srv;
    server.stop().unwrap();
    let key = safehome_server::rotation::rotate(&data, SystemClock::default().now_ms()).unwrap();
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
    (TeamServer { _dir, data, server }, key.to_string())
}

#[test]
fn phones_repin_through_every_rotation_and_keep_their_receipts_verified() {
    let srv = TeamServer::start(&[]);
    let root = tempfile::tempdir().unwrap();
    let (a, vol_a) = phone(root.path(), "a", &srv, 1);
    let (b, vol_b) = phone(root.path(), "b", &srv, 2);
    let k0 = pinned(&a);
    let (srv, k1) = rotate(srv);
    // Phone a syncs between the rotations, phone b only after both.
    let t = HttpTransport::new(&srv.server.url()).unwrap();
    let f = safehome_e2e::screened_visit(&a, &vol_a, 1, None).unwrap();
    let report = sync::run(&a, &vol_a, &t, &NoProgress).unwrap();
    assert_eq!(report.acknowledged[0].record_id, f.record_id, "a receipt signed by the new key");
    assert_eq!(pinned(&a), k1);
    let (srv, k2) = rotate(srv);
    assert_ne!(k1, k2);
    let t = HttpTransport::new(&srv.server.url()).unwrap();
    for (store, vol) in [(&a, &vol_a), (&b, &vol_b)] {
        let g = safehome_e2e::screened_visit(store, vol, 2, None).unwrap();
        let report = sync::run(store, vol, &t, &NoProgress).unwrap();
        assert_eq!(report.acknowledged.last().unwrap().record_id, g.record_id);
        assert_eq!(pinned(store), k2, "walked from {k0} to the current key");
        assert!(store.verify_audit().unwrap().is_intact());
    }
    // The re-pins are in the audit chain: a once, b once (two steps in one sync).
    let repins = |s: &Store| {
        rusqlite::Connection::open(s.path())
            .unwrap()
            .query_row("SELECT count(*) FROM audit WHERE action = 'repinned'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
    };
    assert_eq!(repins(&a), 2);
    assert_eq!(repins(&b), 1);
}

#[test]
fn a_rotation_not_signed_by_the_pinned_key_is_refused_and_the_pin_kept() {
    let srv = TeamServer::start(&[]);
    let root = tempfile::tempdir().unwrap();
    let (a, vol) = phone(root.path(), "a", &srv, 1);
    let k0 = pinned(&a);
    let (srv, _) = rotate(srv);
    // A breached server rewrites the statement (as if an attacker's key took over): its
    // signature no longer verifies under the key the phone pinned.
    let TeamServer { _dir, data, server } = srv;
    server.stop().unwrap();
    let path = data.join("key_rotations.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc[0]["rotation"]["rotated_at_ms"] = serde_json::json!(1);
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
    let t = HttpTransport::new(&server.url()).unwrap();
    safehome_e2e::screened_visit(&a, &vol, 1, None).unwrap();
    let e = sync::run(&a, &vol, &t, &NoProgress).unwrap_err();
    assert!(matches!(e, SyncError::UntrustedConfig(_)), "{e}");
    assert_eq!(pinned(&a), k0, "the pin is kept");
    assert!(
        a.outbox()
            .unwrap()
            .iter()
            .all(|o| o.state != safehome_core::store::outbox::OutboxState::Acknowledged)
    );
    server.stop().unwrap();
}
