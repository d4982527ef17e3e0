//! What a running server is configured with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use safehome_core::clock::{Clock, SystemClock};

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The configuration of [`crate::serve`].
#[derive(Clone)]
pub struct ServerConfig {
    /// The data directory made by [`crate::init`].
    pub data_dir: PathBuf,
    /// The database, over the data directory's own (`--database`); `None`: the directory's.
    pub database: Option<String>,
    /// PostgreSQL: the most reader connections of this process.
    pub db_pool: usize,
    /// PostgreSQL: a statement running longer is cancelled.
    pub db_statement_timeout: Duration,
    /// Serve HTTPS with these files; plain HTTP without (behind a TLS proxy, or on loopback).
    pub tls: Option<TlsFiles>,
    /// A client must send a request's headers (and finish a TLS handshake) within this time.
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this time (a slow-loris client is cut off).
    pub body_timeout: Duration,
    /// On shutdown, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
    /// The largest `PATCH` chunk accepted.
    pub max_chunk: usize,
    /// The server's clock (tests may inject one).
    pub clock: Arc<dyn Clock>,
    /// A quota on the database, in pages (4 KiB each): past it, writes are refused with
    /// `507 storage_full`, as on a full disk (tests use it to fill the "disk"). None: no quota.
    pub max_db_pages: Option<u32>,
    /// The console is reached over HTTPS through a proxy (its cookies are then `Secure` too).
    pub behind_tls_proxy: bool,
    /// Urgent-case alerts to a webhook (docs/console.md); none without.
    pub alerts: Option<crate::console::alerts::AlertConfig>,
    /// Where evidence files and uploads in progress live (docs/operations.md, "Evidence in
    /// object storage"): the data directory by default.
    pub objects: crate::objects::ObjectsConfig,
}

impl ServerConfig {
    /// Defaults: plain HTTP, 30 s for headers, 60 s for a body, 30 s of grace, 8 MiB chunks.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            database: None,
            db_pool: crate::sql::DEFAULT_POOL,
            db_statement_timeout: Duration::from_secs(30),
            tls: None,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            max_chunk: 8 << 20,
            clock: Arc::new(SystemClock::default()),
            max_db_pages: None,
            behind_tls_proxy: false,
            alerts: None,
            objects: crate::objects::ObjectsConfig::DataDir,
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("tls", &self.tls)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_chunk", &self.max_chunk)
            .field("max_db_pages", &self.max_db_pages)
            .field("behind_tls_proxy", &self.behind_tls_proxy)
            .field("alerts", &self.alerts)
            .field("objects", &self.objects)
            .finish_non_exhaustive()
    }
}
