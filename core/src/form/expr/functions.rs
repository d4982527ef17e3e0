//! The function library: names, arity, and evaluation.
//!
//! Semantics follow ODK's documentation (docs.getodk.org, "Form operators and functions") and,
//! where it is silent, JavaRosa, ODK Collect's engine. Deliberate differences are noted on the
//! function concerned.

use std::borrow::Cow;

use super::ast::{Expr, ExprKind};
use super::eval::{Ctx, Ev, EvalError, Scalar};
use super::value::Value;
use crate::civil::{self as dates, MS_PER_DAY};
use crate::form::limits::MAX_STRING_LEN;

/// A function of the expression language, resolved from its name at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    If,
    Selected,
    CountSelected,
    SelectedAt,
    ChoiceName,
    Coalesce,
    Concat,
    Join,
    StringLength,
    Substr,
    SubstringBefore,
    SubstringAfter,
    Contains,
    StartsWith,
    EndsWith,
    Regex,
    Translate,
    NormalizeSpace,
    Int,
    Number,
    Round,
    Pow,
    Floor,
    Ceiling,
    Abs,
    Sqrt,
    Exp,
    Exp10,
    Log,
    Log10,
    Pi,
    Min,
    Max,
    Sum,
    Count,
    CountNonEmpty,
    Position,
    IndexedRepeat,
    Today,
    Now,
    Date,
    DateTime,
    DecimalDateTime,
    DecimalTime,
    FormatDate,
    FormatDateTime,
    Once,
    Uuid,
    Random,
    True,
    False,
    Not,
    Boolean,
    String,
    BooleanFromString,
}

/// Name, minimum and maximum (`None`: unbounded) argument count.
const TABLE: &[(Func, &str, usize, Option<usize>)] = &[
    (Func::If, "if", 3, Some(3)),
    (Func::Selected, "selected", 2, Some(2)),
    (Func::CountSelected, "count-selected", 1, Some(1)),
    (Func::SelectedAt, "selected-at", 2, Some(2)),
    (Func::ChoiceName, "jr:choice-name", 2, Some(2)),
    (Func::Coalesce, "coalesce", 2, Some(2)),
    (Func::Concat, "concat", 0, None),
    (Func::Join, "join", 1, None),
    (Func::StringLength, "string-length", 0, Some(1)),
    (Func::Substr, "substr", 2, Some(3)),
    (Func::SubstringBefore, "substring-before", 2, Some(2)),
    (Func::SubstringAfter, "substring-after", 2, Some(2)),
    (Func::Contains, "contains", 2, Some(2)),
    (Func::StartsWith, "starts-with", 2, Some(2)),
    (Func::EndsWith, "ends-with", 2, Some(2)),
    (Func::Regex, "regex", 2, Some(2)),
    (Func::Translate, "translate", 3, Some(3)),
    (Func::NormalizeSpace, "normalize-space", 0, Some(1)),
    (Func::Int, "int", 1, Some(1)),
    (Func::Number, "number", 0, Some(1)),
    (Func::Round, "round", 1, Some(2)),
    (Func::Pow, "pow", 2, Some(2)),
    (Func::Floor, "floor", 1, Some(1)),
    (Func::Ceiling, "ceiling", 1, Some(1)),
    (Func::Abs, "abs", 1, Some(1)),
    (Func::Sqrt, "sqrt", 1, Some(1)),
    (Func::Exp, "exp", 1, Some(1)),
    (Func::Exp10, "exp10", 1, Some(1)),
    (Func::Log, "log", 1, Some(1)),
    (Func::Log10, "log10", 1, Some(1)),
    (Func::Pi, "pi", 0, Some(0)),
    (Func::Min, "min", 1, None),
    (Func::Max, "max", 1, None),
    (Func::Sum, "sum", 1, Some(1)),
    (Func::Count, "count", 1, Some(1)),
    (Func::CountNonEmpty, "count-non-empty", 1, Some(1)),
    (Func::Position, "position", 0, Some(1)),
    (Func::IndexedRepeat, "indexed-repeat", 3, None),
    (Func::Today, "today", 0, Some(0)),
    (Func::Now, "now", 0, Some(0)),
    (Func::Date, "date", 1, Some(1)),
    (Func::DateTime, "date-time", 1, Some(1)),
    (Func::DecimalDateTime, "decimal-date-time", 1, Some(1)),
    (Func::DecimalTime, "decimal-time", 1, Some(1)),
    (Func::FormatDate, "format-date", 2, Some(2)),
    (Func::FormatDateTime, "format-date-time", 2, Some(2)),
    (Func::Once, "once", 1, Some(1)),
    (Func::Uuid, "uuid", 0, Some(1)),
    (Func::Random, "random", 0, Some(0)),
    (Func::True, "true", 0, Some(0)),
    (Func::False, "false", 0, Some(0)),
    (Func::Not, "not", 1, Some(1)),
    (Func::Boolean, "boolean", 1, Some(1)),
    (Func::String, "string", 0, Some(1)),
    (Func::BooleanFromString, "boolean-from-string", 1, Some(1)),
];

