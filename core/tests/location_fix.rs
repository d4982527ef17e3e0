//! GPS fixes: validation against the injected clock, XLSForm accuracy thresholds, best-fix
//! selection over a capture window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use safehome_core::clock::FixedClock;
use safehome_core::form::model::Field;
use safehome_core::location::{
    AcceptError, AccuracyDecision, AccuracyThresholds, BestFixConfig, BestFixError, Fix, FixError,
    FixLimits, LatLon, Provider, distance_m, select_best_fix, validate_fix,
};

const NOW: i64 = 1_795_924_800_000; // 2026-11-29T04:00:00Z

fn clock() -> FixedClock {
    FixedClock::new(NOW, 420)
}

fn fix(lat: f64, lon: f64, acc: f64, age_ms: i64) -> Fix {
    Fix::new(lat, lon, acc, NOW - age_ms)
}

fn check(f: &Fix) -> Result<i64, FixError> {
    validate_fix(f, &FixLimits::default(), &clock()).map(|v| v.age_ms)
}

#[test]
fn a_good_fix_passes_with_its_age() {
    let mut f = fix(21.5942, 105.8482, 8.0, 4_000);
    f.altitude_m = Some(35.0);
    f.vertical_accuracy_m = Some(12.0);
    f.bearing_deg = Some(359.0);
    f.speed_mps = Some(1.2);
    f.provider = Provider::Gps;
    let v = validate_fix(&f, &FixLimits::default(), &clock()).unwrap();
    assert_eq!((v.age_ms, v.received_ms), (4_000, NOW));
    // The elapsed-realtime age wins over the wall-clock difference.
    f.age_ms = Some(1_500);
    assert_eq!(check(&f), Ok(1_500));
}

#[test]
fn non_finite_values_are_refused_by_name() {
    let base = fix(21.5, 105.8, 5.0, 0);
    let cases: Vec<(Fix, &str)> = vec![
        (Fix { lat: f64::NAN, ..base.clone() }, "latitude"),
        (Fix { lon: f64::INFINITY, ..base.clone() }, "longitude"),
        (Fix { accuracy_m: f64::NAN, ..base.clone() }, "accuracy"),
        (Fix { altitude_m: Some(f64::NEG_INFINITY), ..base.clone() }, "altitude"),
        (Fix { vertical_accuracy_m: Some(f64::NAN), ..base.clone() }, "vertical accuracy"),
        (Fix { bearing_deg: Some(f64::NAN), ..base.clone() }, "bearing"),
        (Fix { speed_mps: Some(f64::NAN), ..base.clone() }, "speed"),
    ];
    for (f, field) in cases {
        assert_eq!(check(&f), Err(FixError::NotFinite { field }), "{field}");
    }
}

