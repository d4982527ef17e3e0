//! GeoJSON export of households and visits for maps, with an optional coordinate precision
//! reduction for sharing outside the team.
//!
//! Properties carry no personal data: the household code, village, risk level, last visit time
//! and flag codes. Names of people are never exported. With `decimals = Some(n)`, every coordinate
//! is rounded to `n` decimal places (snapped to a grid): 4 decimals is about 11 m, 3 about 110 m,
//! 2 about 1.1 km at Vietnam's latitudes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::geodesic::LatLon;
use crate::civil::format_iso_datetime;

/// A household on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseholdFeature {
    pub code: String,
    #[serde(default)]
    pub village: Option<String>,
    pub location: LatLon,
    #[serde(default)]
    pub risk_level: Option<String>,
    #[serde(default)]
    pub last_visit_ms: Option<i64>,
    #[serde(default)]
    pub flags: Vec<String>,
}

/// A visit on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitFeature {
    /// The visited household's code.
    pub code: String,
    #[serde(default)]
    pub village: Option<String>,
    pub location: LatLon,
    pub time_ms: i64,
    #[serde(default)]
    pub risk_level: Option<String>,
    #[serde(default)]
    pub flags: Vec<String>,
}

/// Export settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportOptions {
    /// Round coordinates to this many decimal places (0–8); `None` keeps full precision.
    pub decimals: Option<u32>,
    /// Offset (minutes) for the ISO times written in properties; 0 writes UTC (`Z`).
    pub utc_offset_minutes: i32,
}

/// Why an export was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("decimals must be at most 8, got {0}")]
    Decimals(u32),
    #[error("{kind} {index} (code {code}) has an invalid location")]
    InvalidLocation { kind: &'static str, index: usize, code: String },
}

fn round(v: f64, decimals: Option<u32>) -> f64 {
    match decimals {
        Some(d) => {
            let k = 10f64.powi(d as i32);
            let r = (v * k).round() / k;
            // Avoid "-0" in the output.
            if r == 0.0 { 0.0 } else { r }
        }
        None => v,
    }
}

fn point(p: LatLon, decimals: Option<u32>) -> Value {
    json!({ "type": "Point", "coordinates": [round(p.lon, decimals), round(p.lat, decimals)] })
}

fn opt_str(props: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    props.insert(key.into(), v.as_ref().map_or(Value::Null, |s| Value::String(s.clone())));
}

/// A FeatureCollection with one Point feature per household (`kind: "household"`) then per visit
/// (`kind: "visit"`), in the order given.
pub fn export_geojson(
    households: &[HouseholdFeature],
    visits: &[VisitFeature],
    opts: &ExportOptions,
) -> Result<Value, ExportError> {
    if let Some(d) = opts.decimals.filter(|&d| d > 8) {
        return Err(ExportError::Decimals(d));
    }
    let time = |ms: i64| Value::String(format_iso_datetime(ms, opts.utc_offset_minutes));
    let mut features = Vec::with_capacity(households.len() + visits.len());
    for (index, h) in households.iter().enumerate() {
        if !h.location.is_valid() {
            return Err(ExportError::InvalidLocation {
                kind: "household",
                index,
                code: h.code.clone(),
            });
        }
        let mut props = Map::new();
        props.insert("kind".into(), json!("household"));
        props.insert("code".into(), json!(h.code));
        opt_str(&mut props, "village", &h.village);
        opt_str(&mut props, "risk_level", &h.risk_level);
        props.insert("last_visit".into(), h.last_visit_ms.map_or(Value::Null, time));
        props.insert("flags".into(), json!(h.flags));
        features.push(json!({
            "type": "Feature",
            "geometry": point(h.location, opts.decimals),
            "properties": props,
        }));
    }
    for (index, v) in visits.iter().enumerate() {
        if !v.location.is_valid() {
            return Err(ExportError::InvalidLocation {
                kind: "visit",
                index,
                code: v.code.clone(),
            });
        }
        let mut props = Map::new();
        props.insert("kind".into(), json!("visit"));
        props.insert("code".into(), json!(v.code));
        opt_str(&mut props, "village", &v.village);
        opt_str(&mut props, "risk_level", &v.risk_level);
        props.insert("time".into(), time(v.time_ms));
        props.insert("flags".into(), json!(v.flags));
        features.push(json!({
            "type": "Feature",
            "geometry": point(v.location, opts.decimals),
            "properties": props,
        }));
    }
    Ok(json!({ "type": "FeatureCollection", "features": features }))
}
