//! SafeHome core: the survey form engine, risk screening and (in later issues) evidence,
//! location and storage. Pure Rust: no FFI types, no I/O beyond what a module documents.

pub mod canonical;
mod civil;
pub mod clock;
pub mod crypto;
pub mod evidence;
pub mod export;
pub mod form;
pub mod hex;
pub mod location;
pub mod store;
pub mod sync;
pub mod templates;

/// Version of this crate, reported by the CLI and the bindings.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
