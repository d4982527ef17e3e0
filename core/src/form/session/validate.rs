//! Validation: every reason a filling is not (yet) valid, in form order, with messages in the
//! session language.

use serde::{Deserialize, Serialize};

use super::Session;
use super::instances::Slot;
use crate::form::answers::GeoPoint;
use crate::form::check::{FieldId, FieldInfo};
use crate::form::model::{FieldKind, Text};

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

impl Session {
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
}

enum Msg {
    Required,
    Constraint,
    ChoiceFiltered,
    TooFew(u32),
    Accuracy(f64, f64),
}
