//! uniffi bindings of the SafeHome core for Kotlin and Swift: proc-macros only, thin by design.
//!
//! Objects wrap core types and delegate in one line: forms and form sessions (`form`,
//! `session`), the encrypted store, unlocked profiles and stored drafts (`store`, `draft`),
//! GPS fixes and assigned areas (`location`). Records and enums mirror core types (`records`);
//! answers cross as `AnswerValue` (`answer`); every error becomes one `ApiError` (`errors`), and
//! every export runs inside a panic guard (`guard`). Platform services are foreign traits: the
//! log sink (`logging`) and progress listeners (`progress`). Feature `provisioning` adds a
//! recipient key generator (`keys`) for test harnesses and provisioning tools. See
//! `docs/bindings.md`.

uniffi::setup_scaffolding!();

mod anchor;
mod answer;
mod draft;
mod errors;
mod ffibuffer_shims;
mod form;
mod guard;
mod handle;
#[cfg(feature = "provisioning")]
mod keys;
mod location;
mod logging;
mod progress;
mod records;
mod session;
mod store;
mod sync;
mod transport;

pub use answer::AnswerValue;
pub use draft::DraftSession;
pub use errors::{ApiError, CallbackError, FixRefusal};
pub use form::{FormDefinition, list_builtin_forms};
#[cfg(feature = "provisioning")]
pub use keys::{RecipientIdentity, generate_recipient_identity};
pub use location::{AssignedAreas, location_quality_flags, validate_fix};
pub use logging::{LogLevel, LogRecord, LogSink, set_log_sink};
pub use progress::ProgressListener;
pub use records::*;
pub use session::FormSession;
#[cfg(feature = "test-hooks")]
pub use store::TestStoreOptions;
pub use store::{ProfileSession, SafeHomeStore};
pub use sync::{ServerEnrollment, SyncItem, SyncReport, SyncStatus};
pub use transport::{HttpHeader, HttpRequest, HttpResponseSink, HttpTransport, TransportException};

/// Version of the core this library was built from.
#[uniffi::export]
pub fn core_version() -> Result<String, ApiError> {
    guard::guard(|| Ok(safehome_core::VERSION.to_string()))
}
