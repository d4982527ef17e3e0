//! Bodies of the location fuzz targets (`fuzz/fuzz_targets/areas_geojson.rs`,
//! `points_csv.rs`), shared with the property tests that run them on stable Rust in every test
//! run (`core/tests/location_fuzz.rs`). Each takes any bytes and must return: never panic,
//! never spend memory or time without bound.

use super::LatLon;
use super::areas::{AreaSet, ImportOptions};
use super::points_csv;

/// Assigned areas as `geo validate` and the store read them (full validation), then a few
/// points located in them.
pub fn areas_geojson(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(set) = AreaSet::from_geojson(text, &ImportOptions::default()) else { return };
    for p in [LatLon::new(21.9, 105.6), LatLon::new(0.0, 0.0), LatLon::new(-90.0, 180.0)] {
        let _ = set.locate(p);
    }
}

/// A points file as `geo locate` reads it.
pub fn points_csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(points) = points_csv::read(text) {
        for p in points.iter().take(3) {
            let _ = points_csv::fields(&points_csv::quote(&p.id));
        }
    }
}
