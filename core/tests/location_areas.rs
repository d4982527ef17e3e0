//! Assigned areas: GeoJSON import and validation (each malformed input a typed error naming the
//! feature), point-in-area with holes and MultiPolygons, the boundary rule, nearest area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use geo::{Contains, Coord, LineString, MultiPolygon, Polygon};
use proptest::prelude::*;
use safehome_core::location::{
    AreaErrorKind, AreaInput, AreaSet, AreasError, Bounds, ImportOptions, LatLon, Placement,
    Validation, distance_m,
};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/geo/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn communes() -> AreaSet {
    AreaSet::from_geojson(&data("communes.geojson"), &ImportOptions::default()).unwrap()
}

fn code_at(set: &AreaSet, lat: f64, lon: f64) -> (String, bool) {
    match set.locate(LatLon::new(lat, lon)) {
        Placement::Inside { area, on_boundary } => {
            (set.area(area).unwrap().code.clone(), on_boundary)
        }
        other => panic!("({lat}, {lon}) not inside: {other:?}"),
    }
}

fn outside(set: &AreaSet, lat: f64, lon: f64) -> (String, f64) {
    match set.locate(LatLon::new(lat, lon)) {
        Placement::Outside { nearest, distance_m } => {
            (set.area(nearest).unwrap().code.clone(), distance_m)
        }
        other => panic!("({lat}, {lon}) not outside: {other:?}"),
    }
}

#[test]
fn imports_the_test_communes() {
    let set = communes();
    assert_eq!(set.len(), 4);
    let dh = set.area(set.find("05569").unwrap()).unwrap();
    assert_eq!(dh.name, "Xã Định Hóa");
    assert_eq!(dh.polygon_count(), 1);
    assert_eq!(dh.to_geo().0[0].interiors().len(), 1);
    let dong_hy = set.area(set.find("05692").unwrap()).unwrap();
    assert_eq!(dong_hy.polygon_count(), 2);
    assert!(set.heap_bytes() > 0);
}

#[test]
fn points_inside_holes_and_multipolygons() {
    let set = communes();
    assert_eq!(code_at(&set, 21.92, 105.62), ("05569".into(), false));
    assert_eq!(code_at(&set, 21.95, 105.75), ("05662".into(), false));
    // The lake is a hole of 05569 and is itself area 05570.
    assert_eq!(code_at(&set, 21.95, 105.65), ("05570".into(), false));
    // Second polygon of the MultiPolygon.
    assert_eq!(code_at(&set, 21.92, 105.97), ("05692".into(), false));
    // Under the jagged north edge of 05569 (the notch between 22.00 and 22.03).
    assert_eq!(code_at(&set, 22.02, 105.62), ("05569".into(), false));
    let (code, d) = outside(&set, 22.02, 105.65); // in the notch, outside
    assert_eq!(code, "05569");
    assert!(d > 0.0 && d < 2_500.0, "{d}");
}

#[test]
fn a_point_in_a_hole_is_outside_at_the_distance_to_the_hole_edge() {
    let text = data("communes.geojson").replace("\"05570\"", "\"x\"");
    let mut set = AreaSet::from_geojson(&text, &ImportOptions::default()).unwrap();
    // Drop the island: rebuild without it.
    let keep: Vec<AreaInput> = set
        .areas()
        .iter()
        .filter(|a| a.code != "x")
        .map(|a| AreaInput::from_geo(a.code.clone(), a.name.clone(), &a.to_geo()))
        .collect();
    set = AreaSet::new(keep, &ImportOptions::default()).unwrap();
    let (code, d) = outside(&set, 21.95, 105.65);
    assert_eq!(code, "05569");
    // The nearest hole edge is 0.01 degrees of longitude west or east.
    let want = distance_m(LatLon::new(21.95, 105.65), LatLon::new(21.95, 105.64));
    assert!((d - want).abs() < 0.5, "{d} vs {want}");
}

