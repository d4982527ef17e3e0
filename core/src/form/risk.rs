//! Risk screening: a declarative `risk` section of a form turns answers into an explainable
//! assessment. Rules are conditions with points, a category and a reason per language; an
//! `urgent` rule makes the whole assessment urgent whatever the points (Decree 56/2017: risk of
//! serious harm needs intervention within 12 hours). Rules may be scoped to a repeat, in which
//! case they are evaluated once per instance (per child) and each triggering instance counts.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::check::{CheckedForm, DefinitionError, DefinitionErrorKind, FieldId};
use super::expr::{self, Expr};
use super::model::{FieldKind, Text};
use super::session::Session;

/// The `risk` section of a form, as authors write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSpec {
    pub rules: Vec<RiskRule>,
    pub thresholds: Thresholds,
    #[serde(default)]
    pub response_hours: ResponseHours,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRule {
    pub id: String,
    pub category: Category,
    /// Expression; the rule triggers when it is true.
    pub when: String,
    #[serde(default)]
    pub points: u32,
    /// A triggered urgent rule makes the level urgent.
    #[serde(default)]
    pub urgent: bool,
    /// Why this matters, per language; `${field}` references are filled in.
    pub reason: Text,
    /// Evaluate once per instance of this repeat (e.g. per child).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<String>,
    /// Cap on the points a repeat rule adds over all instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_points: Option<u32>,
}

/// Total points at or above which the level is medium, and high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub medium: u32,
    pub high: u32,
}

/// How soon each level must be acted on, in hours; `None` means routine follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseHours {
    #[serde(default = "default_urgent_hours")]
    pub urgent: Option<u32>,
    #[serde(default = "default_high_hours")]
    pub high: Option<u32>,
    #[serde(default)]
    pub medium: Option<u32>,
    #[serde(default)]
    pub low: Option<u32>,
}

/// Decree 56/2017/NĐ-CP Art. 26: emergency intervention within 12 hours.
fn default_urgent_hours() -> Option<u32> {
    Some(12)
}

/// Decree 56/2017: a support plan within 5 working days; 7 calendar days covers a weekend.
fn default_high_hours() -> Option<u32> {
    Some(7 * 24)
}

impl Default for ResponseHours {
    fn default() -> Self {
        ResponseHours {
            urgent: default_urgent_hours(),
            high: default_high_hours(),
            medium: None,
            low: None,
        }
    }
}

/// What kind of harm a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Drowning,
    Burns,
    Poisoning,
    Falls,
    Electrical,
    Road,
    AnimalBites,
    Cuts,
    Suffocation,
    ViolenceAbuse,
    Neglect,
    Exploitation,
    SpecialCircumstances,
    Health,
    Other,
}

impl Category {
    /// Vietnamese name, for reports read by commune officers.
    pub fn label_vi(self) -> &'static str {
        match self {
            Category::Drowning => "Đuối nước",
            Category::Burns => "Bỏng",
            Category::Poisoning => "Ngộ độc",
            Category::Falls => "Ngã",
            Category::Electrical => "Điện giật",
            Category::Road => "Giao thông",
            Category::AnimalBites => "Động vật cắn",
            Category::Cuts => "Vật sắc nhọn",
            Category::Suffocation => "Ngạt thở, hóc",
            Category::ViolenceAbuse => "Bạo lực, xâm hại",
            Category::Neglect => "Bỏ mặc, sao nhãng",
            Category::Exploitation => "Bóc lột",
            Category::SpecialCircumstances => "Hoàn cảnh đặc biệt",
            Category::Health => "Sức khỏe",
            Category::Other => "Khác",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Drowning => "drowning",
            Category::Burns => "burns",
            Category::Poisoning => "poisoning",
            Category::Falls => "falls",
            Category::Electrical => "electrical",
            Category::Road => "road",
            Category::AnimalBites => "animal_bites",
            Category::Cuts => "cuts",
            Category::Suffocation => "suffocation",
            Category::ViolenceAbuse => "violence_abuse",
            Category::Neglect => "neglect",
            Category::Exploitation => "exploitation",
            Category::SpecialCircumstances => "special_circumstances",
            Category::Health => "health",
            Category::Other => "other",
        }
    }
}

