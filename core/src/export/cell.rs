//! One cell of an output table, and what makes text safe to open in a spreadsheet.

use std::borrow::Cow;

/// A cell: numbers stay numbers (so analysts can sum them), everything else is text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell<'a> {
    Empty,
    Text(Cow<'a, str>),
    Number(f64),
}

impl<'a> Cell<'a> {
    pub(super) fn text(s: impl Into<Cow<'a, str>>) -> Cell<'a> {
        Cell::Text(s.into())
    }
}

/// Whether a spreadsheet opening a CSV file would take `s` as a formula (CSV injection, OWASP):
/// a leading `=`, `+`, `-` or `@`, or a tab or carriage return that some versions skip before
/// looking at the next character.
pub(super) fn looks_like_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Text for a CSV cell: a formula-like text gets a leading `'`, which Excel and LibreOffice
/// show as text and never evaluate. (The xlsx writer needs no such prefix: a string cell is
/// never a formula there.)
pub(super) fn neutralise(s: &str) -> Cow<'_, str> {
    if looks_like_formula(s) { Cow::Owned(format!("'{s}")) } else { Cow::Borrowed(s) }
}

/// A number as text, the way XForms writes it: whole numbers without a decimal point.
pub(super) fn format_number(n: f64) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() < EXACT { format!("{}", n as i64) } else { format!("{n}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_is_neutralised() {
        for s in ["=1+1", "+1", "-2", "@SUM(A1)", "\t=x", "\r=x"] {
            assert_eq!(neutralise(s), format!("'{s}"));
        }
        for s in ["Nguyễn Văn An", "1-2", "a=b", ""] {
            assert_eq!(neutralise(s), s);
        }
    }

    #[test]
    fn numbers_are_written_like_xforms() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-2.0), "-2");
        assert_eq!(format_number(21.9137), "21.9137");
    }
}
