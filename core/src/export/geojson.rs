//! `households.geojson`: one point per household, where and when it was last visited, for QGIS.
//! Built on `location::export_geojson`, so the file has the same shape as the map export's
//! households: properties `kind`, `code` (the household code), `village` (always null here),
//! `risk_level`, `last_visit` and `flags` (location quality flag codes). No names, no answers:
//! the file may travel further than the tables.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::rows::geopoint;
use super::{ExportError, ExportRecord};
use crate::form::check::CheckedForm;
use crate::form::model::FieldKind;
use crate::location::{self, HouseholdFeature, LatLon};

pub(super) const FILE_NAME: &str = "households.geojson";

/// The latest visit of each household seen so far: memory grows with households, not records.
#[derive(Debug, Default)]
pub(super) struct Households {
    latest: BTreeMap<String, Latest>,
}

#[derive(Debug)]
struct Latest {
    at_ms: Option<i64>,
    location: LatLon,
    risk_level: Option<String>,
    flags: Vec<String>,
}

impl Households {
    /// Note a record's household position. A record with no household code or no position
    /// is left out of the map (it is in the tables); a superseded revision never counts, its
    /// correction does.
    pub(super) fn add(&mut self, form: &CheckedForm, record: &ExportRecord) {
        if record.review_state == "superseded" {
            return;
        }
        let sub = &record.submission;
        let Some(code) = sub.get("household_code").and_then(Json::as_str) else { return };
        let Some(location) = position(form, sub) else { return };
        let at_ms = sub
            .get("finalized_at_ms")
            .and_then(Json::as_i64)
            .or_else(|| sub.get("created_at_ms").and_then(Json::as_i64));
        if let Some(prev) = self.latest.get(code) {
            if prev.at_ms >= at_ms {
                return;
            }
        }
        let assessment = sub.get("assessment");
        let risk_level =
            assessment.and_then(|a| a.get("level")).and_then(Json::as_str).map(str::to_string);
        let flags = sub
            .get("location")
            .and_then(|l| l.get("flags"))
            .and_then(Json::as_array)
            .map(|f| {
                f.iter()
                    .filter_map(|f| f.get("code").and_then(Json::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        self.latest.insert(code.to_string(), Latest { at_ms, location, risk_level, flags });
    }

    /// Write the collection with coordinates rounded to `decimals`; returns the file and the
    /// number of households in it. Feature by feature: the whole collection as one JSON value
    /// would cost a few KiB per household, more than everything else the export holds.
    pub(super) fn write(
        self,
        dir: &Path,
        decimals: u8,
        utc_offset_minutes: i32,
    ) -> Result<(PathBuf, usize), ExportError> {
        let opts =
            location::ExportOptions { decimals: Some(u32::from(decimals)), utc_offset_minutes };
        let path = dir.join(FILE_NAME);
        let part = dir.join(format!("{FILE_NAME}.part"));
        let file = std::fs::File::create(&part).map_err(io(&part))?;
        let mut out = BufWriter::new(file);
        out.write_all(br#"{"type":"FeatureCollection","features":["#).map_err(io(&part))?;
        let mut count = 0;
        for (code, l) in self.latest {
            let feature = HouseholdFeature {
                code,
                village: None,
                location: l.location,
                risk_level: l.risk_level,
                last_visit_ms: l.at_ms,
                flags: l.flags,
            };
            // The same feature `location::export_geojson` makes for the map export.
            let one = location::export_geojson(std::slice::from_ref(&feature), &[], &opts)?;
            let Some(f) = one.get("features").and_then(|f| f.get(0)) else { continue };
            if count > 0 {
                out.write_all(b",").map_err(io(&part))?;
            }
            count += 1;
            serde_json::to_writer(&mut out, f).map_err(|e| io(&part)(std::io::Error::other(e)))?;
        }
        out.write_all(b"]}").map_err(io(&part))?;
        let file = out.into_inner().map_err(|e| io(&part)(e.into_error()))?;
        file.sync_all().map_err(io(&part))?;
        std::fs::rename(&part, &path).map_err(io(&path))?;
        Ok((path, count))
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io { path: path.to_path_buf(), source }
}

/// Where the visit was: the platform fix finalize reviewed (`location.fix.fix`), else the
/// form's first geopoint answer outside any repeat (the household's, in the templates).
fn position(form: &CheckedForm, sub: &Json) -> Option<LatLon> {
    let fix = sub.get("location").and_then(|l| l.get("fix")).and_then(|f| f.get("fix"));
    let from_fix =
        fix.and_then(|f| Some(LatLon::new(f.get("lat")?.as_f64()?, f.get("lon")?.as_f64()?)));
    let p = from_fix.or_else(|| {
        let field =
            form.fields.iter().find(|f| f.kind() == FieldKind::Geopoint && f.repeats.is_empty())?;
        let p = geopoint(sub.get("data")?.get(field.name())?)?;
        Some(LatLon::new(p.lat, p.lon))
    })?;
    p.is_valid().then_some(p)
}
