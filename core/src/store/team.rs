//! Team configuration of this device: its enrollment (team, commune codes), the areas its
//! volunteers are assigned to, and the public keys that evidence and submissions are sealed to,
//! set through the API and CLI until sync delivers them.
//!
//! The assigned areas are configuration, not a per-process setting: whether a visit is checked
//! against them must not depend on the app remembering a call after each start. They are kept
//! as the GeoJSON that was validated, encrypted in the device row, and parsed into an
//! [`AreaSet`] (with its R-trees) once per change, not once per finalize.

use std::str::FromStr;
use std::sync::Arc;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::json;
use super::profiles::{Actor, Permission};
use super::stored_enum::stored_enum;
use super::{Action, Store, StoreError};
use crate::evidence::keys::RecipientKey;
use crate::location::{AreaSet, ImportOptions, Validation};

/// The parsed assigned areas as of one revision of the device row (`areas_rev`), so a store
/// rebuilds them only after they changed.
#[derive(Debug, Clone)]
pub(crate) struct CachedAreas {
    rev: i64,
    set: Option<Arc<AreaSet>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub device_id: String,
    pub team: Option<String>,
    pub communes: Vec<String>,
}

stored_enum! {
    /// Whose key a recipient is.
    pub enum RecipientKind("recipient kind" in "recipients"."kind") {
        /// The organisation's archive key: can open everything the team seals.
        Archive = "archive",
        /// A supervisor of the team.
        Supervisor = "supervisor",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// The key in its text form (with prefix and checksum).
    pub public_key: String,
    pub kind: RecipientKind,
    pub label: String,
}

impl Store {
    /// Set the device's team and the communes it works in (5-digit codes).
    pub fn enroll(
        &self,
        by: &Actor,
        team: &str,
        communes: &[String],
    ) -> Result<Enrollment, StoreError> {
        by.require(Permission::ConfigureTeam)?;
        for c in communes {
            if !(c.len() == 5 && c.bytes().all(|b| b.is_ascii_digit())) {
                return Err(StoreError::Invalid {
                    field: "communes",
                    message: "each must be a 5-digit code".into(),
                });
            }
        }
        let list = json::to_string("communes", communes)?;
        self.write(|tx, s| {
            tx.execute(
                "UPDATE device SET team = ?2, communes = ?3 WHERE id = ?1",
                params![s.device_id(), team, list],
            )?;
            s.audit(tx, Some(by.profile_id()), Action::Configured, "device", s.device_id())
        })?;
        self.enrollment()
    }

    pub fn enrollment(&self) -> Result<Enrollment, StoreError> {
        let (team, communes): (Option<String>, String) = self.reader()?.query_row(
            "SELECT team, communes FROM device_v WHERE id = ?1",
            params![self.device_id()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Enrollment {
            device_id: self.device_id().to_string(),
            team,
            communes: json::from_str("communes", &communes)?,
        })
    }

    /// Set the areas the device's volunteers are assigned to (communes, villages), as a GeoJSON
    /// FeatureCollection with `code` and `name` properties, or clear them with `None`. Fully
    /// validated first: invalid areas are refused (`StoreError::Areas`, naming each bad feature)
    /// and the previous areas stay. The areas persist with the enrollment: every later finalize,
    /// after any restart, flags a household visit outside the household's commune.
    pub fn set_assigned_areas(&self, by: &Actor, geojson: Option<&str>) -> Result<(), StoreError> {
        by.require(Permission::ConfigureTeam)?;
        let set = geojson
            .map(|text| AreaSet::from_geojson(text, &ImportOptions::default()).map(Arc::new))
            .transpose()?;
        let rev = self.write(|tx, s| {
            let enc = geojson
                .map(|text| s.keys().column.encrypt_str("device", "areas", s.device_id(), text))
                .transpose()?;
            let rev: i64 = tx.query_row(
                "UPDATE device SET areas_enc = ?2, areas_rev = areas_rev + 1 WHERE id = ?1
                 RETURNING areas_rev",
                params![s.device_id(), enc],
                |r| r.get(0),
            )?;
            s.audit(tx, Some(by.profile_id()), Action::Configured, "areas", s.device_id())?;
            Ok(rev)
        })?;
        // Only once committed: a rolled-back change must not reach the next finalize.
        tracing::info!(
            "assigned areas {} (revision {rev})",
            set.as_ref().map_or("cleared".to_string(), |a| format!("set: {} area(s)", a.len()))
        );
        *self.areas.lock().unwrap_or_else(|p| p.into_inner()) = Some(CachedAreas { rev, set });
        Ok(())
    }

    /// The device's assigned areas, or `None` when none are set.
    pub fn assigned_areas(&self) -> Result<Option<Arc<AreaSet>>, StoreError> {
        let conn = self.reader()?;
        self.areas_in(&conn)
    }

    /// The assigned areas as `conn` sees them (finalize passes its own transaction): the parsed
    /// set kept in memory while the device row's `areas_rev` is the one it was parsed at,
    /// otherwise decrypted and parsed again (structural checks only: the text passed the full
    /// validation when it was set, and the column key proves it was not changed since).
    pub(crate) fn areas_in(&self, conn: &Connection) -> Result<Option<Arc<AreaSet>>, StoreError> {
        let rev: i64 = conn
            .prepare_cached("SELECT areas_rev FROM device_v WHERE id = ?1")?
            .query_row(params![self.device_id()], |r| r.get(0))?;
        let cached = self.areas.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(c) = cached.filter(|c| c.rev == rev) {
            return Ok(c.set);
        }
        // The revision again, with the text in the same statement: a change committed since
        // the first read must not be cached under the older revision.
        let (rev, enc): (i64, Option<Vec<u8>>) = conn.query_row(
            "SELECT areas_rev, areas_enc FROM device_v WHERE id = ?1",
            params![self.device_id()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let set = match enc {
            Some(enc) => {
                let text =
                    self.keys().column.decrypt_str("device", "areas", self.device_id(), &enc)?;
                let opts =
                    ImportOptions { validation: Validation::Structural, ..Default::default() };
                Some(Arc::new(AreaSet::from_geojson(&text, &opts)?))
            }
            None => None,
        };
        *self.areas.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(CachedAreas { rev, set: set.clone() });
        Ok(set)
    }

    /// Add (or relabel) a recipient key. The text form's checksum catches a mistyped key.
    pub fn add_recipient(
        &self,
        by: &Actor,
        key_text: &str,
        kind: RecipientKind,
        label: &str,
    ) -> Result<(), StoreError> {
        by.require(Permission::ConfigureTeam)?;
        let key = RecipientKey::from_str(key_text.trim())
            .map_err(|e| StoreError::Invalid { field: "public_key", message: e.to_string() })?;
        let text = key.to_string();
        self.write(|tx, s| {
            let label = s.keys().column.encrypt_str("recipients", "label", &text, label)?;
            tx.execute(
                "INSERT INTO recipients (public_key, label_enc, kind, added_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(public_key) DO UPDATE SET label_enc = excluded.label_enc, kind = excluded.kind",
                params![text, label, kind, s.now_ms()],
            )?;
            s.audit(tx, Some(by.profile_id()), Action::Configured, "recipient", &text)
        })
    }

    pub fn remove_recipient(&self, by: &Actor, key_text: &str) -> Result<(), StoreError> {
        by.require(Permission::ConfigureTeam)?;
        self.write(|tx, s| {
            let n = tx.execute(
                "DELETE FROM recipients WHERE public_key = ?1",
                params![key_text.trim()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound { entity: "recipient", id: key_text.into() });
            }
            s.audit(tx, Some(by.profile_id()), Action::Configured, "recipient", key_text.trim())
        })
    }

    pub fn recipients(&self) -> Result<Vec<Recipient>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT public_key, kind, label_enc FROM recipients_v ORDER BY kind, added_at",
        )?;
        let rows: Vec<(String, RecipientKind, Vec<u8>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(public_key, kind, label)| {
                let label =
                    self.keys().column.decrypt_str("recipients", "label", &public_key, &label)?;
                Ok(Recipient { public_key, kind, label })
            })
            .collect()
    }

    /// The keys to seal to; refused when none are configured (nothing would ever open it).
    pub fn recipient_keys(&self) -> Result<Vec<RecipientKey>, StoreError> {
        let keys: Vec<RecipientKey> = self
            .recipients()?
            .iter()
            .filter_map(|r| RecipientKey::from_str(&r.public_key).ok())
            .collect();
        if keys.is_empty() { Err(StoreError::NoRecipients) } else { Ok(keys) }
    }
}