#[test]
fn boundary_rule_lowest_code_wins_whatever_the_order() {
    let set = communes();
    // Edge shared by 05569 and 05662 (05662 has an extra vertex on it at 21.95).
    assert_eq!(code_at(&set, 21.93, 105.70), ("05569".into(), true));
    assert_eq!(code_at(&set, 21.95, 105.70), ("05569".into(), true));
    // Edge shared by 05662 and 05692.
    assert_eq!(code_at(&set, 21.95, 105.80), ("05662".into(), true));
    // Hole edge of 05569 = outer edge of 05570.
    assert_eq!(code_at(&set, 21.95, 105.64), ("05569".into(), true));
    // A corner.
    assert_eq!(code_at(&set, 21.90, 105.70), ("05569".into(), true));
    // An outer edge of one area only.
    assert_eq!(code_at(&set, 21.95, 105.60), ("05569".into(), true));

    // Same answers with the features reversed.
    let fc: serde_json::Value = serde_json::from_str(&data("communes.geojson")).unwrap();
    let mut rev = fc.clone();
    rev["features"].as_array_mut().unwrap().reverse();
    let set2 = AreaSet::from_geojson(&rev.to_string(), &ImportOptions::default()).unwrap();
    for (lat, lon) in [(21.93, 105.70), (21.95, 105.80), (21.95, 105.64), (21.90, 105.70)] {
        assert_eq!(code_at(&set, lat, lon), code_at(&set2, lat, lon), "({lat}, {lon})");
    }
    // Every area touching the shared edge is listed, in code order.
    let all = set.areas_at(LatLon::new(21.93, 105.70));
    let codes: Vec<_> = all.iter().map(|&(i, b)| (set.area(i).unwrap().code.as_str(), b)).collect();
    assert_eq!(codes, [("05569", true), ("05662", true)]);
}

#[test]
fn nearest_area_and_distance_when_outside() {
    let set = communes();
    let (code, d) = outside(&set, 21.92, 106.05);
    assert_eq!(code, "05692");
    let want = distance_m(LatLon::new(21.92, 106.05), LatLon::new(21.92, 106.0));
    assert!((d - want).abs() < 1.0, "{d} vs {want}");
    // Far south: nearest is whichever bottom edge is closest; all lie on 21.90.
    let (_, d) = outside(&set, 20.90, 105.75);
    let want = distance_m(LatLon::new(20.90, 105.75), LatLon::new(21.90, 105.75));
    assert!((d - want).abs() < 5.0, "{d} vs {want}");
    // Distance to a named area.
    let p = LatLon::new(21.95, 105.75);
    let i = set.find("05569").unwrap();
    let d = set.distance_to(p, i).unwrap();
    let want = distance_m(p, LatLon::new(21.95, 105.70));
    assert!((d - want).abs() < 1.0, "{d} vs {want}");
    assert_eq!(set.distance_to(p, set.find("05662").unwrap()), Some(0.0));
}

// ----- malformed input, each a typed error naming the feature -----------------------------------

fn feature(code: &str, geometry: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"code":"{code}","name":"N {code}"}},"geometry":{geometry}}}"#
    )
}

fn collection(features: &[String]) -> String {
    format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))
}

const GOOD: &str = r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.7,22.0],[105.6,22.0],[105.6,21.9]]]}"#;

fn errors_with(text: &str, opts: &ImportOptions) -> Vec<(usize, Option<String>, AreaErrorKind)> {
    match AreaSet::from_geojson(text, opts) {
        Err(AreasError::Features(errs)) => {
            errs.into_iter().map(|e| (e.index, e.code, e.kind)).collect()
        }
        other => panic!("expected feature errors, got {other:?}"),
    }
}

fn errors(text: &str) -> Vec<(usize, Option<String>, AreaErrorKind)> {
    errors_with(text, &ImportOptions::default())
}

/// The second feature carries `geometry`; the first is good.
fn one_bad(geometry: &str) -> AreaErrorKind {
    let text = collection(&[feature("A", GOOD), feature("B", geometry)]);
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let (index, code, kind) = errs.into_iter().next().unwrap();
    assert_eq!((index, code.as_deref()), (1, Some("B")));
    kind
}

