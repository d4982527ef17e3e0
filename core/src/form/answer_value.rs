//! `AnswerValue`: one typed answer, one case per kind of question, used by the session
//! (`Session::set`), the store (`Store::set_answer`) and the bindings (which expose this very
//! type). JSON is one adapter of it, for the command line and files (`to_json`, `from_json`);
//! the session's JSON entry points (`set_answer`) stay for them.

use serde_json::{Value as Json, json};

use super::answers::AnswerError;
use super::expr;
use super::model::FieldKind;

/// An answer to one question. Use the case that matches the question's `FieldKind`; the core
/// checks the match and the value (choices, ranges, constraints).
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerValue {
    /// `text` questions.
    Text { value: String },
    /// `integer` questions.
    Integer { value: i64 },
    /// `decimal` questions; must be finite.
    Decimal { value: f64 },
    /// `select_one`: the choice's `name`.
    Choice { value: String },
    /// `select_multiple`: choice names, in any order, without duplicates.
    Choices { values: Vec<String> },
    /// `date`: ISO 8601 `YYYY-MM-DD`.
    Date { value: String },
    /// `datetime`: milliseconds since the epoch (shown in the session's UTC offset).
    DateTime { epoch_ms: i64 },
    /// `time`: `HH:MM` or `HH:MM:SS`; prompts give it back as `HH:MM:SS.sss`.
    Time { value: String },
    /// `geopoint`: WGS84 degrees, altitude and accuracy in metres.
    Geopoint { lat: f64, lon: f64, altitude: f64, accuracy: f64 },
    /// `image`: the attachment's name (a file the app stored), never its bytes.
    Attachment { name: String },
    /// `acknowledge`: the volunteer confirmed.
    Acknowledged,
}

