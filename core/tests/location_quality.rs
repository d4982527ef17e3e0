//! Quality flags: each one triggered, each one not triggered, with its reasons and numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use safehome_core::clock::FixedClock;
use safehome_core::location::{
    AcceptedFix, AccuracyThresholds, AreaSet, FixLimits, FlagCode, ImportOptions, LatLon,
    PhotoLocation, PreviousVisit, QualityConfig, QualityError, QualityFlag, RegisteredLocation,
    VisitContext, quality_flags, validate_fix,
};

const NOW: i64 = 1_795_924_800_000;

/// Inside commune 05662 of the test data, at a registered household.
const HOME: LatLon = LatLon::new(21.95, 105.75);

fn areas() -> AreaSet {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/geo/communes.geojson");
    AreaSet::from_geojson(&std::fs::read_to_string(path).unwrap(), &ImportOptions::default())
        .unwrap()
}

struct Case {
    at: LatLon,
    accuracy: f64,
    age_ms: i64,
    mock: bool,
    confirmed_over_warning: bool,
    assigned: &'static str,
    household: LatLon,
    previous: PreviousVisit,
    photos: Vec<PhotoLocation>,
}

/// A clean visit: good fix at the household, inside the assigned area, previous visit 2 km and
/// 20 minutes earlier, a photo taken on the spot during the visit.
fn clean() -> Case {
    Case {
        at: HOME,
        accuracy: 8.0,
        age_ms: 2_000,
        mock: false,
        confirmed_over_warning: false,
        assigned: "05662",
        household: HOME,
        previous: PreviousVisit {
            location: LatLon::new(21.95 + 0.018, 105.75),
            accuracy_m: 10.0,
            time_ms: NOW - 20 * 60_000,
        },
        photos: vec![PhotoLocation {
            id: "photo-1".into(),
            location: Some(LatLon::new(21.95001, 105.75001)),
            time_ms: Some(NOW - 5 * 60_000),
        }],
    }
}

fn flags(c: &Case) -> Vec<QualityFlag> {
    let clock = FixedClock::new(NOW, 420);
    let mut f = safehome_core::location::Fix::new(c.at.lat, c.at.lon, c.accuracy, NOW);
    f.age_ms = Some(c.age_ms);
    f.mock = c.mock;
    let v = validate_fix(&f, &FixLimits::default(), &clock).unwrap();
    let t = AccuracyThresholds { capture_m: Some(10.0), warning_m: Some(50.0) };
    let accepted: AcceptedFix = t.accept(v, c.confirmed_over_warning).unwrap();
    let set = areas();
    let ctx = VisitContext {
        fix: &accepted,
        visit_start_ms: NOW - 10 * 60_000,
        visit_end_ms: NOW + 10 * 60_000,
        assigned: Some((&set, c.assigned)),
        household: Some(RegisteredLocation { location: c.household, accuracy_m: Some(5.0) }),
        previous_visit: Some(c.previous),
        photos: &c.photos,
    };
    quality_flags(&ctx, &QualityConfig::default()).unwrap()
}

fn codes(c: &Case) -> Vec<FlagCode> {
    flags(c).iter().map(|f| f.code).collect()
}

fn only(c: &Case, code: FlagCode) -> QualityFlag {
    let fl = flags(c);
    assert_eq!(fl.iter().map(|f| f.code).collect::<Vec<_>>(), [code], "{fl:#?}");
    let f = fl.into_iter().next().unwrap();
    assert!(!f.reason_vi.is_empty() && !f.reason_en.is_empty());
    assert_ne!(f.reason_vi, f.reason_en);
    f
}

#[test]
fn a_clean_visit_has_no_flags() {
    assert_eq!(codes(&clean()), []);
}

#[test]
fn low_accuracy() {
    let f = only(&Case { accuracy: 45.0, ..clean() }, FlagCode::LowAccuracy);
    assert_eq!(f.numbers["accuracy_m"], 45.0);
    assert_eq!(f.numbers["threshold_m"], 30.0);
    assert!(f.reason_en.contains("45 m") && f.reason_vi.contains("45 m"), "{f:?}");
    assert!(codes(&Case { accuracy: 30.0, ..clean() }).is_empty());
}

