//! Answers as they cross the API (JSON values) and as the engine holds them (`Value`s):
//! coercion by field type with typed errors, and the canonical JSON form of each type.

use serde_json::Value as Json;

use super::expr::{self, Value};
use super::model::{Choice, FieldKind};

/// Why an input cannot be an answer to a field of some type. The session adds the field path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnswerError {
    #[error("expected {expected}, got {got}")]
    TypeMismatch { expected: &'static str, got: String },
    #[error("not one of the field's choices")]
    NotAChoice(String),
    #[error("{0}")]
    OutOfRange(String),
    #[error("a {0} field takes no answer")]
    NotAnswerable(&'static str),
    #[error("the answer is {len} bytes long, over the limit of {max} (MAX_ANSWER_BYTES)")]
    TooLong { len: usize, max: usize },
}

/// The literal of a JSON input, shortened, for error messages (answers may be personal data,
/// so only the JSON type and length are reported, never the text itself).
fn describe(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(_) => "a boolean".into(),
        Json::Number(_) => "a number".into(),
        Json::String(s) => format!("a string of {} characters", s.chars().count()),
        Json::Array(a) => format!("a list of {} items", a.len()),
        Json::Object(_) => "an object".into(),
    }
}

fn mismatch(expected: &'static str, got: &Json) -> AnswerError {
    AnswerError::TypeMismatch { expected, got: describe(got) }
}

/// A geopoint answer: XForms stores it as "lat lon altitude accuracy".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
    pub alt: f64,
    pub accuracy: f64,
}

impl GeoPoint {
    pub fn parse(s: &str) -> Option<GeoPoint> {
        let mut it = s.split_whitespace().map(str::parse::<f64>);
        let lat = it.next()?.ok()?;
        let lon = it.next()?.ok()?;
        let alt = it.next().unwrap_or(Ok(0.0)).ok()?;
        let accuracy = it.next().unwrap_or(Ok(0.0)).ok()?;
        if it.next().is_some() {
            return None;
        }
        Some(GeoPoint { lat, lon, alt, accuracy })
    }

    fn validate(self) -> Result<GeoPoint, AnswerError> {
        let ok = self.lat.is_finite()
            && self.lon.is_finite()
            && self.alt.is_finite()
            && self.accuracy.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
            && self.accuracy >= 0.0;
        if ok {
            Ok(self)
        } else {
            Err(AnswerError::OutOfRange(
                "latitude must be within ±90, longitude within ±180, accuracy >= 0".into(),
            ))
        }
    }

    pub fn to_xforms(self) -> String {
        format!("{} {} {} {}", self.lat, self.lon, self.alt, self.accuracy)
    }
}

