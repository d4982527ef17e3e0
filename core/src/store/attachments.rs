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
use super::records::Draft;
use super::{Store, StoreError};
use crate::evidence::envelope::{Randomness, seal_bytes};
use crate::evidence::meta::EvidenceInfo;
use crate::evidence::photo::{PhotoOptions, process_file};
use crate::form::model::FieldKind;
use crate::hex;

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

/// Where a photo is going: a draft's image question and the size limit it sets. Taken under
/// the draft's lock by [`Store::photo_target`], so that the slow part, [`Store::prepare_photo`],
/// needs neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoTarget {
    record_id: String,
    field_path: String,
    max_pixels: u32,
}

/// The steps of preparing a photo, reported as they finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoStep {
    /// Decoded, turned upright, downscaled, re-encoded without metadata.
    Processed,
    /// Sealed to the team's recipients and signed by the device.
    Sealed,
}

/// A photo processed and sealed for one image question, not yet attached to its draft (which
/// `attachment.record_id` and `attachment.field` name).
#[derive(Debug)]
pub struct PreparedPhoto {
    attachment: Attachment,
    envelope: Vec<u8>,
    sha256: [u8; 32],
    original_sha256: [u8; 32],
    thumbnail_enc: Vec<u8>,
    photo_location_enc: Option<Vec<u8>>,
    recipients: usize,
}

impl Store {
    /// Process, seal and attach a photo to the image question at `field_path` of a draft.
    /// Refused with `NoRecipients` before any work when the team has no recipient keys.
    /// The three steps below in one call; an app that must keep answering while a photo is
    /// processed calls them itself, holding the draft only for the first and the last.
    pub fn attach_photo(
        &self,
        by: &Actor,
        draft: &mut Draft,
        field_path: &str,
        photo: &Path,
    ) -> Result<Attachment, StoreError> {
        let target = self.photo_target(by, draft, field_path)?;
        let prepared = self.prepare_photo(&target, photo, &mut |_| {})?;
        self.attach_prepared(by, draft, prepared)
    }

    /// Check that the actor owns the draft and that `field_path` is one of its image questions.
    pub fn photo_target(
        &self,
        by: &Actor,
        draft: &Draft,
        field_path: &str,
    ) -> Result<PhotoTarget, StoreError> {
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
        Ok(PhotoTarget {
            record_id: draft.record_id.clone(),
            field_path: field_path.to_string(),
            max_pixels: info.def.max_pixels.unwrap_or(PhotoOptions::default().max_pixels),
        })
    }

    /// The slow part: process the photo file and seal it, with no draft and no lock held,
    /// reporting each [`PhotoStep`] as it finishes. Refused with `NoRecipients` before any work.
    pub fn prepare_photo(
        &self,
        target: &PhotoTarget,
        photo: &Path,
        progress: &mut dyn FnMut(PhotoStep),
    ) -> Result<PreparedPhoto, StoreError> {
        let recipients = self.recipient_keys()?;
        let opts = PhotoOptions { max_pixels: target.max_pixels, ..PhotoOptions::default() };
        let processed = process_file(photo, &opts)?;
        progress(PhotoStep::Processed);
        let id = self.new_id();
        let (envelope, _) = seal_bytes(
            &processed.jpeg,
            EvidenceInfo::for_photo(id.clone(), &processed),
            &recipients,
            self.device_key(),
            self.now_ms(),
            Randomness::System,
        )?;
        let thumbnail_enc =
            self.keys().column.encrypt("attachments", "thumbnail", &id, &processed.thumbnail)?;
        let photo_location_enc = self.photo_location_enc(&id, &processed.exif)?;
        progress(PhotoStep::Sealed);
        let attachment = Attachment {
            id,
            record_id: target.record_id.clone(),
            field: target.field_path.clone(),
            envelope_len: envelope.len() as i64,
            plain_len: processed.jpeg.len() as i64,
            plain_sha256: hex::encode(&processed.sha256),
            original_sha256: hex::encode(&processed.original.sha256),
            width: processed.width,
            height: processed.height,
            had_gps: processed.exif.gps.is_some(),
        };
        Ok(PreparedPhoto {
            attachment,
            envelope,
            sha256: processed.sha256,
            original_sha256: processed.original.sha256,
            thumbnail_enc,
            photo_location_enc,
            recipients: recipients.len(),
        })
    }

    /// Attach a prepared photo to its draft: the answer that names it and the attachment row
    /// commit together. The draft is checked again (it must be the one the photo was prepared
    /// for, still the actor's, the question still an image one).
    pub fn attach_prepared(
        &self,
        by: &Actor,
        draft: &mut Draft,
        prepared: PreparedPhoto,
    ) -> Result<Attachment, StoreError> {
        let attachment = prepared.attachment;
        if draft.record_id != attachment.record_id {
            return Err(StoreError::Invalid {
                field: "draft",
                message: format!(
                    "the photo was prepared for record {}, not {}",
                    attachment.record_id, draft.record_id
                ),
            });
        }
        self.photo_target(by, draft, &attachment.field)?;
        let id = &attachment.id;
        let field_path = attachment.field.as_str();
        let now = self.now_ms();
        let answer = Json::String(id.clone());
        self.change_draft(draft, |d| Ok(d.session_mut().set_answer(field_path, &answer)?), |tx| {
            tx.execute(
                "INSERT INTO attachments (id, record_id, field, envelope, envelope_len, plain_len, plain_sha256,
                    orig_sha256, created_at, thumbnail_enc, photo_location_enc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    attachment.record_id,
                    field_path,
                    prepared.envelope,
                    attachment.envelope_len,
                    attachment.plain_len,
                    prepared.sha256.to_vec(),
                    prepared.original_sha256.to_vec(),
                    now,
                    prepared.thumbnail_enc,
                    prepared.photo_location_enc
                ],
            )?;
            Ok(())
        })?;
        tracing::info!(
            "attachment {id}: {}x{} photo sealed, {} bytes, to {} recipient(s)",
            attachment.width,
            attachment.height,
            attachment.envelope_len,
            prepared.recipients
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
                plain_sha256: hex::encode(&r.get::<_, Vec<u8>>(4)?),
                original_sha256: hex::encode(&r.get::<_, Vec<u8>>(5)?),
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
