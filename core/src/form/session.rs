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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::answers::{self, AnswerError, GeoPoint};
use super::check::{CheckedForm, Cond, FieldId, FieldInfo};
use super::expr::{self, Env, EvalError, Expr, Value};
use super::model::{Choice, FieldKind, Text, pick_text};
use crate::clock::{Clock, Entropy};

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

#[derive(Debug, Clone)]
struct Slot {
    answer: Value,
    calc: Value,
    relevant: bool,
    required: bool,
    read_only: bool,
    default_pending: bool,
}

impl Slot {
    fn fresh() -> Slot {
        Slot {
            answer: Value::empty(),
            calc: Value::empty(),
            relevant: true,
            required: false,
            read_only: false,
            default_pending: true,
        }
    }
}

/// The root of the form or one repeat instance.
#[derive(Debug, Clone)]
struct Inst {
    slots: Vec<Slot>,
    /// Instances of each repeat whose enclosing scope is this instance, by repeat slot.
    repeats: Vec<Vec<Inst>>,
}

/// Where each field's state lives: computed once per form.
#[derive(Debug, Clone)]
struct Layout {
    /// Slot of each field within its scope's instance.
    slot: Vec<usize>,
    /// For repeats: index into the enclosing instance's `repeats`.
    rslot: Vec<usize>,
    /// Per scope (0 = root, then one per repeat): number of slots and of nested repeats.
    scope_sizes: Vec<(usize, usize)>,
    /// Scope index of each repeat field (the scope it opens).
    opens: Vec<usize>,
}

impl Layout {
    fn new(form: &CheckedForm) -> Layout {
        let n = form.fields.len();
        let mut opens = vec![0; n];
        let mut scope_sizes = vec![(0usize, 0usize)];
        for f in &form.fields {
            if f.kind() == FieldKind::Repeat {
                opens[f.id] = scope_sizes.len();
                scope_sizes.push((0, 0));
            }
        }
        let (mut slot, mut rslot) = (vec![0; n], vec![0; n]);
        for f in &form.fields {
            let s = f.scope().map_or(0, |r| opens[r]);
            slot[f.id] = scope_sizes[s].0;
            scope_sizes[s].0 += 1;
            if f.kind() == FieldKind::Repeat {
                rslot[f.id] = scope_sizes[s].1;
                scope_sizes[s].1 += 1;
            }
        }
        Layout { slot, rslot, scope_sizes, opens }
    }

    fn new_inst(&self, scope: usize) -> Inst {
        let (nslots, nrep) = self.scope_sizes.get(scope).copied().unwrap_or((0, 0));
        Inst { slots: vec![Slot::fresh(); nslots], repeats: vec![Vec::new(); nrep] }
    }
}

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

/// Why a filling is not (yet) valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationCode {
    Required,
    Constraint,
    /// A select answer that the choice filter no longer offers.
    ChoiceFiltered,
    TooFewInstances,
    /// A GPS fix less accurate than the warning threshold, not confirmed by the volunteer.
    AccuracyUnconfirmed,
    /// An expression could not be evaluated (e.g. `date('31/02')`); the form author must fix it.
    Expression,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub path: String,
    pub code: ViolationCode,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationReport {
    pub violations: Vec<Violation>,
}

impl ValidationReport {
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
}

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

/// Time spent on one question: each event's time runs until the next event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuestionTiming {
    pub path: String,
    pub first_at_ms: i64,
    pub dwell_ms: i64,
    pub changes: u32,
}

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

