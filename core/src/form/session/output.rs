//! The filled form as JSON: the output (relevant values, calculations included) and the answers
//! tree that saved state holds.

use serde_json::Value as Json;

use super::Session;
use crate::form::answers;
use crate::form::check::FieldId;
use crate::form::model::FieldKind;

impl Session {
    /// The filled form: relevant fields with a value (calculations included), repeats as lists.
    pub fn output(&self) -> Json {
        self.tree_json(&self.form.roots.clone(), &[], Mode::Output)
    }

    pub(super) fn tree_json(&self, fields: &[FieldId], addr: &[usize], mode: Mode) -> Json {
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Output,
    State,
}
