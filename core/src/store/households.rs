//! Households: registered once by a volunteer, visited many times. Names, address, members and
//! the location are encrypted; the code (commune code + sequence) is not, since it is how a
//! household is referred to in conversation and on paper.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::json;
use super::profiles::{Actor, Permission, Role};
use super::{Action, Store, StoreError};
use crate::form::risk::Level;

/// A household member on the roster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_year: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
}

/// The household's registered location (where it is found again on the next visit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
}

/// What registering a household takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewHousehold {
    /// 5-digit GSO commune code (since July 2025).
    pub commune_code: String,
    pub village: String,
    #[serde(default)]
    pub address: Option<String>,
    pub head_name: String,
    #[serde(default)]
    pub members: Vec<Member>,
    #[serde(default)]
    pub location: Option<Location>,
    /// The volunteer the household is assigned to; default: whoever registers it.
    #[serde(default)]
    pub volunteer_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Household {
    pub id: String,
    pub code: String,
    pub commune_code: String,
    pub village: String,
    pub address: Option<String>,
    pub head_name: String,
    pub members: Vec<Member>,
    pub location: Option<Location>,
    pub volunteer_id: String,
    pub created_at_ms: i64,
    /// The household code a supervisor merged this one into (the same family registered
    /// twice), if any: from the merge decision, never a column.
    pub merged_into: Option<String>,
    /// Finalized assessments, oldest first: (record id, finalized at, level).
    pub risk_history: Vec<RiskPoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskPoint {
    pub record_id: String,
    pub finalized_at_ms: i64,
    pub level: Level,
}

/// The least a health worker needs to link an incident to a household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HouseholdRef {
    pub id: String,
    pub code: String,
}

fn check_commune(code: &str) -> Result<(), StoreError> {
    if code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "commune_code",
            message: "must be 5 digits (GSO code)".into(),
        })
    }
}