/// Longest `uuid(n)` accepted.
pub const MAX_UUID_LEN: usize = 1024;

impl Func {
    /// Every function, in table order.
    pub fn all() -> impl Iterator<Item = Func> {
        TABLE.iter().map(|row| row.0)
    }

    fn row(self) -> (&'static str, usize, Option<usize>) {
        TABLE
            .iter()
            .find(|row| row.0 == self)
            .map_or(("?", 0, None), |&(_, name, min, max)| (name, min, max))
    }

    /// The name as written in expressions (`count-selected`, `jr:choice-name`).
    pub fn name(self) -> &'static str {
        self.row().0
    }

    /// Resolve a name as written in an expression.
    pub fn from_name(name: &str) -> Option<Func> {
        TABLE.iter().find(|row| row.1 == name).map(|row| row.0)
    }

    /// Minimum and maximum (`None`: unbounded) number of arguments.
    pub fn arity(self) -> (usize, Option<usize>) {
        let (_, min, max) = self.row();
        (min, max)
    }

    /// Whether the result can change between two evaluations with the same inputs
    /// (`now()`, `today()`, `uuid()`, `random()`).
    pub fn is_volatile(self) -> bool {
        matches!(self, Func::Now | Func::Today | Func::Uuid | Func::Random)
    }

    /// Whether a call with `argc` arguments reads the current field's value (`.`) implicitly:
    /// `once()`, and `string-length()`, `normalize-space()`, `number()`, `string()` without
    /// arguments.
    pub fn reads_current(self, argc: usize) -> bool {
        match self {
            Func::Once => true,
            Func::StringLength | Func::NormalizeSpace | Func::Number | Func::String => argc == 0,
            _ => false,
        }
    }
}

fn bad(f: Func, col: usize, message: impl Into<String>) -> EvalError {
    EvalError::BadArgument { function: f.name(), col, message: message.into() }
}

/// A call's arguments, with their function and column for error messages.
struct Args<'a> {
    f: Func,
    col: usize,
    list: &'a [Expr],
}

impl<'a> Args<'a> {
    fn get(&self, i: usize) -> Result<&'a Expr, EvalError> {
        // Arity is checked by the parser; only hand-built trees can get here short.
        self.list.get(i).ok_or_else(|| bad(self.f, self.col, "missing argument"))
    }
    fn bad(&self, message: impl Into<String>) -> EvalError {
        bad(self.f, self.col, message)
    }
}

fn num(n: f64) -> Ev<'static> {
    Ev::Val(Value::Num(n))
}

fn boolean(b: bool) -> Ev<'static> {
    Ev::Val(Value::Bool(b))
}

fn string(s: String) -> Ev<'static> {
    Ev::Val(Value::Str(s))
}

fn blank() -> Ev<'static> {
    Ev::Val(Value::empty())
}

/// Java's `(long) d` as used for indexes: NaN is 0, the fraction is dropped, and the result
/// saturates.
fn to_index(n: f64) -> i64 {
    if n.is_nan() { 0 } else { n.trunc() as i64 }
}

