//! Evaluation of parsed expressions.
//!
//! Coercions follow XPath 1.0 as ODK extends it (see [`Value`] for conversions):
//! - `=` `!=`: if either side is a boolean, compare as booleans; else if either is a number,
//!   as numbers (within 1e-12, as JavaRosa, so `0.1 + 0.2 = 0.3`); else if either is a time, as
//!   times of day; else if either is a date or date-time, as day numbers (a string is parsed as
//!   a date); else as strings.
//! - `<` `<=` `>` `>=`: as numbers (dates as day numbers, so `${dob} < '2020-01-01'` works),
//!   or as times of day when either side is a time.
//! - Against a node-set (a field that repeats relative to the context), a comparison is true
//!   when it holds for some node; against a boolean the node-set counts as "non-empty".
//! - Arithmetic converts both sides to numbers; `div` by zero gives ±Infinity or NaN; `mod` is
//!   the remainder with the sign of the dividend.
//! - `and` and `or` short-circuit, as do `if()`, `coalesce()` and `once()`.

use std::borrow::Cow;

use super::ast::{BinOp, Expr, ExprKind};
use super::functions;
use super::value::Value;
use crate::civil::{self as dates, MS_PER_DAY};

/// What an expression can see while it is evaluated. The form session implements it for one
/// field in one repeat instance; tests and the CLI implement it over a plain map.
pub trait Env {
    /// Value of `${name}` relative to the evaluation context: a single value when the field is
    /// in the context's repeat instance (or outside any repeat), `Value::Nodes` when it repeats
    /// relative to the context. Non-relevant fields read as blank.
    fn lookup(&self, name: &str) -> Result<Value, EvalError>;
    /// Value of `.`, the field the expression belongs to (blank when unanswered).
    fn current(&self) -> Value;
    /// 1-based index of the repeat instance the context is in (for `position(..)`).
    fn position(&self) -> Option<usize>;
    /// `indexed-repeat(${field}, ${repeat1}, i1, ${repeat2}, i2, ...)`: the value of `field` in the
    /// given (1-based) instances of the named repeats, outermost first.
    fn indexed_repeat(&self, field: &str, repeats: &[(&str, usize)]) -> Result<Value, EvalError>;
    /// Label, in the session's language, of choice `value` of select field `field`.
    fn choice_label(&self, field: &str, value: &str) -> Option<String>;
    /// Current time, milliseconds since the epoch.
    fn now_ms(&self) -> i64;
    /// Local time zone offset from UTC in minutes (for `today()`, `format-date`).
    fn utc_offset_minutes(&self) -> i32;
    /// Fill `buf` with random bytes (for `uuid()`).
    fn random_bytes(&self, buf: &mut [u8]);
    /// Value of a bare name: inside a `choice_filter`, the candidate choice's `name` or one of
    /// its filter columns. The default, for every other context, is what an XPath child step
    /// finds there: nothing (an empty node-set, which compares false with everything).
    fn column(&self, name: &str) -> Value {
        let _ = name;
        Value::Nodes(Vec::new())
    }
}

/// An error while evaluating an expression that parsed correctly.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("unknown field ${{{name}}}")]
    UnknownField { name: String },
    #[error("{function}() at column {col}: {message}")]
    BadArgument { function: &'static str, col: usize, message: String },
    /// The result would be longer than [`MAX_STRING_LEN`] bytes; it is refused before it is
    /// built.
    ///
    /// [`MAX_STRING_LEN`]: crate::form::limits::MAX_STRING_LEN
    #[error(
        "{function}() at column {col}: the result would be longer than {max} bytes (MAX_STRING_LEN)"
    )]
    StringTooLong { function: &'static str, col: usize, max: usize },
    /// A `repeat_count` whose instances do not fit in the session's limits; the repeat keeps
    /// the instances it had.
    #[error("{wanted} instances do not fit: at most {max} here ({limit})")]
    TooManyInstances { wanted: usize, max: usize, limit: &'static str },
}

/// Evaluate `expr` in `env`.
pub fn eval(expr: &Expr, env: &dyn Env) -> Result<Value, EvalError> {
    Ctx { env }.eval(expr).map(Ev::into_value)
}

/// Evaluate `expr` as a boolean (for `relevant`, `constraint`, `required`).
pub fn eval_bool(expr: &Expr, env: &dyn Env) -> Result<bool, EvalError> {
    Ctx { env }.boolean(expr)
}

/// Evaluation state shared by the operators and the function library.
pub(crate) struct Ctx<'e> {
    pub env: &'e dyn Env,
}

/// An intermediate result: a string literal is borrowed from the tree instead of copied.
pub(crate) enum Ev<'a> {
    Lit(&'a str),
    Val(Value),
}

/// A borrowed view of a single (non-node-set) value, for comparisons and conversions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'b> {
    Str(&'b str),
    Num(f64),
    Bool(bool),
    Date(i32),
    DateTime(i64, i32),
    Time(i64),
}

