//! Runtime values of the expression language.

use std::borrow::Cow;

use crate::civil as dates;

/// A value during evaluation. Answers of every field type map onto these variants; a blank
/// answer is `Str("")`, as in XForms where every node's text is a string.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    /// Days since 1970-01-01 (a calendar date, no time zone).
    Date(i32),
    /// An instant: milliseconds since the Unix epoch (UTC), and the local offset from UTC in
    /// minutes that it is rendered with.
    DateTime {
        ms: i64,
        offset_min: i32,
    },
    /// Milliseconds since local midnight.
    Time(i64),
    /// The values of a field that repeats relative to the evaluation context, in instance order.
    Nodes(Vec<Value>),
}

/// The blank value, for borrowing.
pub(crate) static BLANK: Value = Value::Str(String::new());

impl Value {
    /// The blank value.
    pub fn empty() -> Value {
        Value::Str(String::new())
    }

    /// Whether the value counts as "no answer": the blank string, `NaN` (what arithmetic on
    /// blanks produces), or an empty node-set. This is JavaRosa's notion used by `coalesce`.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Str(s) => s.is_empty(),
            Value::Num(n) => n.is_nan(),
            Value::Nodes(v) => v.is_empty(),
            Value::Bool(_) | Value::Date(_) | Value::DateTime { .. } | Value::Time(_) => false,
        }
    }

    /// The single value that stands for this one in scalar contexts: a node-set's first node
    /// (blank when the set is empty), otherwise the value itself.
    pub fn first(&self) -> &Value {
        let mut v = self;
        // Nested node-sets only arise from hand-built values (JSON arrays of arrays).
        while let Value::Nodes(nodes) = v {
            v = nodes.first().unwrap_or(&BLANK);
        }
        v
    }

    /// XPath `boolean()`: a number is true when non-zero and not NaN, a string when non-empty,
    /// a node-set when it has a node; dates and times are always true (as in JavaRosa).
    pub fn to_bool(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Num(n) => *n != 0.0 && !n.is_nan(),
            Value::Bool(b) => *b,
            Value::Nodes(v) => !v.is_empty(),
            Value::Date(_) | Value::DateTime { .. } | Value::Time(_) => true,
        }
    }

    /// XPath `number()`, extended as JavaRosa does for dates: a Date is its day number, a
    /// DateTime fractional days since the epoch (UTC), a Time the fraction of a day. Strings
    /// follow [`Value::str_to_num`]; a node-set converts its first node.
    pub fn to_num(&self) -> f64 {
        match self {
            Value::Str(s) => Value::str_to_num(s),
            Value::Num(n) => *n,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Date(d) => f64::from(*d),
            Value::DateTime { ms, .. } => *ms as f64 / dates::MS_PER_DAY as f64,
            Value::Time(ms) => *ms as f64 / dates::MS_PER_DAY as f64,
            Value::Nodes(_) => self.first().to_num(),
        }
    }

    /// String to number. XPath's grammar (`-?digits[.digits]` or `-?.digits`, surrounding
    /// white space ignored), with a comma accepted as the decimal separator (JavaRosa does so
    /// for locales that write `3,5`). A `YYYY-MM-DD` date converts to its day number and an ISO
    /// date-time to fractional days, so `${dob} < '2020-01-01'` compares dates. Anything else,
    /// including the blank string, scientific notation and `Infinity`, is NaN.
    pub fn str_to_num(s: &str) -> f64 {
        let t = s.trim_matches(char::is_whitespace);
        if let Some(n) = parse_xpath_number(t) {
            return n;
        }
        if t.len() >= 10 && t.as_bytes().get(4) == Some(&b'-') {
            if let Some(d) = dates::parse_date(t) {
                return f64::from(d);
            }
            if let Some((ms, _)) = dates::parse_datetime(t, 0) {
                return ms as f64 / dates::MS_PER_DAY as f64;
            }
        }
        f64::NAN
    }

    /// XPath `string()`. Numbers per [`Value::number_to_string`], booleans `true`/`false`,
    /// dates `YYYY-MM-DD`, date-times ISO 8601 with milliseconds and offset, times
    /// `HH:MM:SS.mmm` (the evaluator adds the session's offset, see [`Value::string_in`]),
    /// a node-set its first node.
    pub fn to_xpath_string(&self) -> String {
        self.as_str().into_owned()
    }

    /// The string value, borrowed when the value already is a string.
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s.as_str()),
            Value::Num(n) => Cow::Owned(Value::number_to_string(*n)),
            Value::Bool(true) => Cow::Borrowed("true"),
            Value::Bool(false) => Cow::Borrowed("false"),
            Value::Date(d) => Cow::Owned(dates::format_iso_date(*d)),
            Value::DateTime { ms, offset_min } => {
                Cow::Owned(dates::format_iso_datetime(*ms, *offset_min))
            }
            Value::Time(ms) => Cow::Owned(dates::format_plain_time(*ms)),
            Value::Nodes(_) => self.first().as_str(),
        }
    }

    /// The string value with times rendered in `offset_min` (`HH:MM:SS.mmm+07:00`), as ODK
    /// writes time answers. Other variants are as [`Value::as_str`].
    pub fn string_in(&self, offset_min: i32) -> Cow<'_, str> {
        match self.first() {
            Value::Time(ms) => Cow::Owned(dates::format_iso_time(*ms, offset_min)),
            other => other.as_str(),
        }
    }

    /// XPath number-to-string: integers without a decimal point, `NaN`, `Infinity`,
    /// `-Infinity`, negative zero as `0`, otherwise the shortest decimal that reads back as the
    /// same number, never in exponent notation.
    pub fn number_to_string(n: f64) -> String {
        if n.is_nan() {
            String::from("NaN")
        } else if n.is_infinite() {
            String::from(if n < 0.0 { "-Infinity" } else { "Infinity" })
        } else if n == 0.0 {
            String::from("0")
        } else {
            // Rust's `Display` for f64 is the shortest round-trip form and never uses exponents.
            format!("{n}")
        }
    }

    /// Convert JSON: number -> Num, string -> Str, bool -> Bool, null -> blank, array -> Nodes
    /// of the converted items. An object has no counterpart and reads as blank.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null | serde_json::Value::Object(_) => Value::empty(),
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Num(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Nodes(items.iter().map(Value::from_json).collect())
            }
        }
    }

    /// Convert to JSON: Str -> string, Num -> number (integers without a fraction; NaN and the
    /// infinities, which JSON cannot hold, as the strings `NaN`, `Infinity`, `-Infinity`),
    /// Bool -> bool, dates and times -> their ISO strings, Nodes -> array.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Num(n) => {
                const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
                if n.fract() == 0.0 && n.abs() < EXACT {
                    serde_json::Value::from(*n as i64)
                } else {
                    serde_json::Number::from_f64(*n).map_or_else(
                        || serde_json::Value::String(Value::number_to_string(*n)),
                        serde_json::Value::Number,
                    )
                }
            }
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Date(_) | Value::DateTime { .. } | Value::Time(_) => {
                serde_json::Value::String(self.to_xpath_string())
            }
            Value::Nodes(v) => serde_json::Value::Array(v.iter().map(Value::to_json).collect()),
        }
    }
}