#[test]
fn accepted_over_warning() {
    let fl = flags(&Case { accuracy: 80.0, confirmed_over_warning: true, ..clean() });
    let got: Vec<_> = fl.iter().map(|f| f.code).collect();
    assert_eq!(got, [FlagCode::LowAccuracy, FlagCode::AcceptedOverWarning]);
    assert_eq!(fl[1].numbers["warning_m"], 50.0);
    assert!(fl[1].reason_vi.contains("xác nhận"), "{}", fl[1].reason_vi);
    // Confirmation given but not needed (accuracy under the warning): no flag.
    let c = Case { accuracy: 20.0, confirmed_over_warning: true, ..clean() };
    assert!(!codes(&c).contains(&FlagCode::AcceptedOverWarning));
}

#[test]
fn mock_provider() {
    let f = only(&Case { mock: true, ..clean() }, FlagCode::MockProvider);
    assert_eq!(f.numbers["mock"], 1.0);
    assert!(f.reason_en.contains("mock"));
}

#[test]
fn stale_fix() {
    let f = only(&Case { age_ms: 90_000, ..clean() }, FlagCode::StaleFix);
    assert_eq!(f.numbers["age_s"], 90.0);
    assert_eq!(f.numbers["limit_s"], 60.0);
    assert!(codes(&Case { age_ms: 60_000, ..clean() }).is_empty());
}

#[test]
fn outside_assigned_area_with_distance() {
    // At the household but assigned to 05569 whose east edge is lon 105.70: about 5.2 km away.
    let fl = flags(&Case { assigned: "05569", ..clean() });
    let f = fl.iter().find(|f| f.code == FlagCode::OutsideArea).unwrap();
    assert_eq!(fl.len(), 1, "{fl:#?}");
    let d = f.numbers["distance_m"];
    assert!((d - 5_170.0).abs() < 50.0, "{d}");
    assert!(f.reason_en.contains("05569") && f.reason_vi.contains("05569"));
    // Just outside, by less than the accuracy: the benefit of the doubt.
    let just_out = LatLon::new(21.95, 105.80005); // 5 m outside 05662's east edge (in 05692)
    let c = Case { at: just_out, household: just_out, photos: vec![], ..clean() };
    assert!(codes(&c).is_empty(), "{:?}", codes(&c));
    let c = Case { at: just_out, household: just_out, photos: vec![], accuracy: 3.0, ..clean() };
    assert_eq!(codes(&c), [FlagCode::OutsideArea]);
}

#[test]
fn unknown_assigned_area_is_an_error() {
    let clock = FixedClock::new(NOW, 420);
    let v = validate_fix(
        &safehome_core::location::Fix::new(21.95, 105.75, 5.0, NOW),
        &FixLimits::default(),
        &clock,
    )
    .unwrap();
    let accepted = AccuracyThresholds::default().accept(v, false).unwrap();
    let set = areas();
    let ctx = VisitContext {
        fix: &accepted,
        visit_start_ms: NOW,
        visit_end_ms: NOW,
        assigned: Some((&set, "99999")),
        household: None,
        previous_visit: None,
        photos: &[],
    };
    assert_eq!(
        quality_flags(&ctx, &QualityConfig::default()),
        Err(QualityError::UnknownArea("99999".into()))
    );
}

#[test]
fn far_from_registered_household() {
    let moved = LatLon::new(21.95 + 0.002, 105.75); // about 221 m north
    let f = only(&Case { household: moved, ..clean() }, FlagCode::FarFromHousehold);
    assert!((f.numbers["distance_m"] - 221.5).abs() < 1.0, "{:?}", f.numbers);
    assert_eq!(f.numbers["allowed_m"], 113.0); // 100 + 8 + 5
    let close = LatLon::new(21.95 + 0.0009, 105.75); // about 100 m
    assert!(codes(&Case { household: close, ..clean() }).is_empty());
}

