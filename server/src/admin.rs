//! The operator's side: teams, enrollment codes, revocation and the listings of devices and
//! records. The CLI calls these, and so can a demo that runs a server in-process. Each opens its
//! own connection, so they work while the server is serving (WAL, busy timeout).

use std::str::FromStr;

use crate::params;
use crate::sql::{Conn, OptionalExtension};
use safehome_core::clock::SystemEntropy;
use safehome_core::evidence::keys::RecipientKey;
use safehome_core::location::areas::ImportOptions;
use safehome_core::sync::protocol::RoutingHeader;
use serde::Serialize;

use crate::codes;
use crate::console::areas;
use crate::console::users::{self, ConsoleRole};
use crate::datadir::DataDir;
use crate::error::ServerError;
use crate::submission_store;

/// What an enrolled device may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Volunteer,
    Supervisor,
    HealthWorker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Volunteer => "volunteer",
            Role::Supervisor => "supervisor",
            Role::HealthWorker => "health_worker",
        }
    }
}

impl FromStr for Role {
    type Err = ServerError;
    fn from_str(s: &str) -> Result<Role, ServerError> {
        match s {
            "volunteer" => Ok(Role::Volunteer),
            "supervisor" => Ok(Role::Supervisor),
            "health_worker" => Ok(Role::HealthWorker),
            _ => Err(ServerError::Invalid(format!(
                "unknown role {s:?} (volunteer, supervisor or health_worker)"
            ))),
        }
    }
}

/// A new enrollment code, as shown to the operator once.
#[derive(Debug, Clone, Serialize)]
pub struct EnrollmentCode {
    pub code: String,
    pub expires_at_ms: i64,
}

/// One device, as `safehome-server devices` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    pub device_id: String,
    pub team: String,
    pub role: String,
    pub enrolled_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub last_checkin_ms: Option<i64>,
    pub audit_length: Option<i64>,
    pub regression: bool,
    pub regression_at_ms: Option<i64>,
    pub last_clock_skew_ms: Option<i64>,
    pub app_version: Option<String>,
}

/// One submission, as `safehome-server records` lists it: its routing header and receipt.
#[derive(Debug, Clone, Serialize)]
pub struct RecordRow {
    pub seq: i64,
    pub received_at_ms: i64,
    pub envelope_sha256: String,
    pub routing: RoutingHeader,
    /// Every listed evidence file has arrived.
    pub evidence_complete: bool,
    pub missing_evidence: Vec<String>,
}

/// The operator's handle on a data directory.
pub struct Admin {
    conn: Conn,
}

