//! A form session: the runtime of one filling of a form.
//!
//! Answers live in a tree of instances (the root and one per repeat instance). Each field has a
//! slot in the instance of its innermost enclosing repeat; a slot holds the volunteer's answer
//! and the computed state (relevance, requiredness, read-only, calculated value). Setting an
//! answer recomputes only what depends on it: the checked form lists each field's transitive
//! dependents in topological order, and a dependent is recomputed only in the instances that a
//! changed dependency can reach (see `recompute_from`).
//!
//! Addresses: a field inside repeats is addressed by the 0-based instance index of each enclosing
//! repeat, outermost first. Paths in the API are 1-based, as in XPath: `children[2]/age`.
//!
//! The code follows the session's concerns, one `impl Session` block each: `paths` (API paths
//! and addresses), `instances` (the instance tree and its slots), `compute` (values and
//! recomputation), `env` (the session as an expression environment), `answer` (answers, repeat
//! instances, loading), `output`, `validate`, `navigate` (prompts, the cursor, progress),
//! `timing` and `state` (save and restore).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::answers::AnswerError;
use super::check::{CheckedForm, FieldId};
use super::expr::EvalError;
use super::model::{Text, pick_text};
use crate::clock::{Clock, Entropy};

mod answer;
mod compute;
mod env;
mod instances;
mod navigate;
mod output;
mod paths;
mod state;
mod timing;
mod validate;

use instances::{Inst, Layout};
pub use navigate::{ChoiceOption, Progress, Prompt};
pub use state::SessionState;
pub use timing::{QuestionTiming, TimingEvent, TimingKind};
pub use validate::{ValidationReport, Violation, ViolationCode};

/// Most instances any repeat can have, whatever `repeat_count` or the volunteer asks for: a
/// bound on memory for a form written with a runaway count.
pub const MAX_REPEAT_INSTANCES: usize = 500;

/// An instance address: the 0-based index in each enclosing repeat, outermost first.
pub type Addr = Vec<usize>;

/// Something the session refused, with the path it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("{path}: no such field")]
    UnknownField { path: String },
    #[error("{path}: {reason}")]
    BadPath { path: String, reason: String },
    #[error("{path}: repeat instance {index} does not exist")]
    NoSuchInstance { path: String, index: usize },
    #[error("{path}: {error}")]
    Answer { path: String, error: AnswerError },
    #[error("{path}: the field is read-only or computed")]
    ReadOnly { path: String },
    #[error("{path}: the number of instances is set by the form (repeat_count)")]
    FixedRepeat { path: String },
    #[error("{path}: at most {max} instances")]
    TooManyInstances { path: String, max: usize },
    #[error("{path}: not a repeat")]
    NotARepeat { path: String },
    #[error("language `{0}` is not one of the form's languages")]
    UnknownLanguage(String),
    #[error("saved state is for form {found}, not {expected}")]
    FormMismatch { expected: String, found: String },
    #[error("saved state is unusable: {0}")]
    BadState(String),
}

pub struct Session {
    form: Arc<CheckedForm>,
    layout: Layout,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    language: String,
    root: Inst,
    confirmed: BTreeSet<String>,
    cursor: Option<(FieldId, Addr)>,
    events: Vec<TimingEvent>,
    started_at_ms: i64,
    /// Expression failures from the last computation of each (field path, attribute).
    eval_errors: BTreeMap<(String, &'static str), EvalError>,
    /// Repeats whose instance lists `compute` resized, with the scope address: scratch for
    /// `recompute_from`, which must revisit everything inside them.
    resized: Vec<(FieldId, Addr)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("form", &self.form.form.id).finish_non_exhaustive()
    }
}

impl Session {
    /// Start a new filling: defaults are applied and everything is computed once.
    pub fn new(
        form: Arc<CheckedForm>,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Session {
        let layout = Layout::new(&form);
        let root = layout.new_inst(0);
        let language = form.default_language().to_string();
        let started_at_ms = clock.now_ms();
        let mut s = Session {
            form,
            layout,
            clock,
            entropy,
            language,
            root,
            confirmed: BTreeSet::new(),
            cursor: None,
            events: Vec::new(),
            started_at_ms,
            eval_errors: BTreeMap::new(),
            resized: Vec::new(),
        };
        s.recompute_all();
        s
    }

    pub fn form(&self) -> &Arc<CheckedForm> {
        &self.form
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn set_language(&mut self, lang: &str) -> Result<(), SessionError> {
        if !self.form.form.languages.iter().any(|l| l == lang) {
            return Err(SessionError::UnknownLanguage(lang.to_string()));
        }
        self.language = lang.to_string();
        Ok(())
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn text<'a>(&'a self, t: &'a Text) -> Option<&'a str> {
        pick_text(t, &self.language, self.form.form.languages.first().map(String::as_str))
    }

    fn offset(&self) -> i32 {
        self.clock.utc_offset_minutes()
    }
}