impl<'b> Scalar<'b> {
    pub fn of(v: &'b Value) -> Scalar<'b> {
        match v.first() {
            Value::Str(s) => Scalar::Str(s),
            Value::Num(n) => Scalar::Num(*n),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Date(d) => Scalar::Date(*d),
            Value::DateTime { ms, offset_min } => Scalar::DateTime(*ms, *offset_min),
            Value::Time(ms) => Scalar::Time(*ms),
            // `first()` never returns a node-set.
            Value::Nodes(_) => Scalar::Str(""),
        }
    }

    pub fn num(self) -> f64 {
        match self {
            Scalar::Str(s) => Value::str_to_num(s),
            Scalar::Num(n) => n,
            Scalar::Bool(b) => f64::from(u8::from(b)),
            Scalar::Date(d) => f64::from(d),
            Scalar::DateTime(ms, _) => ms as f64 / MS_PER_DAY as f64,
            Scalar::Time(ms) => ms as f64 / MS_PER_DAY as f64,
        }
    }

    pub fn boolean(self) -> bool {
        match self {
            Scalar::Str(s) => !s.is_empty(),
            Scalar::Num(n) => n != 0.0 && !n.is_nan(),
            Scalar::Bool(b) => b,
            Scalar::Date(_) | Scalar::DateTime(..) | Scalar::Time(_) => true,
        }
    }

    /// The blank string.
    pub fn is_blank(self) -> bool {
        matches!(self, Scalar::Str(""))
    }

    /// As a fraction of a day in local time `offset_min`, for comparisons with times.
    fn time_num(self, offset_min: i32) -> f64 {
        match self {
            Scalar::Time(ms) => ms.rem_euclid(MS_PER_DAY) as f64 / MS_PER_DAY as f64,
            Scalar::Str(s) => match dates::parse_time_with_offset(s) {
                Some((ms, from)) => {
                    let shift =
                        from.map_or(0, |from| (i64::from(offset_min) - i64::from(from)) * 60_000);
                    (ms + shift).rem_euclid(MS_PER_DAY) as f64 / MS_PER_DAY as f64
                }
                None => f64::NAN,
            },
            Scalar::DateTime(ms, o) => {
                dates::local_ms(ms, o).rem_euclid(MS_PER_DAY) as f64 / MS_PER_DAY as f64
            }
            other => other.num(),
        }
    }

    fn is_date_like(self) -> bool {
        matches!(self, Scalar::Date(_) | Scalar::DateTime(..))
    }
}

impl<'a> Ev<'a> {
    pub fn into_value(self) -> Value {
        match self {
            Ev::Lit(s) => Value::Str(s.to_owned()),
            Ev::Val(v) => v,
        }
    }

    pub fn nodes(&self) -> Option<&[Value]> {
        match self {
            Ev::Val(Value::Nodes(n)) => Some(n),
            _ => None,
        }
    }

    pub fn scalar(&self) -> Scalar<'_> {
        match self {
            Ev::Lit(s) => Scalar::Str(s),
            Ev::Val(v) => Scalar::of(v),
        }
    }

    pub fn to_num(&self) -> f64 {
        self.scalar().num()
    }

    /// XPath `boolean()`: a node-set is true when it has a node (whatever the node holds).
    pub fn to_bool(&self) -> bool {
        match self.nodes() {
            Some(nodes) => !nodes.is_empty(),
            None => self.scalar().boolean(),
        }
    }

    /// JavaRosa's "null": the blank string or NaN, after taking a node-set's first node.
    pub fn is_empty(&self) -> bool {
        match self.scalar() {
            Scalar::Str(s) => s.is_empty(),
            Scalar::Num(n) => n.is_nan(),
            _ => false,
        }
    }

    /// A node-set replaced by its first node.
    pub fn scalarize(self) -> Ev<'a> {
        match self {
            Ev::Val(Value::Nodes(nodes)) => {
                Ev::Val(nodes.into_iter().next().map_or_else(Value::empty, |v| v.first().clone()))
            }
            other => other,
        }
    }

    /// The string value, moving or borrowing rather than copying where possible.
    pub fn into_str(self, offset_min: i32) -> Cow<'a, str> {
        match self {
            Ev::Lit(s) => Cow::Borrowed(s),
            Ev::Val(Value::Str(s)) => Cow::Owned(s),
            Ev::Val(v) => Cow::Owned(v.string_in(offset_min).into_owned()),
        }
    }
}

