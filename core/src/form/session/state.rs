//! Save and restore: the whole state of a session as a draft, and a session rebuilt from it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::output::Mode;
use super::timing::TimingEvent;
use super::{Session, SessionError};
use crate::clock::{Clock, Entropy};
use crate::form::check::CheckedForm;

/// The whole state of a session, to save as a draft and restore after the app is killed.
/// Derived state (relevance, calculations) is not saved: it is recomputed on restore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    pub form_id: String,
    pub form_version: String,
    pub language: String,
    pub started_at_ms: i64,
    /// Every answerable slot, `null` where blank, in the shape of `load_answers` input.
    pub answers: Json,
    /// Geopoint paths whose low accuracy the volunteer confirmed.
    #[serde(default)]
    pub confirmed: Vec<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub events: Vec<TimingEvent>,
}

impl Session {
    pub fn state(&self) -> SessionState {
        let mut st = self.state_without_events();
        st.events = self.events.clone();
        st
    }

    /// The state without the timing events, for stores that keep events append-only
    /// elsewhere: an autosave then writes only the answers, whatever the form's history.
    pub fn state_without_events(&self) -> SessionState {
        SessionState {
            form_id: self.form.form.id.clone(),
            form_version: self.form.form.version.clone(),
            language: self.language.clone(),
            started_at_ms: self.started_at_ms,
            answers: self.tree_json(&self.form.roots.clone(), &[], Mode::State),
            confirmed: self.confirmed.iter().cloned().collect(),
            cursor: self.cursor.as_ref().map(|(f, a)| self.path_of(*f, a)),
            events: Vec::new(),
        }
    }

    /// Rebuild a session from saved state. Blank answers in the state stay blank (defaults are
    /// not applied again over a volunteer's clearing).
    pub fn restore(
        form: Arc<CheckedForm>,
        state: &SessionState,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<Session, SessionError> {
        let expected = format!("{}@{}", form.form.id, form.form.version);
        let found = format!("{}@{}", state.form_id, state.form_version);
        if expected != found {
            return Err(SessionError::FormMismatch { expected, found });
        }
        let mut s = Session::new(form, clock, entropy);
        s.set_language(&state.language)?;
        s.load_answers(&state.answers).map_err(|errs| {
            SessionError::BadState(errs.first().map(ToString::to_string).unwrap_or_default())
        })?;
        s.started_at_ms = state.started_at_ms;
        s.confirmed = state.confirmed.iter().cloned().collect();
        s.cursor = match &state.cursor {
            Some(p) => s.resolve(p).ok(),
            None => None,
        };
        s.events = state.events.clone();
        Ok(s)
    }
}
