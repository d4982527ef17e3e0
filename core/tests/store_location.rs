//! Location quality at finalize: a geopoint answered with a platform fix keeps the whole fix,
//! and finalize seals the flags a supervisor needs (mock provider, low accuracy, outside the
//! household's commune, far from the household, impossible travel, photos far away in space or
//! time) into the signed submission and the review queue.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rusqlite::Connection;
use safehome_core::crypto::KeyHierarchy;
use safehome_core::location::{AreasError, Fix, FlagCode, Provider};
use safehome_core::store::profiles::Actor;
use safehome_core::store::records::Draft;
use safehome_core::store::{Store, StoreError};
use serde_json::{Value, json};

mod common;
use common::*;

/// A commune as a GeoJSON FeatureCollection of one box.
fn commune_box(code: &str, west: f64, south: f64, east: f64, north: f64) -> String {
    json!({"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"code": code, "name": "Xã Khuôn Tát"},
        "geometry": {"type": "Polygon", "coordinates": [[
            [west, south], [east, south], [east, north], [west, north], [west, south]
        ]]}
    }]})
    .to_string()
}

/// The household's commune, 05569: a box of about 10 km around the registered location
/// (21.905, 105.648).
fn communes() -> String {
    commune_box("05569", 105.60, 21.86, 105.70, 21.95)
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
    s.set_assigned_areas(&t.sup, Some(&communes())).unwrap();
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

/// A volunteer's draft answered with a mock GPS fix, on a store that is then closed (the app
/// killed): the record's id and the volunteer's profile id.
fn mock_gps_draft(f: &Fixture) -> (String, String) {
    let s = f.open();
    let t = team(&s);
    let mut d = visit(&s, &t);
    let mut mock = gps_fix(&s, 21.9051, 105.648, 5.0);
    mock.mock = true;
    s.answer_fix(&t.vol, &mut d, "household_gps", &mock, false).unwrap();
    (d.record_id.clone(), t.vol.profile_id().to_string())
}

#[test]
fn flags_survive_a_restart_and_follow_a_returned_revision() {
    let f = Fixture::new("loc-resume");
    let (record_id, vol_id) = mock_gps_draft(&f);
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

// ----- assigned areas are configuration; checks not run are sealed with their reason -----------

/// The location review sealed into a finalized record's signed submission.
fn sealed_location(f: &Fixture, record_id: &str) -> Value {
    let c = Connection::open(&f.path).unwrap();
    let enc: Vec<u8> = c
        .query_row("SELECT submission_enc FROM records WHERE id = ?1", [record_id], |r| r.get(0))
        .unwrap();
    let keys = KeyHierarchy::derive(&key(1));
    let bytes = keys.column.decrypt("records", "submission", record_id, &enc).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["location"].clone()
}

/// `check: reason` for each skipped check of a sealed review (`check/subject: reason` for a
/// photo's).
fn skipped(location: &Value) -> Vec<String> {
    location["skipped_checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no skipped_checks in {location}"))
        .iter()
        .map(|c| match c["subject"].as_str() {
            Some(_) => {
                format!("{}/photo: {}", c["check"].as_str().unwrap(), c["reason"].as_str().unwrap())
            }
            None => format!("{}: {}", c["check"].as_str().unwrap(), c["reason"].as_str().unwrap()),
        })
        .collect()
}

fn sealed_codes(location: &Value) -> Vec<String> {
    location["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().into())
        .collect()
}

/// A household visit answered with a good GPS fix at (lat, lon), finalized; its record id.
fn finalized_visit_at(s: &Store, vol: &Actor, lat: f64, lon: f64) -> String {
    let h = s.add_household(vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(vol, &h.id, "household_screening").unwrap();
    let mut a = answers();
    a.as_object_mut().unwrap().remove("household_gps");
    s.edit(&mut d, |sess| sess.load_answers(&a).map_err(|mut e| e.remove(0))).unwrap();
    s.answer_fix(vol, &mut d, "household_gps", &gps_fix(s, lat, lon, 8.0), false).unwrap();
    s.finalize(vol, &d).unwrap().record_id
}

fn unlock_by_name(s: &Store, name: &str, pin: &str) -> Actor {
    let p = s.profiles().unwrap().into_iter().find(|p| p.name == name).unwrap();
    s.unlock(&p.id, pin).unwrap()
}

#[test]
fn assigned_areas_survive_a_restart_without_being_set_again() {
    let f = Fixture::new("areas-restart");
    {
        let s = f.open();
        let t = team(&s);
        s.set_assigned_areas(&t.sup, Some(&communes())).unwrap();
    }
    // The app was restarted; nobody sets the areas again.
    let s = f.open();
    let vol = unlock_by_name(&s, "Lục Văn Toàn", "2222");
    let areas = s.assigned_areas().unwrap().expect("the areas were kept");
    assert_eq!(areas.areas().iter().map(|a| a.code.as_str()).collect::<Vec<_>>(), ["05569"]);

    // 6 km north of the household, outside its commune (accuracy 8 m).
    let outside = finalized_visit_at(&s, &vol, 21.96, 105.648);
    let sup = unlock_by_name(&s, "Đỗ Thị Hằng", "1111");
    let flags = codes(&s.record(&sup, &outside).unwrap().quality_flags);
    assert!(flags.contains(&FlagCode::OutsideArea), "{flags:?}");
    let location = sealed_location(&f, &outside);
    assert!(sealed_codes(&location).contains(&"outside_area".to_string()), "{location}");
    // The area was checked, and its previous-visit check had nothing to compare with.
    assert_eq!(skipped(&location), ["impossible_travel: no_previous_fix"]);
    assert!(s.verify_submission(&sup, &outside).unwrap());

    // The GeoJSON is not in the database in the clear.
    let c = Connection::open(&f.path).unwrap();
    let stored: Vec<u8> = c.query_row("SELECT areas_enc FROM device", [], |r| r.get(0)).unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains("FeatureCollection"));
}

#[test]
fn without_areas_the_review_says_which_checks_it_could_not_run() {
    let f = Fixture::new("areas-none");
    let s = f.open();
    let t = team(&s);
    add_archive_recipient(&s, &t);

    // No areas, no earlier visit: inside the commune, but nothing says so.
    let first = finalized_visit_at(&s, &t.vol, 21.9052, 105.6481);
    let location = sealed_location(&f, &first);
    assert_eq!(sealed_codes(&location), Vec::<String>::new());
    assert_eq!(
        skipped(&location),
        ["outside_area: no_assigned_areas", "impossible_travel: no_previous_fix"]
    );

    // With the areas set: checked, inside. Every check ran.
    f.clock.advance(60_000);
    s.set_assigned_areas(&t.sup, Some(&communes())).unwrap();
    let second = finalized_visit_at(&s, &t.vol, 21.9052, 105.6481);
    let location = sealed_location(&f, &second);
    assert_eq!(sealed_codes(&location), Vec::<String>::new());
    assert_eq!(skipped(&location), Vec::<String>::new());
    assert_eq!(location["skipped_checks"], json!([]));

    // A household of another commune, without a registered location, and a photo without EXIF
    // (no position, no time): each check that cannot run is named with its reason.
    f.clock.advance(60_000);
    let mut h = new_household("Hoàng Văn Tú");
    h.commune_code = "05662".into();
    h.location = None;
    let h = s.add_household(&t.vol, &h).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    let mut a = answers();
    a.as_object_mut().unwrap().remove("household_gps");
    s.edit(&mut d, |sess| sess.load_answers(&a).map_err(|mut e| e.remove(0))).unwrap();
    s.answer_fix(&t.vol, &mut d, "household_gps", &gps_fix(&s, 21.9052, 105.6481, 8.0), false)
        .unwrap();
    let photo = s
        .attach_photo(&t.vol, &mut d, "hazard_photo", &fixture("orientation/Landscape_0.jpg"))
        .unwrap();
    let third = s.finalize(&t.vol, &d).unwrap().record_id;
    let location = sealed_location(&f, &third);
    assert_eq!(
        skipped(&location),
        [
            "outside_area: commune_not_in_areas",
            "far_from_household: household_has_no_location",
            "photo_far_from_fix/photo: photo_has_no_position",
            "photo_time_far/photo: photo_has_no_time",
        ],
    );
    let photo_skip = &location["skipped_checks"][2];
    assert_eq!(photo_skip["subject"], json!(photo.id), "{location}");
}

#[test]
fn updating_the_areas_changes_the_next_finalize() {
    let f = Fixture::new("areas-update");
    let s = f.open();
    let t = team(&s);
    s.set_assigned_areas(&t.sup, Some(&communes())).unwrap();
    let inside = finalized_visit_at(&s, &t.vol, 21.9052, 105.6481);
    assert_eq!(codes(&s.record(&t.sup, &inside).unwrap().quality_flags), []);

    // The commune's boundary is corrected: the same position is now 5 km outside it.
    f.clock.advance(3_600_000);
    s.set_assigned_areas(&t.sup, Some(&commune_box("05569", 105.70, 21.86, 105.80, 21.95)))
        .unwrap();
    let moved = finalized_visit_at(&s, &t.vol, 21.9052, 105.6481);
    assert_eq!(codes(&s.record(&t.sup, &moved).unwrap().quality_flags), [FlagCode::OutsideArea]);

    // Cleared: the check is no longer run, and the review says so.
    f.clock.advance(3_600_000);
    s.set_assigned_areas(&t.sup, None).unwrap();
    assert!(s.assigned_areas().unwrap().is_none());
    let unchecked = finalized_visit_at(&s, &t.vol, 21.9052, 105.6481);
    assert_eq!(codes(&s.record(&t.sup, &unchecked).unwrap().quality_flags), []);
    assert_eq!(skipped(&sealed_location(&f, &unchecked)), ["outside_area: no_assigned_areas"]);

    // Each change is in the audit chain, which still verifies.
    let c = Connection::open(&f.path).unwrap();
    let changes: i64 = c
        .query_row(
            "SELECT count(*) FROM audit WHERE entity = 'areas' AND action = 'configured'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(changes, 3);
    assert!(s.verify_audit().unwrap().is_intact());
}

#[test]
fn invalid_areas_are_refused_and_the_previous_areas_kept() {
    let f = Fixture::new("areas-invalid");
    let s = f.open();
    let t = team(&s);
    s.set_assigned_areas(&t.sup, Some(&communes())).unwrap();

    let unclosed = communes().replace("[105.6,21.86]]]", "[105.6,21.9]]]");
    assert_ne!(unclosed, communes());
    match s.set_assigned_areas(&t.sup, Some(&unclosed)) {
        Err(e @ StoreError::Areas(AreasError::Features(_))) => {
            assert!(e.to_string().contains("feature 0 (code 05569)"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.set_assigned_areas(&t.sup, Some("{")),
        Err(StoreError::Areas(AreasError::Json { .. }))
    ));
    assert!(matches!(
        s.set_assigned_areas(&t.sup, Some(r#"{"type": "FeatureCollection", "features": []}"#)),
        Err(StoreError::Areas(AreasError::Empty))
    ));
    // Only a supervisor configures the team.
    assert!(matches!(s.set_assigned_areas(&t.vol, None), Err(StoreError::Forbidden { .. })));

    // The previous areas stay, in memory and in the database.
    let kept = |s: &Store| {
        let a = s.assigned_areas().unwrap().unwrap();
        (a.len(), a.areas()[0].bbox())
    };
    assert_eq!(kept(&s), (1, [105.60, 21.86, 105.70, 21.95]));
    let outside = finalized_visit_at(&s, &t.vol, 21.96, 105.648);
    assert!(
        codes(&s.record(&t.sup, &outside).unwrap().quality_flags).contains(&FlagCode::OutsideArea)
    );
    drop(s);
    assert_eq!(kept(&f.open()), (1, [105.60, 21.86, 105.70, 21.95]));
}

#[test]
fn altered_areas_are_reported_as_unreadable_and_the_visit_still_finalized() {
    let f = Fixture::new("areas-tamper");
    let s = f.open();
    let t = team(&s);
    s.set_assigned_areas(&t.sup, Some(&communes())).unwrap();
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    let mut a = answers();
    a.as_object_mut().unwrap().remove("household_gps");
    s.edit(&mut d, |sess| sess.load_answers(&a).map_err(|mut e| e.remove(0))).unwrap();
    s.answer_fix(&t.vol, &mut d, "household_gps", &gps_fix(&s, 21.96, 105.648, 8.0), false)
        .unwrap();
    // The areas are replaced behind the store's back, without the data key: say with another
    // device's ciphertext, or with nothing useful. The device row's seal reports the edit, and
    // nothing that depends on the device row goes ahead: the visit is not finalized on a
    // tampered device, and its draft is kept as it was saved.
    let raw = Connection::open(&f.path).unwrap();
    raw.execute("UPDATE device SET areas_enc = x'01020304', areas_rev = areas_rev + 1", [])
        .unwrap();
    drop(raw);
    assert!(matches!(s.assigned_areas(), Err(StoreError::Tampered { table: "device", .. })));
    assert!(matches!(s.finalize(&t.vol, &d), Err(StoreError::Tampered { table: "device", .. })));
    assert_eq!(
        s.open_draft(&t.vol, &d.record_id).unwrap().session().output(),
        d.session().output()
    );

    // Areas that no longer decrypt although their row is sealed (written with the key: a
    // damaged column, or a bug): that costs the area check, listed as skipped, not the visit.
    let f = Fixture::new("areas-unreadable");
    let s = f.open();
    let t = team(&s);
    s.set_assigned_areas(&t.sup, Some(&communes())).unwrap();
    s.exec_sealed("UPDATE device SET areas_enc = x'01020304', areas_rev = areas_rev + 1", &[])
        .unwrap();
    assert!(matches!(s.assigned_areas(), Err(StoreError::Crypto(_))));
    let id = finalized_visit_at(&s, &t.vol, 21.96, 105.648);
    let location = sealed_location(&f, &id);
    assert!(!sealed_codes(&location).contains(&"outside_area".to_string()));
    assert_eq!(skipped(&location)[0], "outside_area: areas_unreadable");
}

/// The attack the row seals answer: a mock-GPS visit's accepted fixes removed (`fixes_enc` set
/// to NULL) in the database file before the volunteer finalizes, so that no flag would be
/// sealed. The draft no longer opens, and the audit check names the record.
#[test]
fn fixes_removed_from_a_draft_without_the_key_are_detected_before_finalize() {
    let f = Fixture::new("loc-fixes-removed");
    let (record_id, vol_id) = mock_gps_draft(&f);
    let raw = Connection::open(&f.path).unwrap();
    assert_eq!(
        raw.execute(
            "UPDATE records SET fixes_enc = NULL WHERE id = ?1 AND fixes_enc IS NOT NULL",
            [&record_id]
        )
        .unwrap(),
        1
    );
    drop(raw);
    let s = f.open();
    let vol = s.unlock(&vol_id, "2222").unwrap();
    match s.open_draft(&vol, &record_id) {
        Err(StoreError::Tampered { table: "records", row }) => assert_eq!(row, record_id),
        other => panic!("expected Tampered, got {:?}", other.map(|d| d.record_id)),
    }
    let audit = s.verify_audit().unwrap();
    assert!(audit.problem.as_deref().is_some_and(|p| p.contains(&record_id)), "{audit:?}");
}
