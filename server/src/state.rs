//! What every request handler shares.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use safehome_core::clock::Clock;
use safehome_core::evidence::keys::{DeviceSigningKey, ServerPublicKey};
use safehome_core::sync::protocol::server_public;

use crate::config::ServerConfig;
use crate::datadir::DataDir;
use crate::db::Db;
use crate::error::{ApiError, ServerError};
use crate::objects::ObjectStore;

/// The shared state of a running server (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

pub struct Shared {
    pub db: Db,
    pub data: DataDir,
    /// Evidence files and uploads in progress (`blobs/…`, `uploads/…`).
    pub objects: Arc<dyn ObjectStore>,
    /// The server's signing key: receipts and team configurations.
    pub key: DeviceSigningKey,
    pub public: ServerPublicKey,
    /// The rotations of the server's key, oldest first, served with every configuration
    /// (`rotation.rs`).
    pub rotations: Vec<serde_json::Value>,
    pub clock: Arc<dyn Clock>,
    pub body_timeout: Duration,
    pub max_chunk: usize,
    /// Request nonces seen within the clock window.
    pub nonces: crate::nonces::NonceBook,
    /// One lock per upload with a `PATCH` or `DELETE` in progress.
    upload_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The oversight console's own state.
    pub console: ConsoleShared,
}

/// What the console's handlers share.
pub struct ConsoleShared {
    pub limiter: crate::console::LoginLimiter,
    /// Session cookies are `Secure` (and HSTS is sent): served over TLS, directly or by a proxy.
    pub secure_cookies: bool,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.inner
    }
}

impl AppState {
    /// Open an initialised data directory: its key and its database.
    pub fn open(config: &ServerConfig) -> Result<AppState, ServerError> {
        let data = DataDir::with_database(&config.data_dir, config.database.clone());
        let (key, rotations) = crate::rotation::load(&data)?;
        let mut database = data.database()?;
        if let crate::db::Database::Postgres { settings, pool, .. } = &mut database {
            *pool = config.db_pool.max(1);
            settings.statement_timeout = config.db_statement_timeout;
        }
        tracing::info!(database = %database.describe(), "opening the database");
        let db = Db::open(&database, config.max_db_pages)?;
        for dir in [data.blobs_dir(), data.uploads_dir()] {
            std::fs::create_dir_all(&dir)
                .map_err(ServerError::io(format!("creating {}", dir.display())))?;
        }
        let objects = config.objects.open(&data)?;
        tracing::info!(objects = %objects.describe(), "evidence store");
        let public = server_public(&key);
        Ok(AppState {
            inner: Arc::new(Shared {
                db,
                nonces: crate::nonces::NonceBook::new(config.clock.now_ms()),
                data,
                objects,
                key,
                public,
                rotations,
                clock: Arc::clone(&config.clock),
                body_timeout: config.body_timeout,
                max_chunk: config.max_chunk,
                upload_locks: Mutex::new(HashMap::new()),
                console: ConsoleShared {
                    limiter: crate::console::LoginLimiter::default(),
                    secure_cookies: config.tls.is_some() || config.behind_tls_proxy,
                },
            }),
        })
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Wait for exclusive use of an upload (one `PATCH` at a time appends to its file).
    pub async fn lock_upload(
        &self,
        upload_id: &str,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>, ApiError> {
        let lock = {
            let mut locks = self
                .upload_locks
                .lock()
                .map_err(|_| ApiError::internal("upload locks poisoned"))?;
            // Forget the locks nobody holds or waits for.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            Arc::clone(locks.entry(upload_id.to_string()).or_default())
        };
        Ok(lock.lock_owned().await)
    }
}
