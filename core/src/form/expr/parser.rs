//! Recursive-descent parser with XPath 1.0 precedence:
//! `or` < `and` < `=` `!=` < `<` `<=` `>` `>=` < `+` `-` < `*` `div` `mod` < unary `-`.
//!
//! Function names are resolved and their argument counts checked here, and literal `regex()`
//! patterns are compiled, so that a parsed expression can always be evaluated. Nesting is
//! bounded (parentheses and calls to [`MAX_NESTING`] levels, the whole tree to [`MAX_DEPTH`]) so
//! that neither the parser nor the evaluator can exhaust the stack.

use super::ast::{BinOp, Expr, ExprKind, Func, RegexLiteral};
use super::lexer::{Tok, Token, tokenize};

/// Deepest nesting of parentheses and function calls.
pub const MAX_NESTING: usize = 64;
/// Deepest expression tree (a chain `a + b + c …` of n terms is n deep).
pub const MAX_DEPTH: usize = 256;

/// Why an expression does not parse, and where (1-based character column).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("column {col}: {kind}")]
pub struct ExprError {
    pub col: usize,
    pub kind: ExprErrorKind,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprErrorKind {
    #[error("{0}")]
    Syntax(String),
    #[error("unknown function {0}()")]
    UnknownFunction(String),
    #[error("{}", arity_message(function, *min, *max, *got))]
    Arity { function: &'static str, min: usize, max: Option<usize>, got: usize },
    #[error("invalid regular expression: {message}")]
    BadRegex { pattern: String, message: String },
    #[error("empty expression")]
    Empty,
    #[error("the expression has more than {max} tokens (MAX_EXPR_TOKENS)")]
    TooManyTokens { max: usize },
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "argument" } else { "arguments" }
}

fn arity_message(function: &str, min: usize, max: Option<usize>, got: usize) -> String {
    let expected = match max {
        Some(0) => String::from("no arguments"),
        Some(max) if max == min => format!("{min} {}", plural(min)),
        Some(max) => format!("{min} to {max} arguments"),
        None => format!("at least {min} {}", plural(min)),
    };
    format!("{function}() takes {expected}, got {got}")
}

fn syntax(col: usize, msg: impl Into<String>) -> ExprError {
    ExprError { col, kind: ExprErrorKind::Syntax(msg.into()) }
}

/// Parse XLSForm expression source.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let toks = tokenize(src)?;
    if toks.len() <= 1 {
        return Err(ExprError { col: 1, kind: ExprErrorKind::Empty });
    }
    let mut p = Parser { toks, pos: 0, nesting: 0 };
    let (e, _) = p.binary(0)?;
    let t = p.peek();
    match &t.tok {
        Tok::Eof => Ok(e),
        Tok::OpName(w)
            if ["and", "or", "div", "mod"].contains(&w.to_ascii_lowercase().as_str()) =>
        {
            Err(syntax(t.col, format!("unknown operator '{w}' (operators are lower case)")))
        }
        Tok::OpName(w) => Err(syntax(t.col, format!("expected an operator, found '{w}'"))),
        Tok::RParen => Err(syntax(t.col, "unmatched ')'")),
        other => Err(syntax(t.col, format!("expected an operator, found {}", other.describe()))),
    }
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    nesting: usize,
}

/// The binary operator that `tok` stands for at precedence `level`, if any.
fn level_op(level: u8, tok: &Tok) -> Option<BinOp> {
    Some(match (level, tok) {
        (0, Tok::OpName(w)) if w == "or" => BinOp::Or,
        (1, Tok::OpName(w)) if w == "and" => BinOp::And,
        (2, Tok::Eq) => BinOp::Eq,
        (2, Tok::Ne) => BinOp::Ne,
        (3, Tok::Lt) => BinOp::Lt,
        (3, Tok::Le) => BinOp::Le,
        (3, Tok::Gt) => BinOp::Gt,
        (3, Tok::Ge) => BinOp::Ge,
        (4, Tok::Plus) => BinOp::Add,
        (4, Tok::Minus) => BinOp::Sub,
        (5, Tok::Star) => BinOp::Mul,
        (5, Tok::OpName(w)) if w == "div" => BinOp::Div,
        (5, Tok::OpName(w)) if w == "mod" => BinOp::Mod,
        _ => return None,
    })
}

