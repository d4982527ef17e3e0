//! Where a record was made, and how far to trust it. A geopoint answered with a platform fix keeps
//! the whole accepted fix (provider, mock flag, time, accuracy, whether the volunteer confirmed
//! it over the warning), encrypted beside the draft; a photo keeps the position and time its
//! EXIF gave. At finalize the store judges the record's location with `location::quality_flags`
//! and seals the flags into the signed submission, so a supervisor sees them in the review queue
//! and the server sees what the phone saw. Flags are warnings: computing them never blocks a
//! finalize. A check that cannot run (no assigned areas, no registered location, no previous
//! fix, a photo without EXIF position...) is sealed too, with its reason, as a skipped check.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::{Value as Json, json};

use super::households::Location;
use super::profiles::Actor;
use super::records::Draft;
use super::{Store, StoreError};
use crate::evidence::exif::ExifFacts;
use crate::form::model::{Field, FieldKind};
use crate::location::{
    AcceptedFix, AccuracyThresholds, Fix, FixLimits, FlagCode, LatLon, PhotoLocation,
    PreviousVisit, QualityConfig, QualityFlag, RegisteredLocation, SkipReason, SkippedCheck,
    VisitContext, quality_flags, skipped_photo_checks, validate_fix,
};

// Defined here rather than in `location::fix`: the store is the layer that knows both the form
// model and locations (`location` does not depend on `form`).
impl AccuracyThresholds {
    /// The thresholds of a geopoint field of the form model.
    pub fn from_field(field: &Field) -> Self {
        AccuracyThresholds { capture_m: field.capture_accuracy, warning_m: field.warning_accuracy }
    }
}

/// The fixes a draft's geopoint questions were answered with, by answer path.
pub type RecordFixes = BTreeMap<String, AcceptedFix>;

/// What finalize seals about the record's location: the fix the flags were computed from, the
/// flags, and the checks that could not be run with why (`skipped_checks`, empty when every
/// check ran), so that the signed submission tells "checked, nothing to flag" from "not
/// checked".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LocationReview {
    pub path: String,
    pub fix: AcceptedFix,
    pub flags: Vec<QualityFlag>,
    pub skipped_checks: Vec<SkippedCheck>,
}

impl Store {
    /// Answer the geopoint question at `path` with a fix from the platform: validate it on the
    /// store's clock, apply the question's capture and warning accuracy (a fix worse than the
    /// warning needs `confirmed`), set the answer and keep the accepted fix for the quality
    /// flags, autosaved in one transaction. On any error the draft is as it was.
    pub fn answer_fix(
        &self,
        by: &Actor,
        draft: &mut Draft,
        path: &str,
        fix: &Fix,
        confirmed: bool,
    ) -> Result<AcceptedFix, StoreError> {
        if draft.owner_id() != by.profile_id() {
            return Err(StoreError::NotFound { entity: "record", id: draft.record_id.clone() });
        }
        let (field, _) = draft.session().resolve(path)?;
        let def = &draft.session().form().field(field).def;
        if draft.session().form().field(field).kind() != FieldKind::Geopoint {
            return Err(StoreError::Invalid {
                field: "path",
                message: format!("{path} is not a geopoint question"),
            });
        }
        let thresholds = AccuracyThresholds::from_field(def);
        let valid = validate_fix(fix, &FixLimits::default(), self.clock().as_ref())?;
        let accepted = thresholds.accept(valid, confirmed)?;
        let f = &accepted.fix.fix;
        let point = json!({
            "lat": f.lat, "lon": f.lon, "alt": f.altitude_m.unwrap_or(0.0), "accuracy": f.accuracy_m,
        });

        let mut fixes = draft.fixes.clone();
        fixes.insert(path.to_string(), accepted.clone());
        let enc = self.encrypt_fixes(&draft.record_id, &fixes)?;
        let id = draft.record_id.clone();
        let over_warning = accepted.over_warning;
        self.change_draft(
            draft,
            |d| {
                // The answer first: if it is refused, the draft must be as it was.
                let s = d.session_mut();
                let out = if over_warning {
                    s.set_geopoint_confirmed(path, &point)?
                } else {
                    s.set_answer(path, &point)?
                };
                d.fixes = fixes;
                Ok(out)
            },
            |tx| {
                tx.prepare_cached("UPDATE records SET fixes_enc = ?2 WHERE id = ?1")?
                    .execute(params![id, enc])?;
                Ok(())
            },
        )?;
        Ok(accepted)
    }

    fn encrypt_fixes(&self, record_id: &str, fixes: &RecordFixes) -> Result<Vec<u8>, StoreError> {
        self.encrypt_json("records", "fixes", record_id, fixes)
    }

