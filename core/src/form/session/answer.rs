//! Answering: setting and clearing answers (coerced to the field's type, then the dependents
//! recomputed), adding and removing repeat instances, and loading saved or imported answers.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value as Json;

use super::paths::shift_paths;
use super::timing::TimingKind;
use super::{MAX_REPEAT_INSTANCES, Session, SessionError};
use crate::form::AnswerValue;
use crate::form::answers::{self, AnswerError};
use crate::form::check::FieldId;
use crate::form::expr::Value;
use crate::form::model::FieldKind;

impl Session {
    /// Set the answer at `path`: the case must fit the question's kind (`TypeMismatch`
    /// otherwise), then the value is checked as any answer is (choices, ranges). Returns whether
    /// the field's constraint (if any) holds for the new value.
    pub fn set(&mut self, path: &str, answer: &AnswerValue) -> Result<bool, SessionError> {
        let input = self.typed_input(path, answer)?;
        self.set_answer(path, &input)
    }

    /// `set` for a geopoint whose accuracy is worse than the warning threshold, with the
    /// volunteer's explicit confirmation.
    pub fn set_confirmed(
        &mut self,
        path: &str,
        answer: &AnswerValue,
    ) -> Result<bool, SessionError> {
        let input = self.typed_input(path, answer)?;
        self.set_geopoint_confirmed(path, &input)
    }

    /// The JSON input of a typed answer, once its case is checked against the question.
    fn typed_input(&self, path: &str, answer: &AnswerValue) -> Result<Json, SessionError> {
        let (f, _) = self.resolve(path)?;
        let to_error = |error| SessionError::Answer { path: path.into(), error };
        answer.check_kind(self.form.field(f).kind()).map_err(to_error)?;
        answer.to_json().map_err(to_error)
    }

    /// Set the answer at `path` from JSON, coercing it to the field's type (the adapter for
    /// files and the command line; the app's answers are typed: `set`).
    /// Returns whether the field's constraint (if any) holds for the new value.
    pub fn set_answer(&mut self, path: &str, input: &Json) -> Result<bool, SessionError> {
        let (f, addr) = self.resolve(path)?;
        self.put(f, &addr, path, input, true)
    }

    /// Store `input` at `f`/`addr`. Loading saved or imported answers (`respect_read_only`
    /// false) may fill read-only questions, which hold defaults or prefilled data.
    fn put(
        &mut self,
        f: FieldId,
        addr: &[usize],
        path: &str,
        input: &Json,
        respect_read_only: bool,
    ) -> Result<bool, SessionError> {
        let addr = addr.to_vec();
        self.check_answerable(f, &addr, path, respect_read_only)?;
        if input.is_null() {
            self.store_answer(f, &addr, Value::empty())?;
            self.confirmed.remove(&self.path_of(f, &addr));
            self.event(path, TimingKind::Cleared);
            return Ok(true);
        }
        let form = Arc::clone(&self.form);
        let info = form.field(f);
        let choices = info.def.choices.as_ref().and_then(|l| form.form.choices.get(l));
        let v = answers::coerce(info.kind(), choices.map(Vec::as_slice), input, self.offset())
            .map_err(|error| SessionError::Answer { path: path.into(), error })?;
        self.store_answer(f, &addr, v)?;
        self.confirmed.remove(&self.path_of(f, &addr));
        self.event(path, TimingKind::Answered);
        Ok(self.constraint_holds(f, &addr))
    }

    /// Set a geopoint answer whose accuracy is worse than the warning threshold, with the
    /// volunteer's explicit confirmation.
    pub fn set_geopoint_confirmed(
        &mut self,
        path: &str,
        input: &Json,
    ) -> Result<bool, SessionError> {
        let ok = self.set_answer(path, input)?;
        let (f, addr) = self.resolve(path)?;
        self.confirmed.insert(self.path_of(f, &addr));
        Ok(ok)
    }

    /// Clear the answer at `path`.
    pub fn clear_answer(&mut self, path: &str) -> Result<(), SessionError> {
        self.set_answer(path, &Json::Null).map(|_| ())
    }