impl Ctx<'_> {
    pub fn offset(&self) -> i32 {
        self.env.utc_offset_minutes()
    }

    pub fn eval<'a>(&self, e: &'a Expr) -> Result<Ev<'a>, EvalError> {
        Ok(match &e.kind {
            ExprKind::Number(n) => Ev::Val(Value::Num(*n)),
            ExprKind::String(s) => Ev::Lit(s),
            ExprKind::Regex(r) => Ev::Lit(r.source()),
            ExprKind::Ref(name) => Ev::Val(self.env.lookup(name)?),
            ExprKind::Column(name) => Ev::Val(self.env.column(name)),
            ExprKind::Current => Ev::Val(self.env.current()),
            // The parent group has no value of its own; `..` is meaningful only in position().
            ExprKind::Parent => Ev::Val(Value::empty()),
            ExprKind::Neg(x) => Ev::Val(Value::Num(-self.num(x)?)),
            ExprKind::Binary(op, a, b) => Ev::Val(self.binary(*op, a, b)?),
            ExprKind::Call(f, args) => return functions::call(self, *f, args, e.col),
        })
    }

    pub fn num(&self, e: &Expr) -> Result<f64, EvalError> {
        match &e.kind {
            ExprKind::Number(n) => Ok(*n),
            _ => Ok(self.eval(e)?.to_num()),
        }
    }

    pub fn boolean(&self, e: &Expr) -> Result<bool, EvalError> {
        match &e.kind {
            ExprKind::Binary(op, a, b) if is_test(*op) => self.test(*op, a, b),
            _ => Ok(self.eval(e)?.to_bool()),
        }
    }

    /// `and`, `or` and the comparisons, which produce booleans.
    fn test(&self, op: BinOp, a: &Expr, b: &Expr) -> Result<bool, EvalError> {
        Ok(match op {
            BinOp::Or => self.boolean(a)? || self.boolean(b)?,
            BinOp::And => self.boolean(a)? && self.boolean(b)?,
            _ => compare(op, &self.eval(a)?, &self.eval(b)?, self.offset()),
        })
    }

    pub fn string<'a>(&self, e: &'a Expr) -> Result<Cow<'a, str>, EvalError> {
        Ok(self.eval(e)?.into_str(self.offset()))
    }

    #[inline(never)]
    fn binary(&self, op: BinOp, a: &Expr, b: &Expr) -> Result<Value, EvalError> {
        Ok(match op {
            _ if is_test(op) => Value::Bool(self.test(op, a, b)?),
            BinOp::Add => Value::Num(self.num(a)? + self.num(b)?),
            BinOp::Sub => Value::Num(self.num(a)? - self.num(b)?),
            BinOp::Mul => Value::Num(self.num(a)? * self.num(b)?),
            // IEEE division: x div 0 is ±Infinity, 0 div 0 NaN, as XPath.
            BinOp::Div => Value::Num(self.num(a)? / self.num(b)?),
            // Rust's `%` on floats is fmod: the sign of the dividend, x mod 0 is NaN.
            _ => Value::Num(self.num(a)? % self.num(b)?),
        })
    }
}

fn is_test(op: BinOp) -> bool {
    !matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod)
}

/// A comparison between two evaluated operands, existential over node-sets.
fn compare(op: BinOp, a: &Ev<'_>, b: &Ev<'_>, offset_min: i32) -> bool {
    let cmp = |x: Scalar<'_>, y: Scalar<'_>| compare_scalars(op, x, y, offset_min);
    match (a.nodes(), b.nodes()) {
        (None, None) => cmp(a.scalar(), b.scalar()),
        (Some(xs), Some(ys)) => {
            xs.iter().any(|x| ys.iter().any(|y| cmp(Scalar::of(x), Scalar::of(y))))
        }
        (Some(xs), None) => match b.scalar() {
            Scalar::Bool(_) => cmp(Scalar::Bool(!xs.is_empty()), b.scalar()),
            y => xs.iter().any(|x| cmp(Scalar::of(x), y)),
        },
        (None, Some(ys)) => match a.scalar() {
            Scalar::Bool(_) => cmp(a.scalar(), Scalar::Bool(!ys.is_empty())),
            x => ys.iter().any(|y| cmp(x, Scalar::of(y))),
        },
    }
}

fn num_eq(x: f64, y: f64) -> bool {
    x == y || (x - y).abs() < 1e-12
}

fn compare_scalars(op: BinOp, a: Scalar<'_>, b: Scalar<'_>, offset_min: i32) -> bool {
    let is_time = matches!(a, Scalar::Time(_)) || matches!(b, Scalar::Time(_));
    match op {
        BinOp::Eq | BinOp::Ne => {
            let eq = match (a, b) {
                (Scalar::Bool(_), _) | (_, Scalar::Bool(_)) => a.boolean() == b.boolean(),
                (Scalar::Num(_), _) | (_, Scalar::Num(_)) => num_eq(a.num(), b.num()),
                _ if is_time => num_eq(a.time_num(offset_min), b.time_num(offset_min)),
                _ if a.is_date_like() || b.is_date_like() => num_eq(a.num(), b.num()),
                (Scalar::Str(x), Scalar::Str(y)) => x == y,
                // Unreachable: every other pair involves one of the cases above.
                _ => false,
            };
            eq == (op == BinOp::Eq)
        }
        _ => {
            let (x, y) = if is_time {
                (a.time_num(offset_min), b.time_num(offset_min))
            } else {
                (a.num(), b.num())
            };
            match op {
                BinOp::Lt => x < y,
                BinOp::Le => x <= y,
                BinOp::Gt => x > y,
                _ => x >= y,
            }
        }
    }
}