impl Store {
    pub fn add_household(&self, by: &Actor, h: &NewHousehold) -> Result<Household, StoreError> {
        by.require(Permission::CreateHousehold)?;
        check_commune(&h.commune_code)?;
        if h.head_name.trim().is_empty() {
            return Err(StoreError::Invalid {
                field: "head_name",
                message: "must not be empty".into(),
            });
        }
        if let Some(l) = h.location {
            let ok = l.lat.is_finite()
                && l.lon.is_finite()
                && l.lat.abs() <= 90.0
                && l.lon.abs() <= 180.0;
            if !ok || (l.lat == 0.0 && l.lon == 0.0) {
                return Err(StoreError::Invalid {
                    field: "location",
                    message: "not a valid position".into(),
                });
            }
        }
        let volunteer = match (&h.volunteer_id, by.role()) {
            (Some(v), Role::Supervisor) => v.clone(),
            (Some(v), _) if v != by.profile_id() => {
                return Err(StoreError::Forbidden {
                    role: by.role().as_str(),
                    action: "assign households to others",
                });
            }
            _ => by.profile_id().to_string(),
        };
        let id = self.new_id();
        let now = self.now_ms();
        let code = self.write(|tx, s| {
            let seq: i64 = tx
                .query_row(
                    "INSERT INTO commune_sequences (commune_code, next_seq) VALUES (?1, 2)
                     ON CONFLICT(commune_code) DO UPDATE SET next_seq = next_seq + 1
                     RETURNING next_seq - 1",
                    params![h.commune_code],
                    |r| r.get(0),
                )?;
            // Codes are per device: the device id's first block keeps two phones from colliding.
            let code = format!("{}-{}-{seq:04}", h.commune_code, &s.device_id()[..4]);
            let c = &s.keys().column;
            let enc_opt = |col: &'static str, v: Option<String>| -> Result<Option<Vec<u8>>, StoreError> {
                v.map(|v| c.encrypt_str("households", col, &id, &v)).transpose().map_err(StoreError::from)
            };
            tx.execute(
                "INSERT INTO households (id, code, commune_code, volunteer_id, village_enc, address_enc,
                    head_name_enc, members_enc, location_enc, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![
                    id,
                    code,
                    h.commune_code,
                    volunteer,
                    c.encrypt_str("households", "village", &id, h.village.trim())?,
                    enc_opt("address", h.address.clone())?,
                    c.encrypt_str("households", "head_name", &id, h.head_name.trim())?,
                    enc_opt("members", Some(json::to_string("members", &h.members)?))?,
                    enc_opt("location", h.location.map(|l| json::to_string("location", &l)).transpose()?)?,
                    now
                ],
            )?;
            s.audit(tx, Some(by.profile_id()), Action::Created, "household", &id)?;
            Ok(code)
        })?;
        Ok(Household {
            id,
            code,
            commune_code: h.commune_code.clone(),
            village: h.village.trim().to_string(),
            address: h.address.clone(),
            head_name: h.head_name.trim().to_string(),
            members: h.members.clone(),
            location: h.location,
            volunteer_id: volunteer,
            created_at_ms: now,
            merged_into: None,
            risk_history: Vec::new(),
        })
    }

    fn decode_household(&self, r: &Row<'_>) -> Result<Household, StoreError> {
        let id: String = r.get(0)?;
        let c = &self.keys().column;
        let opt = |col: &'static str, v: Option<Vec<u8>>| -> Result<Option<String>, StoreError> {
            v.map(|v| c.decrypt_str("households", col, &id, &v))
                .transpose()
                .map_err(StoreError::from)
        };
        let members: Option<Vec<Member>> = r
            .get::<_, Option<Vec<u8>>>(7)?
            .map(|v| self.decrypt_json("households", "members", &id, &v))
            .transpose()?;
        let location = r
            .get::<_, Option<Vec<u8>>>(8)?
            .map(|v| self.decrypt_json("households", "location", &id, &v))
            .transpose()?;
        Ok(Household {
            code: r.get(1)?,
            commune_code: r.get(2)?,
            volunteer_id: r.get(3)?,
            village: c.decrypt_str("households", "village", &id, &r.get::<_, Vec<u8>>(4)?)?,
            address: opt("address", r.get(5)?)?,
            head_name: c.decrypt_str("households", "head_name", &id, &r.get::<_, Vec<u8>>(6)?)?,
            members: members.unwrap_or_default(),
            location,
            created_at_ms: r.get(9)?,
            merged_into: None,
            risk_history: Vec::new(),
            id,
        })
    }

    const HOUSEHOLD_COLUMNS: &'static str =
        "id, code, commune_code, volunteer_id, village_enc, address_enc,
        head_name_enc, members_enc, location_enc, created_at";

    /// One household, with its risk history. A volunteer sees only the households assigned to
    /// them; a supervisor sees the team's.
    pub fn household(&self, by: &Actor, id: &str) -> Result<Household, StoreError> {
        // Read before taking the reader below: it is one connection behind one lock.
        let merges = self.household_merges()?;
        let conn = self.reader()?;
        let sql = format!("SELECT {} FROM households WHERE id = ?1", Self::HOUSEHOLD_COLUMNS);
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(params![id])?;
        let not_found = || StoreError::NotFound { entity: "household", id: id.into() };
        let row = rows.next()?.ok_or_else(not_found)?;
        let mut h = self.decode_household(row)?;
        h.merged_into = merges.get(&h.code).cloned();
        if !(by.can(Permission::ReadAllHouseholds) || h.volunteer_id == by.profile_id()) {
            // Not "forbidden": a volunteer must not learn that the id exists.
            return Err(not_found());
        }
        let mut stmt = conn.prepare(
            "SELECT id, finalized_at, risk_level FROM records_v
             WHERE household_id = ?1 AND finalized_at IS NOT NULL AND risk_level IS NOT NULL
             ORDER BY finalized_at, id",
        )?;
        h.risk_history = stmt
            .query_map(params![id], |r| {
                Ok(RiskPoint { record_id: r.get(0)?, finalized_at_ms: r.get(1)?, level: r.get(2)? })
            })?
            .collect::<Result<_, _>>()?;
        Ok(h)
    }

    /// The households the actor may see, by code.
    pub fn households(&self, by: &Actor) -> Result<Vec<Household>, StoreError> {
        by.require(Permission::LookUpHousehold)?;
        if by.role() == Role::HealthWorker {
            return Err(StoreError::Forbidden {
                role: Role::HealthWorker.as_str(),
                action: "list households",
            });
        }
        let merges = self.household_merges()?;
        let conn = self.reader()?;
        let all = by.can(Permission::ReadAllHouseholds);
        let sql = format!(
            "SELECT {} FROM households WHERE ?1 OR volunteer_id = ?2 ORDER BY code",
            Self::HOUSEHOLD_COLUMNS
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(params![all, by.profile_id()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut h = self.decode_household(r)?;
            h.merged_into = merges.get(&h.code).cloned();
            out.push(h);
        }
        Ok(out)
    }

    /// Find a household by its code (to link an incident to it), revealing nothing else.
    pub fn household_by_code(&self, by: &Actor, code: &str) -> Result<HouseholdRef, StoreError> {
        by.require(Permission::LookUpHousehold)?;
        let row: Option<(String, String)> = self
            .reader()?
            .query_row(
                "SELECT id, volunteer_id FROM households WHERE code = ?1",
                params![code],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((id, vol)) if by.role() != Role::Volunteer || vol == by.profile_id() => {
                Ok(HouseholdRef { id, code: code.to_string() })
            }
            _ => Err(StoreError::NotFound { entity: "household", id: code.into() }),
        }
    }
}