/// Coerce `input` to an answer for a field of `kind`. `choices` is the field's list for selects.
/// `offset_min` is the local UTC offset used for datetimes written without one.
pub fn coerce(
    kind: FieldKind,
    choices: Option<&[Choice]>,
    input: &Json,
    offset_min: i32,
) -> Result<Value, AnswerError> {
    use super::limits::MAX_ANSWER_BYTES;
    if let Json::String(s) = input {
        if s.len() > MAX_ANSWER_BYTES {
            return Err(AnswerError::TooLong { len: s.len(), max: MAX_ANSWER_BYTES });
        }
    }
    match kind {
        FieldKind::Text => match input {
            Json::String(s) => Ok(Value::Str(s.clone())),
            Json::Number(n) => Ok(Value::Str(n.to_string())),
            other => Err(mismatch("text", other)),
        },
        FieldKind::Integer => {
            let n = match input {
                Json::Number(n) => n
                    .as_i64()
                    .map(|i| i as f64)
                    .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)),
                Json::String(s) => s.trim().parse::<i64>().ok().map(|i| i as f64),
                _ => None,
            };
            n.filter(|f| f.abs() < 9.0e15)
                .map(Value::Num)
                .ok_or_else(|| mismatch("a whole number", input))
        }
        FieldKind::Decimal => {
            let n = match input {
                Json::Number(n) => n.as_f64(),
                Json::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            n.filter(|f| f.is_finite()).map(Value::Num).ok_or_else(|| mismatch("a number", input))
        }
        FieldKind::SelectOne => {
            let Json::String(s) = input else { return Err(mismatch("a choice name", input)) };
            let s = s.trim();
            check_choice(choices, s)?;
            Ok(Value::Str(s.to_string()))
        }
        FieldKind::SelectMultiple => {
            let items: Vec<String> = match input {
                Json::String(s) => s.split_whitespace().map(str::to_string).collect(),
                Json::Array(a) => a
                    .iter()
                    .map(|v| match v {
                        Json::String(s) => Ok(s.trim().to_string()),
                        other => Err(mismatch("a list of choice names", other)),
                    })
                    .collect::<Result<_, _>>()?,
                other => return Err(mismatch("a list of choice names", other)),
            };
            let mut out: Vec<String> = Vec::with_capacity(items.len());
            for it in items {
                check_choice(choices, &it)?;
                if !out.contains(&it) {
                    out.push(it);
                }
            }
            Ok(Value::Str(out.join(" ")))
        }
        FieldKind::Date => match input {
            Json::String(s) => expr::parse_date(s.trim())
                .map(Value::Date)
                .ok_or_else(|| mismatch("a date YYYY-MM-DD", input)),
            other => Err(mismatch("a date YYYY-MM-DD", other)),
        },
        FieldKind::Datetime => match input {
            Json::String(s) => expr::parse_datetime(s.trim(), offset_min)
                .map(|(ms, offset_min)| Value::DateTime { ms, offset_min })
                .ok_or_else(|| mismatch("an ISO 8601 date and time", input)),
            Json::Number(n) => n
                .as_i64()
                .map(|ms| Value::DateTime { ms, offset_min })
                .ok_or_else(|| mismatch("milliseconds since the epoch", input)),
            other => Err(mismatch("an ISO 8601 date and time", other)),
        },
        FieldKind::Time => match input {
            Json::String(s) => expr::parse_time(s.trim())
                .map(Value::Time)
                .ok_or_else(|| mismatch("a time HH:MM[:SS]", input)),
            other => Err(mismatch("a time HH:MM[:SS]", other)),
        },
        FieldKind::Geopoint => {
            let p = match input {
                Json::String(s) => GeoPoint::parse(s),
                Json::Object(o) => {
                    let num = |k: &str| o.get(k).and_then(Json::as_f64);
                    match (num("lat").or(num("latitude")), num("lon").or(num("longitude"))) {
                        (Some(lat), Some(lon)) => Some(GeoPoint {
                            lat,
                            lon,
                            alt: num("alt").or(num("altitude")).unwrap_or(0.0),
                            accuracy: num("accuracy").unwrap_or(0.0),
                        }),
                        _ => None,
                    }
                }
                _ => None,
            };
            let p = p.ok_or_else(|| mismatch("a point {lat, lon, alt, accuracy}", input))?;
            Ok(Value::Str(p.validate()?.to_xforms()))
        }
        FieldKind::Image => match input {
            Json::String(s) if !s.trim().is_empty() => Ok(Value::Str(s.trim().to_string())),
            other => Err(mismatch("an attachment name", other)),
        },
        FieldKind::Acknowledge => match input {
            Json::Bool(true) => Ok(Value::Str("OK".into())),
            Json::String(s) if s == "OK" || s == "true" || s == "1" => Ok(Value::Str("OK".into())),
            other => Err(mismatch("true (acknowledged)", other)),
        },
        FieldKind::Note | FieldKind::Calculate | FieldKind::Group | FieldKind::Repeat => {
            Err(AnswerError::NotAnswerable(kind.as_str()))
        }
    }
}

fn check_choice(choices: Option<&[Choice]>, name: &str) -> Result<(), AnswerError> {
    match choices {
        Some(list) if list.iter().any(|c| c.name == name) => Ok(()),
        _ => Err(AnswerError::NotAChoice(name.to_string())),
    }
}

/// The canonical JSON of a value held by a field of `kind` (what forms output and drafts hold).
pub fn to_json(kind: FieldKind, v: &Value) -> Json {
    if v.is_empty() {
        return Json::Null;
    }
    match (kind, v) {
        (FieldKind::Integer, Value::Num(n)) if n.is_finite() && n.fract() == 0.0 => {
            Json::from(*n as i64)
        }
        (FieldKind::Acknowledge, _) => Json::Bool(true),
        (FieldKind::SelectMultiple, Value::Str(s)) => {
            Json::Array(s.split_whitespace().map(|x| Json::String(x.to_string())).collect())
        }
        (FieldKind::Geopoint, Value::Str(s)) => match GeoPoint::parse(s) {
            Some(p) => serde_json::json!({
                "lat": p.lat, "lon": p.lon, "alt": p.alt, "accuracy": p.accuracy
            }),
            None => Json::String(s.clone()),
        },
        _ => v.to_json(),
    }
}
