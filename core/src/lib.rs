//! SafeHome core: the survey form engine, risk screening and (in later issues) evidence,
//! location and storage. Pure Rust: no FFI types, no I/O beyond what a module documents.

pub mod clock;
pub mod form;
pub mod risk;
pub mod templates;

/// Version of this crate, reported by the CLI and the bindings.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