const EOF: Token = Token { tok: Tok::Eof, col: 0 };

fn too_deep(col: usize) -> ExprError {
    syntax(col, format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"))
}

impl Parser {
    fn peek(&self) -> &Token {
        self.toks.get(self.pos).or(self.toks.last()).unwrap_or(&EOF)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn enter(&mut self, col: usize) -> Result<(), ExprError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(syntax(
                col,
                format!(
                    "expression is nested too deeply (more than {MAX_NESTING} levels of parentheses)"
                ),
            ));
        }
        Ok(())
    }

    /// A binary expression at precedence `level` (0 = `or`); returns the tree and its depth.
    fn binary(&mut self, level: u8) -> Result<(Expr, usize), ExprError> {
        if level > 5 {
            return self.unary();
        }
        let (mut lhs, mut depth) = self.binary(level + 1)?;
        while let Some(op) = level_op(level, &self.peek().tok) {
            let op_col = self.bump().col;
            let (rhs, rhs_depth) = self.binary(level + 1)?;
            depth = 1 + depth.max(rhs_depth);
            if depth > MAX_DEPTH {
                return Err(too_deep(op_col));
            }
            let col = lhs.col;
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), col);
        }
        Ok((lhs, depth))
    }

    fn unary(&mut self) -> Result<(Expr, usize), ExprError> {
        let mut minus_cols = Vec::new();
        while self.peek().tok == Tok::Minus {
            let col = self.bump().col;
            if minus_cols.len() >= MAX_DEPTH {
                return Err(too_deep(col));
            }
            minus_cols.push(col);
        }
        let (mut e, mut depth) = self.primary()?;
        for col in minus_cols.into_iter().rev() {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(too_deep(col));
            }
            e = Expr::new(ExprKind::Neg(Box::new(e)), col);
        }
        Ok((e, depth))
    }

    fn primary(&mut self) -> Result<(Expr, usize), ExprError> {
        let Token { tok, col } = self.bump();
        let leaf = |kind| Ok((Expr::new(kind, col), 1));
        match tok {
            Tok::Number(n) => leaf(ExprKind::Number(n)),
            Tok::Str(s) => leaf(ExprKind::String(s)),
            Tok::Ref(name) => leaf(ExprKind::Ref(name)),
            Tok::Dot => leaf(ExprKind::Current),
            Tok::DotDot => leaf(ExprKind::Parent),
            Tok::LParen => {
                self.enter(col)?;
                let (e, depth) = self.binary(0)?;
                self.expect_close(col)?;
                self.nesting -= 1;
                Ok((e, depth))
            }
            Tok::Name(name) => {
                if self.peek().tok == Tok::LParen {
                    self.call(name, col)
                } else if name == "true" || name == "false" {
                    Err(syntax(col, format!("'{name}' needs parentheses: {name}()")))
                } else {
                    // A choice column in a choice filter; elsewhere the definition check refuses it.
                    leaf(ExprKind::Column(name))
                }
            }
            Tok::Eof => Err(syntax(col, "unexpected end of expression")),
            other => Err(syntax(col, format!("expected a value, found {}", other.describe()))),
        }
    }

    fn expect_close(&mut self, open_col: usize) -> Result<(), ExprError> {
        let t = self.peek();
        if t.tok == Tok::RParen {
            self.bump();
            Ok(())
        } else {
            Err(syntax(
                t.col,
                format!(
                    "expected ')' to close '(' at column {open_col}, found {}",
                    t.tok.describe()
                ),
            ))
        }
    }

    fn call(&mut self, name: String, col: usize) -> Result<(Expr, usize), ExprError> {
        let Some(func) = Func::from_name(&name) else {
            return Err(ExprError { col, kind: ExprErrorKind::UnknownFunction(name) });
        };
        let open_col = self.bump().col; // '('
        self.enter(open_col)?;
        let mut args = Vec::new();
        let mut depth = 0;
        if self.peek().tok == Tok::RParen {
            self.bump();
        } else {
            loop {
                let (arg, d) = self.binary(0)?;
                args.push(arg);
                depth = depth.max(d);
                let t = self.bump();
                match t.tok {
                    Tok::Comma => {}
                    Tok::RParen => break,
                    other => {
                        return Err(syntax(
                            t.col,
                            format!(
                                "expected ',' or ')' in the arguments of {}(), found {}",
                                func.name(),
                                other.describe()
                            ),
                        ));
                    }
                }
            }
        }
        self.nesting -= 1;
        let (min, max) = func.arity();
        let got = args.len();
        if got < min || max.is_some_and(|max| got > max) {
            return Err(ExprError {
                col,
                kind: ExprErrorKind::Arity { function: func.name(), min, max, got },
            });
        }
        check_call(func, &mut args)?;
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep(col));
        }
        Ok((Expr::new(ExprKind::Call(func, args), col), depth))
    }
}

