//! Fuzz a points file (CSV) as `geo locate` reads it
//! (the body: `safehome_core::location::fuzzing::points_csv`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    safehome_core::location::fuzzing::points_csv(data);
});
