//! The archive holder's view of a server's data folder (or a restored backup of it): every
//! submission as the device sent it, with the device's key, the decisions about it and where it
//! stands, read-only, in pages so that memory stays at one page. The holder's identity opens
//! them elsewhere (`safehome export --identity`); nothing here can read a byte of content.

use std::path::Path;

use safehome_core::evidence::keys::DevicePublicKey;

use crate::db::Database;
use crate::error::ServerError;
use crate::params;
use crate::sql::Conn;

/// A submission as stored, with what is needed to verify and place it.
#[derive(Debug, Clone)]
pub struct ArchivedSubmission {
    pub seq: i64,
    pub record_id: String,
    pub device_id: String,
    /// The key the device was enrolled with.
    pub device_key: DevicePublicKey,
    pub received_at_ms: i64,
    /// The body as the device sent it (routing header, signature, sealed envelope).
    pub body: Vec<u8>,
    pub superseded_by: Option<String>,
    /// The current verdict's kind (`approve`, `return`, `escalate`), if any.
    pub verdict: Option<String>,
    pub decisions: Vec<ArchivedDecision>,
}

/// A decision as stored, with its deciding device's key.
#[derive(Debug, Clone)]
pub struct ArchivedDecision {
    pub seq: i64,
    pub device_key: DevicePublicKey,
    pub body: Vec<u8>,
}

/// Submissions read a page at a time.
pub struct ArchiveReader {
    conn: Conn,
    after: i64,
    page: std::collections::VecDeque<ArchivedSubmission>,
    done: bool,
}

const PAGE: i64 = 200;

impl ArchiveReader {
    /// Open the data folder's database: its SQLite file read-only (a running server may keep
    /// writing: WAL readers see a consistent snapshot per page), or the PostgreSQL database it
    /// names.
    pub fn open(data: &Path) -> Result<ArchiveReader, ServerError> {
        let conn = match crate::datadir::DataDir::new(data).database()? {
            Database::Sqlite(path) => {
                if !path.exists() {
                    return Err(ServerError::NotFound(format!(
                        "no server database at {}",
                        path.display()
                    )));
                }
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
                Conn::sqlite(rusqlite::Connection::open_with_flags(&path, flags)?)
            }
            pg @ Database::Postgres { .. } => pg.open(false)?,
        };
        Ok(ArchiveReader { conn, after: 0, page: Default::default(), done: false })
    }

    fn fill(&mut self) -> Result<(), ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.seq, s.record_id, s.device_id, d.public_key, s.received_at_ms, s.body,
                    r.superseded_by, (SELECT x.kind FROM verdicts v JOIN decisions x
                                      ON x.decision_id = v.decision_id WHERE v.record_id = s.record_id)
             FROM submissions s JOIN devices d ON d.device_id = s.device_id
             LEFT JOIN submission_routing r ON r.record_id = s.record_id
             WHERE s.seq > ?1 ORDER BY s.seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![self.after, PAGE], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })?;
        let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
        drop(stmt);
        if rows.is_empty() {
            self.done = true;
        }
        for (seq, record_id, device_id, key, received_at_ms, body, superseded_by, verdict) in rows {
            self.after = seq;
            let device_key = key
                .parse()
                .map_err(|e| ServerError::Invalid(format!("device {device_id}: key: {e}")))?;
            let decisions = self.decisions(&record_id)?;
            self.page.push_back(ArchivedSubmission {
                seq,
                record_id,
                device_id,
                device_key,
                received_at_ms,
                body,
                superseded_by,
                verdict,
                decisions,
            });
        }
        Ok(())
    }

    fn decisions(&self, record_id: &str) -> Result<Vec<ArchivedDecision>, ServerError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT x.seq, d.public_key, x.body FROM decisions x
             JOIN devices d ON d.device_id = x.device_id
             WHERE x.record_id = ?1 ORDER BY x.seq",
        )?;
        let rows = stmt.query_map([record_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, key, body) = row?;
            let device_key = key
                .parse()
                .map_err(|e| ServerError::Invalid(format!("decision {seq}: key: {e}")))?;
            out.push(ArchivedDecision { seq, device_key, body });
        }
        Ok(out)
    }
}

impl Iterator for ArchiveReader {
    type Item = Result<ArchivedSubmission, ServerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() && !self.done {
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.page.pop_front().map(Ok)
    }
}
