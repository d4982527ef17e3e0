//! Fuzz the photo pipeline: format sniffing, container walks, EXIF, decoding, resizing and
//! encoding, with small limits (see `safehome_core::evidence::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    safehome_core::evidence::fuzzing::photo_pipeline(data);
});