    /// The fixes kept for a record (empty when none was given).
    pub(crate) fn load_fixes(
        &self,
        record_id: &str,
        enc: Option<&[u8]>,
    ) -> Result<RecordFixes, StoreError> {
        enc.map_or(Ok(RecordFixes::new()), |e| self.decrypt_json("records", "fixes", record_id, e))
    }

    /// Copy a record's fixes to its new revision (re-encrypted: the row id is in the AAD).
    pub(crate) fn copy_fixes(
        &self,
        tx: &Transaction<'_>,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        let enc: Option<Vec<u8>> = tx
            .query_row("SELECT fixes_enc FROM records_v WHERE id = ?1", params![from], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(enc) = enc {
            let fixes = self.load_fixes(from, Some(&enc))?;
            tx.execute(
                "UPDATE records SET fixes_enc = ?2 WHERE id = ?1",
                params![to, self.encrypt_fixes(to, &fixes)?],
            )?;
        }
        Ok(())
    }

    /// The encrypted position and time a photo's EXIF gave, for the photo flags; `None` when
    /// it gave neither.
    pub(crate) fn photo_location_enc(
        &self,
        attachment_id: &str,
        exif: &ExifFacts,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let location = exif.gps.as_ref().map(|g| LatLon::new(g.latitude, g.longitude));
        if location.is_none() && exif.captured_at_ms.is_none() {
            return Ok(None);
        }
        let photo =
            PhotoLocation { id: attachment_id.into(), location, time_ms: exif.captured_at_ms };
        Ok(Some(self.encrypt_json("attachments", "photo_location", attachment_id, &photo)?))
    }

    /// Judge the location of a draft being finalized, inside finalize's transaction (the rows
    /// it reads are the writer's, and no second read transaction is opened). `None` when no
    /// geopoint of the form still holds the fix it was answered with (typed by hand,
    /// prefilled, or cleared).
    pub(crate) fn review_location(
        &self,
        tx: &Transaction<'_>,
        draft: &Draft,
        household_id: Option<&str>,
        started_ms: i64,
        now_ms: i64,
    ) -> Result<Option<LocationReview>, StoreError> {
        let Some((path, fix)) = current_fix(draft) else {
            return Ok(None);
        };
        // Every check that cannot run is listed with its reason, in the order of the flags.
        let mut skipped = Vec::new();
        let household = match household_id {
            Some(h) => self.household_place(tx, h)?,
            None => None,
        };
        let registered =
            household.as_ref().and_then(|(_, l)| l.as_ref()).map(|l| RegisteredLocation {
                location: LatLon::new(l.lat, l.lon),
                accuracy_m: Some(l.accuracy_m),
            });
        // What the flags compare with is read back from the database; a row that no longer
        // decrypts costs that comparison (listed as skipped), not the volunteer's submission.
        let areas = match &household {
            Some(_) => self.areas_in(tx).map_err(|e| {
                tracing::error!(
                    "record {}: assigned areas unreadable, area not judged: {e}",
                    draft.record_id
                );
            }),
            None => Ok(None),
        };
        // The household's commune is the area the visit must be in.
        let assigned = match (&areas, &household) {
            (_, None) => Err(SkipReason::NoHousehold),
            (Err(()), _) => Err(SkipReason::AreasUnreadable),
            (Ok(None), _) => Err(SkipReason::NoAssignedAreas),
            (Ok(Some(set)), Some((code, _))) if set.find(code).is_some() => {
                Ok((set.as_ref(), code.as_str()))
            }
            (Ok(Some(_)), Some(_)) => Err(SkipReason::CommuneNotInAreas),
        };
        if let Err(reason) = assigned {
            skipped.push(SkippedCheck::new(FlagCode::OutsideArea, reason));
        }
        if registered.is_none() {
            let reason = if household.is_some() {
                SkipReason::HouseholdHasNoLocation
            } else {
                SkipReason::NoHousehold
            };
            skipped.push(SkippedCheck::new(FlagCode::FarFromHousehold, reason));
        }
        let previous = match self.previous_fix(tx, draft.owner_id(), &draft.record_id) {
            Ok(Some(p)) => Some(p),
            Ok(None) => {
                skipped
                    .push(SkippedCheck::new(FlagCode::ImpossibleTravel, SkipReason::NoPreviousFix));
                None
            }
            Err(e) => {
                tracing::error!(
                    "record {}: previous fix unreadable, travel not judged: {e}",
                    draft.record_id
                );
                let reason = SkipReason::PreviousFixUnreadable;
                skipped.push(SkippedCheck::new(FlagCode::ImpossibleTravel, reason));
                None
            }
        };
        let photos = match self.photo_locations(tx, draft) {
            Ok(photos) => {
                skipped.extend(skipped_photo_checks(&photos));
                photos
            }
            Err(e) => {
                tracing::error!(
                    "record {}: photo positions unreadable, not judged: {e}",
                    draft.record_id
                );
                let reason = SkipReason::PhotoLocationsUnreadable;
                skipped.push(SkippedCheck::new(FlagCode::PhotoFarFromFix, reason));
                skipped.push(SkippedCheck::new(FlagCode::PhotoTimeFar, reason));
                Vec::new()
            }
        };
        let ctx = VisitContext {
            fix: &fix,
            visit_start_ms: started_ms,
            visit_end_ms: now_ms,
            assigned: assigned.ok(),
            household: registered,
            previous_visit: previous,
            photos: &photos,
        };
        // `assigned` names an area of the set, so this cannot fail; were it to, the record is
        // still finalized, without flags rather than without a submission.
        let flags = quality_flags(&ctx, &QualityConfig::default()).unwrap_or_default();
        Ok(Some(LocationReview { path, fix, flags, skipped_checks: skipped }))
    }

    /// A household's commune code and registered location (decrypted), if it exists.
    fn household_place(
        &self,
        tx: &Transaction<'_>,
        id: &str,
    ) -> Result<Option<(String, Option<Location>)>, StoreError> {
        let row: Option<(String, Option<Vec<u8>>)> = tx
            .prepare_cached("SELECT commune_code, location_enc FROM households WHERE id = ?1")?
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((commune, enc)) = row else { return Ok(None) };
        let location =
            enc.map(|e| self.decrypt_json("households", "location", id, &e)).transpose()?;
        Ok(Some((commune, location)))
    }

    /// Where and when the record's photos were taken, for the photos still answered (a
    /// replaced photo is dropped at finalize and is not judged). A photo whose EXIF gave
    /// neither is listed too, without them, so that its checks are reported as skipped.
    fn photo_locations(
        &self,
        tx: &Transaction<'_>,
        draft: &Draft,
    ) -> Result<Vec<PhotoLocation>, StoreError> {
        let mut stmt = tx.prepare_cached(
            "SELECT id, field, photo_location_enc FROM attachments
             WHERE record_id = ?1 ORDER BY created_at, id",
        )?;
        let rows: Vec<(String, String, Option<Vec<u8>>)> = stmt
            .query_map(params![draft.record_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .filter(|(id, field, _)| {
                draft.session().prompt_at(field).is_ok_and(|p| p.value.as_str() == Some(id))
            })
            .map(|(id, _, enc)| match enc {
                Some(enc) => self.decrypt_json("attachments", "photo_location", &id, &enc),
                None => Ok(PhotoLocation { id, location: None, time_ms: None }),
            })
            .collect()
    }

    /// The fix of the owner's latest finalized record, for the travel-speed check (one row,
    /// through the partial index `records_owner_fixes`).
    fn previous_fix(
        &self,
        tx: &Transaction<'_>,
        owner_id: &str,
        record_id: &str,
    ) -> Result<Option<PreviousVisit>, StoreError> {
        let row: Option<(String, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT id, fixes_enc FROM records_v
                 WHERE owner_id = ?1 AND id <> ?2 AND finalized_at IS NOT NULL AND fixes_enc IS NOT NULL
                 ORDER BY finalized_at DESC, id DESC LIMIT 1",
            )?
            .query_row(params![owner_id, record_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((id, enc)) = row else { return Ok(None) };
        let fixes = self.load_fixes(&id, Some(&enc))?;
        // Its latest fix is where the volunteer last was.
        Ok(fixes.values().max_by_key(|f| f.fix.fix.time_ms).map(|f| PreviousVisit {
            location: f.fix.position(),
            accuracy_m: f.fix.fix.accuracy_m,
            time_ms: f.fix.fix.time_ms,
        }))
    }

    /// The quality flags sealed with a finalized record (empty when it had no fix).
    pub(crate) fn decrypt_flags(
        &self,
        record_id: &str,
        enc: Option<&[u8]>,
    ) -> Result<Vec<QualityFlag>, StoreError> {
        enc.map_or(Ok(Vec::new()), |e| self.decrypt_json("records", "quality_flags", record_id, e))
    }

    pub(crate) fn encrypt_flags(
        &self,
        record_id: &str,
        flags: &[QualityFlag],
    ) -> Result<Vec<u8>, StoreError> {
        self.encrypt_json("records", "quality_flags", record_id, flags)
    }
}

/// The fix the record is judged by: of the geopoints whose answer is still the fix they were
/// answered with, the most recently taken.
fn current_fix(draft: &Draft) -> Option<(String, AcceptedFix)> {
    draft
        .fixes
        .iter()
        .filter(|(path, fix)| {
            let answer = draft.session().prompt_at(path).map(|p| p.value).unwrap_or(Json::Null);
            let f = &fix.fix.fix;
            answer["lat"].as_f64() == Some(f.lat) && answer["lon"].as_f64() == Some(f.lon)
        })
        .max_by_key(|(_, fix)| fix.fix.fix.time_ms)
        .map(|(path, fix)| (path.clone(), fix.clone()))
}