/// Cloning copies the filling (answers, positions, events), not the form: the store keeps a copy
/// to put back when a save fails.
#[derive(Clone)]
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

    // ----- paths ------------------------------------------------------------------------------

    /// Resolve an API path (`children[2]/age`, group names optional) to a field and address.
    pub fn resolve(&self, path: &str) -> Result<(FieldId, Addr), SessionError> {
        let bad = |reason: &str| SessionError::BadPath { path: path.into(), reason: reason.into() };
        let mut given: Vec<(FieldId, Option<usize>)> = Vec::new();
        for seg in path.trim_matches('/').split('/') {
            let (name, index) = match seg.split_once('[') {
                Some((name, rest)) => {
                    let idx = rest
                        .strip_suffix(']')
                        .and_then(|i| i.trim().parse::<usize>().ok())
                        .filter(|&i| i >= 1)
                        .ok_or_else(|| bad("instance index must be a whole number from 1"))?;
                    (name, Some(idx - 1))
                }
                None => (seg, None),
            };
            let id = self
                .form
                .id_of(name)
                .ok_or_else(|| SessionError::UnknownField { path: path.into() })?;
            given.push((id, index));
        }
        let Some(&(target, target_index)) = given.last() else { return Err(bad("empty path")) };
        let f = self.form.field(target);
        // The path may name the target's enclosing groups and repeats, in order; every enclosing
        // repeat needs an index. A trailing index on a repeat addresses one of its instances.
        let mut addr = Vec::with_capacity(f.repeats.len() + 1);
        let mut rest = given[..given.len() - 1].iter().peekable();
        for &r in &f.repeats {
            // Skip group segments before the repeat.
            let mut found = None;
            while let Some(&&(id, idx)) = rest.peek() {
                rest.next();
                if id == r {
                    found = Some(idx);
                    break;
                }
                if !self.is_ancestor(id, target) || self.form.field(id).kind() == FieldKind::Repeat
                {
                    return Err(bad("segments must be the field's enclosing groups and repeats"));
                }
            }
            let name = self.form.field(r).name();
            match found {
                Some(Some(i)) => addr.push(i),
                _ => return Err(bad(&format!("repeat `{name}` needs an instance index"))),
            }
        }
        for &(id, _) in rest {
            if !self.is_ancestor(id, target) || self.form.field(id).kind() == FieldKind::Repeat {
                return Err(bad("segments must be the field's enclosing groups and repeats"));
            }
        }
        match (target_index, f.kind()) {
            (Some(i), FieldKind::Repeat) => addr.push(i),
            (Some(_), _) => return Err(bad("only a repeat takes an instance index")),
            (None, _) => {}
        }
        // Every index must exist.
        let chain = self.chain_of(target, addr.len());
        for depth in 1..=addr.len() {
            if self.inst(&chain[..depth], &addr[..depth]).is_none() {
                return Err(SessionError::NoSuchInstance {
                    path: path.into(),
                    index: addr[depth - 1] + 1,
                });
            }
        }
        Ok((target, addr))
    }

    fn is_ancestor(&self, a: FieldId, mut f: FieldId) -> bool {
        while let Some(p) = self.form.field(f).parent {
            if p == a {
                return true;
            }
            f = p;
        }
        false
    }

    /// The repeat chain for an address of `len` levels at field `f` (its enclosing repeats, plus
    /// itself when `f` is a repeat addressed down to one instance).
    fn chain_of(&self, f: FieldId, len: usize) -> Vec<FieldId> {
        let info = self.form.field(f);
        let mut chain = info.repeats.clone();
        if info.kind() == FieldKind::Repeat {
            chain.push(f);
        }
        chain.truncate(len);
        chain
    }

    /// The API path of field `f` at `addr` (address of its enclosing repeats).
    pub fn path_of(&self, f: FieldId, addr: &[usize]) -> String {
        let info = self.form.field(f);
        let mut out = String::new();
        for (r, i) in info.repeats.iter().zip(addr) {
            out.push_str(self.form.field(*r).name());
            out.push('[');
            out.push_str(&(i + 1).to_string());
            out.push_str("]/");
        }
        out.push_str(info.name());
        if info.kind() == FieldKind::Repeat && addr.len() > info.repeats.len() {
            if let Some(i) = addr.last() {
                out.push('[');
                out.push_str(&(i + 1).to_string());
                out.push(']');
            }
        }
        out
    }

    // ----- instance tree ----------------------------------------------------------------------

    fn inst(&self, chain: &[FieldId], addr: &[usize]) -> Option<&Inst> {
        let mut cur = &self.root;
        for (r, &i) in chain.iter().zip(addr) {
            cur = cur.repeats.get(self.layout.rslot[*r])?.get(i)?;
        }
        Some(cur)
    }

    fn inst_mut(&mut self, chain: &[FieldId], addr: &[usize]) -> Option<&mut Inst> {
        let mut cur = &mut self.root;
        for (r, &i) in chain.iter().zip(addr) {
            cur = cur.repeats.get_mut(self.layout.rslot[*r])?.get_mut(i)?;
        }
        Some(cur)
    }

    fn slot(&self, f: FieldId, addr: &[usize]) -> Option<&Slot> {
        let info = self.form.field(f);
        let addr = addr.get(..info.repeats.len())?;
        self.inst(&info.repeats, addr)?.slots.get(self.layout.slot[f])
    }

    fn slot_mut(&mut self, f: FieldId, addr: &[usize]) -> Option<&mut Slot> {
        let form = Arc::clone(&self.form);
        let info = form.field(f);
        let addr = addr.get(..info.repeats.len())?;
        let s = self.layout.slot[f];
        self.inst_mut(&info.repeats, addr)?.slots.get_mut(s)
    }

    /// Number of instances of repeat `r` under the scope address `addr`.
    pub fn instance_count(&self, r: FieldId, addr: &[usize]) -> usize {
        let info = self.form.field(r);
        addr.get(..info.repeats.len())
            .and_then(|a| self.inst(&info.repeats, a))
            .and_then(|i| i.repeats.get(self.layout.rslot[r]))
            .map_or(0, Vec::len)
    }

    /// Every full address of depth `chain.len()` that extends `prefix`.
    fn addresses(&self, chain: &[FieldId], prefix: &[usize]) -> Vec<Addr> {
        let mut out = Vec::new();
        if prefix.len() > chain.len() {
            return out;
        }
        let mut stack = vec![prefix.to_vec()];
        while let Some(a) = stack.pop() {
            if a.len() == chain.len() {
                out.push(a);
                continue;
            }
            let n = self
                .inst(&chain[..a.len()], &a)
                .and_then(|i| i.repeats.get(self.layout.rslot[chain[a.len()]]))
                .map_or(0, Vec::len);
            for i in (0..n).rev() {
                let mut next = a.clone();
                next.push(i);
                stack.push(next);
            }
        }
        out
    }

    /// Every address of the enclosing repeats of `f` (one empty address outside repeats).
    fn field_addresses(&self, f: FieldId) -> Vec<Addr> {
        let chain = self.form.field(f).repeats.clone();
        self.addresses(&chain, &[])
    }

    /// Addresses of every instance of repeat `r` (each one level deeper than `r`'s own slot).
    pub fn repeat_instances(&self, r: FieldId) -> Vec<Addr> {
        let chain = self.chain_of(r, usize::MAX);
        self.addresses(&chain, &[])
    }

    // ----- values -----------------------------------------------------------------------------

    /// Whether `f` at `addr` is relevant (its own condition and all its ancestors').
    pub fn is_relevant(&self, f: FieldId, addr: &[usize]) -> bool {
        self.slot(f, addr).is_some_and(|s| s.relevant)
    }

    /// The value of `f` at `addr` as the volunteer or calculation left it, relevant or not.
    fn raw_value(&self, f: FieldId, addr: &[usize]) -> Value {
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

    fn eval_for(&self, e: &Expr, f: FieldId, addr: &[usize]) -> Result<Value, EvalError> {
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

    // ----- computation ------------------------------------------------------------------------

    fn recompute_all(&mut self) {
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
    fn recompute_from(&mut self, changed: FieldId, addr: &[usize]) {
        let form = Arc::clone(&self.form);
        let mut dirty: BTreeMap<FieldId, Vec<Addr>> = BTreeMap::new();
        dirty.insert(changed, vec![addr.to_vec()]);
        let mut structural: Vec<(FieldId, Addr)> = Vec::new();
        if form.field(changed).kind() == FieldKind::Repeat {
            structural.push((changed, addr.to_vec()));
        }
        self.resized.clear();
        for &d in &form.dependents[changed] {
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
                resized = self.resize_repeat(f, addr, n);
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

    fn resize_repeat(&mut self, r: FieldId, addr: &[usize], n: usize) -> bool {
        let scope = self.layout.opens[r];
        let fresh = self.layout.new_inst(scope);
        let rs = self.layout.rslot[r];
        let info_repeats = self.form.field(r).repeats.clone();
        let Some(parent) = self.inst_mut(&info_repeats, addr) else { return false };
        let Some(list) = parent.repeats.get_mut(rs) else { return false };
        if list.len() == n {
            return false;
        }
        list.resize(n, fresh);
        true
    }

    // ----- answering --------------------------------------------------------------------------

    /// Set the answer at `path` from JSON, coercing it to the field's type.
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
            self.store_answer(f, &addr, Value::empty());
            self.confirmed.remove(&self.path_of(f, &addr));
            self.event(path, TimingKind::Cleared);
            return Ok(true);
        }
        let form = Arc::clone(&self.form);
        let info = form.field(f);
        let choices = info.def.choices.as_ref().and_then(|l| form.form.choices.get(l));
        let v = answers::coerce(info.kind(), choices.map(Vec::as_slice), input, self.offset())
            .map_err(|error| SessionError::Answer { path: path.into(), error })?;
        self.store_answer(f, &addr, v);
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

    fn store_answer(&mut self, f: FieldId, addr: &[usize], v: Value) {
        let changed = match self.slot_mut(f, addr) {
            Some(s) if s.answer != v => {
                s.answer = v;
                true
            }
            _ => false,
        };
        if changed {
            self.recompute_from(f, addr);
        }
    }

    fn constraint_holds(&self, f: FieldId, addr: &[usize]) -> bool {
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
        self.resize_repeat(r, &addr, n + 1);
        self.recompute_from(r, &addr);
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
        let rs = self.layout.rslot[r];
        let chain = info.repeats.clone();
        if let Some(list) = self.inst_mut(&chain, scope_addr).and_then(|p| p.repeats.get_mut(rs)) {
            if index[0] < list.len() {
                list.remove(index[0]);
            }
        }
        // Paths of later instances shifted: confirmations follow their instance.
        let prefix = self.path_of(r, scope_addr);
        self.confirmed = shift_paths(&self.confirmed, &prefix, index[0]);
        if let Some((cf, ca)) = &self.cursor {
            if ca.len() > scope_addr.len() && ca[..scope_addr.len()] == *scope_addr {
                let _ = cf;
                self.cursor = None;
            }
        }
        self.recompute_from(r, scope_addr);
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
        self.resize_repeat(r, addr, n);
        self.recompute_from(r, addr);
        Ok(())
    }

    // ----- output -----------------------------------------------------------------------------

    /// The filled form: relevant fields with a value (calculations included), repeats as lists.
    pub fn output(&self) -> Json {
        self.tree_json(&self.form.roots.clone(), &[], Mode::Output)
    }

    fn tree_json(&self, fields: &[FieldId], addr: &[usize], mode: Mode) -> Json {
        let mut out = serde_json::Map::new();
        self.fill_json(fields, addr, mode, &mut out);
        Json::Object(out)
    }

    fn fill_json(
        &self,
        fields: &[FieldId],
        addr: &[usize],
        mode: Mode,
        out: &mut serde_json::Map<String, Json>,
    ) {
        for &f in fields {
            let info = self.form.field(f);
            if mode == Mode::Output && !self.is_relevant(f, addr) {
                continue;
            }
            match info.kind() {
                FieldKind::Group => self.fill_json(&info.children, addr, mode, out),
                FieldKind::Repeat => {
                    let n = self.instance_count(f, addr);
                    let items = (0..n)
                        .map(|i| {
                            let mut a = addr.to_vec();
                            a.push(i);
                            self.tree_json(&info.children, &a, mode)
                        })
                        .collect();
                    out.insert(info.name().to_string(), Json::Array(items));
                }
                FieldKind::Note => {}
                kind => match mode {
                    Mode::Output => {
                        let v = self.value(f, addr);
                        if !v.is_empty() {
                            out.insert(info.name().to_string(), answers::to_json(kind, &v));
                        }
                    }
                    Mode::State if !info.is_computed() => {
                        let v = self.raw_value(f, addr);
                        out.insert(info.name().to_string(), answers::to_json(kind, &v));
                    }
                    Mode::State => {}
                },
            }
        }
    }

    // ----- validation -------------------------------------------------------------------------

    /// Every reason the filling is not valid, in form order.
    pub fn validate(&self) -> ValidationReport {
        let mut violations = Vec::new();
        self.validate_level(&self.form.roots, &[], &mut violations);
        for ((path, attribute), err) in &self.eval_errors {
            violations.push(Violation {
                path: path.clone(),
                code: ViolationCode::Expression,
                message: format!("{attribute}: {err}"),
            });
        }
        ValidationReport { violations }
    }

    fn validate_level(&self, fields: &[FieldId], addr: &[usize], out: &mut Vec<Violation>) {
        for &f in fields {
            let info = self.form.field(f);
            let Some(slot) = self.slot(f, addr) else { continue };
            if !slot.relevant {
                continue;
            }
            let path = self.path_of(f, addr);
            match info.kind() {
                FieldKind::Group => self.validate_level(&info.children, addr, out),
                FieldKind::Repeat => {
                    let n = self.instance_count(f, addr);
                    if let Some(min) = info.def.min_repeats {
                        if n < min as usize {
                            out.push(Violation {
                                path: path.clone(),
                                code: ViolationCode::TooFewInstances,
                                message: self.builtin_message(Msg::TooFew(min)),
                            });
                        }
                    }
                    for i in 0..n {
                        let mut a = addr.to_vec();
                        a.push(i);
                        self.validate_level(&info.children, &a, out);
                    }
                }
                _ => self.validate_value(info, slot, addr, path, out),
            }
        }
    }

    fn validate_value(
        &self,
        info: &FieldInfo,
        slot: &Slot,
        addr: &[usize],
        path: String,
        out: &mut Vec<Violation>,
    ) {
        let f = info.id;
        let v = self.raw_value(f, addr);
        let text = |t: &Text, fallback: Msg| {
            self.text(t).map(str::to_string).unwrap_or_else(|| self.builtin_message(fallback))
        };
        if v.is_empty() {
            if slot.required && info.kind().is_question() {
                out.push(Violation {
                    path,
                    code: ViolationCode::Required,
                    message: text(&info.def.required_message, Msg::Required),
                });
            }
            return;
        }
        if !self.constraint_holds(f, addr) {
            out.push(Violation {
                path: path.clone(),
                code: ViolationCode::Constraint,
                message: text(&info.def.constraint_message, Msg::Constraint),
            });
        }
        if info.kind().is_select() && info.choice_filter.is_some() {
            let offered = self.choices_for(f, addr);
            let s = v.to_xpath_string();
            if s.split_whitespace().any(|c| !offered.iter().any(|o| o.name == c)) {
                out.push(Violation {
                    path: path.clone(),
                    code: ViolationCode::ChoiceFiltered,
                    message: self.builtin_message(Msg::ChoiceFiltered),
                });
            }
        }
        if info.kind() == FieldKind::Geopoint {
            if let (Some(w), Some(p)) =
                (info.def.warning_accuracy, GeoPoint::parse(&v.to_xpath_string()))
            {
                if p.accuracy > w && !self.confirmed.contains(&path) {
                    out.push(Violation {
                        path,
                        code: ViolationCode::AccuracyUnconfirmed,
                        message: self.builtin_message(Msg::Accuracy(p.accuracy, w)),
                    });
                }
            }
        }
    }

    fn text<'a>(&'a self, t: &'a Text) -> Option<&'a str> {
        pick_text(t, &self.language, self.form.form.languages.first().map(String::as_str))
    }

    fn builtin_message(&self, m: Msg) -> String {
        let vi = self.language == "vi";
        match m {
            Msg::Required if vi => "Câu hỏi này bắt buộc phải trả lời.".into(),
            Msg::Required => "This question is required.".into(),
            Msg::Constraint if vi => "Câu trả lời không hợp lệ.".into(),
            Msg::Constraint => "The answer is not valid.".into(),
            Msg::ChoiceFiltered if vi => "Lựa chọn này không còn phù hợp.".into(),
            Msg::ChoiceFiltered => "This choice is no longer offered.".into(),
            Msg::TooFew(n) if vi => format!("Cần ít nhất {n} mục."),
            Msg::TooFew(n) => format!("At least {n} entries are needed."),
            Msg::Accuracy(a, w) if vi => {
                format!("Độ chính xác GPS {a:.0} m kém hơn ngưỡng {w:.0} m; cần xác nhận.")
            }
            Msg::Accuracy(a, w) => {
                format!("GPS accuracy {a:.0} m is worse than {w:.0} m; confirmation needed.")
            }
        }
    }

    // ----- navigation -------------------------------------------------------------------------

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
    fn choices_for(&self, f: FieldId, addr: &[usize]) -> Vec<ChoiceOption> {
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

    // ----- timing -----------------------------------------------------------------------------

    fn event(&mut self, path: &str, kind: TimingKind) {
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

    // ----- save and restore -------------------------------------------------------------------

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

    fn offset(&self) -> i32 {
        self.clock.utc_offset_minutes()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Output,
    State,
}

enum Msg {
    Required,
    Constraint,
    ChoiceFiltered,
    TooFew(u32),
    Accuracy(f64, f64),
}

/// Keep only prefixes that no shorter one in the list already covers.
fn minimal_prefixes(sorted: Vec<Addr>) -> Vec<Addr> {
    let mut out: Vec<Addr> = Vec::new();
    for p in sorted {
        if !out.iter().any(|q| p.starts_with(q)) {
            out.push(p);
        }
    }
    out
}

/// After removing instance `removed` (0-based) of the repeat at `prefix`, paths of later
/// instances move up by one; paths inside the removed instance go.
fn shift_paths(paths: &BTreeSet<String>, prefix: &str, removed: usize) -> BTreeSet<String> {
    let open = format!("{prefix}[");
    paths
        .iter()
        .filter_map(|p| {
            let Some(rest) = p.strip_prefix(&open) else { return Some(p.clone()) };
            let (num, tail) = rest.split_once(']')?;
            let i: usize = num.parse().ok()?;
            match (i - 1).cmp(&removed) {
                std::cmp::Ordering::Less => Some(p.clone()),
                std::cmp::Ordering::Equal => None,
                std::cmp::Ordering::Greater => Some(format!("{open}{}]{tail}", i - 1)),
            }
        })
        .collect()
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

/// Replace `${name}` in a label with the field's value in the prompt's context.
fn interpolate(text: &str, env: &dyn Env) -> String {
    if !text.contains("${") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let v = env.lookup(&after[..end]).map(|v| v.to_xpath_string()).unwrap_or_default();
                out.push_str(&v);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The evaluation context of one field (or risk rule) in one repeat instance.
struct Ctx<'a> {
    s: &'a Session,
    field: Option<FieldId>,
    /// The repeats the context is inside, outermost first, and its instance in each.
    chain: &'a [FieldId],
    addr: &'a [usize],
}

impl Env for Ctx<'_> {
    fn lookup(&self, name: &str) -> Result<Value, EvalError> {
        let s = self.s;
        let g = s.form.id_of(name).ok_or_else(|| EvalError::UnknownField { name: name.into() })?;
        let ginfo = s.form.field(g);
        let is_repeat = ginfo.kind() == FieldKind::Repeat;
        let glen = ginfo.repeats.len() + usize::from(is_repeat);
        let gchain = |i: usize| if i < ginfo.repeats.len() { ginfo.repeats[i] } else { g };
        let common = (0..glen.min(self.chain.len()).min(self.addr.len()))
            .take_while(|&i| gchain(i) == self.chain[i])
            .count();
        if common == glen {
            // Same instance (or outside any repeat): one value. A repeat read from inside one
            // of its instances is that instance, whose value is blank.
            return Ok(if is_repeat { Value::empty() } else { s.value(g, &self.addr[..common]) });
        }
        let mut full: Vec<FieldId> = ginfo.repeats.clone();
        if is_repeat {
            full.push(g);
        }
        let nodes = s
            .addresses(&full, &self.addr[..common])
            .into_iter()
            .map(|a| if is_repeat { Value::empty() } else { s.value(g, &a) })
            .collect();
        Ok(Value::Nodes(nodes))
    }

    fn current(&self) -> Value {
        match self.field {
            Some(f) => self.s.raw_value(f, self.addr),
            None => Value::empty(),
        }
    }

    fn position(&self) -> Option<usize> {
        self.addr.last().map(|i| i + 1)
    }

    fn indexed_repeat(&self, field: &str, repeats: &[(&str, usize)]) -> Result<Value, EvalError> {
        let s = self.s;
        let g =
            s.form.id_of(field).ok_or_else(|| EvalError::UnknownField { name: field.into() })?;
        let ginfo = s.form.field(g);
        let mut addr = Vec::with_capacity(ginfo.repeats.len());
        for (level, &r) in ginfo.repeats.iter().enumerate() {
            let rname = s.form.field(r).name();
            let given = repeats.iter().find(|(n, _)| *n == rname).map(|(_, i)| *i);
            match given {
                Some(i) if i >= 1 => addr.push(i - 1),
                Some(_) => return Ok(Value::empty()),
                None if self.chain.get(level) == Some(&r) && level < self.addr.len() => {
                    addr.push(self.addr[level])
                }
                None => {
                    return Err(EvalError::BadArgument {
                        function: "indexed-repeat",
                        col: 0,
                        message: format!("no index given for repeat {rname}"),
                    });
                }
            }
        }
        Ok(s.value(g, &addr))
    }

    fn choice_label(&self, field: &str, value: &str) -> Option<String> {
        let s = self.s;
        let g = s.form.id_of(field)?;
        let list = s.form.field(g).def.choices.as_ref()?;
        let choice = s.form.form.choices.get(list)?.iter().find(|c| c.name == value)?;
        s.text(&choice.label).map(str::to_string)
    }

    fn now_ms(&self) -> i64 {
        self.s.clock.now_ms()
    }

    fn utc_offset_minutes(&self) -> i32 {
        self.s.clock.utc_offset_minutes()
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        self.s.entropy.fill(buf);
    }
}

/// Context for a choice filter: fields as usual, plus the candidate choice's columns.
struct ChoiceCtx<'a> {
    inner: Ctx<'a>,
    choice: &'a Choice,
}

impl Env for ChoiceCtx<'_> {
    fn lookup(&self, name: &str) -> Result<Value, EvalError> {
        self.inner.lookup(name)
    }
    fn column(&self, name: &str) -> Value {
        if name == "name" {
            return Value::Str(self.choice.name.clone());
        }
        self.choice.filter.get(name).map_or_else(Value::empty, |v| Value::Str(v.clone()))
    }
    fn current(&self) -> Value {
        self.inner.current()
    }
    fn position(&self) -> Option<usize> {
        self.inner.position()
    }
    fn indexed_repeat(&self, field: &str, repeats: &[(&str, usize)]) -> Result<Value, EvalError> {
        self.inner.indexed_repeat(field, repeats)
    }
    fn choice_label(&self, field: &str, value: &str) -> Option<String> {
        self.inner.choice_label(field, value)
    }
    fn now_ms(&self) -> i64 {
        self.inner.now_ms()
    }
    fn utc_offset_minutes(&self) -> i32 {
        self.inner.utc_offset_minutes()
    }
    fn random_bytes(&self, buf: &mut [u8]) {
        self.inner.random_bytes(buf)
    }
}
