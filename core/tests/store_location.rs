//! Location quality at finalize: a geopoint answered with a platform fix keeps the whole fix,
//! and finalize seals the flags a supervisor needs (mock provider, low accuracy, outside the
//! household's commune, far from the household, impossible travel, photos far away in space or
//! time) into the signed submission and the review queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use safehome_core::location::{AreaSet, Fix, FlagCode, ImportOptions, Provider};
use safehome_core::store::records::Draft;
use safehome_core::store::{Store, StoreError};
use serde_json::json;

mod common;
use common::*;

/// The household's commune, 05569: a box of about 10 km around the registered location
/// (21.905, 105.648).
fn communes() -> Arc<AreaSet> {
    let gj = json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"code": "05569", "name": "Xã Khuôn Tát"},
        "geometry": {"type": "Polygon", "coordinates": [[
            [105.60, 21.86], [105.70, 21.86], [105.70, 21.95], [105.60, 21.95], [105.60, 21.86]
        ]]}
    }]});
    Arc::new(AreaSet::from_geojson(&gj.to_string(), &ImportOptions::default()).unwrap())
}

fn gps_fix(s: &Store, lat: f64, lon: f64, accuracy_m: f64) -> Fix {
    let mut f = Fix::new(lat, lon, accuracy_m, s.now_ms() - 2_000);
    f.provider = Provider::Gps;
    f
}

/// A screening for a new household, answered except for its GPS.
fn visit(s: &Store, t: &Team) -> Draft {
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    let mut a = answers();
    a.as_object_mut().unwrap().remove("household_gps");
    s.edit(&mut d, |sess| sess.load_answers(&a).map_err(|mut e| e.remove(0))).unwrap();
    d
}

fn codes(flags: &[safehome_core::location::QualityFlag]) -> Vec<FlagCode> {
    flags.iter().map(|f| f.code).collect()
}

#[test]
fn a_good_fix_gives_no_flags_and_a_suspect_one_gives_each_reason() {
    let f = Fixture::new("loc-flags");
    let s = f.open();
    let t = team(&s);
    s.set_assigned_areas(Some(communes()));
    add_archive_recipient(&s, &t);

    // A careful visit: a GPS fix 20 m from the registered location, 8 m accuracy.
    let mut d = visit(&s, &t);
    let accepted = s
        .answer_fix(&t.vol, &mut d, "household_gps", &gps_fix(&s, 21.9052, 105.6481, 8.0), false)
        .unwrap();
    assert!(!accepted.over_warning);
    let answer = d.session().prompt_at("household_gps").unwrap().value;
    assert_eq!((answer["lat"].as_f64(), answer["accuracy"].as_f64()), (Some(21.9052), Some(8.0)));
    let good = s.finalize(&t.vol, &d).unwrap();
    let view = s.record(&t.sup, &good.record_id).unwrap();
    assert_eq!(codes(&view.quality_flags), vec![], "{:?}", view.quality_flags);

    // One minute later, 6 km north, outside the commune, from a mock provider, 70 m accuracy.
    f.clock.advance(60_000);
    let mut d = visit(&s, &t);
    let mut far = gps_fix(&s, 21.96, 105.648, 70.0);
    far.mock = true;
    // Worse than the question's warning (50 m): refused until confirmed, nothing stored (the
    // answer stays the registered location the visit was prefilled with).
    let prefilled = d.session().prompt_at("household_gps").unwrap().value;
    assert_eq!(prefilled["lat"].as_f64(), Some(21.905));
    assert!(matches!(
        s.answer_fix(&t.vol, &mut d, "household_gps", &far, false),
        Err(StoreError::FixNotAccepted(_))
    ));
    assert_eq!(d.session().prompt_at("household_gps").unwrap().value, prefilled);
    assert!(s.answer_fix(&t.vol, &mut d, "household_gps", &far, true).unwrap().over_warning);
    // A photo whose EXIF places it in Italy in 2008.
    s.attach_photo(&t.vol, &mut d, "hazard_photo", &fixture("camera/DSCN0010.jpg")).unwrap();
    let suspect = s.finalize(&t.vol, &d).unwrap();
    let view = s.record(&t.sup, &suspect.record_id).unwrap();
    let mut got = codes(&view.quality_flags);
    got.sort();
    assert_eq!(
        got,
        vec![
            FlagCode::LowAccuracy,
            FlagCode::AcceptedOverWarning,
            FlagCode::MockProvider,
            FlagCode::OutsideArea,
            FlagCode::FarFromHousehold,
            FlagCode::ImpossibleTravel,
            FlagCode::PhotoFarFromFix,
            FlagCode::PhotoTimeFar,
        ]
    );
    // Every flag carries its reasons in both languages and the numbers behind it.
    for flag in &view.quality_flags {
        assert!(!flag.reason_vi.is_empty() && !flag.reason_en.is_empty());
        assert!(!flag.numbers.is_empty(), "{flag:?}");
    }
    let far_flag =
        view.quality_flags.iter().find(|f| f.code == FlagCode::FarFromHousehold).unwrap();
    let distance = far_flag.numbers.values().copied().fold(0.0, f64::max);
    assert!((6_000.0..6_300.0).contains(&distance), "{far_flag:?}");

    // The supervisor sees the codes in the queue; the signed submission still verifies.
    let queue = s.review_queue(&t.sup, 10).unwrap();
    let item = queue.iter().find(|q| q.id == suspect.record_id).unwrap();
    assert_eq!(item.quality_flags.len(), 8);
    assert!(queue.iter().find(|q| q.id == good.record_id).unwrap().quality_flags.is_empty());
    assert!(s.verify_submission(&t.sup, &suspect.record_id).unwrap());
}

