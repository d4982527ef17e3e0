//! The communes the console draws and counts: boundaries from the assigned-areas GeoJSON
//! (`safehome-server areas import`), names, and the registered households each commune's
//! coverage is measured against (`safehome-server commune set`).

use crate::params;
use crate::sql::Conn;
use geo::Simplify;
use safehome_core::location::areas::{AreaSet, ImportOptions};

use super::data::Polygons;
use crate::error::ServerError;

/// Boundaries are simplified to about 20 m before they are stored: the map is a few hundred
/// pixels wide, and a commune's survey-grade boundary would make a page of megabytes.
pub const SIMPLIFY_DEG: f64 = 0.0002;

/// Read a GeoJSON FeatureCollection of communes (validated as the phones' assigned areas are)
/// and store each commune's name and simplified boundary, keeping registered counts. Returns
/// how many communes were stored.
pub fn import(conn: &Conn, geojson: &str, opts: &ImportOptions) -> Result<usize, ServerError> {
    let set = AreaSet::from_geojson(geojson, opts)
        .map_err(|e| ServerError::Invalid(format!("areas: {e}")))?;
    let tx = conn.transaction()?;
    for area in set.areas() {
        let simple = area.to_geo().simplify(SIMPLIFY_DEG);
        let polygons: Polygons = simple
            .0
            .iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|ring| ring.0.iter().map(|c| [round6(c.x), round6(c.y)]).collect())
                    .collect()
            })
            .collect();
        let geometry = serde_json::to_string(&polygons)
            .map_err(|e| ServerError::Invalid(format!("geometry: {e}")))?;
        tx.execute(
            "INSERT INTO communes (commune, name, geometry) VALUES (?1, ?2, ?3)
             ON CONFLICT (commune) DO UPDATE SET name = ?2, geometry = ?3",
            params![area.code, area.name, geometry],
        )?;
    }
    tx.commit()?;
    Ok(set.len())
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Set a commune's name and/or its registered households (the coverage denominator).
pub fn set_commune(
    conn: &Conn,
    commune: &str,
    name: Option<&str>,
    registered: Option<i64>,
) -> Result<(), ServerError> {
    super::users::check_communes(super::users::ConsoleRole::Commune, &[commune.to_string()])?;
    if registered.is_some_and(|r| r < 0) {
        return Err(ServerError::Invalid("registered households cannot be negative".into()));
    }
    conn.execute(
        "INSERT INTO communes (commune, name, registered_households) VALUES (?1, COALESCE(?2, ?1), ?3)
         ON CONFLICT (commune) DO UPDATE SET name = COALESCE(?2, communes.name),
             registered_households = COALESCE(?3, communes.registered_households)",
        params![commune, name, registered],
    )?;
    Ok(())
}
