#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The protocol fuzz target's body (`fuzz/fuzz_targets/protocol_reader.rs`) on random and
//! mutated inputs, so that CI exercises on stable Rust what a server reads from any client and
//! a phone from any server.

use proptest::prelude::*;
use safehome_core::sync::fuzzing;
use safehome_core::sync::protocol::SubmissionBody;
use safehome_testdata::mutate;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::protocol_reader(&data);
    }

    #[test]
    fn mutated_submission_bodies_never_panic(
        envelope in proptest::collection::vec(any::<u8>(), 0..200),
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        fuzzing::protocol_reader(&mutate(fuzzing::valid_submission(&envelope), &flips, cut));
    }
}

#[test]
fn the_seed_is_a_valid_body() {
    let body = fuzzing::valid_submission(b"sealed");
    let decoded = SubmissionBody::decode(&body).unwrap();
    assert_eq!(decoded.envelope, b"sealed");
    fuzzing::protocol_reader(&body);
}
