//! Fuzz the upload protocol's readers: the submission body a server decodes from any client,
//! request signing headers, and the signed receipts and configurations a phone reads from any
//! server (see `safehome_core::sync::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    safehome_core::sync::fuzzing::protocol_reader(data);
});
