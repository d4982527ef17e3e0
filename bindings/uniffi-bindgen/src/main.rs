//! `uniffi-bindgen`, built from the same uniffi as `safehome-ffi`, so generated bindings always
//! match the scaffolding. Library mode, e.g.:
//! `cargo run -p safehome-uniffi-bindgen -- generate --library target/debug/libsafehome_ffi.so
//! --language kotlin --out-dir build/kotlin/generated`

fn main() {
    uniffi::uniffi_bindgen_main();
}