/// Risk level, ordered from least to most serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
    Urgent,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Urgent => "urgent",
        }
    }
    /// Vietnamese label (Cao / Trung bình / Thấp as in Decree 56's review form, plus Khẩn cấp).
    pub fn label_vi(self) -> &'static str {
        match self {
            Level::Low => "Thấp",
            Level::Medium => "Trung bình",
            Level::High => "Cao",
            Level::Urgent => "Khẩn cấp",
        }
    }
}

/// Risk rules with parsed conditions: part of a `CheckedForm`.
#[derive(Debug, Clone)]
pub struct CompiledRisk {
    pub spec: RiskSpec,
    pub rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub when: Expr,
    /// The repeat the rule is evaluated in, if any.
    pub repeat: Option<FieldId>,
}

/// Check and compile a risk section against its form.
pub fn compile(spec: &RiskSpec, form: &CheckedForm) -> Result<CompiledRisk, Vec<DefinitionError>> {
    let mut errors = Vec::new();
    let mut err = |path: String, msg: String| {
        errors.push(DefinitionError { path, kind: DefinitionErrorKind::Risk(msg) });
    };
    let t = spec.thresholds;
    if t.medium == 0 || t.high <= t.medium {
        err(
            "risk/thresholds".into(),
            format!("need 0 < medium ({}) < high ({})", t.medium, t.high),
        );
    }
    let mut ids = BTreeSet::new();
    let mut rules = Vec::new();
    for r in &spec.rules {
        let path = format!("risk/{}", r.id);
        if r.id.is_empty() || !ids.insert(r.id.as_str()) {
            err(path.clone(), format!("rule id `{}` is empty or used twice", r.id));
        }
        if r.reason.is_empty() {
            err(path.clone(), "a rule needs a reason".into());
        }
        for lang in r.reason.keys() {
            if !form.form.languages.contains(lang) {
                err(path.clone(), format!("reason language `{lang}` is not one of the form's"));
            }
        }
        if r.points == 0 && !r.urgent {
            err(
                path.clone(),
                "a rule with no points must be urgent (otherwise it has no effect)".into(),
            );
        }
        let repeat = match &r.repeat {
            Some(name) => match form.id_of(name) {
                Some(id) if form.field(id).kind() == FieldKind::Repeat => Some(id),
                _ => {
                    err(path.clone(), format!("`{name}` is not a repeat of the form"));
                    None
                }
            },
            None => None,
        };
        if r.max_points.is_some() && repeat.is_none() {
            err(path.clone(), "max_points applies to repeat rules only".into());
        }
        match expr::parse(&r.when) {
            Ok(e) => {
                for (name, col) in e.columns() {
                    err(
                        path.clone(),
                        format!("when, column {col}: bare name `{name}`; write ${{{name}}}"),
                    );
                }
                for (name, col) in e.references() {
                    if form.id_of(name).is_none() {
                        err(path.clone(), format!("when, column {col}: unknown field ${{{name}}}"));
                    }
                }
                rules.push(CompiledRule { when: e, repeat });
            }
            Err(e) => err(path.clone(), format!("when {e}")),
        }
    }
    if errors.is_empty() { Ok(CompiledRisk { spec: spec.clone(), rules }) } else { Err(errors) }
}