#[test]
fn out_of_range_values() {
    let base = fix(21.5, 105.8, 5.0, 0);
    let field = |f: &Fix| match check(f) {
        Err(FixError::OutOfRange { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(&Fix { lat: 90.5, ..base.clone() }), "latitude");
    assert_eq!(field(&Fix { lat: -91.0, ..base.clone() }), "latitude");
    assert_eq!(field(&Fix { lon: 180.01, ..base.clone() }), "longitude");
    assert_eq!(field(&Fix { altitude_m: Some(20_000.0), ..base.clone() }), "altitude");
    assert_eq!(field(&Fix { bearing_deg: Some(-1.0), ..base.clone() }), "bearing");
    assert_eq!(field(&Fix { speed_mps: Some(-0.5), ..base.clone() }), "speed");
    assert_eq!(field(&Fix { speed_mps: Some(400.0), ..base.clone() }), "speed");
    assert_eq!(field(&Fix { age_ms: Some(-5), ..base.clone() }), "age");
    // The edges of the ranges are fine.
    assert!(check(&Fix { lat: 90.0, lon: -180.0, ..base.clone() }).is_ok());
    assert_eq!(check(&Fix { lat: 0.0, lon: 0.0, ..base.clone() }), Err(FixError::NullIsland));
    // Only both zero is null island.
    assert!(check(&Fix { lat: 0.0, lon: 105.0, ..base }).is_ok());
}

#[test]
fn accuracy_must_be_positive_and_sane() {
    let base = fix(21.5, 105.8, 5.0, 0);
    assert_eq!(
        check(&Fix { accuracy_m: 0.0, ..base.clone() }),
        Err(FixError::AccuracyNotPositive { field: "accuracy", value: 0.0 })
    );
    assert!(matches!(
        check(&Fix { accuracy_m: -3.0, ..base.clone() }),
        Err(FixError::AccuracyNotPositive { .. })
    ));
    assert_eq!(
        check(&Fix { accuracy_m: 25_000.0, ..base.clone() }),
        Err(FixError::AccuracyAbsurd { field: "accuracy", value: 25_000.0, max: 10_000.0 })
    );
    assert!(matches!(
        check(&Fix { vertical_accuracy_m: Some(0.0), ..base.clone() }),
        Err(FixError::AccuracyNotPositive { field: "vertical accuracy", .. })
    ));
    assert!(check(&Fix { accuracy_m: 10_000.0, ..base }).is_ok());
}

#[test]
fn future_and_stale_times_use_the_injected_clock() {
    let limits = FixLimits::default();
    let c = clock();
    let ahead = Fix::new(21.5, 105.8, 5.0, NOW + 61_000);
    assert_eq!(
        validate_fix(&ahead, &limits, &c),
        Err(FixError::InFuture { ahead_ms: 61_000, tolerance_ms: 60_000 })
    );
    // Within the tolerance: accepted, age 0.
    let slightly = Fix::new(21.5, 105.8, 5.0, NOW + 30_000);
    assert_eq!(validate_fix(&slightly, &limits, &c).unwrap().age_ms, 0);

    let old = fix(21.5, 105.8, 5.0, 5 * 60_000 + 1);
    assert_eq!(
        validate_fix(&old, &limits, &c),
        Err(FixError::Stale { age_ms: 300_001, max_age_ms: 300_000 })
    );
    // The same fix was fresh a minute earlier: the clock, not the system time, decides.
    c.set(NOW - 60_000);
    assert!(validate_fix(&old, &limits, &c).is_ok());
    // A stale elapsed-realtime age is refused even when the wall-clock time looks fresh.
    c.set(NOW);
    let f = Fix { age_ms: Some(400_000), ..fix(21.5, 105.8, 5.0, 0) };
    assert!(matches!(validate_fix(&f, &limits, &c), Err(FixError::Stale { age_ms: 400_000, .. })));
    assert_eq!(FixError::Stale { age_ms: 1, max_age_ms: 0 }.code(), "stale");
}

#[test]
fn fix_json_round_trip_and_unknown_fields() {
    let json = r#"{"lat":21.59,"lon":105.84,"accuracy_m":6.5,"time_ms":1795924800000,
                   "provider":"fused","mock":true,"age_ms":800,"altitude_m":40.0}"#;
    let f: Fix = serde_json::from_str(json).unwrap();
    assert_eq!(f.provider, Provider::Fused);
    assert!(f.mock);
    assert_eq!(f.age_ms, Some(800));
    let back: Fix = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);
    let typo = r#"{"lat":21.59,"lon":105.84,"accuracy":6.5,"time_ms":0}"#;
    assert!(serde_json::from_str::<Fix>(typo).is_err());
}

// ----- thresholds ---------------------------------------------------------------------------------

#[test]
fn thresholds_follow_xlsform_semantics() {
    let t = AccuracyThresholds { capture_m: Some(10.0), warning_m: Some(50.0) };
    assert_eq!(t.decide(4.0), AccuracyDecision::AcceptAutomatically);
    assert_eq!(t.decide(10.0), AccuracyDecision::AcceptAutomatically);
    assert_eq!(t.decide(10.5), AccuracyDecision::AcceptOnRequest);
    assert_eq!(t.decide(50.0), AccuracyDecision::AcceptOnRequest);
    assert_eq!(
        t.decide(50.5),
        AccuracyDecision::NeedsConfirmation { accuracy_m: 50.5, warning_m: 50.0 }
    );
    let none = AccuracyThresholds::default();
    assert_eq!(none.decide(500.0), AccuracyDecision::AcceptOnRequest);
}

#[test]
fn thresholds_come_from_the_geopoint_field() {
    let field: Field = serde_json::from_value(serde_json::json!({
        "name": "gps", "type": "geopoint", "capture_accuracy": 10, "warning_accuracy": 50
    }))
    .unwrap();
    let t = AccuracyThresholds::from_field(&field);
    assert_eq!(t, AccuracyThresholds { capture_m: Some(10.0), warning_m: Some(50.0) });
}