/// Evaluate a call of `f` with `list` as arguments; `col` is the call's column.
pub(crate) fn call<'a>(
    cx: &Ctx<'_>,
    f: Func,
    list: &'a [Expr],
    col: usize,
) -> Result<Ev<'a>, EvalError> {
    let a = Args { f, col, list };
    match f {
        Func::If => {
            let branch = if cx.boolean(a.get(0)?)? { a.get(1)? } else { a.get(2)? };
            cx.eval(branch)
        }
        Func::Coalesce => {
            let first = cx.eval(a.get(0)?)?;
            if !first.is_empty() {
                return Ok(first.scalarize());
            }
            let second = cx.eval(a.get(1)?)?;
            // ODK: "Returns an empty string if both are empty".
            Ok(if second.is_empty() { blank() } else { second.scalarize() })
        }
        Func::Once => {
            let current = cx.env.current();
            if current.first().is_empty() { cx.eval(a.get(0)?) } else { Ok(Ev::Val(current)) }
        }
        Func::True => Ok(boolean(true)),
        Func::False => Ok(boolean(false)),
        Func::Not => Ok(boolean(!cx.boolean(a.get(0)?)?)),
        Func::Boolean => Ok(boolean(cx.boolean(a.get(0)?)?)),
        Func::BooleanFromString => {
            let s = cx.string(a.get(0)?)?;
            Ok(boolean(s.eq_ignore_ascii_case("true") || s == "1"))
        }
        Func::String => match list.first() {
            Some(e) => Ok(string(cx.string(e)?.into_owned())),
            None => Ok(string(cx.env.current().string_in(cx.offset()).into_owned())),
        },
        Func::Number => match list.first() {
            Some(e) => Ok(num(cx.num(e)?)),
            None => Ok(num(cx.env.current().to_num())),
        },
        _ => {
            let mut result = call_strings(cx, &a);
            if matches!(result, Err(Unhandled::No)) {
                result = call_numbers(cx, &a);
            }
            if matches!(result, Err(Unhandled::No)) {
                result = call_dates(cx, &a);
            }
            result.map_err(|e| match e {
                Unhandled::No => a.bad("not implemented"),
                Unhandled::Err(e) => e,
            })
        }
    }
}

/// A group of functions either handles the call or says it is not one of its own.
enum Unhandled {
    No,
    Err(EvalError),
}

impl From<EvalError> for Unhandled {
    fn from(e: EvalError) -> Self {
        Unhandled::Err(e)
    }
}

fn string_or_current<'a>(cx: &Ctx<'_>, a: &Args<'a>) -> Result<Cow<'a, str>, EvalError> {
    match a.list.first() {
        Some(e) => cx.string(e),
        None => Ok(Cow::Owned(cx.env.current().string_in(cx.offset()).into_owned())),
    }
}

/// Refuse a string result of `len` bytes over [`MAX_STRING_LEN`].
fn check_len(a: &Args<'_>, len: usize) -> Result<(), EvalError> {
    if len > MAX_STRING_LEN {
        return Err(EvalError::StringTooLong {
            function: a.f.name(),
            col: a.col,
            max: MAX_STRING_LEN,
        });
    }
    Ok(())
}

/// The pieces of a string being assembled (`concat`, `join`), with their total length checked
/// against [`MAX_STRING_LEN`] as each is added, so that an oversized result is refused before
/// more than the limit is held.
struct Assembly<'s> {
    parts: Vec<String>,
    len: usize,
    sep: &'s str,
}

impl Assembly<'_> {
    fn push(&mut self, a: &Args<'_>, s: String) -> Result<(), EvalError> {
        let sep = if self.parts.is_empty() { 0 } else { self.sep.len() };
        self.len = self.len.saturating_add(sep).saturating_add(s.len());
        check_len(a, self.len)?;
        self.parts.push(s);
        Ok(())
    }

    /// Push the string values of an argument: every node of a node-set, else the one value.
    fn push_value(&mut self, cx: &Ctx<'_>, a: &Args<'_>, v: Ev<'_>) -> Result<(), EvalError> {
        match v.nodes() {
            Some(nodes) => {
                for n in nodes {
                    self.push(a, n.string_in(cx.offset()).into_owned())?;
                }
                Ok(())
            }
            None => self.push(a, v.into_str(cx.offset()).into_owned()),
        }
    }

    fn finish(self) -> String {
        self.parts.join(self.sep)
    }
}

