//! Photo evidence attached to a draft: the photo goes through the evidence pipeline (orientation,
//! downscale, metadata stripped) in memory and is sealed to the team's recipients and signed by
//! the device; the envelope is stored in the database, in the same transaction as the draft's
//! answer that names it. There are no separate files, so a crash can leave neither an orphan
//! file nor a row without its envelope; plaintext never touches the disk.

use std::path::Path;

use ring::digest;
use rusqlite::params;
use serde::Serialize;
use serde_json::Value as Json;

use super::profiles::Actor;
use super::records::{Draft, hex};
use super::{Store, StoreError};
use crate::evidence::envelope::{Randomness, seal_bytes};
use crate::evidence::meta::EvidenceInfo;
use crate::evidence::photo::{PhotoOptions, process_file};
use crate::form::model::FieldKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub id: String,
    pub record_id: String,
    pub field: String,
    pub envelope_len: i64,
    pub plain_len: i64,
    pub plain_sha256: String,
    pub original_sha256: String,
    pub width: u32,
    pub height: u32,
    /// Whether the original carried a GPS position (kept only inside the envelope).
    pub had_gps: bool,
}

impl Store {
    /// Process, seal and attach a photo to the image question at `field_path` of a draft.
    /// Refused with `NoRecipients` before any work when the team has no recipient keys.
    pub fn attach_photo(
        &self,
        by: &Actor,
        draft: &mut Draft,
        field_path: &str,
        photo: &Path,
    ) -> Result<Attachment, StoreError> {
        if draft.owner_id() != by.profile_id() {
            return Err(StoreError::NotFound { entity: "record", id: draft.record_id.clone() });
        }
        let (field, _) = draft.session().resolve(field_path)?;
        let info = draft.session().form().field(field);
        if info.kind() != FieldKind::Image {
            return Err(StoreError::Invalid {
                field: "field",
                message: format!("{field_path} is not an image question"),
            });
        }
        let recipients = self.recipient_keys()?;
        let opts = PhotoOptions {
            max_pixels: info.def.max_pixels.unwrap_or(PhotoOptions::default().max_pixels),
            ..PhotoOptions::default()
        };
        let processed = process_file(photo, &opts)?;
        let id = self.new_id();
        let (envelope, _) = seal_bytes(
            &processed.jpeg,
            EvidenceInfo::for_photo(id.clone(), &processed),
            &recipients,
            self.device_key(),
            self.now_ms(),
            Randomness::System,
        )?;
        let thumbnail =
            self.keys().column.encrypt("attachments", "thumbnail", &id, &processed.thumbnail)?;
        let photo_location = self.photo_location_enc(&id, &processed.exif)?;

        let attachment = Attachment {
            id: id.clone(),
            record_id: draft.record_id.clone(),
            field: field_path.to_string(),
            envelope_len: envelope.len() as i64,
            plain_len: processed.jpeg.len() as i64,
            plain_sha256: hex(&processed.sha256),
            original_sha256: hex(&processed.original.sha256),
            width: processed.width,
            height: processed.height,
            had_gps: processed.exif.gps.is_some(),
        };
        let now = self.now_ms();
        // The answer and the attachment row commit together.
        let answer = Json::String(id.clone());
        self.save_answer_with(draft, field_path, |s| s.set_answer(field_path, &answer), |tx| {
            tx.execute(
                "INSERT INTO attachments (id, record_id, field, envelope, envelope_len, plain_len, plain_sha256,
                    orig_sha256, created_at, thumbnail_enc, photo_location_enc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    attachment.record_id,
                    field_path,
                    envelope,
                    attachment.envelope_len,
                    attachment.plain_len,
                    processed.sha256.to_vec(),
                    processed.original.sha256.to_vec(),
                    now,
                    thumbnail,
                    photo_location
                ],
            )?;
            Ok(())
        })?;
        tracing::info!(
            "attachment {id}: {}x{} photo sealed, {} bytes, to {} recipient(s)",
            attachment.width,
            attachment.height,
            attachment.envelope_len,
            recipients.len()
        );
        Ok(attachment)
    }

    /// The attachments of a record the actor may see.
    pub fn attachments(&self, by: &Actor, record_id: &str) -> Result<Vec<Attachment>, StoreError> {
        self.record(by, record_id)?; // access check
        let conn = self.reader()?;
        let mut stmt = conn.prepare(
            "SELECT id, field, envelope_len, plain_len, plain_sha256, orig_sha256 FROM attachments
             WHERE record_id = ?1 ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map(params![record_id], |r| {
            Ok(Attachment {
                id: r.get(0)?,
                record_id: record_id.to_string(),
                field: r.get(1)?,
                envelope_len: r.get(2)?,
                plain_len: r.get(3)?,
                plain_sha256: hex(&r.get::<_, Vec<u8>>(4)?),
                original_sha256: hex(&r.get::<_, Vec<u8>>(5)?),
                width: 0,
                height: 0,
                had_gps: false,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The sealed envelope of an attachment (for upload, or for a supervisor's key to open).
    pub fn envelope(&self, by: &Actor, attachment_id: &str) -> Result<Vec<u8>, StoreError> {
        let (record, env): (String, Option<Vec<u8>>) = self.reader()?.query_row(
            "SELECT record_id, envelope FROM attachments WHERE id = ?1",
            params![attachment_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        self.record(by, &record)?;
        env.ok_or_else(|| StoreError::InvalidState {
            entity: "attachment",
            id: attachment_id.into(),
            state: "purged".into(),
            action: "read",
        })
    }

    /// The decrypted thumbnail (JPEG) of an attachment, for the app to show.
    pub fn thumbnail(&self, by: &Actor, attachment_id: &str) -> Result<Vec<u8>, StoreError> {
        let (record, thumb): (String, Option<Vec<u8>>) = self.reader()?.query_row(
            "SELECT record_id, thumbnail_enc FROM attachments WHERE id = ?1",
            params![attachment_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        self.record(by, &record)?;
        let thumb = thumb.ok_or_else(|| StoreError::NotFound {
            entity: "thumbnail",
            id: attachment_id.into(),
        })?;
        Ok(self.keys().column.decrypt("attachments", "thumbnail", attachment_id, &thumb)?)
    }
}

/// SHA-256 of an envelope: what the outbox and the server acknowledge.
pub(crate) fn envelope_sha256(envelope: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, envelope).as_ref().to_vec()
}
