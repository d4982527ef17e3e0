//! API paths (`children[2]/age`, 1-based) to fields and instance addresses (0-based), and back.

use std::collections::BTreeSet;

use super::{Addr, Session, SessionError};
use crate::form::check::FieldId;
use crate::form::model::FieldKind;

impl Session {
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
    pub(super) fn chain_of(&self, f: FieldId, len: usize) -> Vec<FieldId> {
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
}

/// After removing instance `removed` (0-based) of the repeat at `prefix`, paths of later
/// instances move up by one; paths inside the removed instance go.
pub(super) fn shift_paths(
    paths: &BTreeSet<String>,
    prefix: &str,
    removed: usize,
) -> BTreeSet<String> {
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
