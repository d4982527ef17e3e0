//! The instance tree: the root and one instance per repeat instance, each with a slot per field
//! of its scope (the answer and the computed state), and where each field's slot lives.

use std::sync::Arc;

use super::{Addr, MAX_SESSION_VALUES, MAX_TOTAL_INSTANCES, Session};
use crate::form::check::{CheckedForm, FieldId};
use crate::form::expr::Value;
use crate::form::model::FieldKind;

#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) answer: Value,
    pub(super) calc: Value,
    pub(super) relevant: bool,
    pub(super) required: bool,
    pub(super) read_only: bool,
    pub(super) default_pending: bool,
}

impl Slot {
    pub(super) fn fresh() -> Slot {
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
pub(super) struct Inst {
    pub(super) slots: Vec<Slot>,
    /// Instances of each repeat whose enclosing scope is this instance, by repeat slot.
    pub(super) repeats: Vec<Vec<Inst>>,
}

impl Inst {
    /// What this instance holds, itself and every instance nested in it included. The
    /// recursion is as deep as repeats nest (at most `MAX_REPEAT_NESTING`).
    pub(super) fn weight(&self) -> Held {
        let mut w = Held { instances: 1, values: self.slots.len() };
        for inst in self.repeats.iter().flatten() {
            w.add(inst.weight());
        }
        w
    }
}

/// Repeat instances and field values held, counted against the session limits
/// (`MAX_TOTAL_INSTANCES`, `MAX_SESSION_VALUES`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Held {
    pub(super) instances: usize,
    pub(super) values: usize,
}

impl Held {
    fn add(&mut self, w: Held) {
        self.instances = self.instances.saturating_add(w.instances);
        self.values = self.values.saturating_add(w.values);
    }
    fn sub(&mut self, w: Held) {
        self.instances = self.instances.saturating_sub(w.instances);
        self.values = self.values.saturating_sub(w.values);
    }
}

/// Instances a shrinking repeat dropped during a guarded operation: repeat `r` in the scope
/// instance `addr` had them from index `at` on.
#[derive(Debug)]
pub(super) struct Removed {
    r: FieldId,
    addr: Addr,
    at: usize,
    insts: Vec<Inst>,
}

/// Why a repeat could not grow: the most instances it can have there, and the limit that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NoRoom {
    pub(super) max: usize,
    pub(super) limit: &'static str,
}

/// Where each field's state lives: computed once per form.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// Slot of each field within its scope's instance.
    pub(super) slot: Vec<usize>,
    /// For repeats: index into the enclosing instance's `repeats`.
    pub(super) rslot: Vec<usize>,
    /// Per scope (0 = root, then one per repeat): number of slots and of nested repeats.
    pub(super) scope_sizes: Vec<(usize, usize)>,
    /// Scope index of each repeat field (the scope it opens).
    pub(super) opens: Vec<usize>,
}

impl Layout {
    pub(super) fn new(form: &CheckedForm) -> Layout {
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

    pub(super) fn new_inst(&self, scope: usize) -> Inst {
        let (nslots, nrep) = self.scope_sizes.get(scope).copied().unwrap_or((0, 0));
        Inst { slots: vec![Slot::fresh(); nslots], repeats: vec![Vec::new(); nrep] }
    }
}

impl Session {
    pub(super) fn inst(&self, chain: &[FieldId], addr: &[usize]) -> Option<&Inst> {
        let mut cur = &self.root;
        for (r, &i) in chain.iter().zip(addr) {
            cur = cur.repeats.get(self.layout.rslot[*r])?.get(i)?;
        }
        Some(cur)
    }

    pub(super) fn inst_mut(&mut self, chain: &[FieldId], addr: &[usize]) -> Option<&mut Inst> {
        let mut cur = &mut self.root;
        for (r, &i) in chain.iter().zip(addr) {
            cur = cur.repeats.get_mut(self.layout.rslot[*r])?.get_mut(i)?;
        }
        Some(cur)
    }

    pub(super) fn slot(&self, f: FieldId, addr: &[usize]) -> Option<&Slot> {
        let info = self.form.field(f);
        let addr = addr.get(..info.repeats.len())?;
        self.inst(&info.repeats, addr)?.slots.get(self.layout.slot[f])
    }