impl AnswerValue {
    /// What the case is, for messages.
    fn case(&self) -> &'static str {
        match self {
            AnswerValue::Text { .. } => "Text",
            AnswerValue::Integer { .. } => "Integer",
            AnswerValue::Decimal { .. } => "Decimal",
            AnswerValue::Choice { .. } => "Choice",
            AnswerValue::Choices { .. } => "Choices",
            AnswerValue::Date { .. } => "Date",
            AnswerValue::DateTime { .. } => "DateTime",
            AnswerValue::Time { .. } => "Time",
            AnswerValue::Geopoint { .. } => "Geopoint",
            AnswerValue::Attachment { .. } => "Attachment",
            AnswerValue::Acknowledged => "Acknowledged",
        }
    }

    /// Whether this case answers a question of `kind`; `TypeMismatch` (naming both) if not. A
    /// text question takes only `Text`, so that a choice or a number is never stored as
    /// free text by mistake.
    pub fn check_kind(&self, kind: FieldKind) -> Result<(), AnswerError> {
        let (fits, expected) = match kind {
            FieldKind::Text => (matches!(self, AnswerValue::Text { .. }), "Text"),
            FieldKind::Integer => (matches!(self, AnswerValue::Integer { .. }), "Integer"),
            FieldKind::Decimal => (
                matches!(self, AnswerValue::Decimal { .. } | AnswerValue::Integer { .. }),
                "Decimal",
            ),
            FieldKind::SelectOne => (matches!(self, AnswerValue::Choice { .. }), "Choice"),
            FieldKind::SelectMultiple => (matches!(self, AnswerValue::Choices { .. }), "Choices"),
            FieldKind::Date => (matches!(self, AnswerValue::Date { .. }), "Date"),
            FieldKind::Datetime => (matches!(self, AnswerValue::DateTime { .. }), "DateTime"),
            FieldKind::Time => (matches!(self, AnswerValue::Time { .. }), "Time"),
            FieldKind::Geopoint => (matches!(self, AnswerValue::Geopoint { .. }), "Geopoint"),
            FieldKind::Image => (matches!(self, AnswerValue::Attachment { .. }), "Attachment"),
            FieldKind::Acknowledge => (matches!(self, AnswerValue::Acknowledged), "Acknowledged"),
            FieldKind::Note | FieldKind::Calculate | FieldKind::Group | FieldKind::Repeat => {
                return Err(AnswerError::NotAnswerable(kind.as_str()));
            }
        };
        if fits {
            Ok(())
        } else {
            Err(AnswerError::TypeMismatch { expected, got: self.case().to_string() })
        }
    }

    /// The JSON input the session coerces (the adapter for files and the command line).
    pub fn to_json(&self) -> Result<Json, AnswerError> {
        let finite = |x: f64| {
            serde_json::Number::from_f64(x)
                .map(Json::Number)
                .ok_or_else(|| AnswerError::OutOfRange("numbers must be finite".into()))
        };
        Ok(match self {
            AnswerValue::Text { value }
            | AnswerValue::Choice { value }
            | AnswerValue::Date { value }
            | AnswerValue::Time { value } => Json::String(value.clone()),
            AnswerValue::Attachment { name } => Json::String(name.clone()),
            AnswerValue::Integer { value } => Json::from(*value),
            AnswerValue::Decimal { value } => finite(*value)?,
            AnswerValue::Choices { values } => Json::from(values.clone()),
            AnswerValue::DateTime { epoch_ms } => Json::from(*epoch_ms),
            AnswerValue::Geopoint { lat, lon, altitude, accuracy } => json!({
                "lat": finite(*lat)?, "lon": finite(*lon)?,
                "alt": finite(*altitude)?, "accuracy": finite(*accuracy)?,
            }),
            AnswerValue::Acknowledged => Json::Bool(true),
        })
    }

    /// The answer held by a field of `kind`, from the session's canonical JSON (`None` when
    /// blank, or for kinds that hold no answer).
    pub fn from_json(kind: FieldKind, v: &Json) -> Option<AnswerValue> {
        let text = || match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let num = |k: &str| v.get(k).and_then(Json::as_f64);
        match kind {
            _ if v.is_null() => None,
            FieldKind::Text | FieldKind::Calculate => {
                text().map(|value| AnswerValue::Text { value })
            }
            FieldKind::Integer => v.as_i64().map(|value| AnswerValue::Integer { value }),
            FieldKind::Decimal => v.as_f64().map(|value| AnswerValue::Decimal { value }),
            FieldKind::SelectOne => text().map(|value| AnswerValue::Choice { value }),
            FieldKind::SelectMultiple => v.as_array().map(|a| AnswerValue::Choices {
                values: a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            }),
            FieldKind::Date => text().map(|value| AnswerValue::Date { value }),
            FieldKind::Datetime => v
                .as_str()
                .and_then(|s| expr::parse_datetime(s, 0))
                .map(|(epoch_ms, _)| AnswerValue::DateTime { epoch_ms }),
            FieldKind::Time => text().map(|value| AnswerValue::Time { value }),
            FieldKind::Geopoint => Some(AnswerValue::Geopoint {
                lat: num("lat")?,
                lon: num("lon")?,
                altitude: num("alt").unwrap_or(0.0),
                accuracy: num("accuracy").unwrap_or(0.0),
            }),
            FieldKind::Image => text().map(|name| AnswerValue::Attachment { name }),
            FieldKind::Acknowledge => Some(AnswerValue::Acknowledged),
            FieldKind::Note | FieldKind::Group | FieldKind::Repeat => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::answers;

    /// Every case goes through the core's coercion and canonical JSON and comes back unchanged.
    #[test]
    fn answers_round_trip_through_the_coercion() {
        let cases = [
            (FieldKind::Text, AnswerValue::Text { value: "Lò Văn Páo".into() }),
            (FieldKind::Integer, AnswerValue::Integer { value: 7 }),
            (FieldKind::Decimal, AnswerValue::Decimal { value: 2.5 }),
            (FieldKind::Date, AnswerValue::Date { value: "2019-02-28".into() }),
            (FieldKind::Datetime, AnswerValue::DateTime { epoch_ms: 1_767_225_600_000 }),
            (FieldKind::Time, AnswerValue::Time { value: "07:30:00.000".into() }),
            (
                FieldKind::Geopoint,
                AnswerValue::Geopoint { lat: 21.03, lon: 105.85, altitude: 12.0, accuracy: 4.5 },
            ),
            (FieldKind::Image, AnswerValue::Attachment { name: "photo-1.jpg".into() }),
            (FieldKind::Acknowledge, AnswerValue::Acknowledged),
        ];
        for (kind, a) in cases {
            a.check_kind(kind).unwrap();
            let v = answers::coerce(kind, None, &a.to_json().unwrap(), 420).unwrap();
            let back = AnswerValue::from_json(kind, &answers::to_json(kind, &v));
            assert_eq!(back.as_ref(), Some(&a), "{kind:?}");
        }
    }

    #[test]
    fn a_case_that_does_not_fit_the_question_is_a_type_mismatch() {
        let e = AnswerValue::Text { value: "5".into() }.check_kind(FieldKind::Integer).unwrap_err();
        assert_eq!(e, AnswerError::TypeMismatch { expected: "Integer", got: "Text".into() });
        assert!(AnswerValue::Choice { value: "yes".into() }.check_kind(FieldKind::Text).is_err());
        assert!(AnswerValue::Integer { value: 2 }.check_kind(FieldKind::Decimal).is_ok());
        assert!(matches!(
            AnswerValue::Acknowledged.check_kind(FieldKind::Note),
            Err(AnswerError::NotAnswerable(_))
        ));
    }

    #[test]
    fn non_finite_numbers_are_refused_not_cleared() {
        assert!(AnswerValue::Decimal { value: f64::NAN }.to_json().is_err());
        let g =
            AnswerValue::Geopoint { lat: f64::INFINITY, lon: 0.0, altitude: 0.0, accuracy: 1.0 };
        assert!(g.to_json().is_err());
    }

    #[test]
    fn blank_is_none() {
        assert_eq!(AnswerValue::from_json(FieldKind::Text, &Json::Null), None);
    }
}
