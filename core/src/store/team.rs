//! Team configuration of this device: its enrollment (team, commune codes) and the public keys
//! that evidence and submissions are sealed to, set through the API and CLI until sync
//! delivers them.

use std::str::FromStr;

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::profiles::{Actor, Permission};
use super::{Action, Store, StoreError};
use crate::evidence::keys::RecipientKey;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub device_id: String,
    pub team: Option<String>,
    pub communes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// The organisation's archive key: can open everything the team seals.
    Archive,
    /// A supervisor of the team.
    Supervisor,
}

impl RecipientKind {
    fn as_str(self) -> &'static str {
        match self {
            RecipientKind::Archive => "archive",
            RecipientKind::Supervisor => "supervisor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// The key in its text form (with prefix and checksum).
    pub public_key: String,
    pub kind: String,
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
        let list = serde_json::to_string(communes)?;
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
            "SELECT team, communes FROM device WHERE id = ?1",
            params![self.device_id()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Enrollment {
            device_id: self.device_id().to_string(),
            team,
            communes: serde_json::from_str(&communes)?,
        })
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
                params![text, label, kind.as_str(), s.now_ms()],
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
            "SELECT public_key, kind, label_enc FROM recipients ORDER BY kind, added_at",
        )?;
        let rows: Vec<(String, String, Vec<u8>)> = stmt
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
