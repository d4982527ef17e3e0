//! The device's inbox: a recipient identity (X25519) made on first use and kept in the store,
//! its secret encrypted under the column key. Decisions about this device's records are sealed
//! to it; a supervisor's device also enrolls it as its team recipient key, so that it can open
//! the team's submissions it pulls. The secret never leaves the store: no export, no FFI.

use std::str::FromStr;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::evidence::keys::{Identity, RecipientKey};

/// The one row's id.
const ROW: &str = "inbox";

impl Store {
    /// The inbox identity, made (and stored) on first use.
    pub(crate) fn inbox_identity(&self) -> Result<Identity, StoreError> {
        if let Some(identity) = self.load_inbox()? {
            return Ok(identity);
        }
        let identity = Identity::generate(self.entropy().as_ref());
        let text = identity.to_text();
        let public = identity.recipient().to_string();
        let now = self.now_ms();
        self.write(|tx, s| {
            let secret = s.keys().column.encrypt_str("inbox", "secret", ROW, &text)?;
            // Another thread may have made one meanwhile: the first stays.
            tx.execute(
                "INSERT OR IGNORE INTO inbox (id, public_key, secret_enc, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![ROW, public, secret, now],
            )?;
            Ok(())
        })?;
        self.load_inbox()?.ok_or(StoreError::Corrupt)
    }

    /// The inbox's public key (`shrecip1…`), made on first use.
    pub fn inbox_key(&self) -> Result<RecipientKey, StoreError> {
        Ok(self.inbox_identity()?.recipient())
    }

    fn load_inbox(&self) -> Result<Option<Identity>, StoreError> {
        let row: Option<(String, Vec<u8>)> = self
            .reader()?
            .query_row("SELECT public_key, secret_enc FROM inbox WHERE id = ?1", [ROW], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((public, secret)) = row else { return Ok(None) };
        let text = zeroize::Zeroizing::new(
            self.keys().column.decrypt_str("inbox", "secret", ROW, &secret)?,
        );
        let identity = Identity::from_str(&text)
            .map_err(|e| StoreError::BadData(format!("inbox.secret: {e}")))?;
        // The public column is only a convenience: it must be the secret's.
        if identity.recipient().to_string() != public {
            return Err(StoreError::Tampered { table: "inbox", row: ROW.into() });
        }
        Ok(Some(identity))
    }
}
