//! The SafeHome reference upload server (docs/protocol.md): enrollment, signed requests,
//! idempotent submissions with signed receipts, resumable evidence uploads (tus 1.0).
//!
//! Start one in-process:
//!
//! ```no_run
//! # fn main() -> Result<(), safehome_server::ServerError> {
//! use safehome_server::{Admin, BackgroundServer, Role, ServerConfig};
//! let data = std::path::Path::new("/tmp/safehome-server");
//! let server_key = safehome_server::init(data)?; // pin this (shserver1…)
//! let mut admin = Admin::open(data)?;
//! # let archive = safehome_core::evidence::keys::Identity::generate(
//! #     &safehome_core::clock::SystemEntropy::default()).recipient();
//! admin.add_team("tn-19001", &["19001".into()], &archive, "Archive", 0)?;
//! let code = admin.create_enrollment_code("tn-19001", Role::Volunteer, 86_400_000, 0)?;
//! let server = BackgroundServer::start(ServerConfig::new(data), "127.0.0.1:0")?;
//! println!("{} {}", server.url(), code.code);
//! server.stop()?;
//! # Ok(()) }
//! ```
//!
//! Within a tokio runtime, call [`serve`] with a bound listener and a shutdown future instead.

pub mod admin;
mod app;
pub mod archive;
mod auth;
pub mod backup;
mod blobs;
mod body;
mod checkin;
pub mod cli;
mod codes;
pub mod config;
pub mod console;
pub mod datadir;
pub mod db;
mod enroll;
pub mod error;
pub mod move_db;
mod nonces;
pub mod objects;
mod parts;
mod review;
pub mod rotation;
mod serve;
pub mod sql;
mod state;
mod submission_store;
mod submissions;
mod tus;

pub use admin::{Admin, DeviceRow, EnrollmentCode, RecordRow, Role};
pub use config::{ServerConfig, TlsFiles};
pub use console::alerts::AlertConfig;
pub use datadir::{DataDir, init, init_with};
pub use error::{ApiError, ServerError};
pub use serve::{BackgroundServer, serve, shutdown_signal};
