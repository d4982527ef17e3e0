//! Timing: what happened at each question and when, and the time spent per question.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Session;

/// What happened at a question, and when: the raw material of per-question timings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimingEvent {
    pub at_ms: i64,
    pub path: String,
    pub kind: TimingKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimingKind {
    Shown,
    Answered,
    Cleared,
    RepeatAdded,
    RepeatRemoved,
}

/// Time spent on one question: each event's time runs until the next event. Signed into each
/// submission, and read back from a pulled one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct QuestionTiming {
    pub path: String,
    pub first_at_ms: i64,
    pub dwell_ms: i64,
    pub changes: u32,
}

impl Session {
    pub(super) fn event(&mut self, path: &str, kind: TimingKind) {
        let at_ms = self.clock.now_ms();
        self.events.push(TimingEvent { at_ms, path: path.to_string(), kind });
    }

    pub fn events(&self) -> &[TimingEvent] {
        &self.events
    }

    /// Time spent per question, in the order questions were first reached. The time between two
    /// events belongs to the question of the earlier one; the last event's time runs to now.
    pub fn timings(&self) -> Vec<QuestionTiming> {
        let now = self.clock.now_ms();
        let mut out: Vec<QuestionTiming> = Vec::new();
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, ev) in self.events.iter().enumerate() {
            let until = self.events.get(i + 1).map_or(now, |n| n.at_ms);
            let k = *index.entry(ev.path.as_str()).or_insert_with(|| {
                out.push(QuestionTiming {
                    path: ev.path.clone(),
                    first_at_ms: ev.at_ms,
                    dwell_ms: 0,
                    changes: 0,
                });
                out.len() - 1
            });
            out[k].dwell_ms += (until - ev.at_ms).max(0);
            if matches!(ev.kind, TimingKind::Answered | TimingKind::Cleared) {
                out[k].changes += 1;
            }
        }
        out
    }
}