#[inline(never)]
fn call_strings<'a>(cx: &Ctx<'_>, a: &Args<'a>) -> Result<Ev<'a>, Unhandled> {
    Ok(match a.f {
        Func::Selected => {
            let list = cx.string(a.get(0)?)?;
            let wanted = cx.string(a.get(1)?)?;
            let wanted = wanted.trim();
            boolean(!wanted.is_empty() && list.split_whitespace().any(|v| v == wanted))
        }
        Func::CountSelected => {
            let list = cx.string(a.get(0)?)?;
            num(list.split_whitespace().count() as f64)
        }
        Func::SelectedAt => {
            let list = cx.string(a.get(0)?)?;
            let n = cx.num(a.get(1)?)?;
            let item = if n.is_nan() || n < 0.0 {
                None
            } else {
                usize::try_from(to_index(n)).ok().and_then(|i| list.split_whitespace().nth(i))
            };
            string(item.unwrap_or("").to_owned())
        }
        Func::ChoiceName => {
            let value = cx.string(a.get(0)?)?;
            let field = cx.string(a.get(1)?)?;
            let field = field.trim();
            let field = field
                .strip_prefix("${")
                .and_then(|f| f.strip_suffix('}'))
                .unwrap_or_else(|| field.rsplit('/').next().unwrap_or(field));
            let value = value.trim();
            if value.is_empty() {
                blank()
            } else {
                string(cx.env.choice_label(field, value).unwrap_or_default())
            }
        }
        Func::Concat => {
            let mut out = Assembly { parts: Vec::with_capacity(a.list.len()), len: 0, sep: "" };
            for e in a.list {
                out.push_value(cx, a, cx.eval(e)?)?;
            }
            string(out.finish())
        }
        Func::Join => {
            let sep = cx.string(a.get(0)?)?;
            let mut out = Assembly { parts: Vec::new(), len: 0, sep: &sep };
            for e in a.list.get(1..).unwrap_or(&[]) {
                out.push_value(cx, a, cx.eval(e)?)?;
            }
            string(out.finish())
        }
        Func::StringLength => num(string_or_current(cx, a)?.chars().count() as f64),
        Func::NormalizeSpace => {
            let s = string_or_current(cx, a)?;
            string(s.split_whitespace().collect::<Vec<_>>().join(" "))
        }
        Func::Substr => {
            let s = cx.string(a.get(0)?)?;
            let start = to_index(cx.num(a.get(1)?)?);
            let end = match a.list.get(2) {
                Some(e) => Some(to_index(cx.num(e)?)),
                None => None,
            };
            string(substr(&s, start, end))
        }
        Func::SubstringBefore | Func::SubstringAfter => {
            let s = cx.string(a.get(0)?)?;
            let t = cx.string(a.get(1)?)?;
            let out = match s.find(t.as_ref()) {
                Some(i) if a.f == Func::SubstringBefore => s.get(..i).unwrap_or(""),
                Some(i) => s.get(i + t.len()..).unwrap_or(""),
                None => "",
            };
            string(out.to_owned())
        }
        Func::Contains | Func::StartsWith | Func::EndsWith => {
            let s = cx.string(a.get(0)?)?;
            let t = cx.string(a.get(1)?)?;
            boolean(match a.f {
                Func::Contains => s.contains(t.as_ref()),
                Func::StartsWith => s.starts_with(t.as_ref()),
                _ => s.ends_with(t.as_ref()),
            })
        }
        Func::Regex => {
            let s = cx.string(a.get(0)?)?;
            let pattern = a.get(1)?;
            if let ExprKind::Regex(lit) = &pattern.kind {
                boolean(lit.is_match(&s))
            } else {
                let p = cx.string(pattern)?;
                match super::pattern::matches_dynamic(&p, &s) {
                    Ok(m) => boolean(m),
                    Err(message) => return Err(a.bad(message).into()),
                }
            }
        }
        Func::Translate => {
            let s = cx.string(a.get(0)?)?;
            let from: Vec<char> = cx.string(a.get(1)?)?.chars().collect();
            let to: Vec<char> = cx.string(a.get(2)?)?.chars().collect();
            let map = |c: char| match from.iter().position(|&f| f == c) {
                None => Some(c),
                Some(i) => to.get(i).copied(),
            };
            // Replacements can be longer in UTF-8 than what they replace: measure first.
            check_len(a, s.chars().filter_map(map).map(char::len_utf8).sum())?;
            string(s.chars().filter_map(map).collect())
        }
        Func::Uuid => match a.list.first() {
            None => {
                let mut b = [0u8; 16];
                cx.env.random_bytes(&mut b);
                string(crate::clock::uuid_v4(b))
            }
            Some(e) => {
                let n = cx.num(e)?;
                if n.is_nan() || n < 0.0 || n > MAX_UUID_LEN as f64 {
                    return Err(a
                        .bad(format!("length must be a number from 0 to {MAX_UUID_LEN}"))
                        .into());
                }
                string(random_alphanumeric(cx, usize::try_from(to_index(n)).unwrap_or(0)))
            }
        },
        _ => return Err(Unhandled::No),
    })
}

