//! The extent of one exported call. Every export runs inside [`guard`], which turns a panic into
//! `ApiError::Internal` and marks the call on its thread ([`CallScope`]), so that work which must
//! wait until every lock the call took is released — the log events for the app's sink — can be
//! [`defer`]red to the end of the outermost call. (`logging::call` is `guard` plus a log entry
//! for a failure.)
//!
//! Depends on `errors` only; `logging` builds on it.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::errors::ApiError;

thread_local! {
    /// How many exported calls this thread is inside (a sink may call the API, so calls nest).
    static CALL_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Work deferred inside a call (events for the sink), run when the outermost call ends.
    static DEFERRED: RefCell<Vec<Box<dyn FnOnce()>>> = const { RefCell::new(Vec::new()) };
}

/// The extent of one exported call on this thread. The core logs in the middle of its work,
/// while the bindings may hold a session's lock; a sink that calls back into that session would
/// deadlock. So events raised inside a call wait until the outermost call on the thread has
/// returned and released every lock, then reach the sink in order.
pub(crate) struct CallScope;

impl CallScope {
    pub(crate) fn enter() -> CallScope {
        CALL_DEPTH.with(|d| d.set(d.get() + 1));
        CallScope
    }
}

impl Drop for CallScope {
    fn drop(&mut self) {
        let depth = CALL_DEPTH.with(|d| {
            let n = d.get().saturating_sub(1);
            d.set(n);
            n
        });
        if depth == 0 {
            let pending = DEFERRED.with(|q| std::mem::take(&mut *q.borrow_mut()));
            for work in pending {
                work();
            }
        }
    }
}

/// Run `work` when the outermost call on this thread ends, or now if the thread is in no call.
pub(crate) fn defer(work: impl FnOnce() + 'static) {
    if CALL_DEPTH.with(Cell::get) > 0 {
        DEFERRED.with(|q| q.borrow_mut().push(Box::new(work)));
    } else {
        work();
    }
}

/// Run one exported call: its errors pass through, a panic becomes `ApiError::Internal`.
/// The panic's own message is not passed on (it could quote data); the panic hook still prints
/// it to the process's stderr / logcat for developers.
pub(crate) fn guard<T>(call: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    let _scope = CallScope::enter();
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|_| {
        Err(ApiError::internal("the core panicked; the call had no effect that can be relied on"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal() {
        #[allow(clippy::panic)]
        let r: Result<(), ApiError> = guard(|| panic!("boom Nguyen Van A"));
        let Err(e) = r else { unreachable!("the call panicked") };
        assert_eq!(e.code(), "internal");
        assert!(e.to_string().starts_with("internal error: the core panicked"), "{e}");
        assert!(!e.to_string().contains("Nguyen"), "{e}");
    }

    #[test]
    fn errors_pass_through_the_guard() {
        let r: Result<(), ApiError> = guard(|| Err(ApiError::unknown_form("x")));
        assert_eq!(
            r,
            Err(ApiError::UnknownForm { id: "x".into(), detail: "no built-in form `x`".into() })
        );
    }
}
