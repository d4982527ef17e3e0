//! Profiles on a shared phone, their PINs and roles, and the access rules every read and write
//! of the store checks.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::stored_enum::stored_enum;
use super::{Action, Store, StoreError};
use crate::crypto::PinHash;

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

impl Store {
    /// Add a profile. Needs a supervisor, except for the first supervisor of a new device.
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
        let hash = PinHash::new(pin, self.config().pin_iterations)?;
        let id = self.new_id();
        self.write(|tx, s| {
            let supervisors: i64 =
                tx.query_row("SELECT count(*) FROM profiles WHERE role = 'supervisor'", [], |r| r.get(0))?;
            let bootstrap = supervisors == 0 && role == Role::Supervisor && by.is_none();
            if !bootstrap {
                match by {
                    Some(a) => a.require(super::profiles::Permission::ManageProfiles)?,
                    None => return Err(StoreError::Forbidden { role: "nobody", action: "manage profiles" }),
                }
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
                    hash.hash.to_vec(),
                    s.now_ms()
                ],
            )?;
            s.audit(tx, by.map(Actor::profile_id), Action::Created, "profile", &id)?;
            Ok(())
        })?;
        Ok(Profile { id, name: name.to_string(), role, locked: false, failed_attempts: 0 })
    }

    /// Every profile on this device (names decrypted), for the app's profile picker.
    pub fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT id, name_enc, role, locked, failed_attempts FROM profiles ORDER BY created_at, id",
        )?;
        let rows: Vec<(String, Vec<u8>, Role, bool, u32)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, name, role, locked, failed_attempts)| {
                let name = self.keys().column.decrypt_str("profiles", "name", &id, &name)?;
                Ok(Profile { id, name, role, locked, failed_attempts })
            })
            .collect()
    }

    /// The profile called `name` (names are encrypted, so this decrypts the few on the device).
    pub fn profile_by_name(&self, name: &str) -> Result<Profile, StoreError> {
        self.profiles()?
            .into_iter()
            .find(|p| p.name == name.trim())
            .ok_or_else(|| StoreError::NotFound { entity: "profile", id: "(by name)".into() })
    }

    /// Unlock a profile with its PIN. Failures are counted persistently: after the free
    /// attempts each failure doubles the wait, and the profile locks after too many.
    pub fn unlock(&self, profile_id: &str, pin: &str) -> Result<Actor, StoreError> {
        let now = self.now_ms();
        // role, salt, iterations, hash, failed attempts, next attempt at, locked
        type PinRow = (Role, Vec<u8>, u32, Vec<u8>, u32, i64, bool);
        let row: Option<PinRow> = self
            .reader()?
            .query_row(
                "SELECT role, pin_salt, pin_iterations, pin_hash, failed_attempts, next_attempt_at, locked
                 FROM profiles WHERE id = ?1",
                params![profile_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .optional()?;
        let Some((role, salt, iterations, hash, failed, next_at, locked)) = row else {
            return Err(StoreError::NotFound { entity: "profile", id: profile_id.into() });
        };
        if locked {
            return Err(StoreError::LockedOut);
        }
        if now < next_at {
            return Err(StoreError::PinDelay { retry_at_ms: next_at });
        }
        let stored = PinHash {
            salt: salt.as_slice().try_into().map_err(|_| StoreError::BadData("PIN salt".into()))?,
            iterations,
            hash: hash.as_slice().try_into().map_err(|_| StoreError::BadData("PIN hash".into()))?,
        };
        // PBKDF2 runs outside the write lock: it takes most of a second by design.
        let ok = check_pin_shape(pin).is_ok() && stored.verify(pin);
        let policy = self.config().pin_policy;
        self.write(|tx, s| {
            // Re-read the counter: another attempt may have been recorded meanwhile.
            let failed_now: u32 =
                tx.query_row("SELECT failed_attempts FROM profiles WHERE id = ?1", params![profile_id], |r| r.get(0))?;
            if ok {
                tx.execute(
                    "UPDATE profiles SET failed_attempts = 0, next_attempt_at = 0 WHERE id = ?1",
                    params![profile_id],
                )?;
                s.audit(tx, Some(profile_id), Action::Unlocked, "profile", profile_id)?;
                return Ok(());
            }
            let failures = failed_now.max(failed) + 1;
            let lock = policy.locks_out(failures);
            tx.execute(
                "UPDATE profiles SET failed_attempts = ?2, next_attempt_at = ?3, locked = ?4 WHERE id = ?1",
                params![profile_id, failures, now + policy.delay_after(failures), lock],
            )?;
            s.audit(tx, None, Action::PinFailure, "profile", profile_id)?;
            if lock {
                s.audit(tx, None, Action::Lockout, "profile", profile_id)?;
            }
            Ok(())
        })?;
        if ok {
            return Ok(Actor { profile_id: profile_id.to_string(), role });
        }
        let failures = failed + 1;
        if policy.locks_out(failures) {
            tracing::warn!("profile {profile_id} locked out after {failures} wrong PINs");
            Err(StoreError::LockedOut)
        } else {
            Err(StoreError::WrongPin { remaining: policy.lockout_after.saturating_sub(failures) })
        }
    }

    /// A supervisor sets a new PIN for a profile and lifts its lockout.
    pub fn reset_pin(&self, by: &Actor, profile_id: &str, new_pin: &str) -> Result<(), StoreError> {
        by.require(Permission::ManageProfiles)?;
        check_pin_shape(new_pin)?;
        let hash = PinHash::new(new_pin, self.config().pin_iterations)?;
        self.write(|tx, s| {
            let n = tx.execute(
                "UPDATE profiles SET pin_salt = ?2, pin_iterations = ?3, pin_hash = ?4,
                        failed_attempts = 0, next_attempt_at = 0, locked = 0 WHERE id = ?1",
                params![profile_id, hash.salt.to_vec(), hash.iterations, hash.hash.to_vec()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound { entity: "profile", id: profile_id.into() });
            }
            s.audit(tx, Some(by.profile_id()), Action::PinReset, "profile", profile_id)
        })
    }
}
