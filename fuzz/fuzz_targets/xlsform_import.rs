//! Fuzz the XLSForm importer: any bytes as an .xlsx (the zip bounds, calamine's reading, the
//! sheets to a form, the definition check) give a form or a typed error, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = safehome_core::form::xlsform::import_bytes(data, "fuzz");
});
