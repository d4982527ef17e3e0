//! The encrypted local store: SQLite (bundled) holding profiles, households, visits and
//! incidents from draft to outbox, with sensitive columns encrypted under keys derived from the
//! platform's data key. See `docs/storage.md` for durability, the schema and the threat model.
//!
//! One writer connection and one reader connection, each behind a mutex; every state change is
//! one IMMEDIATE transaction that also appends to the audit chain, so a crash leaves either the
//! whole change or none of it.

mod anchor;
mod attachments;
mod audit;
pub mod decisions;
pub mod duplicates;
mod error;
mod fixes;
pub mod households;
mod inbox;
mod json;
pub mod merges;
pub mod migrate;
pub mod outbox;
pub mod profiles;
pub mod received;
pub mod records;
mod sealed;
mod stored_enum;
pub mod sync_state;
pub mod team;
pub mod upload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{
    Connection, InterruptHandle, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
    params,
};
use serde::Serialize;

pub use anchor::AnchorKeeper;
pub use attachments::{Attachment, PhotoStep, PhotoTarget, PreparedPhoto};
pub use audit::{Action, AuditReport};
pub use error::StoreError;
pub use stored_enum::{StoredEnum, UnknownValue};

use crate::clock::{Clock, Entropy, new_uuid};
use crate::crypto::{CryptoError, DataKey, KeyHierarchy, PIN_ITERATIONS, PinPolicy};
use crate::evidence::keys::DeviceSigningKey;
use crate::form::check::CheckedForm;
use outbox::OutboxState;
use records::RecordState;

const KEY_CHECK: &[u8] = b"safehome-key-check-v1";

/// Settings a store is opened with.
#[derive(Debug, Clone, Copy)]
pub struct StoreConfig {
    /// PBKDF2 iterations for new PINs (600,000 in production; tests may lower it).
    pub pin_iterations: u32,
    pub pin_policy: PinPolicy,
    /// Days after acknowledgment before payloads are purged.
    pub retention_days: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            pin_iterations: PIN_ITERATIONS,
            pin_policy: PinPolicy::default(),
            retention_days: 30,
        }
    }
}

