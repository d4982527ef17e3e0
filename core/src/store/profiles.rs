//! Profiles on a shared phone, their PINs and roles, and the access rules every read and write
//! of the store checks.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use super::stored_enum::stored_enum;
use super::{Action, Store, StoreError};
use crate::crypto::{KeyHierarchy, PinHash, PinPolicy};

stored_enum! {
    /// What a profile may do on this device (`Permission::granted` is the table).
    pub enum Role("role" in "profiles"."role") {
        Volunteer = "volunteer",
        Supervisor = "supervisor",
        HealthWorker = "health_worker",
    }
}

/// What a profile may do. One table, checked by `Actor::require`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ManageProfiles,
    ConfigureTeam,
    CreateHousehold,
    ReadAllHouseholds,
    LookUpHousehold,
    RecordVisit,
    RecordIncident,
    ReviewTeam,
}

impl Permission {
    fn describe(self) -> &'static str {
        match self {
            Permission::ManageProfiles => "manage profiles",
            Permission::ConfigureTeam => "configure the team",
            Permission::CreateHousehold => "register households",
            Permission::ReadAllHouseholds => "see the team's households",
            Permission::LookUpHousehold => "look up households",
            Permission::RecordVisit => "record household visits",
            Permission::RecordIncident => "record injury incidents",
            Permission::ReviewTeam => "review the team's submissions",
        }
    }

    fn granted(self, role: Role) -> bool {
        use Permission::*;
        match role {
            Role::Supervisor => true,
            Role::Volunteer => matches!(self, CreateHousehold | LookUpHousehold | RecordVisit),
            Role::HealthWorker => matches!(self, LookUpHousehold | RecordIncident),
        }
    }
}

/// An unlocked profile: the only way to act on the store. Made by `Store::unlock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    profile_id: String,
    role: Role,
}

impl Actor {
    pub fn profile_id(&self) -> &str {
        &self.profile_id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn can(&self, p: Permission) -> bool {
        p.granted(self.role)
    }
    pub fn require(&self, p: Permission) -> Result<(), StoreError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(StoreError::Forbidden { role: self.role.as_str(), action: p.describe() })
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub locked: bool,
    pub failed_attempts: u32,
}

fn check_pin_shape(pin: &str) -> Result<(), StoreError> {
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::WeakPin)
    }
}

/// The security fields of a profile row: its role, PIN verifier, failure counter and lockout.
/// Read only through [`PinRow::load`], which checks their MAC, and written only through
/// [`PinRow::save`], which renews it: an edit made without the data key (a volunteer made
/// supervisor, a lockout cleared, another profile's verifier pasted in) is `Tampered`. The MAC
/// also covers the sequence number of the profile's latest audit entry, so putting the row
/// back to an earlier state together with that state's MAC is detected as well (as long as the
/// audit chain's tail is intact, which its keyed head guarantees to `verify_audit`).
#[derive(Debug, Clone)]
struct PinRow {
    id: String,
    role: Role,
    pin: PinHash,
    failed: u32,
    next_attempt_at: i64,
    locked: bool,
}

const PIN_ROW_COLUMNS: &str = "id, role, pin_salt, pin_iterations, pin_hash, failed_attempts, next_attempt_at, locked, row_mac";

impl PinRow {
    fn mac_fields(&self, audit_seq: i64) -> [Vec<u8>; 8] {
        [
            audit_seq.to_be_bytes().to_vec(),
            self.role.as_str().as_bytes().to_vec(),
            self.pin.salt.to_vec(),
            self.pin.iterations.to_be_bytes().to_vec(),
            self.pin.verifier.to_vec(),
            self.failed.to_be_bytes().to_vec(),
            self.next_attempt_at.to_be_bytes().to_vec(),
            vec![u8::from(self.locked)],
        ]
    }

    /// The MAC of the row as of audit entry `audit_seq`.
    fn mac(&self, keys: &KeyHierarchy, audit_seq: i64) -> [u8; 32] {
        let f = self.mac_fields(audit_seq);
        keys.mac_row("profiles", &self.id, &f.each_ref().map(Vec::as_slice))
    }

