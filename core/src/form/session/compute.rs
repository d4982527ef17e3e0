//! Values as expressions see them, and recomputation: everything once for a new session, then
//! only the dependents of a change in the instances it can reach.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;

use super::env::{Ctx, interpolate};
use super::instances::NoRoom;
use super::instances::Slot;
use super::{Addr, MAX_REPEAT_INSTANCES, Session, SessionError};
use crate::form::answers;
use crate::form::check::{Cond, FieldId};
use crate::form::expr::{self, EvalError, Expr, Value};
use crate::form::model::{FieldKind, Text};

impl Session {
    /// Whether `f` at `addr` is relevant (its own condition and all its ancestors').
    pub fn is_relevant(&self, f: FieldId, addr: &[usize]) -> bool {
        self.slot(f, addr).is_some_and(|s| s.relevant)
    }

    /// The value of `f` at `addr` as the volunteer or calculation left it, relevant or not.
    pub(super) fn raw_value(&self, f: FieldId, addr: &[usize]) -> Value {
        match self.slot(f, addr) {
            Some(s) if self.form.field(f).is_computed() => s.calc.clone(),
            Some(s) => s.answer.clone(),
            None => Value::empty(),
        }
    }

    /// The value other expressions see: blank when the field is not relevant.
    pub fn value(&self, f: FieldId, addr: &[usize]) -> Value {
        match self.slot(f, addr) {
            Some(s) if !s.relevant => Value::empty(),
            Some(s) if self.form.field(f).is_computed() => s.calc.clone(),
            Some(s) => s.answer.clone(),
            None => Value::empty(),
        }
    }

    /// Evaluate `e` with `chain`/`addr` as the repeat context (no current field).
    pub fn eval_at(&self, e: &Expr, chain: &[FieldId], addr: &[usize]) -> Result<Value, EvalError> {
        let ctx = Ctx { s: self, field: None, chain, addr };
        expr::eval(e, &ctx)
    }

    pub(super) fn eval_for(
        &self,
        e: &Expr,
        f: FieldId,
        addr: &[usize],
    ) -> Result<Value, EvalError> {
        let info = self.form.field(f);
        let ctx = Ctx { s: self, field: Some(f), chain: &info.repeats, addr };
        expr::eval(e, &ctx)
    }

    /// Text in the session language with `${field}` references filled in, evaluated with
    /// `chain`/`addr` as the repeat context (risk reasons name the child they are about).
    pub fn interpolate_at(&self, text: &Text, chain: &[FieldId], addr: &[usize]) -> String {
        let ctx = Ctx { s: self, field: None, chain, addr };
        interpolate(self.text(text).unwrap_or(""), &ctx)
    }

    /// Value of the form's instance name expression (blank without one or on error).
    pub fn instance_name(&self) -> String {
        match &self.form.instance_name {
            Some(e) => self.eval_at(e, &[], &[]).map(|v| v.to_xpath_string()).unwrap_or_default(),
            None => String::new(),
        }
    }

    pub(super) fn recompute_all(&mut self) {
        self.eval_errors.clear();
        let form = Arc::clone(&self.form);
        for &f in &form.order {
            for addr in self.field_addresses(f) {
                self.compute(f, &addr);
            }
        }
        self.resized.clear();
    }

    /// Recompute what depends on `changed` at `addr`. Each dependent is recomputed in the
    /// instances reachable from the instances where one of its direct dependencies changed.
    /// Fields inside a repeat whose instances were added or removed count as changed wherever
    /// the change happened, even with no instance left: what aggregates them must follow.
    pub(super) fn recompute_from(&mut self, changed: FieldId, addr: &[usize]) {
        let form = Arc::clone(&self.form);
        let mut dirty: BTreeMap<FieldId, Vec<Addr>> = BTreeMap::new();
        dirty.insert(changed, vec![addr.to_vec()]);
        let mut structural: Vec<(FieldId, Addr)> = Vec::new();
        if form.field(changed).kind() == FieldKind::Repeat {
            structural.push((changed, addr.to_vec()));
        }
        self.resized.clear();
        for d in form.dependents(changed) {
            let dinfo = form.field(d);
            let mut prefixes: Vec<Addr> = Vec::new();
            for dep in &dinfo.deps {
                let Some(changed_at) = dirty.get(dep) else { continue };
                let dep_info = form.field(*dep);
                let mut dep_chain = dep_info.repeats.clone();
                if dep_info.kind() == FieldKind::Repeat {
                    dep_chain.push(*dep);
                }
                let common =
                    dep_chain.iter().zip(dinfo.repeats.iter()).take_while(|(a, b)| a == b).count();
                // A dependency read in other instances (indexed-repeat) reaches them all.
                let reach = if dinfo.wide_deps.contains(dep) { 0 } else { common };
                for a in changed_at {
                    prefixes.push(a[..reach.min(a.len())].to_vec());
                }
            }
            if prefixes.is_empty() {
                continue;
            }
            prefixes.sort();
            prefixes.dedup();
            let mut hit = Vec::new();
            for p in minimal_prefixes(prefixes) {
                for a in self.addresses(&dinfo.repeats, &p) {
                    if self.compute(d, &a) {
                        hit.push(a);
                    }
                }
            }
            structural.append(&mut self.resized);
            for (r, p) in &structural {
                if dinfo.repeats.contains(r) {
                    hit.push(p.clone());
                }
            }
            if !hit.is_empty() {
                dirty.insert(d, hit);
            }
        }
    }