pub struct Store {
    path: PathBuf,
    // The reader is declared (so dropped) first: the last connection to close checkpoints the
    // WAL into the database file, and only the writer can.
    reader: Mutex<Connection>,
    writer: Mutex<Connection>,
    interrupts: [InterruptHandle; 2],
    keys: KeyHierarchy,
    device_id: String,
    device_key: DeviceSigningKey,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    config: StoreConfig,
    forms: Mutex<HashMap<String, Arc<CheckedForm>>>,
    /// The assigned areas stored with the enrollment, parsed (`None`: not read yet).
    areas: Mutex<Option<team::CachedAreas>>,
    /// Where the app keeps the audit anchor (`anchor`), once it has handed one over.
    anchor_keeper: Mutex<Option<Arc<dyn AnchorKeeper>>>,
    /// Test hook: write transactions left before one is made to fail (negative: none).
    #[cfg(feature = "test-hooks")]
    fault_after: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Connection settings shared by the writer and the reader.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Room for every statement a write or a read prepares from the cache (the row seals' own
    // included), so that none is planned again on each call.
    conn.set_prepared_statement_cache_capacity(64);
    // Android has no usable temp directory: keep temporary tables and indexes in memory.
    conn.pragma_update(None, "temp_store", 2)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Create the database file, if it does not exist, readable and writable by its owner only
/// (0600). Its content is encrypted or MACed, but its size, times and plaintext metadata are no
/// one else's business; SQLite gives the `-wal` and `-shm` files the database file's mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    // An existing file is opened as it is; any other failure is SQLite's to report, with the
    // path, as before.
    let _ = opts.open(path);
    Ok(())
}

impl Store {
    /// Open (or create) the database at `path` with the platform's data key.
    pub fn open(
        path: &Path,
        data_key: &DataKey,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
        config: StoreConfig,
    ) -> Result<Store, StoreError> {
        create_private(path)?;
        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Not a database at all: SQLite only notices on the first read.
        writer.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))?;
        configure(&writer)?;
        // WAL: readers never block the writer. FULL: every commit is fsynced, so a finalized
        // visit survives power loss (docs/storage.md).
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        let keys = KeyHierarchy::derive(data_key);
        // The key is checked before any migration runs: a wrong key changes nothing.
        let found = migrate::migrate(&mut writer, &keys)?;
        sealed::install(&writer)?;
        if found != 0 && found != migrate::VERSION {
            tracing::info!("database migrated from schema v{found} to v{}", migrate::VERSION);
        }
        let (device_id, device_key) =
            Self::init_keys(&mut writer, &keys, clock.as_ref(), entropy.as_ref())?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&reader)?;
        sealed::register(&reader, &keys)?;
        sealed::install(&reader)?;
        let interrupts = [writer.get_interrupt_handle(), reader.get_interrupt_handle()];
        tracing::info!("store opened: schema v{}, device {device_id}", migrate::VERSION);
        Ok(Store {
            path: path.to_path_buf(),
            reader: Mutex::new(reader),
            writer: Mutex::new(writer),
            interrupts,
            keys,
            device_id,
            device_key,
            clock,
            entropy,
            config,
            forms: Mutex::new(HashMap::new()),
            areas: Mutex::new(None),
            anchor_keeper: Mutex::new(None),
            #[cfg(feature = "test-hooks")]
            fault_after: std::sync::atomic::AtomicI64::new(-1),
        })
    }

    /// Check the data key against the stored key check; on a new database, write the key check
    /// and generate the device signing key, in one transaction.
    fn init_keys(
        conn: &mut Connection,
        keys: &KeyHierarchy,
        clock: &dyn Clock,
        entropy: &dyn Entropy,
    ) -> Result<(String, DeviceSigningKey), StoreError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        sealed::begin(&tx)?;
        if !check_key(&tx, keys)? {
            let c = keys.column.encrypt("meta", "value", "key_check", KEY_CHECK)?;
            tx.execute("INSERT INTO meta (key, value) VALUES ('key_check', ?1)", params![c])?;
        }
        let device: Option<(String, Vec<u8>)> = tx
            // Read as stored: a device row whose seal fails still opens the store (its key is
            // AEAD-bound), so that each read it affects can report `Tampered` with its table.
            .query_row("SELECT id, signing_key_enc FROM device LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let result = match device {
            Some((id, sealed)) => {
                let key = unseal_device_key(keys, &id, &sealed).ok_or(StoreError::WrongKey)?;
                (id, key)
            }
            // A chain without a device: the device row was deleted, which would otherwise make
            // a new identity and an empty-looking history.
            None if audit::last_entry(&tx)?.is_some() => {
                return Err(StoreError::Tampered { table: "device", row: String::new() });
            }
            None => {
                let id = new_uuid(entropy);
                let key = DeviceSigningKey::generate(entropy).map_err(|_| CryptoError::Random)?;
                let sealed = keys.device_seal.encrypt(
                    "device",
                    "signing_key",
                    &id,
                    key.to_text().as_bytes(),
                )?;
                tx.execute(
                    "INSERT INTO device (id, signing_key_enc, public_key, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id, sealed, key.public().as_bytes().to_vec(), clock.now_ms()],
                )?;
                audit::append(
                    &tx,
                    &keys.audit_mac,
                    clock.now_ms(),
                    None,
                    Action::Created,
                    "device",
                    &id,
                )?;
                (id, key)
            }
        };
        sealed::reseal(&tx)?;
        tx.commit()?;
        Ok(result)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    pub fn device_public_key(&self) -> [u8; 32] {
        *self.device_key.public().as_bytes()
    }

    /// The device's Ed25519 key: signs submissions and evidence envelopes.
    pub fn device_key(&self) -> &DeviceSigningKey {
        &self.device_key
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub(crate) fn entropy(&self) -> &Arc<dyn Entropy> {
        &self.entropy
    }

    pub(crate) fn new_id(&self) -> String {
        new_uuid(self.entropy.as_ref())
    }

    pub(crate) fn reader(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        // A poisoned lock means a panic mid-read; the connection itself is still consistent.
        Ok(self.reader.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Run `f` in one IMMEDIATE write transaction; it commits only if `f` succeeds, so a failed
    /// operation (including a full disk) leaves the database as it was.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let anchored = self.anchor_keeper.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        let out = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)
            .and_then(|tx| {
                sealed::begin(&tx)?;
                let before = if anchored { anchor::chain_length(&tx)? } else { 0 };
                let out = f(&tx, self)?;
                sealed::reseal(&tx)?;
                #[cfg(feature = "test-hooks")]
                self.injected_fault()?;
                tx.commit()?;
                Ok((out, before))
            })
            .and_then(|(out, before)| {
                if anchored {
                    self.renew_anchor(&conn, before)?;
                }
                Ok(out)
            });
        // Storage faults matter to whoever reads the phone's logs; refusals (a wrong PIN, an
        // invalid answer) are the caller's to report.
        if let Err(
            e @ (StoreError::DiskFull
            | StoreError::ReadOnly
            | StoreError::Corrupt
            | StoreError::Sqlite(_)),
        ) = &out
        {
            tracing::error!("write rolled back: {e}");
        }
        out
    }

    /// Append to the audit chain inside a write transaction.
    pub(crate) fn audit(
        &self,
        tx: &Transaction<'_>,
        actor: Option<&str>,
        action: Action,
        entity: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        audit::append(tx, &self.keys.audit_mac, self.clock.now_ms(), actor, action, entity, id)
    }

    pub(crate) fn keys(&self) -> &KeyHierarchy {
        &self.keys
    }

    /// A value as JSON, encrypted for `table.column` of row `id`.
    pub(crate) fn encrypt_json<T: Serialize + ?Sized>(
        &self,
        table: &'static str,
        column: &'static str,
        id: &str,
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let json = json::to_string(column, value)?;
        Ok(self.keys.column.encrypt_str(table, column, id, &json)?)
    }

    /// The value `encrypt_json` stored in `table.column` of row `id`.
    pub(crate) fn decrypt_json<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        column: &'static str,
        id: &str,
        enc: &[u8],
    ) -> Result<T, StoreError> {
        let json = self.keys.column.decrypt_str(table, column, id, enc)?;
        json::from_str(column, &json)
    }

    pub(crate) fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Stop the statement running on either connection (a long query on a screen the
    /// volunteer left). It fails with `StoreError::Interrupted`.
    pub fn interrupt(&self) {
        for h in &self.interrupts {
            h.interrupt();
        }
    }

    /// A checked form by id and version: built-in templates (cached).
    pub fn form(&self, id: &str, version: &str) -> Result<Arc<CheckedForm>, StoreError> {
        let key = format!("{id}@{version}");
        let mut cache = self.forms.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = cache.get(&key) {
            return Ok(Arc::clone(f));
        }
        let form = match crate::templates::load(id) {
            Some(r) => r?,
            None => return Err(StoreError::NotFound { entity: "form", id: id.to_string() }),
        };
        if form.form.version != version {
            return Err(StoreError::NotFound { entity: "form version", id: key });
        }
        cache.insert(key, Arc::clone(&form));
        Ok(form)
    }

    /// SQLite's own consistency check (`PRAGMA integrity_check`): `ok` or the problems.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let lines: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(lines.join("; "))
    }

    /// Test hook (feature `test-hooks`): cap the database size (in pages) to simulate a full
    /// disk.
    #[cfg(feature = "test-hooks")]
    pub fn simulate_disk_limit(&self, max_pages: u32) -> Result<(), StoreError> {
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row(&format!("PRAGMA max_page_count = {max_pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// Test hook (feature `test-hooks`): after `n` more write transactions commit, make the
    /// next one fail as a full disk would, once: its statements have run and are rolled back.
    /// `None` cancels a pending fault.
    /// Seal every row as it is: for tests and benchmarks that build large databases with plain
    /// SQL (as migration 9 trusts the rows it finds).
    #[cfg(feature = "test-hooks")]
    pub fn seal_all_rows(&self) -> Result<(), StoreError> {
        self.write(|tx, _| sealed::trust_all(tx))
    }

    /// Run one SQL statement as the app's own write (its rows re-sealed): for tests that need
    /// a state the API cannot reach, such as a value written by a newer app.
    #[cfg(feature = "test-hooks")]
    pub fn exec_sealed(&self, sql: &str, params: &[&str]) -> Result<usize, StoreError> {
        self.write(|tx, _| Ok(tx.execute(sql, rusqlite::params_from_iter(params))?))
    }

    #[cfg(feature = "test-hooks")]
    pub fn fail_write_after(&self, n: Option<u32>) {
        let v = n.map_or(-1, i64::from);
        self.fault_after.store(v, std::sync::atomic::Ordering::SeqCst);
    }

    #[cfg(feature = "test-hooks")]
    fn injected_fault(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let left = self.fault_after.load(Ordering::SeqCst);
        if left < 0 {
            return Ok(());
        }
        self.fault_after.store(left - 1, Ordering::SeqCst);
        if left == 0 { Err(StoreError::DiskFull) } else { Ok(()) }
    }

    /// Sizes and counts for the app's storage screen and the sync scheduler.
    pub fn storage_status(&self) -> Result<StorageStatus, StoreError> {
        let conn = self.reader()?;
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let wal = std::fs::metadata(wal_path(&self.path)).map(|m| m.len() as i64).unwrap_or(0);
        let pending_upload_bytes: i64 = conn.query_row(
            "SELECT coalesce(sum(size_bytes), 0) FROM outbox_v WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )?;
        let records_by_state = state_counts::<RecordState>(&conn)?;
        let outbox_by_state = state_counts::<OutboxState>(&conn)?;
        let households: i64 =
            conn.query_row("SELECT count(*) FROM households", [], |r| r.get(0))?;
        Ok(StorageStatus {
            database_bytes: page_size * pages,
            wal_bytes: wal,
            pending_upload_bytes,
            households,
            records_by_state,
            outbox_by_state,
        })
    }
}

/// The device key is stored sealed in its text form (prefix and checksum included).
fn unseal_device_key(
    keys: &KeyHierarchy,
    device_id: &str,
    sealed: &[u8],
) -> Option<DeviceSigningKey> {
    let text = keys.device_seal.decrypt_str("device", "signing_key", device_id, sealed).ok()?;
    text.parse().ok()
}

/// How many rows of the state's table are in each state, by the state's text.
fn state_counts<S: StoredEnum + rusqlite::types::FromSql>(
    conn: &Connection,
) -> Result<Vec<StateCount<S>>, StoreError> {
    let sql = format!(
        "SELECT {column}, count(*) FROM {table} GROUP BY {column} ORDER BY {column}",
        table = S::TABLE,
        column = S::COLUMN
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| Ok(StateCount { state: r.get(0)?, count: r.get(1)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// How many records or outbox items are in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateCount<S> {
    pub state: S,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageStatus {
    pub database_bytes: i64,
    pub wal_bytes: i64,
    pub pending_upload_bytes: i64,
    pub households: i64,
    pub records_by_state: Vec<StateCount<RecordState>>,
    pub outbox_by_state: Vec<StateCount<OutboxState>>,
}

/// Check `keys` against the database's key check: `Ok(true)` if it opens it, `Ok(false)` if the
/// database has none yet (new), `WrongKey` otherwise.
pub(crate) fn check_key(tx: &Transaction<'_>, keys: &KeyHierarchy) -> Result<bool, StoreError> {
    let check: Option<Vec<u8>> = tx
        .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| r.get(0))
        .optional()?;
    let Some(c) = check else {
        return Ok(false);
    };
    let plain =
        keys.column.decrypt("meta", "value", "key_check", &c).map_err(|_| StoreError::WrongKey)?;
    if plain != KEY_CHECK {
        return Err(StoreError::WrongKey);
    }
    Ok(true)
}
