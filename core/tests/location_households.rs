//! Households in space: k-nearest and within-radius against brute force, duplicate detection
//! with Vietnamese names, the revisit check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use safehome_core::location::{
    DuplicateConfig, Household, HouseholdError, HouseholdIndex, LatLon, distance_m, revisit_check,
};

fn hh(id: &str, lat: f64, lon: f64, name: &str) -> Household {
    Household {
        id: id.into(),
        location: LatLon::new(lat, lon),
        accuracy_m: None,
        head_name: name.into(),
    }
}

/// A small village near Thái Nguyên city: houses about 20–60 m apart.
fn village() -> HouseholdIndex {
    HouseholdIndex::new(vec![
        hh("h0", 21.59420, 105.84820, "Nguyễn Văn An"),
        hh("h1", 21.59440, 105.84830, "Trần Thị Bình"),
        hh("h2", 21.59395, 105.84845, "Nguyễn Văn Anh"),
        hh("h3", 21.59470, 105.84790, "Lò Văn Sáng"),
        hh("h4", 21.59900, 105.85300, "Nguyễn Văn An"), // same name, 700 m away
        hh("h5", 21.59425, 105.84815, "Nguyễn Thị Hoa"),
    ])
    .unwrap()
}

#[test]
fn k_nearest_in_order_with_geodesic_distances() {
    let idx = village();
    let p = LatLon::new(21.59421, 105.84821);
    let n = idx.nearest(p, 3);
    let ids: Vec<_> = n.iter().map(|n| idx.get(n.index).unwrap().id.as_str()).collect();
    assert_eq!(ids, ["h0", "h5", "h1"]);
    for nb in &n {
        let want = distance_m(p, idx.get(nb.index).unwrap().location);
        assert_eq!(nb.distance_m, want);
    }
    assert!(idx.nearest(p, 0).is_empty());
    assert_eq!(idx.nearest(p, 100).len(), 6);
}

#[test]
fn within_a_radius() {
    let idx = village();
    let p = LatLon::new(21.59420, 105.84820);
    let ids: Vec<_> =
        idx.within(p, 30.0).iter().map(|n| idx.get(n.index).unwrap().id.clone()).collect();
    assert_eq!(ids, ["h0", "h5", "h1"]);
    assert_eq!(idx.within(p, 0.0).len(), 1);
    assert!(idx.within(p, -1.0).is_empty());
    assert_eq!(idx.within(p, 1_000.0).len(), 6);
}

#[test]
fn invalid_household_locations_are_refused_by_id() {
    let e = HouseholdIndex::new(vec![hh("ok", 21.5, 105.8, ""), hh("bad", f64::NAN, 105.8, "")])
        .unwrap_err();
    assert_eq!(e, HouseholdError::InvalidLocation { index: 1, id: "bad".into() });
}

#[test]
fn duplicates_need_both_proximity_and_a_similar_name() {
    let idx = village();
    let cfg = DuplicateConfig::default();
    let p = LatLon::new(21.59421, 105.84821);
    // Written without diacritics and in capitals: the same folded name, 1 m away.
    let d = idx.find_duplicates(p, "NGUYEN VAN AN", &cfg);
    let ids: Vec<_> = d.iter().map(|c| idx.get(c.index).unwrap().id.as_str()).collect();
    // h0 exactly, h2 ("Anh", one edit) as a weaker match; h4 has the same name but is 700 m away;
    // h5 is near but a different name.
    assert_eq!(ids, ["h0", "h2"]);
    assert_eq!(d[0].similarity, 1.0);
    assert!(d[1].similarity > 0.85 && d[1].similarity < 1.0);
    // Names in another order, NFD-decomposed diacritics.
    let d = idx.find_duplicates(p, "Va\u{0306}n An Nguye\u{0302}\u{0303}n", &cfg);
    assert_eq!(d.first().map(|c| c.index), Some(0));
    // Nobody of that name nearby.
    assert!(idx.find_duplicates(p, "Hoàng Văn Tùng", &cfg).is_empty());
    // A wider radius finds the namesake 700 m away too.
    let wide = DuplicateConfig { radius_m: 1_000.0, ..cfg };
    let d = idx.find_duplicates(p, "Nguyễn Văn An", &wide);
    assert!(d.iter().any(|c| idx.get(c.index).unwrap().id == "h4"));
    // A stricter threshold drops the one-edit match.
    let strict = DuplicateConfig { min_similarity: 0.95, ..cfg };
    assert_eq!(idx.find_duplicates(p, "Nguyễn Văn An", &strict).len(), 1);
}

#[test]
fn revisit_distance_allows_for_both_accuracies() {
    let reg = LatLon::new(21.59420, 105.84820);
    let near = LatLon::new(21.59450, 105.84820); // about 33 m north
    let r = revisit_check(near, 10.0, reg, Some(5.0), 100.0);
    assert!(!r.far);
    assert!((r.distance_m - 33.2).abs() < 0.5, "{}", r.distance_m);
    assert_eq!(r.allowed_m, 115.0);
    let far = LatLon::new(21.59600, 105.84820); // about 200 m
    let r = revisit_check(far, 10.0, reg, None, 100.0);
    assert!(r.far, "{r:?}");
    assert_eq!(r.allowed_m, 110.0);
}

prop_compose! {
    fn houses(max: usize)(
        pts in prop::collection::vec((21.0f64..21.2, 105.7f64..105.9), 1..max)
    ) -> Vec<Household> {
        pts.into_iter()
            .enumerate()
            .map(|(i, (lat, lon))| hh(&format!("h{i}"), lat, lon, ""))
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn k_nearest_matches_brute_force(
        hs in houses(300),
        p in (20.9f64..21.3, 105.6f64..106.0),
        k in 1usize..12,
    ) {
        let p = LatLon::new(p.0, p.1);
        let mut brute: Vec<(f64, usize)> = hs
            .iter()
            .enumerate()
            .map(|(i, h)| (distance_m(p, h.location), i))
            .collect();
        brute.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        brute.truncate(k);
        let idx = HouseholdIndex::new(hs).unwrap();
        let got: Vec<(f64, usize)> = idx.nearest(p, k).iter().map(|n| (n.distance_m, n.index)).collect();
        prop_assert_eq!(got, brute);
    }

    #[test]
    fn within_matches_brute_force(
        hs in houses(300),
        p in (20.9f64..21.3, 105.6f64..106.0),
        r in 0.0f64..8_000.0,
    ) {
        let p = LatLon::new(p.0, p.1);
        let mut brute: Vec<usize> = hs
            .iter()
            .enumerate()
            .filter(|(_, h)| distance_m(p, h.location) <= r)
            .map(|(i, _)| i)
            .collect();
        let idx = HouseholdIndex::new(hs).unwrap();
        let mut got: Vec<usize> = idx.within(p, r).iter().map(|n| n.index).collect();
        got.sort_unstable();
        brute.sort_unstable();
        prop_assert_eq!(got, brute);
    }
}