    pub(super) fn slot_mut(&mut self, f: FieldId, addr: &[usize]) -> Option<&mut Slot> {
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
    pub(super) fn addresses(&self, chain: &[FieldId], prefix: &[usize]) -> Vec<Addr> {
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
    pub(super) fn field_addresses(&self, f: FieldId) -> Vec<Addr> {
        let chain = self.form.field(f).repeats.clone();
        self.addresses(&chain, &[])
    }

    /// Addresses of every instance of repeat `r` (each one level deeper than `r`'s own slot).
    pub fn repeat_instances(&self, r: FieldId) -> Vec<Addr> {
        let chain = self.chain_of(r, usize::MAX);
        self.addresses(&chain, &[])
    }

    /// Give repeat `r` in the scope instance `addr` exactly `n` instances: new ones are fresh,
    /// dropped ones go to the journal when a guarded operation runs. Growing is refused, with
    /// nothing changed, when the session limits leave no room (except while undoing).
    /// Returns whether the number of instances changed.
    pub(super) fn resize_repeat(
        &mut self,
        r: FieldId,
        addr: &[usize],
        n: usize,
    ) -> Result<bool, NoRoom> {
        let scope = self.layout.opens[r];
        let rs = self.layout.rslot[r];
        let values_each = self.layout.scope_sizes.get(scope).map_or(0, |s| s.0);
        let chain = self.form.field(r).repeats.clone();
        let held = self.held;
        let undoing = self.undoing;
        let fresh = self.layout.new_inst(scope);
        let Some(list) = self.inst_mut(&chain, addr).and_then(|p| p.repeats.get_mut(rs)) else {
            return Ok(false);
        };
        let len = list.len();
        if n == len {
            return Ok(false);
        }
        let mut dropped = Vec::new();
        if n > len {
            let more = n - len;
            let room_instances = MAX_TOTAL_INSTANCES.saturating_sub(held.instances);
            let room_values = MAX_SESSION_VALUES.saturating_sub(held.values) / values_each.max(1);
            if !undoing && (more > room_instances || more > room_values) {
                let (room, limit) = if room_instances <= room_values {
                    (room_instances, "MAX_TOTAL_INSTANCES")
                } else {
                    (room_values, "MAX_SESSION_VALUES")
                };
                return Err(NoRoom { max: len + room, limit });
            }
            list.resize(n, fresh);
            self.held.add(Held { instances: more, values: more.saturating_mul(values_each) });
        } else {
            dropped = list.split_off(n);
        }
        for inst in &dropped {
            self.held.sub(inst.weight());
        }
        if !dropped.is_empty() {
            if let Some(journal) = &mut self.journal {
                journal.push(Removed { r, addr: addr.to_vec(), at: n, insts: dropped });
            }
        }
        Ok(true)
    }

    /// Undo a journaled shrink: the instances from `at` on are replaced by the dropped ones
    /// (with their answers), and what depends on the repeat is recomputed.
    pub(super) fn put_back(&mut self, removed: Removed) {
        let Removed { r, addr, at, insts } = removed;
        let rs = self.layout.rslot[r];
        let chain = self.form.field(r).repeats.clone();
        let Some(list) = self.inst_mut(&chain, &addr).and_then(|p| p.repeats.get_mut(rs)) else {
            return;
        };
        if list.len() < at {
            return;
        }
        let tail = list.split_off(at);
        list.extend(insts);
        let back: Vec<Held> = list.iter().skip(at).map(Inst::weight).collect();
        for inst in &tail {
            self.held.sub(inst.weight());
        }
        for w in back {
            self.held.add(w);
        }
        self.recompute_from(r, &addr);
    }

    /// Remove instance `index` of repeat `r` in the scope instance `addr`, returning it.
    pub(super) fn take_instance(
        &mut self,
        r: FieldId,
        addr: &[usize],
        index: usize,
    ) -> Option<Inst> {
        let rs = self.layout.rslot[r];
        let chain = self.form.field(r).repeats.clone();
        let list = self.inst_mut(&chain, addr)?.repeats.get_mut(rs)?;
        if index >= list.len() {
            return None;
        }
        let inst = list.remove(index);
        self.held.sub(inst.weight());
        Some(inst)
    }

    /// Insert `inst` back as instance `index` of repeat `r` in the scope instance `addr`.
    pub(super) fn insert_instance(&mut self, r: FieldId, addr: &[usize], index: usize, inst: Inst) {
        let rs = self.layout.rslot[r];
        let chain = self.form.field(r).repeats.clone();
        let w = inst.weight();
        if let Some(list) = self.inst_mut(&chain, addr).and_then(|p| p.repeats.get_mut(rs)) {
            list.insert(index.min(list.len()), inst);
            self.held.add(w);
        }
    }
}