#[test]
fn syntax_error_inside_a_feature_names_it() {
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{},{{"type":"Feature","properties":{{"code":"B"}} "geometry":null}}]}}"#,
        feature("A", GOOD)
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, 1);
    assert!(matches!(errs[0].2, AreaErrorKind::Json { line: 1, .. }), "{errs:?}");
    let msg = AreaSet::from_geojson(&text, &ImportOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("feature 1: malformed JSON at line 1, column"), "{msg}");
    // Truncated file: the feature being read is named.
    let full = collection(&[feature("A", GOOD), feature("B", GOOD)]);
    let cut = &full[..full.len() - 30];
    assert_eq!(errors(cut)[0].0, 1);
}

#[test]
fn collection_level_errors() {
    let opts = ImportOptions::default();
    assert!(matches!(AreaSet::from_geojson("{", &opts), Err(AreasError::Json { line: 1, .. })));
    assert!(matches!(AreaSet::from_geojson("[]", &opts), Err(AreasError::NotFeatureCollection(_))));
    let single = feature("A", GOOD);
    assert!(matches!(
        AreaSet::from_geojson(&single, &opts),
        Err(AreasError::NotFeatureCollection(m)) if m.contains("`Feature`")
    ));
    assert!(matches!(AreaSet::from_geojson(&collection(&[]), &opts), Err(AreasError::Empty)));
    assert!(matches!(
        AreaSet::from_geojson(r#"{"type":"FeatureCollection"}"#, &opts),
        Err(AreasError::NotFeatureCollection(_))
    ));
    assert!(matches!(
        AreaSet::from_geojson(r#"{"type":"FeatureCollection","features":{}}"#, &opts),
        Err(AreasError::NotFeatureCollection(_))
    ));
    assert!(AreaSet::from_geojson(&collection(&[feature("A", GOOD)]), &opts).is_ok());
}

#[test]
fn feature_structure_errors() {
    let text = collection(&["42".into(), feature("A", GOOD)]);
    assert!(matches!(&errors(&text)[0], (0, None, AreaErrorKind::NotAFeature(_))));

    let text = collection(&[
        feature("A", GOOD),
        r#"{"type":"Feature","properties":{"name":"x"},"geometry":null}"#.into(),
        r#"{"type":"Feature","properties":{"code":5569,"name":"x"},"geometry":null}"#.into(),
        r#"{"type":"Feature","properties":{"code":"C"},"geometry":null}"#.into(),
        r#"{"type":"Geometry","properties":{}}"#.into(),
    ]);
    let errs = errors(&text);
    assert_eq!(errs.len(), 4, "{errs:?}");
    assert_eq!(errs[0], (1, None, AreaErrorKind::MissingProperty("code".into())));
    assert_eq!(errs[1], (2, None, AreaErrorKind::PropertyNotString("code".into())));
    assert_eq!(errs[2], (3, Some("C".into()), AreaErrorKind::MissingProperty("name".into())));
    assert!(matches!(&errs[3], (4, None, AreaErrorKind::NotAFeature(m)) if m.contains("Geometry")));

    assert_eq!(one_bad("null"), AreaErrorKind::MissingGeometry);
    assert_eq!(
        one_bad(r#"{"type":"Point","coordinates":[105.6,21.9]}"#),
        AreaErrorKind::UnsupportedGeometry("Point".into())
    );
}

#[test]
fn coordinate_shape_errors_carry_a_path() {
    let k = one_bad(r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7],[105.7,22.0]]]}"#);
    assert!(
        matches!(&k, AreaErrorKind::BadCoordinates { path, .. } if path == "coordinates[0][1]"),
        "{k:?}"
    );
    let k = one_bad(r#"{"type":"Polygon","coordinates":[[[105.6,"21.9"]]]}"#);
    assert!(
        matches!(&k, AreaErrorKind::BadCoordinates { path, .. } if path == "coordinates[0][0]")
    );
    let k = one_bad(r#"{"type":"MultiPolygon","coordinates":[[[[105.6,21.9]]],7]}"#);
    assert!(matches!(&k, AreaErrorKind::BadCoordinates { path, .. } if path == "coordinates[1]"));
    let k = one_bad(r#"{"type":"Polygon"}"#);
    assert!(matches!(&k, AreaErrorKind::BadCoordinates { .. }));
    assert_eq!(one_bad(r#"{"type":"MultiPolygon","coordinates":[]}"#), AreaErrorKind::NoPolygons);
}

#[test]
fn range_and_swapped_coordinates() {
    let k = one_bad(
        r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[195.7,21.9],[105.7,22.0],[105.6,21.9]]]}"#,
    );
    assert!(
        matches!(&k, AreaErrorKind::OutOfRange { polygon: 0, ring: 0, position: 1, lon, .. } if *lon == 195.7),
        "{k:?}"
    );
    // [lat, lon] instead of [lon, lat] around Thái Nguyên: latitude 105 is impossible.
    let k = one_bad(
        r#"{"type":"Polygon","coordinates":[[[21.9,105.6],[21.9,105.7],[22.0,105.7],[22.0,105.6],[21.9,105.6]]]}"#,
    );
    assert_eq!(k, AreaErrorKind::CoordinatesSwapped);

    // Where both orders are in range, an expected region decides.
    let opts = ImportOptions {
        expected_region: Some(Bounds {
            min_lon: 30.0,
            min_lat: 10.0,
            max_lon: 40.0,
            max_lat: 20.0,
        }),
        ..ImportOptions::default()
    };
    let swapped = r#"{"type":"Polygon","coordinates":[[[15,35],[16,35],[16,36],[15,36],[15,35]]]}"#;
    let errs = errors_with(&collection(&[feature("S", swapped)]), &opts);
    assert_eq!(errs[0].2, AreaErrorKind::CoordinatesSwapped);
    let elsewhere =
        r#"{"type":"Polygon","coordinates":[[[55,55],[56,55],[56,56],[55,56],[55,55]]]}"#;
    let errs = errors_with(&collection(&[feature("E", elsewhere)]), &opts);
    assert_eq!(errs[0].2, AreaErrorKind::OutsideRegion);
    // Vietnam's region accepts the test communes.
    let vn = ImportOptions { expected_region: Some(Bounds::VIETNAM), ..ImportOptions::default() };
    assert!(AreaSet::from_geojson(&data("communes.geojson"), &vn).is_ok());
}

#[test]
fn ring_errors() {
    let k = one_bad(
        r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.7,22.0],[105.6,22.0],[105.6,21.9]],[[105.62,21.92],[105.63,21.92],[105.63,21.93]]]}"#,
    );
    assert_eq!(k, AreaErrorKind::UnclosedRing { polygon: 0, ring: 1 });
    let k = one_bad(
        r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.7,21.9],[105.6,21.9]]]}"#,
    );
    assert_eq!(k, AreaErrorKind::TooFewPositions { polygon: 0, ring: 0, count: 2 });
    let k = one_bad(
        r#"{"type":"Polygon","coordinates":[[[179.9,10],[-179.9,10],[-179.9,11],[179.9,11],[179.9,10]]]}"#,
    );
    assert_eq!(k, AreaErrorKind::CrossesAntimeridian { polygon: 0, ring: 0 });
}