    /// One row as stored, its MAC checked.
    fn from_row(
        conn: &Connection,
        r: &rusqlite::Row<'_>,
        keys: &KeyHierarchy,
    ) -> Result<PinRow, StoreError> {
        let id: String = r.get(0)?;
        let tampered = || StoreError::Tampered { table: "profiles", row: id.clone() };
        let role: String = r.get(1)?;
        let salt: Vec<u8> = r.get(2)?;
        let verifier: Vec<u8> = r.get(4)?;
        let mac: Option<Vec<u8>> = r.get(8)?;
        let row = PinRow {
            id: id.clone(),
            role: role.parse::<Role>().map_err(|_| tampered())?,
            pin: PinHash {
                salt: salt.as_slice().try_into().map_err(|_| tampered())?,
                iterations: r.get(3)?,
                verifier: verifier.as_slice().try_into().map_err(|_| tampered())?,
            },
            failed: r.get(5)?,
            next_attempt_at: r.get(6)?,
            locked: r.get(7)?,
        };
        let f = row.mac_fields(latest_audit_seq(conn, &id)?);
        match mac {
            Some(m) if keys.verify_row("profiles", &id, &f.each_ref().map(Vec::as_slice), &m) => {
                Ok(row)
            }
            _ => Err(tampered()),
        }
    }

    fn load(
        conn: &Connection,
        keys: &KeyHierarchy,
        id: &str,
    ) -> Result<Option<PinRow>, StoreError> {
        let sql = format!("SELECT {PIN_ROW_COLUMNS} FROM profiles WHERE id = ?1");
        conn.query_row(&sql, params![id], |r| Ok(PinRow::from_row(conn, r, keys)))
            .optional()?
            .transpose()
    }

    /// Every row, each checked on its own (a tampered row is its own `Err`), oldest first.
    fn check_all(
        conn: &Connection,
        keys: &KeyHierarchy,
    ) -> Result<Vec<Result<PinRow, StoreError>>, StoreError> {
        let sql = format!("SELECT {PIN_ROW_COLUMNS} FROM profiles ORDER BY created_at, id");
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| Ok(PinRow::from_row(conn, r, keys)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every row, oldest first; the first tampered one is the error.
    fn load_all(conn: &Connection, keys: &KeyHierarchy) -> Result<Vec<PinRow>, StoreError> {
        Self::check_all(conn, keys)?.into_iter().collect()
    }

    /// Write the security fields and their new MAC (after any audit entry of the change).
    fn save(&self, tx: &Transaction<'_>, keys: &KeyHierarchy) -> Result<(), StoreError> {
        let mac = self.mac(keys, latest_audit_seq(tx, &self.id)?);
        let n = tx.execute(
            "UPDATE profiles SET role = ?2, pin_salt = ?3, pin_iterations = ?4, pin_hash = ?5,
                failed_attempts = ?6, next_attempt_at = ?7, locked = ?8, row_mac = ?9 WHERE id = ?1",
            params![
                self.id,
                self.role.as_str(),
                self.pin.salt.to_vec(),
                self.pin.iterations,
                self.pin.verifier.to_vec(),
                self.failed,
                self.next_attempt_at,
                self.locked,
                mac.to_vec()
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound { entity: "profile", id: self.id.clone() });
        }
        Ok(())
    }

    /// When the next attempt is allowed, if not now. The delay runs from the last failure; if
    /// the clock now reads earlier than that failure (it was moved back), the wait restarts
    /// from now, so a clock moved backwards never blocks the user longer than the delay itself.
    fn wait_until(&mut self, now: i64, policy: &PinPolicy) -> Option<i64> {
        if now >= self.next_attempt_at {
            return None;
        }
        let delay = policy.delay_after(self.failed);
        let failed_at = self.next_attempt_at.saturating_sub(delay);
        if now < failed_at {
            self.next_attempt_at = now.saturating_add(delay);
        }
        Some(self.next_attempt_at)
    }
}

/// The sequence number of the latest audit entry about profile `id` (0: none).
fn latest_audit_seq(conn: &Connection, id: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT coalesce(max(seq), 0) FROM audit WHERE entity = 'profile' AND entity_id = ?1",
        params![id],
        |r| r.get(0),
    )?)
}

