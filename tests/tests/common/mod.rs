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
        rusqlite::Connection::open(self.data.join("server.db"))
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }
}
