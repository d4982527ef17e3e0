//! The session as an expression environment: field lookups in a repeat context,
//! `indexed-repeat`, choice labels and columns, the clock and entropy; and `${field}`
//! interpolation in labels.

use super::Session;
use crate::form::check::FieldId;
use crate::form::expr::{Env, EvalError, Value};
use crate::form::model::{Choice, FieldKind};

/// Replace `${name}` in a label with the field's value in the prompt's context.
pub(super) fn interpolate(text: &str, env: &dyn Env) -> String {
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
pub(super) struct Ctx<'a> {
    pub(super) s: &'a Session,
    pub(super) field: Option<FieldId>,
    /// The repeats the context is inside, outermost first, and its instance in each.
    pub(super) chain: &'a [FieldId],
    pub(super) addr: &'a [usize],
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
pub(super) struct ChoiceCtx<'a> {
    pub(super) inner: Ctx<'a>,
    pub(super) choice: &'a Choice,
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
