//! Records and enums that mirror the core's types field for field, with the conversions from
//! them: the one place where core types become FFI types. Counts cross as `i32` (Kotlin `Int`,
//! Swift `Int32`) or `i64`; times as `i64` milliseconds. Forms and sessions here, the store in
//! `store`, location in `location`.

mod location;
mod review;
mod store;

pub use location::*;
pub use review::*;
pub use store::*;

use std::collections::HashMap;

use safehome_core::form::check::CheckedForm;
pub use safehome_core::form::model::FieldKind;
use safehome_core::form::risk;
pub use safehome_core::form::risk::Category;
/// The core's risk category under the name Kotlin and Swift know it by.
pub use safehome_core::form::risk::Category as RiskCategory;
use safehome_core::form::risk::Level;
use safehome_core::form::session as core;
pub use safehome_core::form::session::ViolationCode;

use crate::answer::AnswerValue;

/// A count or point total as it crosses the FFI; saturates (no realistic form gets near).
pub(crate) fn count<T: TryInto<i32>>(n: T) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// A built-in form, for the app's list of forms.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FormInfo {
    pub id: String,
    pub version: String,
    /// Label languages, the first being the default.
    pub languages: Vec<String>,
    /// Title per language code.
    pub titles: HashMap<String, String>,
}

impl From<&CheckedForm> for FormInfo {
    fn from(f: &CheckedForm) -> Self {
        let f = &f.form;
        FormInfo {
            id: f.id.clone(),
            version: f.version.clone(),
            languages: f.languages.clone(),
            titles: f.title.clone().into_iter().collect(),
        }
    }
}

/// The type of a question or note (XLSForm's `type` column).
#[uniffi::remote(Enum)]
pub enum FieldKind {
    Text,
    Integer,
    Decimal,
    SelectOne,
    SelectMultiple,
    Date,
    Datetime,
    Time,
    Geopoint,
    Image,
    Note,
    Calculate,
    Acknowledge,
    Group,
    Repeat,
}

/// One visible question or note, as the app shows it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Prompt {
    /// API path, e.g. `children[2]/child_age` (1-based instance numbers).
    pub path: String,
    pub name: String,
    pub kind: FieldKind,
    /// Label in the session language, `${field}` references filled in.
    pub label: String,
    pub hint: String,
    pub required: bool,
    pub read_only: bool,
    /// The current answer; `null` when blank.
    pub value: Option<AnswerValue>,
    /// For selects: the choices the choice filter lets through, labelled in the session language.
    pub choices: Vec<ChoiceOption>,
    pub appearance: Option<String>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChoiceOption {
    /// The value to answer with (`AnswerValue.Choice`).
    pub name: String,
    pub label: String,
}

impl From<core::Prompt> for Prompt {
    fn from(p: core::Prompt) -> Self {
        Prompt {
            value: AnswerValue::from_json(p.kind, &p.value),
            path: p.path,
            name: p.name,
            kind: p.kind,
            label: p.label,
            hint: p.hint,
            required: p.required,
            read_only: p.read_only,
            choices: p
                .choices
                .into_iter()
                .map(|c| ChoiceOption { name: c.name, label: c.label })
                .collect(),
            appearance: p.appearance,
        }
    }
}

/// How far the filling is: visible questions, answered, and required ones still blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct Progress {
    pub answered: i32,
    pub total: i32,
    pub required_missing: i32,
}

impl From<core::Progress> for Progress {
    fn from(p: core::Progress) -> Self {
        Progress {
            answered: count(p.answered),
            total: count(p.total),
            required_missing: count(p.required_missing),
        }
    }
}

