//! The XLSForm expression language: `${field}` references, `.` and `..`, literals, arithmetic,
//! comparisons, `and`/`or`, and the ODK function library, with ODK's (XPath 1.0 + JavaRosa)
//! semantics for empty values and coercions.
//!
//! `parse` turns source text into an [`Expr`], resolving function names and checking arity and
//! literal regex patterns, so a parsed expression can always be evaluated. `eval` evaluates it
//! against an [`Env`] that the form session provides (answers, repeat context, clock, entropy).

mod ast;
mod eval;
mod functions;
mod lexer;
mod map_env;
mod parser;
mod pattern;
mod value;

pub use crate::civil::{
    MS_PER_DAY, civil_from_days, days_from_civil, days_in_month, format_date, format_iso_date,
    format_iso_datetime, format_iso_time, is_leap_year, local_day, parse_date, parse_datetime,
    parse_time, parse_time_with_offset,
};
pub use ast::{BinOp, Expr, ExprKind, Func, RegexLiteral};
pub use eval::{Env, EvalError, eval, eval_bool};
pub use functions::MAX_UUID_LEN;
pub use map_env::{MapEnv, MapEnvError};
pub use parser::{ExprError, ExprErrorKind, MAX_DEPTH, MAX_NESTING, parse};
pub use value::Value;