/// ODK `substr`: 0-based `start`, exclusive `end` (default: the end), counted in characters.
/// As in JavaRosa, a negative index counts from the end, and indexes are clamped to the string.
fn substr(s: &str, start: i64, end: Option<i64>) -> String {
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    let resolve = |i: i64| if i < 0 { len.saturating_add(i) } else { i }.clamp(0, len);
    let start = resolve(start);
    let end = resolve(end.unwrap_or(len));
    if start >= end {
        return String::new();
    }
    let skip = usize::try_from(start).unwrap_or(usize::MAX);
    let take = usize::try_from(end - start).unwrap_or(0);
    s.chars().skip(skip).take(take).collect()
}

fn random_alphanumeric(cx: &Ctx<'_>, n: usize) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    // Rejection sampling keeps the characters uniform; the round limit only matters for a
    // broken entropy source that keeps returning high bytes.
    let mut rounds = 0;
    while out.len() < n {
        cx.env.random_bytes(&mut buf);
        rounds += 1;
        for &byte in &buf {
            if out.len() == n {
                break;
            }
            if byte < 248 || rounds > 64 {
                out.extend(
                    ALPHABET.get(usize::from(byte) % ALPHABET.len()).map(|&c| char::from(c)),
                );
            }
        }
    }
    out
}

#[inline(never)]
fn call_numbers<'a>(cx: &Ctx<'_>, a: &Args<'a>) -> Result<Ev<'a>, Unhandled> {
    let unary =
        |op: fn(f64) -> f64| -> Result<Ev<'a>, Unhandled> { Ok(num(op(cx.num(a.get(0)?)?))) };
    match a.f {
        Func::Int => unary(f64::trunc),
        Func::Floor => unary(f64::floor),
        Func::Ceiling => unary(f64::ceil),
        Func::Abs => unary(f64::abs),
        Func::Sqrt => unary(f64::sqrt),
        Func::Exp => unary(f64::exp),
        Func::Exp10 => unary(|x| 10f64.powf(x)),
        Func::Log => unary(f64::ln),
        Func::Log10 => unary(f64::log10),
        Func::Pi => Ok(num(std::f64::consts::PI)),
        Func::Round => {
            let x = cx.num(a.get(0)?)?;
            let places = match a.list.get(1) {
                Some(e) => cx.num(e)?,
                None => 0.0,
            };
            Ok(num(round_half_away(x, places)))
        }
        Func::Pow => {
            let x = cx.num(a.get(0)?)?;
            let y = cx.num(a.get(1)?)?;
            // IEEE (and Java) give pow(NaN, 0) = 1 and pow(1, NaN) = 1; a blank input should
            // stay NaN instead.
            Ok(num(if x.is_nan() || y.is_nan() { f64::NAN } else { x.powf(y) }))
        }
        Func::Min | Func::Max => {
            let mut acc: Option<f64> = None;
            for e in a.list {
                let v = cx.eval(e)?;
                let mut fold = |n: f64| {
                    acc = Some(match acc {
                        _ if n.is_nan() => f64::NAN,
                        Some(m) if m.is_nan() => m,
                        Some(m) if a.f == Func::Min => m.min(n),
                        Some(m) => m.max(n),
                        None => n,
                    });
                };
                match v.nodes() {
                    Some(nodes) => nodes.iter().for_each(|n| fold(n.to_num())),
                    None => fold(v.to_num()),
                }
            }
            Ok(num(acc.unwrap_or(f64::NAN)))
        }
        Func::Sum => {
            let v = cx.eval(a.get(0)?)?;
            // As JavaRosa: values that are not numbers (blank answers) are skipped.
            let add = |acc: f64, n: f64| if n.is_nan() { acc } else { acc + n };
            Ok(num(match v.nodes() {
                Some(nodes) => nodes.iter().map(Value::to_num).fold(0.0, add),
                None => add(0.0, v.to_num()),
            }))
        }
        Func::Count => {
            let v = cx.eval(a.get(0)?)?;
            Ok(num(v.nodes().map_or(1, <[Value]>::len) as f64))
        }
        Func::CountNonEmpty => {
            let v = cx.eval(a.get(0)?)?;
            let non_empty = |x: &Value| !x.first().as_str().is_empty();
            Ok(num(match v.nodes() {
                Some(nodes) => nodes.iter().filter(|x| non_empty(x)).count(),
                None => usize::from(!v.scalar().is_blank()),
            } as f64))
        }
        Func::Position => Ok(num(cx.env.position().unwrap_or(1) as f64)),
        Func::IndexedRepeat => indexed_repeat(cx, a),
        Func::Random => {
            let mut b = [0u8; 8];
            cx.env.random_bytes(&mut b);
            Ok(num((u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64))
        }
        _ => Err(Unhandled::No),
    }
}

fn ref_name<'a>(a: &Args<'a>, i: usize) -> Result<&'a str, EvalError> {
    match &a.get(i)?.kind {
        ExprKind::Ref(name) => Ok(name),
        _ => Err(a.bad(format!("argument {} must be a ${{field}} reference", i + 1))),
    }
}

