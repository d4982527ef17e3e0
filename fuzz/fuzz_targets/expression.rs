//! Fuzz an expression of the XPath subset, parsed and evaluated
//! (the body: `safehome_core::form::fuzzing::expression`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    safehome_core::form::fuzzing::expression(data);
});
