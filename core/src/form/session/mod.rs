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

use instances::{Held, Inst, Layout, Removed};
pub use navigate::{ChoiceOption, Progress, Prompt};
pub use state::SessionState;
pub use timing::{QuestionTiming, TimingEvent, TimingKind};
pub use validate::{ValidationReport, Violation, ViolationCode};

pub use crate::form::limits::{MAX_REPEAT_INSTANCES, MAX_SESSION_VALUES, MAX_TOTAL_INSTANCES};

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
    /// No room for another instance here: `max` is the most this repeat can have at `path`,
    /// from its own bound (`max_repeats`, [`MAX_REPEAT_INSTANCES`]) or from what the session's
    /// limits ([`MAX_TOTAL_INSTANCES`], [`MAX_SESSION_VALUES`]) leave.
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
    /// Repeat instances and field values held, against the session limits.
    held: Held,
    /// The first limit a recomputation ran into (a repeat count that did not fit): the
    /// operation that caused it is undone (see `guarded`).
    limit_hit: Option<SessionError>,
    /// While an operation runs guarded: instances that shrinking repeats dropped, so that
    /// undoing the operation brings them back with their answers.
    journal: Option<Vec<Removed>>,
    /// Set while an operation is undone: the state it returns to fitted the limits.
    undoing: bool,
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
        let held = Held { instances: 0, values: root.slots.len() };
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
            held,
            limit_hit: None,
            journal: None,
            undoing: false,
        };
        s.recompute_all();
        // A count that did not fit is reported by `validate` (as an expression problem of the
        // repeat's count); there is no operation to undo.
        s.limit_hit = None;
        s
    }

    /// Repeat instances and field values the session holds now (see `form::limits`).
    pub fn held(&self) -> (usize, usize) {
        (self.held.instances, self.held.values)
    }

    /// Run `op`, which may create repeat instances through recomputation. When that runs into a
    /// session limit, `undo` reverses what `op` did, the instances that shrinking repeats dropped
    /// meanwhile are put back, and the limit's error is returned: the session is as it was.
    fn guarded<T>(
        &mut self,
        op: impl FnOnce(&mut Session) -> T,
        undo: impl FnOnce(&mut Session),
    ) -> Result<T, SessionError> {
        self.limit_hit = None;
        self.journal = Some(Vec::new());
        let out = op(self);
        let journal = self.journal.take().unwrap_or_default();
        let Some(err) = self.limit_hit.take() else { return Ok(out) };
        self.undoing = true;
        undo(self);
        for removed in journal.into_iter().rev() {
            self.put_back(removed);
        }
        // Problems recorded in instances that the undone operation created are gone with them.
        let stale: Vec<_> =
            self.eval_errors.keys().filter(|(p, _)| self.resolve(p).is_err()).cloned().collect();
        for key in stale {
            self.eval_errors.remove(&key);
        }
        self.undoing = false;
        self.limit_hit = None;
        Err(err)
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