#[test]
fn flags_survive_a_restart_and_follow_a_returned_revision() {
    let f = Fixture::new("loc-resume");
    let (record_id, vol_id) = {
        let s = f.open();
        let t = team(&s);
        let mut d = visit(&s, &t);
        let mut mock = gps_fix(&s, 21.9051, 105.648, 5.0);
        mock.mock = true;
        s.answer_fix(&t.vol, &mut d, "household_gps", &mock, false).unwrap();
        (d.record_id.clone(), t.vol.profile_id().to_string())
    };
    // The app was killed; the draft is reopened on a new store.
    let s = f.open();
    let sup = s.profiles().unwrap().into_iter().find(|p| p.name == "Đỗ Thị Hằng").unwrap();
    let sup = s.unlock(&sup.id, "1111").unwrap();
    let vol = s.unlock(&vol_id, "2222").unwrap();
    let d = s.open_draft(&vol, &record_id).unwrap();
    s.finalize(&vol, &d).unwrap();
    assert_eq!(codes(&s.record(&sup, &record_id).unwrap().quality_flags), [FlagCode::MockProvider]);

    // Returned: the revision keeps the fix, and is judged again at its own finalize.
    let rev = s.return_record(&sup, &record_id, "Kiểm tra lại vị trí").unwrap();
    let d = s.open_draft(&vol, &rev).unwrap();
    s.finalize(&vol, &d).unwrap();
    assert_eq!(codes(&s.record(&sup, &rev).unwrap().quality_flags), [FlagCode::MockProvider]);
}

#[test]
fn without_a_platform_fix_there_is_nothing_to_judge() {
    let f = Fixture::new("loc-none");
    let s = f.open();
    let t = team(&s);

    // Prefilled from the household or typed by hand (here: the full answers, GPS included):
    // no fix, no flags.
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    let done = s.finalize(&t.vol, &d).unwrap();
    assert!(s.record(&t.sup, &done.record_id).unwrap().quality_flags.is_empty());

    // A mock fix, then replaced by a typed position: the fix no longer describes the answer.
    let mut d = visit(&s, &t);
    let mut mock = gps_fix(&s, 21.9051, 105.648, 5.0);
    mock.mock = true;
    s.answer_fix(&t.vol, &mut d, "household_gps", &mock, false).unwrap();
    s.answer(&mut d, "household_gps", &json!({"lat": 21.905, "lon": 105.648, "accuracy": 6}))
        .unwrap();
    let done = s.finalize(&t.vol, &d).unwrap();
    assert!(s.record(&t.sup, &done.record_id).unwrap().quality_flags.is_empty());
}

#[test]
fn a_bad_fix_is_a_typed_error_and_changes_nothing() {
    let f = Fixture::new("loc-bad");
    let s = f.open();
    let t = team(&s);
    let mut d = visit(&s, &t);
    let good = gps_fix(&s, 21.9051, 105.648, 5.0);
    s.answer_fix(&t.vol, &mut d, "household_gps", &good, false).unwrap();
    let before = d.session().prompt_at("household_gps").unwrap().value;

    let null_island = gps_fix(&s, 0.0, 0.0, 5.0);
    assert!(matches!(
        s.answer_fix(&t.vol, &mut d, "household_gps", &null_island, false),
        Err(StoreError::Fix(_))
    ));
    let mut stale = gps_fix(&s, 21.9051, 105.648, 5.0);
    stale.time_ms -= 3_600_000;
    assert!(matches!(
        s.answer_fix(&t.vol, &mut d, "household_gps", &stale, false),
        Err(StoreError::Fix(_))
    ));
    assert!(matches!(
        s.answer_fix(&t.vol, &mut d, "notes", &good, false),
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.answer_fix(&t.vol2, &mut d, "household_gps", &good, false),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(d.session().prompt_at("household_gps").unwrap().value, before);
    // And what was saved is what the reopened draft holds.
    let reopened = s.open_draft(&t.vol, &d.record_id).unwrap();
    assert_eq!(reopened.session().prompt_at("household_gps").unwrap().value, before);
}

#[test]
fn an_unreadable_photo_position_costs_its_flag_not_the_submission() {
    let f = Fixture::new("loc-tamper");
    let s = f.open();
    let t = team(&s);
    add_archive_recipient(&s, &t);
    let mut d = visit(&s, &t);
    s.answer_fix(&t.vol, &mut d, "household_gps", &gps_fix(&s, 21.9051, 105.648, 5.0), false)
        .unwrap();
    s.attach_photo(&t.vol, &mut d, "hazard_photo", &fixture("camera/DSCN0010.jpg")).unwrap();
    // The photo's stored EXIF position is damaged behind the store's back.
    let raw = rusqlite::Connection::open(&f.path).unwrap();
    assert_eq!(raw.execute("UPDATE attachments SET photo_location_enc = x'0102'", []).unwrap(), 1);
    drop(raw);
    let done = s.finalize(&t.vol, &d).unwrap();
    assert!(s.record(&t.sup, &done.record_id).unwrap().quality_flags.is_empty());
    assert!(s.verify_submission(&t.sup, &done.record_id).unwrap());
}