#[test]
fn accepting_over_the_warning_needs_confirmation() {
    let t = AccuracyThresholds { capture_m: Some(10.0), warning_m: Some(50.0) };
    let c = clock();
    let poor = validate_fix(&fix(21.5, 105.8, 80.0, 0), &FixLimits::default(), &c).unwrap();
    assert_eq!(
        t.accept(poor.clone(), false),
        Err(AcceptError::ConfirmationRequired { accuracy_m: 80.0, warning_m: 50.0 })
    );
    let a = t.accept(poor, true).unwrap();
    assert!(a.over_warning);
    assert_eq!(a.warning_m, Some(50.0));
    let good = validate_fix(&fix(21.5, 105.8, 8.0, 0), &FixLimits::default(), &c).unwrap();
    let a = t.accept(good, false).unwrap();
    assert!(!a.over_warning);
}

// ----- best fix -----------------------------------------------------------------------------------

fn best(fixes: &[Fix]) -> Result<safehome_core::location::BestFix, BestFixError> {
    select_best_fix(fixes, &FixLimits::default(), &BestFixConfig::default(), &clock())
}

#[test]
fn takes_the_most_accurate_recent_fix() {
    let fixes = [
        fix(21.5940, 105.8480, 30.0, 20_000),
        fix(21.5942, 105.8482, 12.0, 10_000),
        fix(21.6000, 105.8600, 3.0, 45_000), // most accurate but outside the 30 s window
        fix(21.5990, 105.8400, 40.0, 1_000),
    ];
    let b = best(&fixes).unwrap();
    assert_eq!(b.averaged_from, 1);
    assert_eq!(b.candidates, 3);
    assert_eq!((b.fix.fix.lat, b.fix.fix.accuracy_m), (21.5942, 12.0));
}

#[test]
fn averages_stable_fixes() {
    // Five fixes scattered a metre or two around a house, all about 6 m accurate.
    let house = LatLon::new(21.59420, 105.84820);
    let d = 0.00001; // about 1.1 m
    let fixes = [
        fix(house.lat + d, house.lon, 6.0, 9_000),
        fix(house.lat - d, house.lon, 6.0, 7_000),
        fix(house.lat, house.lon + d, 5.0, 5_000),
        fix(house.lat, house.lon - d, 5.0, 3_000),
        fix(house.lat + 0.01, house.lon, 7.0, 2_000), // a jump of 1.1 km: not stable
    ];
    let b = best(&fixes).unwrap();
    assert_eq!(b.averaged_from, 4);
    assert_eq!(b.candidates, 5);
    let err = distance_m(house, b.fix.position());
    assert!(err < 0.3, "{err}");
    assert!(b.spread_m > 0.5 && b.spread_m < 2.0, "{}", b.spread_m);
    // Accuracy is the best single fix's; time the newest averaged; age the youngest.
    assert_eq!(b.fix.fix.accuracy_m, 5.0);
    assert_eq!(b.fix.age_ms, 3_000);
    assert_eq!(b.fix.fix.time_ms, NOW - 3_000);
}

#[test]
fn two_stable_fixes_are_not_averaged() {
    let fixes = [fix(21.5942, 105.8482, 5.0, 3_000), fix(21.59421, 105.8482, 5.0, 2_000)];
    assert_eq!(best(&fixes).unwrap().averaged_from, 1);
}

#[test]
fn a_mock_fix_in_the_window_taints_the_result() {
    let mut m = fix(21.5942, 105.8482, 20.0, 2_000);
    m.mock = true;
    let fixes = [fix(21.5942, 105.8482, 5.0, 3_000), m];
    let b = best(&fixes).unwrap();
    assert_eq!(b.fix.fix.accuracy_m, 5.0);
    assert!(b.fix.fix.mock);
}

#[test]
fn nothing_usable() {
    assert_eq!(best(&[]), Err(BestFixError::NoFixes));
    let fixes = [fix(0.0, 0.0, 5.0, 0), fix(21.5, 105.8, 5.0, 40_000)];
    match best(&fixes) {
        Err(BestFixError::NoUsableFix { delivered: 2, rejected: 1, first_error }) => {
            assert_eq!(first_error, Some(FixError::NullIsland));
        }
        other => panic!("{other:?}"),
    }
}
