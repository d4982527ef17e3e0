//! The log facade: the core's `tracing` events (store opened and migrated, record finalized
//! with its flag count, photo sealed, storage faults, audit chain broken, lockouts) and the
//! bindings' own (store closed, profile unlocked, every failed call with its stable code) go to
//! one sink that the app installs — logcat on Android, os_log on iOS.
//!
//! Installing a sink also installs, once per process, a minimal `tracing` subscriber that hands
//! each core event to the same path as the bindings' events (`emit`): level filter, re-entrancy
//! guard, one `LogRecord` with the event's target (the core module, `safehome_core::store::…`).
//! Spans are not used by the core and are ignored.
//!
//! Messages carry codes, ids (UUIDs), counts and levels — never names, answers or coordinates.
//! The sink is called on the thread that made the API call, after every lock that call took is
//! released, so a sink may itself call the API; events raised on that thread while the sink runs
//! (a failing call made by the sink) are dropped rather than sent back into it. Events raised
//! inside an exported call wait for the end of the outermost one (`guard::defer`).
//!
//! [`call`] is the guard of the store's calls that also logs their failures.
//!
//! Depends on `errors` and `guard`.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, span};

use crate::errors::{ApiError, CallbackError};
use crate::guard::{self, guard};

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
        // An app that installed its own `tracing` subscriber first keeps it; the bindings'
        // events still reach the sink.
        static FORWARDING: OnceLock<bool> = OnceLock::new();
        FORWARDING.get_or_init(|| tracing::subscriber::set_global_default(CoreEvents).is_ok());
        let mut installed = SINK.write().unwrap_or_else(|p| p.into_inner());
        *installed = sink.map(|s| (s, min_level));
        Ok(())
    })
}

/// Whether the installed sink wants events of `level` (checked before a message is built).
fn wanted(level: LogLevel) -> bool {
    matches!(&*SINK.read().unwrap_or_else(|p| p.into_inner()), Some((_, min)) if level <= *min)
}

fn level_of(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    }
}

/// The `tracing` subscriber that forwards the core's events to the sink. The sink and its level
/// can change at any time, so every callsite stays "sometimes" interesting and `enabled` asks.
struct CoreEvents;

impl tracing::Subscriber for CoreEvents {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && wanted(level_of(metadata.level()))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        emit(level_of(metadata.level()), metadata.target(), || {
            let mut text = EventText::default();
            event.record(&mut text);
            text.0
        });
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// An event's message, then any other fields as ` name=value`.
#[derive(Default)]
struct EventText(String);

impl Visit for EventText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// Emit one event if a sink wants its level. `message` is built only then. Every event, the
/// core's and the bindings', reaches the sink through here.
pub(crate) fn emit(level: LogLevel, target: &str, message: impl FnOnce() -> String) {
    let sink = {
        let installed = SINK.read().unwrap_or_else(|p| p.into_inner());
        match &*installed {
            Some((sink, min)) if level <= *min => Arc::clone(sink),
            _ => return,
        }
    };
    if IN_SINK.with(Cell::get) {
        return;
    }
    let record =
        LogRecord { level, target: target.to_string(), message: message(), at_ms: now_ms() };
    // Inside a call, the event waits until the outermost call has returned (`guard::CallScope`).
    guard::defer(move || deliver(&sink, record));
}

fn deliver(sink: &Arc<dyn LogSink>, record: LogRecord) {
    let Some(_inside) = InSink::enter() else { return };
    // A failing sink cannot be reported anywhere but to itself: drop the event.
    let _ = sink.log(record);
}

/// [`guard`](fn@guard) for the store's calls: a failure is also reported to the app's log sink as
/// `<operation> failed: <code>: <message>` (messages carry no personal data). The log is written
/// after every lock the call took is released, so a sink may call back into the API.
pub(crate) fn call<T>(
    operation: &'static str,
    body: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let result = guard(body);
    if let Err(e) = &result {
        emit(failure_level(e), operation, || format!("failed: {}: {e}", e.code()));
    }
    result
}

/// How loudly a failure is logged: bugs and storage faults are errors, refusals the app
/// expects (a wrong PIN, a refused answer, an invalid form) are informational.
fn failure_level(e: &ApiError) -> LogLevel {
    match e {
        ApiError::Internal { .. } | ApiError::Corrupt { .. } | ApiError::Storage { .. } => {
            LogLevel::Error
        }
        ApiError::WrongKey { .. }
        | ApiError::NewerSchema { .. }
        | ApiError::DiskFull { .. }
        | ApiError::ReadOnly { .. }
        | ApiError::Envelope { .. }
        | ApiError::Callback { .. }
        | ApiError::LockedOut { .. }
        | ApiError::InvalidState { .. } => LogLevel::Warn,
        _ => LogLevel::Info,
    }
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

    #[test]
    fn the_cores_tracing_events_reach_the_sink_at_its_level() {
        let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!("safehome-ffi-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.db").to_string_lossy().into_owned();
        let sink = Arc::new(Collect::default());
        set_log_sink(Some(sink.clone()), LogLevel::Debug).unwrap();
        let store = crate::store::SafeHomeStore::open(path, vec![7; 32], 420).unwrap();
        store.verify_audit(None).unwrap();
        set_log_sink(Some(sink.clone()), LogLevel::Info).unwrap();
        store.verify_audit(None).unwrap(); // its debug event is below the level now
        set_log_sink(None, LogLevel::Debug).unwrap();
        store.close_store().unwrap();
        let _ = std::fs::remove_dir_all(&dir);

        let got = sink.0.lock().unwrap();
        let opened = got
            .iter()
            .find(|r| r.target == "safehome_core::store")
            .unwrap_or_else(|| panic!("no core event in {got:?}"));
        assert_eq!(opened.level, LogLevel::Info);
        assert!(opened.message.starts_with("store opened: schema v"), "{opened:?}");
        let audits: Vec<_> =
            got.iter().filter(|r| r.message.starts_with("audit chain intact")).collect();
        assert_eq!(audits.len(), 1, "{got:?}");
        assert_eq!(
            (audits[0].level, audits[0].target.as_str()),
            (LogLevel::Debug, "safehome_core::store::audit")
        );
    }
}