    /// Compute the state of `f` at `addr`; returns whether anything others can see changed.
    fn compute(&mut self, f: FieldId, addr: &[usize]) -> bool {
        let form = Arc::clone(&self.form);
        let info = form.field(f);
        let Some(old) = self.slot(f, addr).cloned() else { return false };
        let parent_relevant = info.parent.is_none_or(|p| self.is_relevant(p, addr));
        let relevant = parent_relevant
            && match &info.relevant {
                Some(e) => self.eval_logged(e, f, addr, "relevant").is_some_and(|v| v.to_bool()),
                None => true,
            };
        let required = self.cond(&info.required, f, addr, "required");
        let read_only = self.cond(&info.read_only, f, addr, "read_only");
        let mut answer = old.answer.clone();
        if old.default_pending {
            if let Some(e) = &info.default {
                if let Some(v) = self.eval_logged(e, f, addr, "default") {
                    answer = typed(info.kind(), v);
                }
            }
        }
        let calc = match &info.calculation {
            Some(e) => self.eval_logged(e, f, addr, "calculation").map_or_else(Value::empty, |v| {
                if info.kind() == FieldKind::Calculate { v } else { typed(info.kind(), v) }
            }),
            None => Value::empty(),
        };
        let mut resized = false;
        if info.kind() == FieldKind::Repeat {
            // A hidden repeat keeps its instances: the count it reads is blank while hidden,
            // and dropping the instances would lose answers the volunteer may come back to.
            if let (Some(e), true) = (&info.repeat_count, relevant) {
                let n = self.eval_logged(e, f, addr, "repeat_count").map_or(0.0, |v| v.to_num());
                let n = if n.is_finite() && n > 0.0 {
                    (n.trunc() as usize).min(MAX_REPEAT_INSTANCES)
                } else {
                    0
                };
                match self.resize_repeat(f, addr, n) {
                    Ok(r) => resized = r,
                    Err(NoRoom { max, limit }) => {
                        // The repeat keeps the instances it had; the operation that asked for
                        // more is undone when it runs guarded, and `validate` reports it.
                        let path = self.path_of(f, addr);
                        let err = EvalError::TooManyInstances { wanted: n, max, limit };
                        self.eval_errors.insert((path.clone(), "repeat_count"), err);
                        self.limit_hit.get_or_insert(SessionError::TooManyInstances { path, max });
                    }
                }
            }
        }
        if resized {
            self.resized.push((f, addr.to_vec()));
        }
        let changed = resized
            || old.relevant != relevant
            || old.required != required
            || old.read_only != read_only
            || old.answer != answer
            || old.calc != calc;
        if let Some(s) = self.slot_mut(f, addr) {
            *s = Slot { answer, calc, relevant, required, read_only, default_pending: false };
        }
        changed
    }

    fn cond(&mut self, c: &Cond, f: FieldId, addr: &[usize], attribute: &'static str) -> bool {
        match c {
            Cond::Const(b) => *b,
            Cond::Expr(e) => self.eval_logged(e, f, addr, attribute).is_some_and(|v| v.to_bool()),
        }
    }

    /// Evaluate, remembering a failure for the validation report instead of failing the answer
    /// that triggered it: the volunteer's input is kept, the form author's bug is reported.
    fn eval_logged(
        &mut self,
        e: &Expr,
        f: FieldId,
        addr: &[usize],
        attribute: &'static str,
    ) -> Option<Value> {
        let key = (self.path_of(f, addr), attribute);
        match self.eval_for(e, f, addr) {
            Ok(v) => {
                self.eval_errors.remove(&key);
                Some(v)
            }
            Err(err) => {
                self.eval_errors.insert(key, err);
                None
            }
        }
    }
}

/// Keep only prefixes that no shorter one in the list already covers. In sorted order
/// everything between a prefix and an address it covers is covered by it too, so comparing
/// with the last one kept is enough (linear, whatever the number of instances).
fn minimal_prefixes(sorted: Vec<Addr>) -> Vec<Addr> {
    let mut out: Vec<Addr> = Vec::new();
    for p in sorted {
        if !out.last().is_some_and(|q| p.starts_with(q)) {
            out.push(p);
        }
    }
    out
}

/// Convert an expression result to the value type a field of `kind` holds (a default of
/// `today()` on a date field stays a date; `'2020-01-01'` becomes one).
fn typed(kind: FieldKind, v: Value) -> Value {
    if v.is_empty() {
        return Value::empty();
    }
    match (kind, &v) {
        (FieldKind::Date, Value::Date(_))
        | (FieldKind::Datetime, Value::DateTime { .. })
        | (FieldKind::Time, Value::Time(_)) => v,
        (FieldKind::Integer | FieldKind::Decimal, Value::Num(_)) => v,
        (FieldKind::Date, Value::DateTime { .. } | Value::Num(_)) => {
            let days = v.to_num().floor();
            if days.is_finite() { Value::Date(days as i32) } else { Value::empty() }
        }
        (FieldKind::Integer | FieldKind::Decimal, _) => Value::Num(v.to_num()),
        _ => {
            let s = v.to_xpath_string();
            answers::coerce(kind, None, &Json::String(s.clone()), 0).unwrap_or(Value::Str(s))
        }
    }
}