/// Why a filling is not (yet) valid.
#[uniffi::remote(Enum)]
pub enum ViolationCode {
    Required,
    Constraint,
    /// A select answer that the choice filter no longer offers.
    ChoiceFiltered,
    TooFewInstances,
    /// A GPS fix less accurate than the warning threshold, not confirmed by the volunteer.
    AccuracyUnconfirmed,
    /// An expression of the form could not be evaluated (a form bug).
    Expression,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Violation {
    /// Where: pass to `FormSession.goTo` to take the volunteer there.
    pub path: String,
    pub code: ViolationCode,
    /// The form's message in the session language.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ValidationReport {
    pub is_valid: bool,
    /// Every violation, in form order.
    pub violations: Vec<Violation>,
}

impl From<core::ValidationReport> for ValidationReport {
    fn from(r: core::ValidationReport) -> Self {
        ValidationReport {
            is_valid: r.is_valid(),
            violations: r
                .violations
                .into_iter()
                .map(|v| Violation { path: v.path, code: v.code, message: v.message })
                .collect(),
        }
    }
}

/// Risk level, from least to most serious: the core's `risk::Level`, named `RiskLevel` in
/// Kotlin and Swift (uniffi's conversion matches every variant, so the two cannot drift).
#[uniffi::remote(Enum)]
#[uniffi(name = "RiskLevel")]
pub enum Level {
    Low,
    Medium,
    High,
    /// Serious harm: act within the urgent response time (12 hours by default).
    Urgent,
}

/// What kind of harm a risk rule is about.
#[uniffi::remote(Enum)]
#[uniffi(name = "RiskCategory")]
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

/// Points and triggered rules of one category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct CategoryTotal {
    pub category: RiskCategory,
    pub points: i32,
    pub rules: i32,
}

/// One triggered risk rule and why it matters.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TriggeredRule {
    pub rule_id: String,
    pub category: RiskCategory,
    /// Points this trigger added (after a per-child rule's cap).
    pub points: i32,
    pub urgent: bool,
    /// The reason in the session language, references filled in.
    pub reason: String,
    /// The repeat instance (child) that triggered a per-child rule, e.g. `children[2]`.
    pub instance: Option<String>,
}

/// An explainable risk assessment of the filling as it stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Assessment {
    pub level: Level,
    pub total_points: i32,
    /// Points at or above which the level is medium, and high.
    pub medium_threshold: i32,
    pub high_threshold: i32,
    /// Per category, most points first.
    pub categories: Vec<CategoryTotal>,
    /// Every triggered rule, in rule order then child order.
    pub triggered: Vec<TriggeredRule>,
    /// Hours within which the case must be acted on; `null` for routine follow-up.
    pub response_hours: Option<i32>,
    pub assessed_at_ms: i64,
    pub due_at_ms: Option<i64>,
    /// Rules that could not be evaluated (a form bug, never silently dropped).
    pub errors: Vec<String>,
}

impl From<risk::Assessment> for Assessment {
    fn from(a: risk::Assessment) -> Self {
        Assessment {
            level: a.level,
            total_points: count(a.total_points),
            medium_threshold: count(a.thresholds.medium),
            high_threshold: count(a.thresholds.high),
            categories: a
                .categories
                .into_iter()
                .map(|c| CategoryTotal {
                    category: c.category,
                    points: count(c.points),
                    rules: count(c.rules),
                })
                .collect(),
            triggered: a
                .triggered
                .into_iter()
                .map(|t| TriggeredRule {
                    rule_id: t.rule_id,
                    category: t.category,
                    points: count(t.points),
                    urgent: t.urgent,
                    reason: t.reason,
                    instance: t.instance,
                })
                .collect(),
            response_hours: a.response_hours.map(count),
            assessed_at_ms: a.assessed_at_ms,
            due_at_ms: a.due_at_ms,
            errors: a.errors,
        }
    }
}

/// Time spent on one question.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuestionTiming {
    pub path: String,
    pub first_at_ms: i64,
    pub dwell_ms: i64,
    /// Answers and clearings.
    pub changes: i32,
}

impl From<core::QuestionTiming> for QuestionTiming {
    fn from(t: core::QuestionTiming) -> Self {
        QuestionTiming {
            path: t.path,
            first_at_ms: t.first_at_ms,
            dwell_ms: t.dwell_ms,
            changes: count(t.changes),
        }
    }
}
