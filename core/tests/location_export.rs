//! GeoJSON export of households and visits, with and without precision reduction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use safehome_core::location::{
    AreaSet, ExportError, ExportOptions, HouseholdFeature, ImportOptions, LatLon, VisitFeature,
    export_geojson,
};

fn household() -> HouseholdFeature {
    HouseholdFeature {
        code: "HH-05569-0012".into(),
        village: Some("Thôn Bản Pài".into()),
        location: LatLon::new(21.912_345_678, 105.623_456_789),
        risk_level: Some("high".into()),
        last_visit_ms: Some(1_795_924_800_000),
        flags: vec!["low_accuracy".into()],
    }
}

fn visit() -> VisitFeature {
    VisitFeature {
        code: "HH-05569-0012".into(),
        village: None,
        location: LatLon::new(21.912_355, 105.623_441),
        time_ms: 1_795_924_800_000,
        risk_level: Some("high".into()),
        flags: vec![],
    }
}

#[test]
fn exports_households_and_visits_with_their_properties() {
    let v = export_geojson(&[household()], &[visit()], &ExportOptions::default()).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    let f = &v["features"];
    assert_eq!(f.as_array().unwrap().len(), 2);
    assert_eq!(f[0]["geometry"]["type"], "Point");
    assert_eq!(f[0]["geometry"]["coordinates"][0], 105.623_456_789);
    assert_eq!(f[0]["geometry"]["coordinates"][1], 21.912_345_678);
    let p = &f[0]["properties"];
    assert_eq!(p["kind"], "household");
    assert_eq!(p["code"], "HH-05569-0012");
    assert_eq!(p["village"], "Thôn Bản Pài");
    assert_eq!(p["risk_level"], "high");
    assert_eq!(p["last_visit"], "2026-11-29T04:00:00.000Z");
    assert_eq!(p["flags"][0], "low_accuracy");
    let p = &f[1]["properties"];
    assert_eq!(p["kind"], "visit");
    assert_eq!(p["village"], serde_json::Value::Null);
    assert_eq!(p["time"], "2026-11-29T04:00:00.000Z");
    // Vietnam local time on request.
    let opts = ExportOptions { utc_offset_minutes: 420, ..ExportOptions::default() };
    let v = export_geojson(&[household()], &[], &opts).unwrap();
    assert_eq!(v["features"][0]["properties"]["last_visit"], "2026-11-29T11:00:00.000+07:00");
}

#[test]
fn precision_reduction_snaps_coordinates() {
    let opts = ExportOptions { decimals: Some(3), ..ExportOptions::default() };
    let v = export_geojson(&[household()], &[visit()], &opts).unwrap();
    let c = &v["features"][0]["geometry"]["coordinates"];
    assert_eq!((c[0].as_f64().unwrap(), c[1].as_f64().unwrap()), (105.623, 21.912));
    // The visit a metre away lands on the same grid point.
    assert_eq!(v["features"][1]["geometry"]["coordinates"], *c);
    let text = v.to_string();
    assert!(!text.contains("105.6234"), "{text}");
    let v =
        export_geojson(&[household()], &[], &ExportOptions { decimals: Some(0), ..opts }).unwrap();
    assert_eq!(v["features"][0]["geometry"]["coordinates"][0], 106.0);
    assert_eq!(
        export_geojson(&[], &[], &ExportOptions { decimals: Some(9), ..opts }),
        Err(ExportError::Decimals(9))
    );
}

#[test]
fn invalid_locations_are_refused_naming_the_record() {
    let mut h = household();
    h.location.lat = f64::NAN;
    assert_eq!(
        export_geojson(&[household(), h], &[], &ExportOptions::default()),
        Err(ExportError::InvalidLocation {
            kind: "household",
            index: 1,
            code: "HH-05569-0012".into()
        })
    );
}

#[test]
fn the_export_has_no_personal_names_and_reads_back_as_geojson() {
    let v = export_geojson(&[household()], &[visit()], &ExportOptions::default()).unwrap();
    let text = v.to_string();
    assert!(!text.contains("head"), "{text}");
    // Not polygons, so AreaSet refuses it with a typed error per feature, proving it parses.
    let err = AreaSet::from_geojson(&text, &ImportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("feature 0"), "{err}");
}