#[test]
fn self_intersections_and_crossing_rings() {
    // A bow tie crossing at (105.65, 21.95).
    let bowtie = r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,22.0],[105.7,21.9],[105.6,22.0],[105.6,21.9]]]}"#;
    match one_bad(bowtie) {
        AreaErrorKind::SelfIntersection { polygon: 0, ring: 0, lon, lat } => {
            assert!((lon - 105.65).abs() < 1e-9 && (lat - 21.95).abs() < 1e-9);
        }
        k => panic!("{k:?}"),
    }
    // A spike that doubles back along itself.
    let spike = r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.8,21.9],[105.75,21.9],[105.7,22.0],[105.6,21.9]]]}"#;
    assert!(matches!(one_bad(spike), AreaErrorKind::SelfIntersection { .. }));
    // A ring touching itself at a vertex (figure eight).
    let eight = r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.65,21.95],[105.7,22.0],[105.6,22.0],[105.65,21.95],[105.6,21.9]]]}"#;
    assert!(matches!(one_bad(eight), AreaErrorKind::SelfIntersection { .. }));
    // A hole poking out of the shell.
    let poking = r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.7,22.0],[105.6,22.0],[105.6,21.9]],[[105.65,21.95],[105.75,21.95],[105.75,21.96],[105.65,21.96],[105.65,21.95]]]}"#;
    assert!(matches!(
        one_bad(poking),
        AreaErrorKind::RingsIntersect { polygon_a: 0, ring_a: 0, polygon_b: 0, ring_b: 1, .. }
    ));
    // A hole touching the shell at one point is allowed.
    let touching = r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.7,22.0],[105.6,22.0],[105.6,21.9]],[[105.6,21.95],[105.65,21.94],[105.65,21.96],[105.6,21.95]]]}"#;
    let ok = collection(&[feature("A", touching)]);
    assert!(AreaSet::from_geojson(&ok, &ImportOptions::default()).is_ok());
    // Structural validation (areas checked before) skips the edge-intersection search.
    let opts = ImportOptions { validation: Validation::Structural, ..ImportOptions::default() };
    assert!(AreaSet::from_geojson(&collection(&[feature("A", bowtie)]), &opts).is_ok());
}

