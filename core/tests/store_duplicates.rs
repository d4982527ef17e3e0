//! Likely duplicate households at registration: "Ma Văn Hùng" and "Ma Van Hung" 2 m apart are
//! flagged with their reasons; far apart or with other names they are not; without a location
//! only the same village's names count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Fixture, new_household, team};
use safehome_core::store::duplicates::DuplicateBasis;
use safehome_core::store::households::{Location, NewHousehold};

/// 2 m north of `new_household`'s location (21.905, 105.648): 1° of latitude is ~110.6 km.
const TWO_M_NORTH: f64 = 21.905 + 2.0 / 110_600.0;

fn at(head: &str, lat: f64) -> NewHousehold {
    let mut h = new_household(head);
    h.location = Some(Location { lat, lon: 105.648, accuracy_m: 5.0 });
    h
}

fn unlocated(head: &str, village: &str) -> NewHousehold {
    let mut h = new_household(head);
    h.location = None;
    h.village = village.into();
    h
}

#[test]
fn the_same_household_two_metres_apart_with_folded_diacritics_is_flagged_with_reasons() {
    let f = Fixture::new("dup-near");
    let s = f.open();
    let t = team(&s);
    let first = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let dups = s.likely_duplicates(&t.vol, &at("Ma Van Hung", TWO_M_NORTH)).unwrap();
    assert_eq!(dups.len(), 1, "{dups:?}");
    let d = &dups[0];
    assert_eq!(
        (d.household_id.as_str(), d.code.as_str()),
        (first.id.as_str(), first.code.as_str())
    );
    assert_eq!(d.head_name, "Ma Văn Hùng");
    assert_eq!(d.reasons.basis, DuplicateBasis::Nearby);
    let dist = d.reasons.distance_m.unwrap();
    assert!((1.5..2.5).contains(&dist), "{dist}");
    assert_eq!(d.reasons.name_similarity, 1.0);
    assert!(d.reasons.same_village && d.reasons.same_commune);
    let words = d.reasons.describe().join("; ");
    assert!(words.starts_with("cách 2 m / 2 m apart"), "{words}");
    assert!(words.contains("cùng thôn / same village"), "{words}");

    // A typo is still the same household; another family next door is not.
    assert_eq!(s.likely_duplicates(&t.vol, &at("Ma Văn Hùnh", TWO_M_NORTH)).unwrap().len(), 1);
    assert!(s.likely_duplicates(&t.vol, &at("Trần Thị Bình", TWO_M_NORTH)).unwrap().is_empty());
    // The same name 700 m away is a namesake, not a duplicate.
    assert!(
        s.likely_duplicates(&t.vol, &at("Ma Van Hung", 21.905 + 700.0 / 110_600.0))
            .unwrap()
            .is_empty()
    );
    // Another volunteer's households are not theirs to see, so not theirs to be warned about;
    // the supervisor sees the team's.
    assert!(s.likely_duplicates(&t.vol2, &at("Ma Van Hung", TWO_M_NORTH)).unwrap().is_empty());
    assert_eq!(s.likely_duplicates(&t.sup, &at("Ma Van Hung", TWO_M_NORTH)).unwrap().len(), 1);
    // Checking registers nothing.
    assert_eq!(s.households(&t.vol).unwrap().len(), 1);
}

#[test]
fn without_a_location_only_names_in_the_same_village_count() {
    let f = Fixture::new("dup-noloc");
    let s = f.open();
    let t = team(&s);
    let located = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let bare = s.add_household(&t.vol, &unlocated("Hoàng Thị Mai", "Thôn Khuôn Tát")).unwrap();

    // New without a location: name-based against both, in the same village only.
    let dups = s.likely_duplicates(&t.vol, &unlocated("MA VAN HUNG", "thôn khuôn tát")).unwrap();
    assert_eq!(dups.len(), 1, "{dups:?}");
    assert_eq!(dups[0].code, located.code);
    assert_eq!(dups[0].reasons.basis, DuplicateBasis::SameVillageNoLocation);
    assert_eq!(dups[0].reasons.distance_m, None);
    assert!(dups[0].reasons.describe()[0].starts_with("chưa có vị trí"));
    // Another village of the commune, or another commune: a namesake.
    assert!(
        s.likely_duplicates(&t.vol, &unlocated("Ma Van Hung", "Thôn Nà Kẹn")).unwrap().is_empty()
    );
    let mut other_commune = unlocated("Ma Van Hung", "Thôn Khuôn Tát");
    other_commune.commune_code = "05570".into();
    assert!(s.likely_duplicates(&t.vol, &other_commune).unwrap().is_empty());

    // New with a location against an existing one without: by name within the village.
    let dups = s.likely_duplicates(&t.vol, &at("Hoang Thi Mai", TWO_M_NORTH)).unwrap();
    assert_eq!(dups.len(), 1, "{dups:?}");
    assert_eq!(dups[0].code, bare.code);
    assert_eq!(dups[0].reasons.basis, DuplicateBasis::SameVillageNoLocation);
    // Both located but far apart: the village does not make namesakes duplicates.
    assert!(
        s.likely_duplicates(&t.vol, &at("Ma Van Hung", 21.905 + 700.0 / 110_600.0))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_health_worker_cannot_probe_households() {
    let f = Fixture::new("dup-perm");
    let s = f.open();
    let t = team(&s);
    assert!(s.likely_duplicates(&t.hw, &new_household("Ma Văn Hùng")).is_err());
}