/// Checks and rewrites particular to one function.
fn check_call(func: Func, args: &mut [Expr]) -> Result<(), ExprError> {
    match func {
        Func::Regex => {
            let Some(pattern) = args.get_mut(1) else { return Ok(()) };
            let ExprKind::String(s) = &pattern.kind else { return Ok(()) };
            match RegexLiteral::new(s) {
                Ok(lit) => pattern.kind = ExprKind::Regex(lit),
                Err(message) => {
                    return Err(ExprError {
                        col: pattern.col,
                        kind: ExprErrorKind::BadRegex { pattern: s.clone(), message },
                    });
                }
            }
        }
        Func::IndexedRepeat => {
            if args.len().is_multiple_of(2) {
                let col = args.last().map_or(0, |a| a.col);
                return Err(syntax(
                    col,
                    "indexed-repeat() takes ${field} followed by pairs of ${repeat} and index",
                ));
            }
            for (i, a) in args.iter().enumerate() {
                let names_a_field = i == 0 || i % 2 == 1;
                if names_a_field && !matches!(a.kind, ExprKind::Ref(_)) {
                    return Err(syntax(
                        a.col,
                        format!(
                            "argument {} of indexed-repeat() must be a ${{name}} reference",
                            i + 1
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(src: &str) -> String {
        parse(src).map(|e| e.to_string()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(shape("1 + 2 * 3"), "1 + 2 * 3");
        assert_eq!(shape("(1 + 2) * 3"), "(1 + 2) * 3");
        assert_eq!(shape("1 - (2 - 3)"), "1 - (2 - 3)");
        assert_eq!(shape("(1 - 2) - 3"), "1 - 2 - 3");
        assert_eq!(shape("a() or b() and c()"), "error: column 1: unknown function a()");
        assert_eq!(shape("1 or 2 and 3"), "1 or 2 and 3");
        assert_eq!(shape("(1 or 2) and 3"), "(1 or 2) and 3");
        assert_eq!(shape("-(1+2)"), "-(1 + 2)");
        assert_eq!(shape("--1"), "--1");
        assert_eq!(shape("1 = 2 = 3"), "1 = 2 = 3");
        assert_eq!(shape("1<2=3>4"), "1 < 2 = 3 > 4");
    }

    #[test]
    fn errors_have_columns() {
        assert_eq!(parse("").unwrap_err().kind, ExprErrorKind::Empty);
        assert_eq!(parse("1 +").unwrap_err().col, 4);
        assert_eq!(parse("(1").unwrap_err().col, 3);
        assert_eq!(parse("foo(1)").unwrap_err().to_string(), "column 1: unknown function foo()");
        assert_eq!(
            parse("if(1, 2)").unwrap_err().to_string(),
            "column 1: if() takes 3 arguments, got 2"
        );
        let deep = format!("{}1{}", "(".repeat(65), ")".repeat(65));
        assert!(matches!(parse(&deep).unwrap_err().kind, ExprErrorKind::Syntax(_)));
        let long = vec!["1"; 300].join(" + ");
        assert!(parse(&long).is_err());
        let ok = vec!["1"; 200].join(" + ");
        assert!(parse(&ok).is_ok());
    }
}
