//! The XLSForm expression language: `${field}` references, `.` and `..`, literals, arithmetic,
//! comparisons, `and`/`or`, and the ODK function library, with ODK's (XPath 1.0 + JavaRosa)
//! semantics for empty values and coercions.
//!
//! `parse` turns source text into an [`Expr`], resolving function names and checking arity and
//! literal regex patterns, so a parsed expression can always be evaluated. `eval` evaluates it
//! against an [`Env`] that the form session provides (answers, repeat context, clock, entropy).

mod ast;
mod dates;
mod eval;
mod functions;
mod lexer;
mod parser;
mod value;

pub use ast::{BinOp, Expr, ExprKind, Func};
pub use dates::{civil_from_days, days_from_civil, format_date, parse_date, parse_datetime, parse_time};
pub use eval::{eval, Env, EvalError};
pub use parser::{parse, ExprError, ExprErrorKind};
pub use value::Value;