#[test]
fn impossible_travel_speed() {
    // 20 km in 5 minutes: 240 km/h.
    let previous = PreviousVisit {
        location: LatLon::new(21.95 + 0.18, 105.75),
        accuracy_m: 10.0,
        time_ms: NOW - 5 * 60_000,
    };
    let f = only(&Case { previous, ..clean() }, FlagCode::ImpossibleTravel);
    assert!((f.numbers["speed_kmh"] - 239.0).abs() < 2.0, "{:?}", f.numbers);
    assert_eq!(f.numbers["seconds"], 300.0);
    assert_eq!(f.numbers["limit_kmh"], 100.0);
    // 20 km in 15 minutes: 80 km/h, possible on a motorbike.
    let previous = PreviousVisit { time_ms: NOW - 15 * 60_000, ..previous };
    assert!(codes(&Case { previous, ..clean() }).is_empty());
    // Two fixes at the same time and place (within accuracy): no jump.
    let same =
        PreviousVisit { location: LatLon::new(21.9501, 105.75), accuracy_m: 10.0, time_ms: NOW };
    assert!(codes(&Case { previous: same, ..clean() }).is_empty());
}

#[test]
fn photo_far_from_the_fix() {
    let photos = vec![PhotoLocation {
        id: "photo-far".into(),
        location: Some(LatLon::new(21.95 + 0.01, 105.75)), // 1.1 km
        time_ms: Some(NOW),
    }];
    let f = only(&Case { photos, ..clean() }, FlagCode::PhotoFarFromFix);
    assert_eq!(f.subject.as_deref(), Some("photo-far"));
    assert!((f.numbers["distance_m"] - 1_107.0).abs() < 5.0, "{:?}", f.numbers);
    assert_eq!(f.numbers["allowed_m"], 208.0);
    // No GPS in the photo, or a broken one: nothing to compare.
    let photos = vec![
        PhotoLocation { id: "p".into(), location: None, time_ms: Some(NOW) },
        PhotoLocation { id: "q".into(), location: Some(LatLon::new(200.0, 105.0)), time_ms: None },
    ];
    assert!(codes(&Case { photos, ..clean() }).is_empty());
}

#[test]
fn photo_time_far_from_the_visit() {
    let photos = vec![PhotoLocation {
        id: "yesterday".into(),
        location: None,
        time_ms: Some(NOW - 24 * 3_600_000),
    }];
    let f = only(&Case { photos, ..clean() }, FlagCode::PhotoTimeFar);
    assert_eq!(f.subject.as_deref(), Some("yesterday"));
    assert_eq!(f.numbers["gap_min"], 24.0 * 60.0 - 10.0);
    assert_eq!(f.numbers["limit_min"], 30.0);
    // 25 minutes after the visit ended: within the 30-minute tolerance.
    let photos =
        vec![PhotoLocation { id: "p".into(), location: None, time_ms: Some(NOW + 35 * 60_000) }];
    assert!(codes(&Case { photos, ..clean() }).is_empty());
}

#[test]
fn every_flag_code_is_covered_and_serialises() {
    let bad = Case {
        accuracy: 80.0,
        confirmed_over_warning: true,
        mock: true,
        age_ms: 120_000,
        assigned: "05569",
        household: LatLon::new(21.97, 105.75),
        previous: PreviousVisit {
            location: LatLon::new(22.5, 105.75),
            accuracy_m: 5.0,
            time_ms: NOW - 60_000,
        },
        photos: vec![PhotoLocation {
            id: "p".into(),
            location: Some(LatLon::new(21.99, 105.75)),
            time_ms: Some(NOW - 3 * 3_600_000),
        }],
        at: HOME,
    };
    let fl = flags(&bad);
    let got: Vec<FlagCode> = fl.iter().map(|f| f.code).collect();
    assert_eq!(got, FlagCode::ALL);
    let json = serde_json::to_value(&fl).unwrap();
    assert_eq!(json[0]["code"], "low_accuracy");
    assert_eq!(json[4]["code"], "outside_area");
    assert!(json[4]["numbers"]["distance_m"].as_f64().unwrap() > 5_000.0);
    for (f, code) in fl.iter().zip(FlagCode::ALL) {
        assert_eq!(serde_json::to_value(f.code).unwrap(), code.as_str());
    }
}