    fn check_answerable(
        &self,
        f: FieldId,
        addr: &[usize],
        path: &str,
        respect_read_only: bool,
    ) -> Result<(), SessionError> {
        let info = self.form.field(f);
        if !info.kind().is_question() {
            return Err(SessionError::Answer {
                path: path.into(),
                error: AnswerError::NotAnswerable(info.kind().as_str()),
            });
        }
        if addr.len() != info.repeats.len() {
            return Err(SessionError::BadPath {
                path: path.into(),
                reason: "a question, not a repeat instance".into(),
            });
        }
        let read_only = respect_read_only && self.slot(f, addr).is_some_and(|s| s.read_only);
        if info.is_computed() || read_only {
            return Err(SessionError::ReadOnly { path: path.into() });
        }
        Ok(())
    }

    /// Store an answer and recompute what depends on it. When that would take the session
    /// over its limits (a repeat count that does not fit), the answer is refused and the
    /// session is left as it was.
    fn store_answer(&mut self, f: FieldId, addr: &[usize], v: Value) -> Result<(), SessionError> {
        let old = match self.slot_mut(f, addr) {
            Some(s) if s.answer != v => std::mem::replace(&mut s.answer, v),
            _ => return Ok(()),
        };
        self.guarded(
            |s| s.recompute_from(f, addr),
            |s| {
                if let Some(slot) = s.slot_mut(f, addr) {
                    slot.answer = old;
                }
                s.recompute_from(f, addr);
            },
        )
    }

    pub(super) fn constraint_holds(&self, f: FieldId, addr: &[usize]) -> bool {
        let info = self.form.field(f);
        match &info.constraint {
            Some(e) if !self.raw_value(f, addr).is_empty() => {
                self.eval_for(e, f, addr).is_ok_and(|v| v.to_bool())
            }
            _ => true,
        }
    }

    /// Add an instance at the end of an open-ended repeat (`children`, or `a[1]/b` when nested).
    /// Returns the new instance's path.
    pub fn add_repeat(&mut self, path: &str) -> Result<String, SessionError> {
        let (r, addr) = self.resolve(path)?;
        let info = self.form.field(r);
        if info.kind() != FieldKind::Repeat || addr.len() != info.repeats.len() {
            return Err(SessionError::NotARepeat { path: path.into() });
        }
        if info.repeat_count.is_some() {
            return Err(SessionError::FixedRepeat { path: path.into() });
        }
        let max = info
            .def
            .max_repeats
            .map_or(MAX_REPEAT_INSTANCES, |m| (m as usize).min(MAX_REPEAT_INSTANCES));
        let n = self.instance_count(r, &addr);
        if n >= max {
            return Err(SessionError::TooManyInstances { path: path.into(), max });
        }
        if let Err(room) = self.resize_repeat(r, &addr, n + 1) {
            return Err(SessionError::TooManyInstances { path: path.into(), max: room.max });
        }
        // Repeats with fixed counts inside the new instance grow with it: if they do not fit,
        // the instance is not added.
        self.guarded(
            |s| s.recompute_from(r, &addr),
            |s| {
                let _ = s.resize_repeat(r, &addr, n);
                s.recompute_from(r, &addr);
            },
        )?;
        let mut inst = addr.clone();
        inst.push(n);
        let new_path = self.path_of(r, &inst);
        self.event(&new_path, TimingKind::RepeatAdded);
        Ok(new_path)
    }

    /// Remove one instance of an open-ended repeat, e.g. `children[2]`; later ones move up.
    pub fn remove_repeat(&mut self, path: &str) -> Result<(), SessionError> {
        let (r, addr) = self.resolve(path)?;
        let info = self.form.field(r);
        if info.kind() != FieldKind::Repeat || addr.len() != info.repeats.len() + 1 {
            return Err(SessionError::BadPath {
                path: path.into(),
                reason: "name one repeat instance, e.g. children[2]".into(),
            });
        }
        if info.repeat_count.is_some() {
            return Err(SessionError::FixedRepeat { path: path.into() });
        }
        let (scope_addr, index) = addr.split_at(addr.len() - 1);
        let index = index.first().copied().unwrap_or(0);
        let taken = self.take_instance(r, scope_addr, index);
        // Fewer instances can mean more elsewhere (a count that reads this one): if those do
        // not fit, the instance stays.
        self.guarded(
            |s| s.recompute_from(r, scope_addr),
            |s| {
                if let Some(inst) = taken {
                    s.insert_instance(r, scope_addr, index, inst);
                }
                s.recompute_from(r, scope_addr);
            },
        )?;
        let index = [index];
        // Paths of later instances shifted: confirmations follow their instance.
        let prefix = self.path_of(r, scope_addr);
        self.confirmed = shift_paths(&self.confirmed, &prefix, index[0]);
        if let Some((cf, ca)) = &self.cursor {
            if ca.len() > scope_addr.len() && ca[..scope_addr.len()] == *scope_addr {
                let _ = cf;
                self.cursor = None;
            }
        }
        self.event(path, TimingKind::RepeatRemoved);
        Ok(())
    }