fn check_name(what: &str, value: &str) -> Result<(), ServerError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ServerError::Invalid(format!(
            "{what} must be 1 to 64 characters of letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Store a new one-time code for `team` and `role` (within the caller's transaction).
pub(crate) fn insert_code(
    conn: &Conn,
    team: &str,
    role: Role,
    ttl_ms: i64,
    now_ms: i64,
) -> Result<EnrollmentCode, ServerError> {
    if ttl_ms <= 0 {
        return Err(ServerError::Invalid("a code must be valid for some time".into()));
    }
    let exists: Option<i64> =
        conn.query_row("SELECT 1 FROM teams WHERE team = ?1", [team], |r| r.get(0)).optional()?;
    if exists.is_none() {
        return Err(ServerError::NotFound(format!("no team {team} (add it first)")));
    }
    let code = codes::generate(&SystemEntropy::default());
    let normalized = codes::normalize(&code)
        .ok_or_else(|| ServerError::Invalid("generated a malformed code".into()))?;
    let expires_at_ms = now_ms.saturating_add(ttl_ms);
    conn.execute(
        "INSERT INTO enrollment_codes (code_sha256, team, role, created_at_ms, expires_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![codes::digest(&normalized), team, role.as_str(), now_ms, expires_at_ms],
    )?;
    Ok(EnrollmentCode { code, expires_at_ms })
}

/// Mark a device revoked (the first revocation's time is kept).
pub(crate) fn revoke_device(conn: &Conn, device_id: &str, now_ms: i64) -> Result<(), ServerError> {
    let changed = conn.execute(
        "UPDATE devices SET revoked_at_ms = COALESCE(revoked_at_ms, ?2) WHERE device_id = ?1",
        params![device_id, now_ms],
    )?;
    ServerError::found(changed, || format!("no device {device_id}"))
}

impl Admin {
    pub fn open(data_dir: impl Into<DataDir>) -> Result<Admin, ServerError> {
        Ok(Admin { conn: data_dir.into().open_db()? })
    }

    /// Add a team with its communes and the archive's recipient key.
    pub fn add_team(
        &mut self,
        team: &str,
        communes: &[String],
        archive_key: &RecipientKey,
        label: &str,
        now_ms: i64,
    ) -> Result<(), ServerError> {
        check_name("the team", team)?;
        if communes.is_empty() {
            return Err(ServerError::Invalid("a team needs at least one commune".into()));
        }
        for commune in communes {
            check_name("a commune", commune)?;
        }
        let communes_json = serde_json::to_string(communes)
            .map_err(|e| ServerError::Invalid(format!("communes: {e}")))?;
        let tx = self.conn.transaction()?;
        let exists: Option<i64> =
            tx.query_row("SELECT 1 FROM teams WHERE team = ?1", [team], |r| r.get(0)).optional()?;
        if exists.is_some() {
            return Err(ServerError::Exists(format!("the team {team} already exists")));
        }
        tx.execute(
            "INSERT INTO teams (team, communes, created_at_ms) VALUES (?1, ?2, ?3)",
            params![team, communes_json, now_ms],
        )?;
        tx.execute(
            "INSERT INTO recipients (team, public_key, kind, label, device_id, added_at_ms)
             VALUES (?1, ?2, 'archive', ?3, NULL, ?4)",
            params![team, archive_key.to_string(), label, now_ms],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A one-time enrollment code for `team` and `role`, valid for `ttl_ms` from `now_ms`.
    pub fn create_enrollment_code(
        &mut self,
        team: &str,
        role: Role,
        ttl_ms: i64,
        now_ms: i64,
    ) -> Result<EnrollmentCode, ServerError> {
        let tx = self.conn.transaction()?;
        let code = insert_code(&tx, team, role, ttl_ms, now_ms)?;
        tx.commit()?;
        Ok(code)
    }

    /// Revoke a device: its requests are refused from now on, and a supervisor's recipient key
    /// leaves the team's configuration.
    pub fn revoke(&mut self, device_id: &str, now_ms: i64) -> Result<(), ServerError> {
        revoke_device(&self.conn, device_id, now_ms)
    }

    /// Add a console user (`password` is hashed with argon2id; the text is not kept).
    pub fn add_console_user(
        &mut self,
        username: &str,
        role: ConsoleRole,
        communes: &[String],
        password: &str,
        now_ms: i64,
    ) -> Result<(), ServerError> {
        users::add_user(&self.conn, username, role, communes, password, now_ms)
    }

    pub fn console_users(&self) -> Result<Vec<users::UserRow>, ServerError> {
        users::list_users(&self.conn)
    }

    /// Lift a console user's lockout.
    pub fn unlock_console_user(&mut self, username: &str) -> Result<(), ServerError> {
        users::unlock_user(&self.conn, username)
    }

    /// Disable a console user and end their sessions.
    pub fn disable_console_user(&mut self, username: &str, now_ms: i64) -> Result<(), ServerError> {
        users::disable_user(&self.conn, username, now_ms)
    }

    /// Load communes' names and boundaries from an assigned-areas GeoJSON; returns how many.
    pub fn import_areas(
        &mut self,
        geojson: &str,
        opts: &ImportOptions,
    ) -> Result<usize, ServerError> {
        areas::import(&self.conn, geojson, opts)
    }

    /// Set a commune's name and/or registered households.
    pub fn set_commune(
        &mut self,
        commune: &str,
        name: Option<&str>,
        registered: Option<i64>,
    ) -> Result<(), ServerError> {
        areas::set_commune(&self.conn, commune, name, registered)
    }

    /// Record a supervisor's action on a case (what issue #18's decisions will do).
    pub fn record_case_action(
        &mut self,
        record_id: &str,
        action: &str,
        action_at_ms: i64,
        device_id: Option<&str>,
        now_ms: i64,
    ) -> Result<(), ServerError> {
        crate::console::data::record_case_action(
            &self.conn,
            record_id,
            action,
            action_at_ms,
            device_id,
            now_ms,
        )
        .map_err(|e| ServerError::Invalid(e.body.message))
    }

    /// The connection (for the console's benchmark, which renders pages from it).
    pub fn connection(&self) -> &Conn {
        &self.conn
    }

    pub fn devices(&self) -> Result<Vec<DeviceRow>, ServerError> {
        let mut stmt = self.conn.prepare(
            "SELECT device_id, team, role, enrolled_at_ms, revoked_at_ms, last_checkin_ms,
                    audit_length, regression_at_ms, last_clock_skew_ms, app_version
             FROM devices ORDER BY enrolled_at_ms, device_id",
        )?;
        let rows = stmt.query_map([], |r| {
            let regression_at_ms: Option<i64> = r.get(7)?;
            Ok(DeviceRow {
                device_id: r.get(0)?,
                team: r.get(1)?,
                role: r.get(2)?,
                enrolled_at_ms: r.get(3)?,
                revoked_at_ms: r.get(4)?,
                last_checkin_ms: r.get(5)?,
                audit_length: r.get(6)?,
                regression: regression_at_ms.is_some(),
                regression_at_ms,
                last_clock_skew_ms: r.get(8)?,
                app_version: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn records(&self) -> Result<Vec<RecordRow>, ServerError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, record_id, received_at_ms, envelope_sha256, routing
             FROM submissions ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (seq, record_id, received_at_ms, envelope_sha256, routing) in rows {
            let routing: RoutingHeader = serde_json::from_str(&routing).map_err(|e| {
                ServerError::Invalid(format!("record {record_id}: stored routing header: {e}"))
            })?;
            let missing_evidence = submission_store::missing_evidence(&self.conn, &record_id)?;
            out.push(RecordRow {
                seq,
                received_at_ms,
                envelope_sha256,
                routing,
                evidence_complete: missing_evidence.is_empty(),
                missing_evidence,
            });
        }
        Ok(out)
    }
}