fn indexed_repeat<'a>(cx: &Ctx<'_>, a: &Args<'a>) -> Result<Ev<'a>, Unhandled> {
    let field = ref_name(a, 0)?;
    let mut repeats = Vec::with_capacity(a.list.len() / 2);
    let mut i = 1;
    while i < a.list.len() {
        let repeat = ref_name(a, i)?;
        let index = cx.num(a.get(i + 1)?)?;
        // A blank or invalid index (common while a new instance is being added) reads as blank
        // rather than as instance 1, which JavaRosa would substitute.
        if index.is_nan() || index < 1.0 {
            return Ok(blank());
        }
        repeats.push((repeat, usize::try_from(to_index(index)).unwrap_or(usize::MAX)));
        i += 2;
    }
    Ok(Ev::Val(cx.env.indexed_repeat(field, &repeats)?))
}

/// Round half away from zero to `places` decimal places (negative: tens, hundreds…), on the
/// shortest decimal representation of `x` so that `round(2.675, 2)` is 2.68 as a person expects
/// (JavaRosa does the same with `BigDecimal`). NaN, infinities and more than 30 places either
/// way give NaN or `x` unchanged, as in JavaRosa.
pub(crate) fn round_half_away(x: f64, places: f64) -> f64 {
    if !x.is_finite() || places.is_nan() {
        return if places.is_nan() { f64::NAN } else { x };
    }
    let places = places.trunc();
    if places.abs() > 30.0 {
        return f64::NAN;
    }
    let places = places as i64;
    let text = format!("{}", x.abs());
    let (int_part, frac_part) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let point = i64::try_from(int_part.len()).unwrap_or(0);
    let keep = point + places;
    if keep >= i64::try_from(digits.len()).unwrap_or(i64::MAX) {
        return x;
    }
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    if keep < 0 {
        return 0.0 * sign;
    }
    let keep = usize::try_from(keep).unwrap_or(0);
    let mut kept: Vec<u8> = digits.get(..keep).unwrap_or(&[]).to_vec();
    if digits.get(keep).is_some_and(|&d| d >= b'5') {
        // Add one to the kept digits, carrying.
        let mut carry = true;
        for d in kept.iter_mut().rev() {
            if *d == b'9' {
                *d = b'0';
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            kept.insert(0, b'1');
        }
    }
    if kept.is_empty() {
        return 0.0 * sign;
    }
    let mantissa = String::from_utf8_lossy(&kept);
    format!("{mantissa}e{}", -places).parse::<f64>().map_or(f64::NAN, |v| v * sign)
}

/// A date-like argument seen as local wall-clock milliseconds, for formatting.
fn wall_ms(cx: &Ctx<'_>, s: Scalar<'_>) -> Result<Option<i64>, &'static str> {
    let off = cx.offset();
    Ok(Some(match s {
        Scalar::Str("") => return Ok(None),
        Scalar::Str(t) => {
            if let Some(d) = dates::parse_date(t) {
                i64::from(d) * MS_PER_DAY
            } else if let Some((ms, o)) = dates::parse_datetime(t, off) {
                dates::local_ms(ms, o)
            } else if let Some((ms, o)) = dates::parse_time_with_offset(t) {
                shift_time(ms, o, off)
            } else {
                return Err("argument is not a date");
            }
        }
        Scalar::Num(n) if n.is_nan() => return Ok(None),
        Scalar::Num(n) => days_to_ms(n).ok_or("number is out of range for a date")?,
        Scalar::Date(d) => i64::from(d) * MS_PER_DAY,
        Scalar::DateTime(ms, o) => dates::local_ms(ms, o),
        Scalar::Time(ms) => ms.rem_euclid(MS_PER_DAY),
        Scalar::Bool(_) => return Err("argument is not a date"),
    }))
}

