//! Fuzz the evidence envelope reader: header parsing, keyless verification and opening, on raw
//! bytes and on mutated valid envelopes (see `safehome_core::evidence::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    safehome_core::evidence::fuzzing::envelope_reader(data);
});