#[test]
fn holes_and_multipolygon_parts_in_the_wrong_place() {
    let hole_outside = r#"{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.7,22.0],[105.6,22.0],[105.6,21.9]],[[105.8,21.95],[105.85,21.95],[105.85,21.96],[105.8,21.95]]]}"#;
    assert_eq!(one_bad(hole_outside), AreaErrorKind::HoleOutsideShell { polygon: 0, ring: 1 });
    let nested = r#"{"type":"MultiPolygon","coordinates":[[[[105.6,21.9],[105.7,21.9],[105.7,22.0],[105.6,22.0],[105.6,21.9]]],[[[105.62,21.92],[105.63,21.92],[105.63,21.93],[105.62,21.92]]]]}"#;
    assert_eq!(one_bad(nested), AreaErrorKind::PolygonsOverlap { polygon_a: 0, polygon_b: 1 });
    let crossing = r#"{"type":"MultiPolygon","coordinates":[[[[105.6,21.9],[105.7,21.9],[105.7,22.0],[105.6,22.0],[105.6,21.9]]],[[[105.65,21.95],[105.75,21.95],[105.75,21.96],[105.65,21.95]]]]}"#;
    assert!(matches!(
        one_bad(crossing),
        AreaErrorKind::RingsIntersect { polygon_a: 0, polygon_b: 1, .. }
    ));
}

#[test]
fn duplicate_codes_and_many_errors_at_once() {
    let text = collection(&[
        feature("A", GOOD),
        feature("B", "null"),
        feature("A", GOOD),
        feature("D", r#"{"type":"LineString","coordinates":[]}"#),
    ]);
    let errs = errors(&text);
    let summary: Vec<(usize, &str)> = errs.iter().map(|e| (e.0, e.2.code())).collect();
    assert_eq!(
        summary,
        [(1, "missing_geometry"), (2, "duplicate_code"), (3, "unsupported_geometry")]
    );
    assert_eq!(errs[1].2, AreaErrorKind::DuplicateCode { first: 0 });
    let msg = AreaSet::from_geojson(&text, &ImportOptions::default()).unwrap_err().to_string();
    assert!(
        msg.starts_with("3 problem(s) in features; feature 1 (code B): geometry is missing"),
        "{msg}"
    );
}

#[test]
fn custom_property_names() {
    let text = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"ma_xa":"05569","ten":"Định Hóa"},"geometry":{"type":"Polygon","coordinates":[[[105.6,21.9],[105.7,21.9],[105.7,22.0],[105.6,21.9]]]}}]}"#;
    let opts = ImportOptions {
        code_property: "ma_xa".into(),
        name_property: "ten".into(),
        ..ImportOptions::default()
    };
    let set = AreaSet::from_geojson(text, &opts).unwrap();
    assert_eq!(set.area(0).unwrap().code, "05569");
    assert!(AreaSet::from_geojson(text, &ImportOptions::default()).is_err());
}

