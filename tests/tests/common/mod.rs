//! What the review tests share: a team's server in this process, on a loopback port, in its own
//! temporary folder.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use safehome_core::clock::{Clock, SystemClock, SystemEntropy};
use safehome_core::evidence::keys::Identity;
use safehome_server::{Admin, BackgroundServer, Role, ServerConfig};

pub const TEAM: &str = "e2e-05569";

pub struct TeamServer {
    pub _dir: tempfile::TempDir,
    pub data: PathBuf,
    pub server: BackgroundServer,
}

impl TeamServer {
    /// The server with `TEAM` (commune 05569) and each of `other_teams` (commune 05570).
    pub fn start(other_teams: &[&str]) -> TeamServer {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("server");
        safehome_server::init(&data).unwrap();
        let now = SystemClock::default().now_ms();
        let archive = Identity::generate(&SystemEntropy::default()).recipient();
        let mut admin = Admin::open(&data).unwrap();
        admin.add_team(TEAM, &["05569".into()], &archive, "Archive", now).unwrap();
        for team in other_teams {
            admin.add_team(team, &["05570".into()], &archive, "Archive", now).unwrap();
        }
        let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
        TeamServer { _dir: dir, data, server }
    }

    /// A one-time enrollment code for `team` and `role`.
    pub fn code(&self, team: &str, role: Role) -> String {
        Admin::open(&self.data)
            .unwrap()
            .create_enrollment_code(team, role, 3_600_000, SystemClock::default().now_ms())
            .unwrap()
            .code
    }

    /// One number from the server's database.
    pub fn count(&self, sql: &str) -> i64 {
        safehome_server::DataDir::new(&self.data)
            .open_db()
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }
}

/// A phone's store enrolled with the team's server: a supervisor profile (PIN 1111, who
/// enrolls it) and, unless the code is a supervisor's, a volunteer (PIN 2222) as its user.
pub struct EnrolledPhone {
    pub db: PathBuf,
    pub key: [u8; 32],
    pub store: safehome_core::store::Store,
    pub admin: safehome_core::store::profiles::Actor,
    pub user: safehome_core::store::profiles::Actor,
    pub pin: &'static str,
}

pub fn enrolled_phone(
    root: &std::path::Path,
    name: &str,
    srv: &TeamServer,
    team: &str,
    role: Role,
    key: u8,
) -> EnrolledPhone {
    use safehome_core::store::profiles::Role as Profile;
    let db = root.join(format!("{name}.db"));
    let store = safehome_core::store::Store::open(
        &db,
        &safehome_core::crypto::DataKey::from_bytes([key; 32]),
        std::sync::Arc::new(SystemClock { offset_minutes: 420 }),
        std::sync::Arc::new(SystemEntropy::default()),
        safehome_core::store::StoreConfig {
            pin_iterations: 1_000,
            ..safehome_core::store::StoreConfig::default()
        },
    )
    .unwrap();
    let admin = store.create_profile(None, "Đỗ Thị Hằng", Profile::Supervisor, "1111").unwrap();
    let admin = store.unlock(&admin.id, "1111").unwrap();
    let (user, pin) = if role == Role::Supervisor {
        (admin.clone(), "1111")
    } else {
        let v =
            store.create_profile(Some(&admin), "Ma Văn Hùng", Profile::Volunteer, "2222").unwrap();
        (store.unlock(&v.id, "2222").unwrap(), "2222")
    };
    let url = srv.server.url();
    let t = safehome_cli::transport::HttpTransport::new(&url).unwrap();
    safehome_core::sync::enroll(&store, &admin, &t, &url, &srv.code(team, role), None, None)
        .unwrap();
    EnrolledPhone { db, key: [key; 32], store, admin, user, pin }
}