/// A time of day written with offset `from` as milliseconds since midnight in offset `to`.
fn shift_time(ms: i64, from: Option<i32>, to: i32) -> i64 {
    match from {
        Some(from) => (ms + (i64::from(to) - i64::from(from)) * 60_000).rem_euclid(MS_PER_DAY),
        None => ms.rem_euclid(MS_PER_DAY),
    }
}

/// Fractional days to milliseconds, refusing what does not fit a date (|days| ≤ 2^31).
fn days_to_ms(n: f64) -> Option<i64> {
    if !n.is_finite() || n.abs() > f64::from(i32::MAX) {
        return None;
    }
    Some((n * MS_PER_DAY as f64).round() as i64)
}

/// `date(x)`: a blank or NaN stays blank; strings must be ISO dates or date-times.
fn to_date(cx: &Ctx<'_>, s: Scalar<'_>) -> Result<Value, &'static str> {
    Ok(match s {
        Scalar::Str("") => Value::empty(),
        Scalar::Str(t) => match dates::parse_date(t) {
            Some(d) => Value::Date(d),
            None => match dates::parse_datetime(t, cx.offset()) {
                Some((ms, o)) => Value::Date(dates::local_day(ms, o)),
                None => return Err("argument is not a date"),
            },
        },
        Scalar::Num(n) if n.is_nan() => Value::empty(),
        Scalar::Num(n) => {
            // floor, not JavaRosa's truncation, so that day -0.5 (1969-12-31 noon) is day -1.
            let d = n.floor();
            if !d.is_finite() || d < f64::from(i32::MIN) || d > f64::from(i32::MAX) {
                return Err("number is out of range for a date");
            }
            Value::Date(d as i32)
        }
        Scalar::Date(d) => Value::Date(d),
        Scalar::DateTime(ms, o) => Value::Date(dates::local_day(ms, o)),
        Scalar::Time(_) | Scalar::Bool(_) => return Err("argument is not a date"),
    })
}

fn to_datetime(cx: &Ctx<'_>, s: Scalar<'_>) -> Result<Value, &'static str> {
    let off = cx.offset();
    Ok(match s {
        Scalar::Str("") => Value::empty(),
        Scalar::Str(t) => match dates::parse_datetime(t, off) {
            Some((ms, offset_min)) => Value::DateTime { ms, offset_min },
            None => return Err("argument is not a date-time"),
        },
        Scalar::Num(n) if n.is_nan() => Value::empty(),
        Scalar::Num(n) => Value::DateTime {
            ms: days_to_ms(n).ok_or("number is out of range for a date")?,
            offset_min: off,
        },
        Scalar::Date(d) => Value::DateTime {
            ms: i64::from(d) * MS_PER_DAY - i64::from(off) * 60_000,
            offset_min: off,
        },
        Scalar::DateTime(ms, offset_min) => Value::DateTime { ms, offset_min },
        Scalar::Time(_) | Scalar::Bool(_) => return Err("argument is not a date-time"),
    })
}