#[test]
fn empty_set_and_invalid_points() {
    assert!(matches!(AreaSet::new(vec![], &ImportOptions::default()), Err(AreasError::Empty)));
    let set = communes();
    assert_eq!(set.locate(LatLon::new(f64::NAN, 105.65)), Placement::InvalidPosition);
    assert_eq!(set.locate(LatLon::new(21.9, 181.0)), Placement::InvalidPosition);
    assert!(set.areas_at(LatLon::new(f64::NAN, 105.65)).is_empty());
    assert_eq!(set.distance_to(LatLon::new(f64::INFINITY, 105.65), 0), None);
}

// ----- properties ---------------------------------------------------------------------------------

/// A star-shaped polygon around `c` (every fan triangle c, v_i, v_i+1 lies inside it).
fn star(c: (f64, f64), radii: &[f64], scale: f64) -> Vec<[f64; 2]> {
    let n = radii.len();
    let mut ring: Vec<[f64; 2]> = radii
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            [c.0 + scale * r * t.cos(), c.1 + scale * r * t.sin()]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

fn to_geo(rings: &[Vec<[f64; 2]>]) -> Polygon<f64> {
    let ls =
        |r: &Vec<[f64; 2]>| LineString::new(r.iter().map(|p| Coord { x: p[0], y: p[1] }).collect());
    Polygon::new(ls(&rings[0]), rings[1..].iter().map(ls).collect())
}

prop_compose! {
    fn star_area()(
        lat in 10.0f64..23.0,
        lon in 102.5f64..109.0,
        radii in prop::collection::vec(0.4f64..1.0, 5..40),
        scale in 0.005f64..0.2,
    ) -> ((f64, f64), Vec<f64>, f64) {
        ((lon, lat), radii, scale)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_point_strictly_inside_is_located_there(
        (c, radii, scale) in star_area(),
        k in 0usize..1000,
        w in (0.02f64..1.0, 0.02f64..1.0, 0.02f64..1.0),
    ) {
        let ring = star(c, &radii, scale);
        // A hole around the centre, small enough to stay inside every fan triangle's inner part.
        let hole = star(c, &[0.1; 8], scale);
        let set = AreaSet::new(
            vec![AreaInput { code: "S".into(), name: "star".into(), polygons: vec![vec![ring.clone(), hole]] }],
            &ImportOptions::default(),
        ).unwrap();
        // Barycentric weights on the fan triangle (v_i, v_i+1, and a point at 0.5 of the way out
        // between them), all positive: strictly inside the triangle and outside the hole.
        let n = radii.len();
        let i = k % n;
        let (a, b) = (ring[i], ring[i + 1]);
        let m = [c.0 + 0.5 * ((a[0] + b[0]) / 2.0 - c.0), c.1 + 0.5 * ((a[1] + b[1]) / 2.0 - c.1)];
        let s = w.0 + w.1 + w.2;
        let p = [
            (w.0 * a[0] + w.1 * b[0] + w.2 * m[0]) / s,
            (w.0 * a[1] + w.1 * b[1] + w.2 * m[1]) / s,
        ];
        let placement = set.locate(LatLon::new(p[1], p[0]));
        prop_assert!(matches!(placement, Placement::Inside { area: 0, .. }), "{:?}", placement);
    }

    #[test]
    fn a_point_far_outside_is_not_located_and_gets_a_distance(
        (c, radii, scale) in star_area(),
        dir in 0.0f64..std::f64::consts::TAU,
        far in 1.5f64..20.0,
    ) {
        let ring = star(c, &radii, scale);
        let set = AreaSet::new(
            vec![AreaInput { code: "S".into(), name: "star".into(), polygons: vec![vec![ring]] }],
            &ImportOptions::default(),
        ).unwrap();
        let p = LatLon::new(
            (c.1 + far * scale * dir.sin()).clamp(-89.0, 89.0),
            c.0 + far * scale * dir.cos(),
        );
        match set.locate(p) {
            Placement::Outside { nearest: 0, distance_m } => {
                // The star lies within `scale` degrees of its centre, the point `far * scale`
                // degrees away: at least (far - 1) * scale degrees from it, half a conservative
                // degree length (a degree of longitude at the higher latitude) as a bound.
                let lat = p.lat.abs().max(c.1.abs());
                let lower = 0.5 * (far - 1.0) * scale * 111_000.0 * lat.to_radians().cos();
                prop_assert!(distance_m >= lower, "{} < {}", distance_m, lower);
                // The centre is inside the star, so the area is no farther than the centre.
                let to_centre = distance_m_to(p, c);
                prop_assert!(distance_m <= to_centre + 1e-6, "{} > {}", distance_m, to_centre);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn agrees_with_geo_contains(
        (c, radii, scale) in star_area(),
        pts in prop::collection::vec((-1.2f64..1.2, -1.2f64..1.2), 50),
    ) {
        let ring = star(c, &radii, scale);
        let hole = star(c, &[0.2; 6], scale);
        let rings = vec![ring, hole];
        let poly = to_geo(&rings);
        let set = AreaSet::new(
            vec![AreaInput { code: "S".into(), name: "star".into(), polygons: vec![rings] }],
            &ImportOptions::default(),
        ).unwrap();
        let mut probes: Vec<Coord<f64>> =
            pts.iter().map(|(dx, dy)| Coord { x: c.0 + dx * scale, y: c.1 + dy * scale }).collect();
        // Points level with every vertex: where the half-open crossing rule matters.
        for v in poly.exterior().0.iter().chain(poly.interiors()[0].0.iter()) {
            for dx in [-0.37, -0.05, 0.05, 0.37] {
                probes.push(Coord { x: v.x + dx * scale, y: v.y });
            }
        }
        for q in probes {
            let placement = set.locate(LatLon::new(q.y, q.x));
            // geo's `contains` excludes the boundary; SafeHome's areas are closed.
            if placement == (Placement::Inside { area: 0, on_boundary: true }) {
                continue;
            }
            let ours = matches!(placement, Placement::Inside { .. });
            prop_assert_eq!(ours, poly.contains(&q), "{:?}", q);
        }
    }

    #[test]
    fn nearest_area_is_the_brute_force_nearest(
        areas in prop::collection::vec(star_area(), 2..8),
        p in (9.0f64..24.0, 102.0f64..110.0),
    ) {
        let inputs: Vec<AreaInput> = areas
            .iter()
            .enumerate()
            .map(|(i, (c, radii, scale))| AreaInput {
                code: format!("{i:02}"),
                name: String::new(),
                polygons: vec![vec![star(*c, radii, *scale)]],
            })
            .collect();
        let polys: Vec<MultiPolygon<f64>> = inputs
            .iter()
            .map(|a| MultiPolygon::new(vec![to_geo(&a.polygons[0])]))
            .collect();
        // Overlapping stars are fine for this property (areas may overlap).
        let set = AreaSet::new(inputs, &ImportOptions::default()).unwrap();
        let p = LatLon::new(p.0, p.1);
        let inside_any = polys.iter().any(|mp| mp.contains(&Coord { x: p.lon, y: p.lat }));
        match set.locate(p) {
            Placement::Inside { .. } => prop_assert!(inside_any),
            Placement::Outside { nearest, distance_m } => {
                prop_assert!(!inside_any);
                let brute = (0..set.len())
                    .map(|i| set.distance_to(p, i).unwrap())
                    .fold(f64::INFINITY, f64::min);
                prop_assert_eq!(distance_m, brute);
                prop_assert_eq!(set.distance_to(p, nearest).unwrap(), brute);
            }
            Placement::NoAreas | Placement::InvalidPosition => prop_assert!(false),
        }
    }
}

/// Geodesic distance from `p` to the centre `c` (lon, lat).
fn distance_m_to(p: LatLon, c: (f64, f64)) -> f64 {
    distance_m(p, LatLon::new(c.1, c.0))
}
