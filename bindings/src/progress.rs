//! Progress of long operations, reported to a listener the app passes in.

use std::sync::Arc;

use crate::errors::CallbackError;
use crate::logging::{self, LogLevel};

/// Told how a long operation (attaching a photo, verifying the audit chain, finalizing) is
/// going: `done` of `total` steps of `operation`, from `0 / total` at the start to
/// `total / total` at the end. Called on the thread that made the call, with no lock held.
/// Attaching a photo reports when the photo is processed and when it is sealed as well;
/// finalizing and verifying the audit chain, each one transaction, report their start and end.
/// A listener that throws is logged and ignored: the operation goes on.
#[uniffi::export(foreign)]
pub trait ProgressListener: Send + Sync {
    fn on_progress(&self, operation: String, done: i32, total: i32) -> Result<(), CallbackError>;
}

/// Report one step to an optional listener.
pub(crate) fn report(
    listener: Option<&Arc<dyn ProgressListener>>,
    operation: &'static str,
    done: i32,
    total: i32,
) {
    if let Some(l) = listener {
        if let Err(e) = l.on_progress(operation.to_string(), done, total) {
            logging::emit(LogLevel::Warn, operation, || format!("progress listener failed: {e}"));
        }
    }
}