/// An explainable risk assessment of one filling. Read back from stored submissions, so its
/// serialised form is a format: fields may be added (with a default), never renamed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub level: Level,
    pub total_points: u32,
    pub thresholds: Thresholds,
    /// Points and triggered rules per category, most points first.
    pub categories: Vec<CategoryTotal>,
    /// Every triggered rule, in rule order then instance order.
    pub triggered: Vec<Triggered>,
    /// Hours within which the case must be acted on, from the form's response table.
    pub response_hours: Option<u32>,
    pub assessed_at_ms: i64,
    pub due_at_ms: Option<i64>,
    /// Rules whose condition could not be evaluated (a form bug; never silently dropped).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryTotal {
    pub category: Category,
    pub points: u32,
    pub rules: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Triggered {
    pub rule_id: String,
    pub category: Category,
    /// Points this trigger added (after a repeat rule's cap).
    pub points: u32,
    pub urgent: bool,
    /// Reason in the session language, with references filled in.
    pub reason: String,
    /// The repeat instance that triggered the rule, e.g. `children[2]`.
    pub instance: Option<String>,
}

/// Assess a session against its form's risk rules; `None` for forms without a risk section.
pub fn assess(session: &Session) -> Option<Assessment> {
    let form = session.form();
    let risk = form.risk.as_ref()?;
    let mut triggered = Vec::new();
    let mut errors = Vec::new();
    for (rule, compiled) in risk.spec.rules.iter().zip(&risk.rules) {
        let contexts: Vec<(Vec<FieldId>, Vec<usize>)> = match compiled.repeat {
            Some(r) => {
                let mut chain = form.field(r).repeats.clone();
                chain.push(r);
                session
                    .repeat_instances(r)
                    .into_iter()
                    .filter(|a| session.is_relevant(r, a))
                    .map(|a| (chain.clone(), a))
                    .collect()
            }
            None => vec![(Vec::new(), Vec::new())],
        };
        let mut budget = rule.max_points.unwrap_or(u32::MAX);
        for (chain, addr) in contexts {
            match session.eval_at(&compiled.when, &chain, &addr) {
                Ok(v) if v.to_bool() => {
                    let points = rule.points.min(budget);
                    budget -= points;
                    let instance = compiled.repeat.map(|r| session.path_of(r, &addr));
                    let reason = session.interpolate_at(&rule.reason, &chain, &addr);
                    triggered.push(Triggered {
                        rule_id: rule.id.clone(),
                        category: rule.category,
                        points,
                        urgent: rule.urgent,
                        reason,
                        instance,
                    });
                }
                Ok(_) => {}
                Err(e) => errors.push(format!("risk/{}: {e}", rule.id)),
            }
        }
    }
    let total_points = triggered.iter().map(|t| t.points).fold(0u32, u32::saturating_add);
    let t = risk.spec.thresholds;
    let level = if triggered.iter().any(|t| t.urgent) {
        Level::Urgent
    } else if total_points >= t.high {
        Level::High
    } else if total_points >= t.medium {
        Level::Medium
    } else {
        Level::Low
    };
    let mut per: BTreeMap<Category, CategoryTotal> = BTreeMap::new();
    for tr in &triggered {
        let e = per.entry(tr.category).or_insert(CategoryTotal {
            category: tr.category,
            points: 0,
            rules: 0,
        });
        e.points = e.points.saturating_add(tr.points);
        e.rules += 1;
    }
    let mut categories: Vec<CategoryTotal> = per.into_values().collect();
    categories.sort_by(|a, b| b.points.cmp(&a.points).then(a.category.cmp(&b.category)));
    let h = risk.spec.response_hours;
    let response_hours = match level {
        Level::Urgent => h.urgent,
        Level::High => h.high,
        Level::Medium => h.medium,
        Level::Low => h.low,
    };
    let assessed_at_ms = session.now_ms();
    let due_at_ms = response_hours.map(|hours| assessed_at_ms + i64::from(hours) * 3_600_000);
    Some(Assessment {
        level,
        total_points,
        thresholds: t,
        categories,
        triggered,
        response_hours,
        assessed_at_ms,
        due_at_ms,
        errors,
    })
}
