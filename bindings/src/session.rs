//! `FormSession`: one filling of a form, behind a mutex so that any thread may call it.

use std::sync::{Arc, Mutex};

use safehome_core::clock::{SystemClock, SystemEntropy};
use safehome_core::form::risk;
use safehome_core::form::session::{Session, SessionState};

use crate::answer::AnswerValue;
use crate::errors::ApiError;
use crate::form::FormDefinition;
use crate::guard::guard;
use crate::records::{Assessment, Progress, Prompt, QuestionTiming, ValidationReport};

/// One filling of a form. Every method may be called from any thread; calls on one session are
/// serialised. Autosave `stateJson()` after each answer and `restore` it after the app is killed.
#[derive(Debug, uniffi::Object)]
pub struct FormSession {
    inner: Mutex<Session>,
}

impl FormSession {
    fn wrap(session: Session) -> Arc<Self> {
        Arc::new(FormSession { inner: Mutex::new(session) })
    }

    /// Run `call` on the session under its lock, inside the panic guard.
    fn with<T>(
        &self,
        call: impl FnOnce(&mut Session) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        guard(|| call(&mut *self.inner.lock().map_err(|_| ApiError::poisoned())?))
    }
}

/// The system clock in the device's local offset from UTC (minutes; Vietnam: 420).
fn clock(utc_offset_minutes: i32) -> Arc<SystemClock> {
    Arc::new(SystemClock { offset_minutes: utc_offset_minutes })
}

#[uniffi::export]
impl FormSession {
    /// Start a new filling of `form`. `utcOffsetMinutes` is the device's current UTC offset,
    /// used for dates and times answered without one.
    #[uniffi::constructor]
    pub fn new(form: Arc<FormDefinition>, utc_offset_minutes: i32) -> Result<Arc<Self>, ApiError> {
        guard(|| {
            Ok(Self::wrap(Session::new(
                Arc::clone(&form.form),
                clock(utc_offset_minutes),
                Arc::new(SystemEntropy::default()),
            )))
        })
    }

    /// Rebuild a session from `stateJson()` output, for the same form id and version.
    #[uniffi::constructor]
    pub fn restore(
        form: Arc<FormDefinition>,
        state_json: String,
        utc_offset_minutes: i32,
    ) -> Result<Arc<Self>, ApiError> {
        guard(|| {
            let state: SessionState =
                serde_json::from_str(&state_json).map_err(|e| ApiError::bad_state_json(&e))?;
            Ok(Self::wrap(Session::restore(
                Arc::clone(&form.form),
                &state,
                clock(utc_offset_minutes),
                Arc::new(SystemEntropy::default()),
            )?))
        })
    }

    /// The form this session fills.
    pub fn form(&self) -> Result<Arc<FormDefinition>, ApiError> {
        self.with(|s| Ok(Arc::new(FormDefinition { form: Arc::clone(s.form()) })))
    }

    /// Answer the question at `path`. Returns whether the question's constraint holds for the
    /// new value (a violated constraint is stored and reported by `validate`).
    pub fn answer(&self, path: String, value: AnswerValue) -> Result<bool, ApiError> {
        self.with(|s| Ok(s.set(&path, &value)?))
    }

    /// Answer a geopoint whose accuracy is worse than the form's warning threshold, with the
    /// volunteer's explicit confirmation.
    pub fn answer_confirmed(&self, path: String, value: AnswerValue) -> Result<bool, ApiError> {
        self.with(|s| Ok(s.set_confirmed(&path, &value)?))
    }

    /// Clear the answer at `path`.
    pub fn clear(&self, path: String) -> Result<(), ApiError> {
        self.with(|s| Ok(s.clear_answer(&path)?))
    }

    /// Move to the next visible prompt; `null` at the end (the position stays).
    pub fn next_prompt(&self) -> Result<Option<Prompt>, ApiError> {
        self.with(|s| Ok(s.next_prompt().map(Prompt::from)))
    }

    /// Move to the previous visible prompt; `null` at the start (the position stays).
    pub fn previous_prompt(&self) -> Result<Option<Prompt>, ApiError> {
        self.with(|s| Ok(s.previous_prompt().map(Prompt::from)))
    }

    /// Jump to the prompt at `path` (e.g. a violation's path).
    pub fn go_to(&self, path: String) -> Result<Prompt, ApiError> {
        self.with(|s| Ok(s.go_to(&path)?.into()))
    }

    /// The prompt the volunteer is on; `null` before the first `nextPrompt`.
    pub fn current(&self) -> Result<Option<Prompt>, ApiError> {
        self.with(|s| Ok(s.current().map(Prompt::from)))
    }

    /// The prompt at `path`, without moving.
    pub fn prompt(&self, path: String) -> Result<Prompt, ApiError> {
        self.with(|s| Ok(s.prompt_at(&path)?.into()))
    }

    /// Every visible prompt, in form order.
    pub fn visible_prompts(&self) -> Result<Vec<Prompt>, ApiError> {
        self.with(|s| Ok(s.visible_prompts().into_iter().map(Prompt::from).collect()))
    }

    pub fn progress(&self) -> Result<Progress, ApiError> {
        self.with(|s| Ok(s.progress().into()))
    }

    /// Every reason the filling is not valid yet.
    pub fn validate(&self) -> Result<ValidationReport, ApiError> {
        self.with(|s| Ok(s.validate().into()))
    }

