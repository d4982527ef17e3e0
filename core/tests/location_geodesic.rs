//! Geodesic distances against GeographicLib's values (tests/data/geo/geodesic_reference.csv) and
//! against an independent Vincenty implementation, and the spherical pruning bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use geo::{Point, VincentyDistance};
use proptest::prelude::*;
use safehome_core::location::geodesic::{ELLIPSOID_SLACK, spherical_distance_m};
use safehome_core::location::{LatLon, distance_m};

fn reference() -> Vec<(LatLon, LatLon, f64)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/geo/geodesic_reference.csv");
    let text = std::fs::read_to_string(path).expect("reference set present");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("lat1"))
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            (LatLon::new(v[0], v[1]), LatLon::new(v[2], v[3]), v[4])
        })
        .collect()
}

#[test]
fn reference_set_is_complete() {
    let r = reference();
    assert!(r.len() >= 200, "{}", r.len());
    // GeographicLib's documented example: Wellington to Salamanca, 19,959,679.267 m.
    let (a, b, d) = r[0];
    assert_eq!((a.lat, b.lon), (-41.32, -5.5));
    assert!((d - 19_959_679.267).abs() < 0.001);
}

#[test]
fn distances_match_geographiclib_within_half_a_percent() {
    for (a, b, want) in reference() {
        let got = distance_m(a, b);
        let rel = (got - want).abs() / want.max(1e-9);
        assert!(rel <= 0.005, "{a:?} {b:?}: {got} vs {want}");
        // Both are Karney's method: they agree to within the file's rounding of the coordinates
        // (1e-9 degrees, 0.1 mm).
        assert!((got - want).abs() < 1e-3, "{a:?} {b:?}: {got} vs {want}");
    }
}

#[test]
fn spherical_bound_holds_on_the_reference_set() {
    for (a, b, want) in reference() {
        let s = spherical_distance_m(a, b);
        assert!(ELLIPSOID_SLACK * s <= want, "{a:?} {b:?}");
        assert!((s - want).abs() / want <= 0.006, "{a:?} {b:?}: sphere {s} vs {want}");
    }
}

#[test]
fn zero_and_tiny_distances() {
    let p = LatLon::new(21.5942, 105.8482);
    assert_eq!(distance_m(p, p), 0.0);
    let q = LatLon::new(21.5942 + 1e-5, 105.8482);
    let d = distance_m(p, q);
    assert!((d - 1.1).abs() < 0.05, "{d}");
}

fn vietnam() -> impl Strategy<Value = LatLon> {
    (8.0f64..23.5, 102.0f64..110.0).prop_map(|(lat, lon)| LatLon::new(lat, lon))
}

fn anywhere() -> impl Strategy<Value = LatLon> {
    (-89.0f64..89.0, -180.0f64..180.0).prop_map(|(lat, lon)| LatLon::new(lat, lon))
}

proptest! {
    #[test]
    fn distance_is_symmetric(a in anywhere(), b in anywhere()) {
        prop_assert_eq!(distance_m(a, b), distance_m(b, a));
    }

    #[test]
    fn distance_within_half_a_percent_of_vincenty(a in vietnam(), b in vietnam()) {
        let got = distance_m(a, b);
        let v = Point::new(a.lon, a.lat).vincenty_distance(&Point::new(b.lon, b.lat)).unwrap();
        prop_assert!((got - v).abs() <= 0.005 * v.max(1.0), "{} vs {}", got, v);
    }

    #[test]
    fn distance_within_half_a_percent_of_vincenty_anywhere(a in anywhere(), b in anywhere()) {
        // Vincenty's iteration may fail to converge for nearly antipodal points; skip those.
        if let Ok(v) = Point::new(a.lon, a.lat).vincenty_distance(&Point::new(b.lon, b.lat)) {
            let got = distance_m(a, b);
            prop_assert!((got - v).abs() <= 0.005 * v.max(1.0), "{} vs {}", got, v);
        }
    }

    #[test]
    fn triangle_inequality(a in vietnam(), b in vietnam(), c in vietnam()) {
        prop_assert!(distance_m(a, c) <= distance_m(a, b) + distance_m(b, c) + 1e-6);
    }
}