impl Default for Value {
    /// The blank value.
    fn default() -> Self {
        Value::empty()
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Num(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// `-?(digits(.digits?)?|.digits)` with `,` allowed for `.`; `None` when `s` is not of that form.
fn parse_xpath_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let body = b.strip_prefix(b"-").unwrap_or(b);
    let mut digits = 0usize;
    let mut sep: Option<usize> = None;
    for (i, &c) in body.iter().enumerate() {
        match c {
            b'0'..=b'9' => digits += 1,
            b'.' | b',' if sep.is_none() => sep = Some(i),
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    match sep {
        Some(i) if body.get(i) == Some(&b',') => s.replacen(',', ".", 1).parse().ok(),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_from_strings() {
        assert_eq!(Value::str_to_num(" 42 "), 42.0);
        assert_eq!(Value::str_to_num("-3.5"), -3.5);
        assert_eq!(Value::str_to_num(".5"), 0.5);
        assert_eq!(Value::str_to_num("5."), 5.0);
        assert_eq!(Value::str_to_num("3,25"), 3.25);
        assert_eq!(Value::str_to_num("1970-01-11"), 10.0);
        for nan in
            ["", " ", "-", ".", "1e5", "+5", "Infinity", "NaN", "1.2.3", "--1", "abc", "0x10"]
        {
            assert!(Value::str_to_num(nan).is_nan(), "{nan:?}");
        }
    }

    #[test]
    fn numbers_to_strings() {
        assert_eq!(Value::number_to_string(3.0), "3");
        assert_eq!(Value::number_to_string(-0.0), "0");
        assert_eq!(Value::number_to_string(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(Value::number_to_string(1e21), "1000000000000000000000");
        assert_eq!(Value::number_to_string(1e-7), "0.0000001");
        assert_eq!(Value::number_to_string(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!([1, 2.5, "x", true, null, [3]]);
        let v = Value::from_json(&j);
        assert_eq!(v.to_json(), serde_json::json!([1, 2.5, "x", true, "", [3]]));
        assert_eq!(Value::Num(f64::NAN).to_json(), serde_json::json!("NaN"));
        assert_eq!(Value::Date(0).to_json(), serde_json::json!("1970-01-01"));
    }
}
