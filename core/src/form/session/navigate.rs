//! Navigation: the prompts as the app shows them, the cursor (next, previous, go to) and
//! progress.

use serde::Serialize;
use serde_json::Value as Json;

use super::env::{ChoiceCtx, Ctx, interpolate};
use super::timing::TimingKind;
use super::{Addr, Session, SessionError};
use crate::form::answers;
use crate::form::check::FieldId;
use crate::form::expr;
use crate::form::model::FieldKind;

/// One visible question or note, as the app shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prompt {
    /// API path, e.g. `children[2]/age`.
    pub path: String,
    pub name: String,
    pub kind: FieldKind,
    /// Label in the session language with `${field}` references filled in.
    pub label: String,
    pub hint: String,
    pub required: bool,
    pub read_only: bool,
    /// The current answer in canonical JSON (null when blank).
    pub value: Json,
    /// For selects: the choices that pass the choice filter, labelled in the session language.
    pub choices: Vec<ChoiceOption>,
    pub appearance: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChoiceOption {
    pub name: String,
    pub label: String,
}

/// Position of the volunteer in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Visible questions that have an answer.
    pub answered: usize,
    /// Visible questions.
    pub total: usize,
    /// Visible required questions still blank.
    pub required_missing: usize,
}

impl Session {
    /// Every question and note in form order, with whether it is visible.
    fn all_prompts(&self) -> Vec<(FieldId, Addr, bool)> {
        let mut out = Vec::new();
        self.walk(&self.form.roots, &[], true, &mut out);
        out
    }

    fn walk(
        &self,
        fields: &[FieldId],
        addr: &[usize],
        visible: bool,
        out: &mut Vec<(FieldId, Addr, bool)>,
    ) {
        for &f in fields {
            let info = self.form.field(f);
            let vis = visible && self.is_relevant(f, addr);
            match info.kind() {
                FieldKind::Group => self.walk(&info.children, addr, vis, out),
                FieldKind::Repeat => {
                    for i in 0..self.instance_count(f, addr) {
                        let mut a = addr.to_vec();
                        a.push(i);
                        self.walk(&info.children, &a, vis, out);
                    }
                }
                FieldKind::Calculate => {}
                _ => out.push((f, addr.to_vec(), vis)),
            }
        }
    }

    /// The visible prompts in order.
    pub fn visible_prompts(&self) -> Vec<Prompt> {
        self.all_prompts()
            .into_iter()
            .filter(|(_, _, v)| *v)
            .map(|(f, a, _)| self.prompt(f, &a))
            .collect()
    }

    /// The prompt at `path`.
    pub fn prompt_at(&self, path: &str) -> Result<Prompt, SessionError> {
        let (f, addr) = self.resolve(path)?;
        Ok(self.prompt(f, &addr))
    }

    fn prompt(&self, f: FieldId, addr: &[usize]) -> Prompt {
        let info = self.form.field(f);
        let slot = self.slot(f, addr);
        let ctx = Ctx { s: self, field: Some(f), chain: &info.repeats, addr };
        Prompt {
            path: self.path_of(f, addr),
            name: info.name().to_string(),
            kind: info.kind(),
            label: interpolate(self.text(&info.def.label).unwrap_or(""), &ctx),
            hint: interpolate(self.text(&info.def.hint).unwrap_or(""), &ctx),
            required: slot.is_some_and(|s| s.required),
            read_only: info.is_computed() || slot.is_some_and(|s| s.read_only),
            value: answers::to_json(info.kind(), &self.raw_value(f, addr)),
            choices: if info.kind().is_select() { self.choices_for(f, addr) } else { Vec::new() },
            appearance: info.def.appearance.clone(),
        }
    }

    /// The choices a select offers at `addr`, after its choice filter.
    pub(super) fn choices_for(&self, f: FieldId, addr: &[usize]) -> Vec<ChoiceOption> {
        let info = self.form.field(f);
        let Some(list) = info.def.choices.as_ref().and_then(|l| self.form.form.choices.get(l))
        else {
            return Vec::new();
        };
        list.iter()
            .filter(|c| match &info.choice_filter {
                Some(e) => {
                    let ctx = ChoiceCtx {
                        inner: Ctx { s: self, field: Some(f), chain: &info.repeats, addr },
                        choice: c,
                    };
                    expr::eval(e, &ctx).is_ok_and(|v| v.to_bool())
                }
                None => true,
            })
            .map(|c| ChoiceOption {
                name: c.name.clone(),
                label: self.text(&c.label).unwrap_or(&c.name).to_string(),
            })
            .collect()
    }

    /// The prompt the volunteer is on, if navigation has started.
    pub fn current(&self) -> Option<Prompt> {
        self.cursor.as_ref().map(|(f, a)| self.prompt(*f, a))
    }

    /// Move to the next visible prompt; `None` at the end (the cursor stays).
    pub fn next_prompt(&mut self) -> Option<Prompt> {
        let all = self.all_prompts();
        let start = match &self.cursor {
            None => 0,
            Some(c) => all.iter().position(|(f, a, _)| (f, a) == (&c.0, &c.1)).map_or(0, |i| i + 1),
        };
        let found = all[start.min(all.len())..].iter().find(|(_, _, v)| *v).cloned();
        self.move_to(found)
    }

    /// Move to the previous visible prompt; `None` at the start (the cursor stays).
    pub fn previous_prompt(&mut self) -> Option<Prompt> {
        let all = self.all_prompts();
        let end = match &self.cursor {
            None => return None,
            Some(c) => all.iter().position(|(f, a, _)| (f, a) == (&c.0, &c.1)).unwrap_or(0),
        };
        let found = all[..end].iter().rev().find(|(_, _, v)| *v).cloned();
        self.move_to(found)
    }

    /// Jump to the prompt at `path` (e.g. from the validation report).
    pub fn go_to(&mut self, path: &str) -> Result<Prompt, SessionError> {
        let (f, addr) = self.resolve(path)?;
        self.cursor = Some((f, addr.clone()));
        let p = self.prompt(f, &addr);
        self.event(&p.path, TimingKind::Shown);
        Ok(p)
    }

    fn move_to(&mut self, found: Option<(FieldId, Addr, bool)>) -> Option<Prompt> {
        let (f, a, _) = found?;
        let p = self.prompt(f, &a);
        self.cursor = Some((f, a));
        self.event(&p.path, TimingKind::Shown);
        Some(p)
    }

    pub fn progress(&self) -> Progress {
        let mut p = Progress { answered: 0, total: 0, required_missing: 0 };
        for (f, a, vis) in self.all_prompts() {
            let info = self.form.field(f);
            if !vis || !info.kind().is_question() || info.is_computed() {
                continue;
            }
            p.total += 1;
            if self.raw_value(f, &a).is_empty() {
                if self.slot(f, &a).is_some_and(|s| s.required) {
                    p.required_missing += 1;
                }
            } else {
                p.answered += 1;
            }
        }
        p
    }
}