    /// Load answers in the shape `{"field": value, "repeat": [{...}, ...]}`. Fields are visited in
    /// form order, so a repeat count is known before the repeat's instances are filled. Every
    /// problem is collected; the answers that were acceptable are kept.
    pub fn load_answers(&mut self, answers: &Json) -> Result<(), Vec<SessionError>> {
        let mut errors = Vec::new();
        let roots = self.form.roots.clone();
        let Json::Object(obj) = answers else {
            return Err(vec![SessionError::BadState("answers must be a JSON object".into())]);
        };
        let mut known = BTreeSet::new();
        self.load_level(&roots, obj, &[], &mut known, &mut errors);
        for key in obj.keys() {
            if !known.contains(key.as_str()) {
                errors.push(SessionError::UnknownField { path: key.clone() });
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn load_level<'a>(
        &mut self,
        fields: &[FieldId],
        obj: &'a serde_json::Map<String, Json>,
        addr: &[usize],
        known: &mut BTreeSet<&'a str>,
        errors: &mut Vec<SessionError>,
    ) {
        for &f in fields {
            let info = self.form.field(f).clone();
            match info.kind() {
                FieldKind::Group => self.load_level(&info.children, obj, addr, known, errors),
                FieldKind::Repeat => {
                    let Some((key, v)) = obj.get_key_value(info.name()) else { continue };
                    known.insert(key.as_str());
                    let path = self.path_of(f, addr);
                    let Json::Array(items) = v else {
                        errors.push(SessionError::Answer {
                            path,
                            error: AnswerError::TypeMismatch {
                                expected: "a list of instances",
                                got: "another JSON type".into(),
                            },
                        });
                        continue;
                    };
                    for (i, item) in items.iter().enumerate() {
                        if self.instance_count(f, addr) <= i {
                            if let Err(e) = self.grow_for_load(f, addr, i + 1, &path) {
                                errors.push(e);
                                break;
                            }
                        }
                        let Json::Object(inner) = item else {
                            errors.push(SessionError::BadPath {
                                path: format!("{path}[{}]", i + 1),
                                reason: "an instance must be a JSON object".into(),
                            });
                            continue;
                        };
                        let mut a = addr.to_vec();
                        a.push(i);
                        let mut inner_known = BTreeSet::new();
                        self.load_level(&info.children, inner, &a, &mut inner_known, errors);
                        for k in inner.keys() {
                            if !inner_known.contains(k.as_str()) {
                                errors.push(SessionError::UnknownField {
                                    path: format!("{path}[{}]/{k}", i + 1),
                                });
                            }
                        }
                    }
                }
                _ => {
                    let Some((key, v)) = obj.get_key_value(info.name()) else { continue };
                    known.insert(key.as_str());
                    let path = self.path_of(f, addr);
                    if let Err(e) = self.put(f, addr, &path, v, false) {
                        errors.push(e);
                    }
                }
            }
        }
    }

    /// Make room for `n` instances while loading answers. An open-ended repeat grows as the
    /// volunteer would; a counted one only while hidden (its instances are kept hidden data),
    /// since a visible counted repeat has exactly the instances its count gives.
    fn grow_for_load(
        &mut self,
        r: FieldId,
        addr: &[usize],
        n: usize,
        path: &str,
    ) -> Result<(), SessionError> {
        if self.form.field(r).repeat_count.is_none() {
            return self.add_repeat(path).map(|_| ());
        }
        if self.is_relevant(r, addr) {
            return Err(SessionError::BadPath {
                path: path.into(),
                reason: format!(
                    "{n} instances given, but the repeat's count gives {}",
                    self.instance_count(r, addr)
                ),
            });
        }
        if n > MAX_REPEAT_INSTANCES {
            return Err(SessionError::TooManyInstances {
                path: path.into(),
                max: MAX_REPEAT_INSTANCES,
            });
        }
        let before = self.instance_count(r, addr);
        if let Err(room) = self.resize_repeat(r, addr, n) {
            return Err(SessionError::TooManyInstances { path: path.into(), max: room.max });
        }
        self.guarded(
            |s| s.recompute_from(r, addr),
            |s| {
                let _ = s.resize_repeat(r, addr, before);
                s.recompute_from(r, addr);
            },
        )
    }
}
