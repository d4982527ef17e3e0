//! A scratch PostgreSQL database per test, when the tests are pointed at a PostgreSQL server.
//!
//! `SAFEHOME_TEST_POSTGRES` names a database on that server the tests may connect to in order
//! to create others (`postgres://postgres@127.0.0.1:54329/postgres`: the throwaway cluster
//! `scripts/test.sh` starts, or a developer's own). Unset, the server tests run on SQLite only.
//! Each [`ScratchDb`] is a new database, dropped (with its connections) when the value goes.

use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the PostgreSQL server the tests use.
pub const ENV: &str = "SAFEHOME_TEST_POSTGRES";

/// A database of its own for one test.
pub struct ScratchDb {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDb {
    /// A new empty database, or `None` when no PostgreSQL server is configured. A configured
    /// server that refuses is a test failure, never a silent fallback to SQLite.
    #[allow(clippy::panic)]
    pub fn create() -> Option<ScratchDb> {
        let admin_url = std::env::var(ENV).ok().filter(|v| !v.trim().is_empty())?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "safehome_t{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("{ENV}={admin_url}: cannot connect: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating the scratch database {name}: {e}"));
        let url = with_dbname(&admin_url, &name);
        Some(ScratchDb { admin_url, name, url })
    }

    /// The URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// `url` with its database name replaced (the path after the authority, before any query).
fn with_dbname(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let base = match head[scheme_end..].find('/') {
        Some(slash) => &head[..scheme_end + slash],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_options_kept() {
        assert_eq!(
            with_dbname("postgres://u@127.0.0.1:5/postgres?sslmode=disable", "x"),
            "postgres://u@127.0.0.1:5/x?sslmode=disable"
        );
        assert_eq!(with_dbname("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
