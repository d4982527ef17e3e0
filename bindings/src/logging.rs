//! The log facade: a few events of the bindings and the core (store opened and closed, profile
//! unlocked, visit finalized, every failed store call with its stable code) go to one sink that
//! the app installs — logcat on Android, os_log on iOS.
//!
//! The core has no `tracing` yet; until it has, the bindings emit these events themselves. When
//! the core adopts `tracing`, this module becomes a `tracing` subscriber layer that forwards to
//! the same `LogSink`, and the app's code does not change.
//!
//! Messages carry codes, ids (UUIDs), counts and levels — never names, answers or coordinates.
//! The sink is called on the thread that made the API call, after every lock that call took is
//! released, so a sink may itself call the API; events raised on that thread while the sink runs
//! (a failing call made by the sink) are dropped rather than sent back into it.

use std::cell::Cell;
use std::sync::{Arc, RwLock};

use crate::errors::{ApiError, CallbackError, guard};

/// How serious a log event is, most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    pub level: LogLevel,
    /// What emitted it: the API operation, e.g. `store.open`, `draft.finalize`.
    pub target: String,
    pub message: String,
    /// When, in milliseconds since the epoch.
    pub at_ms: i64,
}

/// Where log events go: implemented by the app (Kotlin: `android.util.Log`; Swift: `Logger`).
/// Return quickly; a sink that throws loses that one event and nothing else.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, record: LogRecord) -> Result<(), CallbackError>;
}

type Installed = Option<(Arc<dyn LogSink>, LogLevel)>;

static SINK: RwLock<Installed> = RwLock::new(None);

thread_local! {
    /// This thread is inside the sink: a call the sink makes must not log back into it.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside the sink until dropped (also if the sink unwinds).
struct InSink;

impl InSink {
    fn enter() -> Option<InSink> {
        if IN_SINK.with(|c| c.replace(true)) { None } else { Some(InSink) }
    }
}

impl Drop for InSink {
    fn drop(&mut self) {
        IN_SINK.with(|c| c.set(false));
    }
}

/// Send events at `minLevel` or more serious to `sink`; `null` removes the sink. One sink per
/// process; installing another replaces it.
#[uniffi::export]
pub fn set_log_sink(sink: Option<Arc<dyn LogSink>>, min_level: LogLevel) -> Result<(), ApiError> {
    guard(|| {
        let mut installed = SINK.write().unwrap_or_else(|p| p.into_inner());
        *installed = sink.map(|s| (s, min_level));
        Ok(())
    })
}

/// Emit one event if a sink wants its level. `message` is built only then.
pub(crate) fn emit(level: LogLevel, target: &str, message: impl FnOnce() -> String) {
    let sink = {
        let installed = SINK.read().unwrap_or_else(|p| p.into_inner());
        match &*installed {
            Some((sink, min)) if level <= *min => Arc::clone(sink),
            _ => return,
        }
    };
    let Some(_inside) = InSink::enter() else { return };
    let record =
        LogRecord { level, target: target.to_string(), message: message(), at_ms: now_ms() };
    // A failing sink cannot be reported anywhere but to itself: drop the event.
    let _ = sink.log(record);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Collects events; the tests that install it run one at a time (the sink is global).
    #[derive(Default)]
    pub(crate) struct Collect(pub Mutex<Vec<LogRecord>>);

    impl LogSink for Collect {
        fn log(&self, record: LogRecord) -> Result<(), CallbackError> {
            self.0
                .lock()
                .map_err(|_| CallbackError::Failed { reason: "poisoned".into() })?
                .push(record);
            Ok(())
        }
    }

    pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn levels_filter_and_failures_are_dropped() {
        let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let sink = Arc::new(Collect::default());
        set_log_sink(Some(sink.clone()), LogLevel::Warn).unwrap();
        emit(LogLevel::Info, "t", || unreachable!("not built below the level"));
        emit(LogLevel::Error, "t", || "boom".into());
        set_log_sink(None, LogLevel::Debug).unwrap();
        emit(LogLevel::Error, "t", || "gone".into());
        let got = sink.0.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].level, got[0].message.as_str()), (LogLevel::Error, "boom"));

        struct Throws;
        impl LogSink for Throws {
            fn log(&self, _: LogRecord) -> Result<(), CallbackError> {
                Err(CallbackError::Failed { reason: "x".into() })
            }
        }
        set_log_sink(Some(Arc::new(Throws)), LogLevel::Debug).unwrap();
        emit(LogLevel::Error, "t", || "dropped".into());
        set_log_sink(None, LogLevel::Debug).unwrap();
    }
}