/// Migration 7: key every profile's PIN verifier (the bare PBKDF2 output until then) and MAC
/// the row's security fields, in the migration's transaction. Runs once, when the database
/// reaches version 7: a row without a valid MAC after that is an edit, never re-keyed.
pub(super) fn key_profiles(tx: &Transaction<'_>, keys: &KeyHierarchy) -> Result<(), StoreError> {
    type Legacy = (String, String, Vec<u8>, u32, Vec<u8>, u32, i64, bool);
    let mut stmt = tx.prepare(
        "SELECT id, role, pin_salt, pin_iterations, pin_hash, failed_attempts, next_attempt_at, locked
         FROM profiles",
    )?;
    let rows: Vec<Legacy> =
        stmt.query_map([], |r| Legacy::try_from(r))?.collect::<Result<_, _>>()?;
    for (id, role, salt, iterations, hash, failed, next_attempt_at, locked) in rows {
        let bad = |what: &str| StoreError::BadData(format!("profile {id}: {what}"));
        let role: Role = role.parse().map_err(|_| bad("unknown role"))?;
        let salt: [u8; 16] = salt.as_slice().try_into().map_err(|_| bad("PIN salt"))?;
        let hash: [u8; 32] = hash.as_slice().try_into().map_err(|_| bad("PIN hash"))?;
        let pin = PinHash::key_legacy(salt, iterations, &hash, &keys.pin_verifier, &id);
        PinRow { id, role, pin, failed, next_attempt_at, locked }.save(tx, keys)?;
    }
    Ok(())
}

