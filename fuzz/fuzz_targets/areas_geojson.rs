//! Fuzz assigned areas (GeoJSON), fully validated, with points located in them
//! (the body: `safehome_core::location::fuzzing::areas_geojson`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    safehome_core::location::fuzzing::areas_geojson(data);
});
