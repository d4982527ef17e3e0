//! uniffi bindings of the SafeHome core. Grown by the bindings issue; thin by design.

/// Version of the core this library was built from.
pub fn core_version() -> String {
    safehome_core::VERSION.to_string()
}