    /// The risk assessment of the answers so far; `null` for forms without risk rules.
    pub fn risk_assessment(&self) -> Result<Option<Assessment>, ApiError> {
        self.with(|s| Ok(risk::assess(s).map(Assessment::from)))
    }

    /// Add an instance to an open-ended repeat (`children`); returns its path (`children[4]`).
    pub fn add_repeat(&self, path: String) -> Result<String, ApiError> {
        self.with(|s| Ok(s.add_repeat(&path)?))
    }

    /// Remove one instance of an open-ended repeat (`children[2]`); later ones move up.
    pub fn remove_repeat(&self, path: String) -> Result<(), ApiError> {
        self.with(|s| Ok(s.remove_repeat(&path)?))
    }

    /// The language labels are shown in.
    pub fn language(&self) -> Result<String, ApiError> {
        self.with(|s| Ok(s.language().to_string()))
    }

    /// Show labels in `language`, one of the form's `languages`.
    pub fn set_language(&self, language: String) -> Result<(), ApiError> {
        self.with(|s| Ok(s.set_language(&language)?))
    }

    /// The name of this filling for lists (the form's `instance_name`), or "".
    pub fn instance_name(&self) -> Result<String, ApiError> {
        self.with(|s| Ok(s.instance_name()))
    }

    /// The whole state as JSON, to save as a draft and pass to `restore`.
    pub fn state_json(&self) -> Result<String, ApiError> {
        self.with(|s| serde_json::to_string(&s.state()).map_err(|e| ApiError::serialize(&e)))
    }

    /// The filled form as JSON: relevant fields with values, repeats as lists.
    pub fn output_json(&self) -> Result<String, ApiError> {
        self.with(|s| serde_json::to_string(&s.output()).map_err(|e| ApiError::serialize(&e)))
    }

    /// Time spent per question, in the order questions were first reached.
    pub fn timings(&self) -> Result<Vec<QuestionTiming>, ApiError> {
        self.with(|s| Ok(s.timings().into_iter().map(QuestionTiming::from).collect()))
    }
}

/// Exports for the foreign-language test harness only (feature `test-hooks`).
#[cfg(feature = "test-hooks")]
#[uniffi::export]
impl FormSession {
    /// Panic while holding the session's lock: the call fails with `ApiError::Internal` and the
    /// poisoned session refuses every later call with `Internal`.
    pub fn test_panic_while_locked(&self) -> Result<(), ApiError> {
        #[allow(clippy::panic)]
        self.with(|_| panic!("test hook: forced panic while the session is locked"))
    }
}

/// Exports for the Kotlin benchmark only (feature `bench-hooks`; scripts/kotlin-bench.sh).
#[cfg(feature = "bench-hooks")]
#[uniffi::export]
impl FormSession {
    /// Answers `path` `count` times in Rust, alternating the integers `first` and `second`, and
    /// returns the nanoseconds taken. `core_only` false: through this object's `answer` (guard,
    /// lock, `AnswerValue` conversion); true: on the core session directly, under one lock, as
    /// criterion's `one_answer` does. The benchmark interleaves these batches with its own on the
    /// same session, so Kotlin and Rust are timed in the same moments of a shared machine.
    pub fn bench_answer_in_rust(
        &self,
        path: String,
        first: i64,
        second: i64,
        count: i32,
        core_only: bool,
    ) -> Result<i64, ApiError> {
        let start = std::time::Instant::now();
        if core_only {
            self.with(|s| {
                for i in 0..count {
                    let age = serde_json::json!(if i % 2 == 0 { first } else { second });
                    std::hint::black_box(s.set_answer(std::hint::black_box(&path), &age)?);
                }
                Ok(())
            })?;
        } else {
            for i in 0..count {
                let value = if i % 2 == 0 { first } else { second };
                std::hint::black_box(self.answer(path.clone(), AnswerValue::Integer { value })?);
            }
        }
        Ok(i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Arc<FormSession> {
        let form = FormDefinition::builtin("household_screening".into()).unwrap();
        FormSession::new(form, 420).unwrap()
    }

    #[test]
    fn a_panic_under_the_lock_poisons_only_that_session() {
        let s = session();
        let r: Result<(), ApiError> = s.with(|_| panic!("forced"));
        assert_eq!(r.unwrap_err().code(), "internal");
        assert_eq!(s.progress().unwrap_err(), ApiError::poisoned());
        assert!(session().progress().is_ok());
    }

    #[test]
    fn answers_errors_and_state_through_the_api() {
        let s = session();
        assert!(s.answer("consent".into(), AnswerValue::Choice { value: "yes".into() }).unwrap());
        let e = s.answer("consent".into(), AnswerValue::Integer { value: 1 }).unwrap_err();
        assert_eq!(e.code(), "invalid_answer");
        assert_eq!(s.clear("nope".into()).unwrap_err().code(), "invalid_path");
        let state = s.state_json().unwrap();
        let form = s.form().unwrap();
        let back = FormSession::restore(Arc::clone(&form), state.clone(), 420).unwrap();
        assert_eq!(back.state_json().unwrap(), state);
        let bad = FormSession::restore(form, "{".into(), 420).unwrap_err();
        assert_eq!(bad.code(), "invalid_state");
    }
}
