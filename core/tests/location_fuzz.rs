#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The location fuzz targets' bodies (`fuzz/fuzz_targets/areas_geojson.rs`, `points_csv.rs`)
//! on random and mutated inputs, so that CI exercises on stable Rust what a hostile areas file
//! or points file can make the core do. Seeds: the communes and points fixtures.

use proptest::prelude::*;
use safehome_core::location::fuzzing;
use safehome_testdata::mutate;

const COMMUNES: &str = include_str!("data/geo/communes.geojson");
const POINTS: &str = include_str!("data/geo/points.csv");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        fuzzing::areas_geojson(&data);
        fuzzing::points_csv(&data);
    }

    #[test]
    fn mutated_areas_never_panic(
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        fuzzing::areas_geojson(&mutate(COMMUNES.as_bytes().to_vec(), &flips, cut));
    }

    #[test]
    fn mutated_points_never_panic(
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        fuzzing::points_csv(&mutate(POINTS.as_bytes().to_vec(), &flips, cut));
    }
}

#[test]
fn the_seeds_are_valid() {
    use safehome_core::location::areas::{AreaSet, ImportOptions};
    assert!(!AreaSet::from_geojson(COMMUNES, &ImportOptions::default()).unwrap().is_empty());
    assert!(!safehome_core::location::points_csv::read(POINTS).unwrap().is_empty());
}