impl Store {
    /// Add a profile. Needs a supervisor, except for the first supervisor of a new device.
    /// Names are unique on a device (the CLI and the profile picker find profiles by name).
    pub fn create_profile(
        &self,
        by: Option<&Actor>,
        name: &str,
        role: Role,
        pin: &str,
    ) -> Result<Profile, StoreError> {
        check_pin_shape(pin)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid { field: "name", message: "must not be empty".into() });
        }
        let id = self.new_id();
        let hash = PinHash::new(pin, self.config().pin_iterations, &self.keys().pin_verifier, &id)?;
        self.write(|tx, s| {
            // Every row is read through its MAC: a supervisor edited into a volunteer does not
            // reopen the first-supervisor bootstrap.
            let existing = PinRow::load_all(tx, s.keys())?;
            let bootstrap = role == Role::Supervisor
                && by.is_none()
                && !existing.iter().any(|p| p.role == Role::Supervisor);
            if !bootstrap {
                match by {
                    Some(a) => a.require(super::profiles::Permission::ManageProfiles)?,
                    None => return Err(StoreError::Forbidden { role: "nobody", action: "manage profiles" }),
                }
            }
            if s.profile_names(tx)?.values().any(|n| n == name) {
                return Err(StoreError::Invalid {
                    field: "name",
                    message: "another profile on this device has this name".into(),
                });
            }
            tx.execute(
                "INSERT INTO profiles (id, name_enc, role, pin_salt, pin_iterations, pin_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    s.keys().column.encrypt_str("profiles", "name", &id, name)?,
                    role,
                    hash.salt.to_vec(),
                    hash.iterations,
                    hash.verifier.to_vec(),
                    s.now_ms()
                ],
            )?;
            s.audit(tx, by.map(Actor::profile_id), Action::Created, "profile", &id)?;
            let row = PinRow { id: id.clone(), role, pin: hash.clone(), failed: 0, next_attempt_at: 0, locked: false };
            row.save(tx, s.keys())
        })?;
        Ok(Profile { id, name: name.to_string(), role, locked: false, failed_attempts: 0 })
    }

    /// The decrypted name of every profile, by id.
    fn profile_names(
        &self,
        conn: &Connection,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let mut stmt = conn.prepare("SELECT id, name_enc FROM profiles")?;
        let rows: Vec<(String, Vec<u8>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, name)| {
                let name = self.keys().column.decrypt_str("profiles", "name", &id, &name)?;
                Ok((id, name))
            })
            .collect()
    }

    /// Every profile on this device (names decrypted), for the app's profile picker. A profile
    /// whose row was edited without the key is reported (`Tampered`), not listed as it reads.
    pub fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let conn = self.reader()?;
        let rows = PinRow::load_all(&conn, self.keys())?;
        let mut names = self.profile_names(&conn)?;
        Ok(rows
            .into_iter()
            .map(|p| Profile {
                // Both read from the same rows: every id has its name.
                name: names.remove(&p.id).unwrap_or_default(),
                id: p.id,
                role: p.role,
                locked: p.locked,
                failed_attempts: p.failed,
            })
            .collect())
    }

    /// The profile called `name` (names are encrypted, so this decrypts the few on the device).
    pub fn profile_by_name(&self, name: &str) -> Result<Profile, StoreError> {
        self.profiles()?
            .into_iter()
            .find(|p| p.name == name.trim())
            .ok_or_else(|| StoreError::NotFound { entity: "profile", id: "(by name)".into() })
    }

    /// Unlock a profile with its PIN. Each attempt is counted as a failure, in one IMMEDIATE
    /// transaction, *before* the PIN is compared, and lifted only if it matches: so parallel
    /// attempts can never compare more PINs than the policy allows, and a lockout recorded
    /// meanwhile wins over a right PIN. After the free attempts each failure doubles the wait;
    /// the profile locks after too many.
    pub fn unlock(&self, profile_id: &str, pin: &str) -> Result<Actor, StoreError> {
        let policy = self.config().pin_policy;
        // 1. Admit the attempt and count it.
        let admitted = self.write(|tx, s| {
            let mut row = PinRow::load(tx, s.keys(), profile_id)?
                .ok_or_else(|| StoreError::NotFound { entity: "profile", id: profile_id.into() })?;
            if row.locked {
                return Ok(Err(StoreError::LockedOut));
            }
            let now = s.now_ms();
            if row.failed >= policy.lockout_after {
                // Attempts already in flight use up the last tries: refused, and locked.
                row.locked = true;
                row.save(tx, s.keys())?;
                return Ok(Err(StoreError::LockedOut));
            }
            let stored_until = row.next_attempt_at;
            if let Some(retry_at_ms) = row.wait_until(now, &policy) {
                // Written only when the wait restarted (the clock was moved back).
                if retry_at_ms != stored_until {
                    row.save(tx, s.keys())?;
                }
                return Ok(Err(StoreError::PinDelay { retry_at_ms }));
            }
            row.failed += 1;
            row.next_attempt_at = now.saturating_add(policy.delay_after(row.failed));
            row.save(tx, s.keys())?;
            Ok(Ok(row))
        })?;
        let row = admitted?;
        // 2. Compare, outside the write lock: PBKDF2 takes most of a second by design.
        let ok = check_pin_shape(pin).is_ok()
            && row.pin.verify(pin, &self.keys().pin_verifier, profile_id);
        // 3. Record the outcome.
        let outcome = self.write(|tx, s| {
            let mut now_row = PinRow::load(tx, s.keys(), profile_id)?
                .ok_or_else(|| StoreError::NotFound { entity: "profile", id: profile_id.into() })?;
            if ok {
                if now_row.locked {
                    return Ok(Err(StoreError::LockedOut));
                }
                now_row.failed = 0;
                now_row.next_attempt_at = 0;
                s.audit(tx, Some(profile_id), Action::Unlocked, "profile", profile_id)?;
                now_row.save(tx, s.keys())?;
                return Ok(Ok(()));
            }
            s.audit(tx, None, Action::PinFailure, "profile", profile_id)?;
            if policy.locks_out(now_row.failed) && !now_row.locked {
                now_row.locked = true;
                s.audit(tx, None, Action::Lockout, "profile", profile_id)?;
            }
            now_row.save(tx, s.keys())?;
            Ok(Err(if now_row.locked {
                StoreError::LockedOut
            } else {
                StoreError::WrongPin {
                    remaining: policy.lockout_after.saturating_sub(now_row.failed),
                }
            }))
        })?;
        match outcome {
            Ok(()) => Ok(Actor { profile_id: profile_id.to_string(), role: row.role }),
            Err(StoreError::LockedOut) => {
                tracing::warn!("profile {profile_id} locked out after too many wrong PINs");
                Err(StoreError::LockedOut)
            }
            Err(e) => Err(e),
        }
    }

    /// A supervisor sets a new PIN for a profile and lifts its lockout.
    pub fn reset_pin(&self, by: &Actor, profile_id: &str, new_pin: &str) -> Result<(), StoreError> {
        by.require(Permission::ManageProfiles)?;
        check_pin_shape(new_pin)?;
        let pin = PinHash::new(
            new_pin,
            self.config().pin_iterations,
            &self.keys().pin_verifier,
            profile_id,
        )?;
        self.write(|tx, s| {
            let mut row = PinRow::load(tx, s.keys(), profile_id)?
                .ok_or_else(|| StoreError::NotFound { entity: "profile", id: profile_id.into() })?;
            row.pin = pin;
            row.failed = 0;
            row.next_attempt_at = 0;
            row.locked = false;
            s.audit(tx, Some(by.profile_id()), Action::PinReset, "profile", profile_id)?;
            row.save(tx, s.keys())
        })
    }

    /// Every profile row whose security fields fail their MAC (for the audit check).
    pub(crate) fn tampered_profiles(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.reader()?;
        Ok(PinRow::check_all(&conn, self.keys())?
            .into_iter()
            .filter_map(|r| match r {
                Err(StoreError::Tampered { row, .. }) => Some(row),
                _ => None,
            })
            .collect())
    }
}