#[inline(never)]
fn call_dates<'a>(cx: &Ctx<'_>, a: &Args<'a>) -> Result<Ev<'a>, Unhandled> {
    let off = cx.offset();
    let now = cx.env.now_ms();
    let arg = |i: usize| -> Result<Ev<'a>, EvalError> { cx.eval(a.get(i)?) };
    Ok(match a.f {
        Func::Today => Ev::Val(Value::Date(dates::local_day(now, off))),
        Func::Now => Ev::Val(Value::DateTime { ms: now, offset_min: off }),
        Func::Date => Ev::Val(to_date(cx, arg(0)?.scalar()).map_err(|m| a.bad(m))?),
        Func::DateTime => Ev::Val(to_datetime(cx, arg(0)?.scalar()).map_err(|m| a.bad(m))?),
        Func::DecimalDateTime => {
            let v = arg(0)?;
            let days = match v.scalar() {
                Scalar::Str("") => return Ok(blank()),
                Scalar::Str(t) => match dates::parse_date(t) {
                    Some(d) => f64::from(d),
                    None => match dates::parse_datetime(t, off) {
                        Some((ms, _)) => ms as f64 / MS_PER_DAY as f64,
                        None => return Err(a.bad("argument is not a date-time").into()),
                    },
                },
                Scalar::Bool(_) => return Err(a.bad("argument is not a date-time").into()),
                other => other.num(),
            };
            num(days)
        }
        Func::DecimalTime => {
            let v = arg(0)?;
            let ms = match v.scalar() {
                Scalar::Str("") => return Ok(blank()),
                Scalar::Str(t) => match dates::parse_time_with_offset(t) {
                    Some((ms, o)) => shift_time(ms, o, off),
                    None => match dates::parse_datetime(t, off) {
                        Some((ms, _)) => dates::local_ms(ms, off).rem_euclid(MS_PER_DAY),
                        None => return Err(a.bad("argument is not a time").into()),
                    },
                },
                Scalar::Num(n) => return Ok(num(n - n.floor())),
                Scalar::Time(ms) => ms.rem_euclid(MS_PER_DAY),
                // "a fractional day in the device's current timezone"
                Scalar::DateTime(ms, _) => dates::local_ms(ms, off).rem_euclid(MS_PER_DAY),
                Scalar::Date(_) => 0,
                Scalar::Bool(_) => return Err(a.bad("argument is not a time").into()),
            };
            num(ms as f64 / MS_PER_DAY as f64)
        }
        Func::FormatDate | Func::FormatDateTime => {
            let v = arg(0)?;
            let fmt = cx.string(a.get(1)?)?;
            match wall_ms(cx, v.scalar()).map_err(|m| a.bad(m))? {
                Some(ms) => {
                    // At most a few times the format's length, which is itself bounded.
                    let out = dates::format_date(ms, &fmt);
                    check_len(a, out.len())?;
                    string(out)
                }
                None => blank(),
            }
        }
        _ => return Err(Unhandled::No),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for f in Func::all() {
            assert_eq!(Func::from_name(f.name()), Some(f));
            assert!(seen.insert(f.name()), "{}", f.name());
        }
        assert_eq!(Func::from_name("choice-name"), None);
    }

    #[test]
    fn rounding() {
        assert_eq!(round_half_away(2.675, 2.0), 2.68);
        assert_eq!(round_half_away(-2.5, 0.0), -3.0);
        assert_eq!(round_half_away(2.5, 0.0), 3.0);
        assert_eq!(round_half_away(2.4999, 0.0), 2.0);
        assert_eq!(round_half_away(1234.0, -2.0), 1200.0);
        assert_eq!(round_half_away(1250.0, -2.0), 1300.0);
        assert_eq!(round_half_away(999.96, 1.0), 1000.0);
        assert_eq!(round_half_away(0.0001, 2.0), 0.0);
        assert_eq!(round_half_away(49.0, -3.0), 0.0);
        assert_eq!(round_half_away(0.5, 0.0), 1.0);
        assert_eq!(round_half_away(1e300, 2.0), 1e300);
        assert!(round_half_away(1.0, 31.0).is_nan());
        assert!(round_half_away(f64::NAN, 1.0).is_nan());
    }

    #[test]
    fn substr_clamps_and_counts_from_the_end() {
        assert_eq!(substr("hello", 1, Some(3)), "el");
        assert_eq!(substr("hello", 2, None), "llo");
        assert_eq!(substr("hello", -3, None), "llo");
        assert_eq!(substr("hello", 0, Some(-1)), "hell");
        assert_eq!(substr("hello", 3, Some(1)), "");
        assert_eq!(substr("hello", 10, Some(20)), "");
        assert_eq!(substr("hello", i64::MIN, Some(i64::MAX)), "hello");
        assert_eq!(substr("Nguyễn", 3, Some(5)), "yễ");
    }
}
