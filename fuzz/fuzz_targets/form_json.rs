//! Fuzz a form definition (JSON) as `form validate` and `form fill` read it
//! (the body: `safehome_core::form::fuzzing::form_json`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    safehome_core::form::fuzzing::form_json(data);
});
