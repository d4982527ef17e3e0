//! The form model: what a form is, as authors write it (JSON, documented in `docs/forms.md`).
//!
//! The model is deliberately a plain serde mirror of XLSForm's columns, so that a form converted
//! from a spreadsheet reads the same. Nothing here is checked; `check::check` turns a `Form` into
//! a `CheckedForm` whose expressions are parsed and whose references are resolved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::risk::RiskSpec;

/// Text in any number of languages, keyed by language code (`vi`, `en`, `tay`, ...).
pub type Text = BTreeMap<String, String>;

/// A whole form definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// Stable identifier, e.g. `household_screening`.
    pub id: String,
    /// Version string; a submission records the version it was filled with.
    pub version: String,
    pub title: Text,
    /// Label languages, the first being the default. Templates ship `vi` then `en`.
    pub languages: Vec<String>,
    /// Expression naming one filling (shown in lists), e.g. `concat(${village}, ' - ', ${head})`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    /// Choice lists by name.
    #[serde(default)]
    pub choices: BTreeMap<String, Vec<Choice>>,
    pub fields: Vec<Field>,
    /// Risk screening rules; absent for forms that do not score risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskSpec>,
}

/// One option of a choice list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The stored value (no spaces: select_multiple answers are space-separated).
    pub name: String,
    pub label: Text,
    /// Extra columns that a `choice_filter` can test, e.g. `{"commune": "05569"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, String>,
}

/// The type of a field: XLSForm's `type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    #[default]
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

impl FieldKind {
    /// Fields that hold an answer the volunteer gives (not notes, groups or calculations).
    pub fn is_question(self) -> bool {
        !matches!(
            self,
            FieldKind::Note | FieldKind::Calculate | FieldKind::Group | FieldKind::Repeat
        )
    }
    /// Fields that contain other fields.
    pub fn is_container(self) -> bool {
        matches!(self, FieldKind::Group | FieldKind::Repeat)
    }
    /// Fields that hold a value at all (questions and calculations).
    pub fn has_value(self) -> bool {
        !matches!(self, FieldKind::Note | FieldKind::Group | FieldKind::Repeat)
    }
    pub fn is_select(self) -> bool {
        matches!(self, FieldKind::SelectOne | FieldKind::SelectMultiple)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Integer => "integer",
            FieldKind::Decimal => "decimal",
            FieldKind::SelectOne => "select_one",
            FieldKind::SelectMultiple => "select_multiple",
            FieldKind::Date => "date",
            FieldKind::Datetime => "datetime",
            FieldKind::Time => "time",
            FieldKind::Geopoint => "geopoint",
            FieldKind::Image => "image",
            FieldKind::Note => "note",
            FieldKind::Calculate => "calculate",
            FieldKind::Acknowledge => "acknowledge",
            FieldKind::Group => "group",
            FieldKind::Repeat => "repeat",
        }
    }
}

/// `required` and `read_only` take either a constant or an expression, as in XLSForm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    Always(bool),
    When(String),
}

impl Default for Condition {
    fn default() -> Self {
        Condition::Always(false)
    }
}

impl Condition {
    fn is_never(&self) -> bool {
        matches!(self, Condition::Always(false))
    }
}

/// One row of the survey: a question, note, calculation, group or repeat.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Unique across the whole form (as in XLSForm), so `${name}` is never ambiguous.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    #[serde(default, skip_serializing_if = "Text::is_empty")]
    pub label: Text,
    #[serde(default, skip_serializing_if = "Text::is_empty")]
    pub hint: Text,
    #[serde(default, skip_serializing_if = "Condition::is_never")]
    pub required: Condition,
    #[serde(default, skip_serializing_if = "Text::is_empty")]
    pub required_message: Text,
    /// Expression: the field (and everything inside a group/repeat) is shown only when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant: Option<String>,
    /// Expression over `.`: the answer is valid only when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    #[serde(default, skip_serializing_if = "Text::is_empty")]
    pub constraint_message: Text,
    /// Expression evaluated once when the field (or its repeat instance) comes into being.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Expression whose value is the field's value (calculate fields, computed questions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calculation: Option<String>,
    #[serde(default, skip_serializing_if = "Condition::is_never")]
    pub read_only: Condition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<String>,
    /// Choice list name, for select_one / select_multiple.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<String>,
    /// Expression evaluated per choice; inside it `${name}` refers to fields and
    /// `choice.COLUMN`-style filters are written as `filter_COLUMN` variables (see docs/forms.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice_filter: Option<String>,
    /// Geopoint: accuracy in metres at or under which a fix is accepted automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_accuracy: Option<f64>,
    /// Geopoint: accuracy in metres over which a fix needs the volunteer's confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_accuracy: Option<f64>,
    /// Image: longest edge in pixels after downscaling (default 2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pixels: Option<u32>,
    /// Repeat: expression giving the number of instances (otherwise open-ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_count: Option<String>,
    /// Repeat: fewest instances for the form to be valid (open-ended repeats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_repeats: Option<u32>,
    /// Repeat: most instances a volunteer may add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_repeats: Option<u32>,
    /// Group / repeat contents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Field>,
}

impl Form {
    /// Parse a form from JSON, with the line and column of any syntax or shape error.
    pub fn from_json(json: &str) -> Result<Form, FormParseError> {
        serde_json::from_str(json).map_err(|e| FormParseError {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }

    pub fn to_json_pretty(&self) -> String {
        // Serializing plain owned data cannot fail; fall back to an empty object regardless.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// Label in `lang`, falling back to the form's first language, then to any language.
    pub fn text<'a>(&self, text: &'a Text, lang: &str) -> Option<&'a str> {
        pick_text(text, lang, self.languages.first().map(String::as_str))
    }
}

/// Choose the text for `lang`, else the fallback language, else the first available.
pub fn pick_text<'a>(text: &'a Text, lang: &str, fallback: Option<&str>) -> Option<&'a str> {
    text.get(lang)
        .or_else(|| fallback.and_then(|f| text.get(f)))
        .or_else(|| text.values().next())
        .map(String::as_str)
}

/// A form file that is not valid JSON or not shaped like a form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("form JSON line {line}, column {column}: {message}")]
pub struct FormParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}
