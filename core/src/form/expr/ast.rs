//! Parsed expressions.

use std::fmt;

pub use super::functions::Func;
pub use super::pattern::RegexLiteral;

/// A parsed expression with the 1-based character column where it starts in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(f64),
    String(String),
    /// `${name}`: a field of the form, resolved relative to the evaluation context.
    Ref(String),
    /// `.`: the value of the field the expression belongs to.
    Current,
    /// `..`: the parent group or repeat instance (used as `position(..)`).
    Parent,
    /// A bare name (an XPath child step). Inside a `choice_filter` it is a column of the
    /// candidate choice (`name`, or one of its filter columns), read through [`Env::column`];
    /// elsewhere it selects nothing.
    ///
    /// [`Env::column`]: super::Env::column
    Column(String),
    /// Unary minus.
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
    /// A string literal that is the pattern of `regex()`, compiled when parsed. It evaluates
    /// and prints as the string it was written as.
    Regex(RegexLiteral),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    /// XPath precedence, loosest first: `or` 0, `and` 1, equality 2, relational 3, additive 4,
    /// multiplicative 5. (Unary minus and primaries bind tighter than all of these.)
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 0,
            BinOp::And => 1,
            BinOp::Eq | BinOp::Ne => 2,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod => 5,
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "div",
            BinOp::Mod => "mod",
        }
    }
}

/// Precedence of anything that is not a binary operation.
const TIGHTEST: u8 = 6;

impl Expr {
    pub fn new(kind: ExprKind, col: usize) -> Expr {
        Expr { kind, col }
    }

    /// Call `f` on this expression and every sub-expression, parents first, in source order.
    pub fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Neg(x) => x.visit(f),
            ExprKind::Binary(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            ExprKind::Call(_, args) => args.iter().for_each(|a| a.visit(f)),
            _ => {}
        }
    }

    /// Every `${name}` with its column, in source order, including references inside function
    /// arguments and the `'${field}'` string that names the select field of `jr:choice-name`
    /// (column of its `$`). A name appears once per occurrence.
    pub fn references(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        self.visit(&mut |e| match &e.kind {
            ExprKind::Ref(name) => out.push((name.as_str(), e.col)),
            ExprKind::Call(Func::ChoiceName, args) => {
                let field = match args.get(1) {
                    Some(Expr { kind: ExprKind::String(s), col }) => s
                        .strip_prefix("${")
                        .and_then(|n| n.strip_suffix('}'))
                        .map(|name| (name, col + 1)),
                    _ => None,
                };
                out.extend(field);
            }
            _ => {}
        });
        // The choice-name field is pushed before the arguments are visited; restore source order.
        out.sort_by_key(|&(_, col)| col);
        out
    }

    /// Every bare name (choice column) with its column, in source order. Outside a
    /// `choice_filter` a bare name is almost certainly a field written without `${}`.
    pub fn columns(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let ExprKind::Column(name) = &e.kind {
                out.push((name.as_str(), e.col));
            }
        });
        out
    }

    /// Whether the value of the field the expression belongs to is read: `.`, or a function
    /// that reads it implicitly (`once()`, `string-length()` without arguments, …).
    pub fn uses_current(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| match &e.kind {
            ExprKind::Current => found = true,
            ExprKind::Call(f, args) if f.reads_current(args.len()) => found = true,
            _ => {}
        });
        found
    }

    /// Whether the expression calls `now()`, `today()`, `uuid()` or `random()`, so that its
    /// value can change without any field changing.
    pub fn is_volatile(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            if let ExprKind::Call(f, _) = &e.kind {
                found |= f.is_volatile();
            }
        });
        found
    }

    /// Whether the expression calls `f` anywhere.
    pub fn calls(&self, f: Func) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            if let ExprKind::Call(g, _) = &e.kind {
                found |= *g == f;
            }
        });
        found
    }

    /// Structural equality ignoring columns. A `regex()` pattern literal equals a plain string
    /// literal with the same text (they print the same).
    pub fn same_shape(&self, other: &Expr) -> bool {
        use ExprKind as K;
        match (&self.kind, &other.kind) {
            (K::Number(a), K::Number(b)) => a == b || (a.is_nan() && b.is_nan()),
            (K::String(_) | K::Regex(_), K::String(_) | K::Regex(_)) => {
                self.literal_text() == other.literal_text()
            }
            (K::Ref(a), K::Ref(b)) | (K::Column(a), K::Column(b)) => a == b,
            (K::Current, K::Current) | (K::Parent, K::Parent) => true,
            (K::Neg(a), K::Neg(b)) => a.same_shape(b),
            (K::Binary(op1, a1, b1), K::Binary(op2, a2, b2)) => {
                op1 == op2 && a1.same_shape(a2) && b1.same_shape(b2)
            }
            (K::Call(f1, args1), K::Call(f2, args2)) => {
                f1 == f2
                    && args1.len() == args2.len()
                    && args1.iter().zip(args2).all(|(a, b)| a.same_shape(b))
            }
            _ => false,
        }
    }

    /// The text of a string literal (plain or regex pattern).
    pub fn literal_text(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::String(s) => Some(s),
            ExprKind::Regex(r) => Some(r.source()),
            _ => None,
        }
    }

    /// Depth of the tree (a leaf is 1).
    pub fn depth(&self) -> usize {
        match &self.kind {
            ExprKind::Neg(x) => 1 + x.depth(),
            ExprKind::Binary(_, a, b) => 1 + a.depth().max(b.depth()),
            ExprKind::Call(_, args) => 1 + args.iter().map(Expr::depth).max().unwrap_or(0),
            _ => 1,
        }
    }

    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary(op, _, _) => op.precedence(),
            _ => TIGHTEST,
        }
    }
}

fn write_number(f: &mut fmt::Formatter<'_>, n: f64) -> fmt::Result {
    if n.is_nan() {
        // No literal reads as NaN; the parser never produces one.
        f.write_str("(0 div 0)")
    } else if n.is_infinite() {
        // A literal too large for f64 reads as infinity.
        if n < 0.0 {
            f.write_str("-")?;
        }
        f.write_str("1")?;
        for _ in 0..309 {
            f.write_str("0")?;
        }
        Ok(())
    } else if n < 0.0 {
        // Literals are unsigned; a hand-built negative literal prints as a negation.
        write!(f, "-{}", super::Value::number_to_string(-n))
    } else {
        f.write_str(&super::Value::number_to_string(n))
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if !s.contains('\'') {
        write!(f, "'{s}'")
    } else if !s.contains('"') {
        write!(f, "\"{s}\"")
    } else {
        // XPath 1.0 literals have no escapes; a string holding both quotes (never produced by
        // the parser) is printed as a concatenation of pieces.
        f.write_str("concat(")?;
        for (i, piece) in s.split('\'').enumerate() {
            if i > 0 {
                f.write_str(", \"'\", ")?;
            }
            write!(f, "'{piece}'")?;
        }
        f.write_str(")")
    }
}

fn write_child(f: &mut fmt::Formatter<'_>, e: &Expr, parens: bool) -> fmt::Result {
    if parens { write!(f, "({e})") } else { write!(f, "{e}") }
}

/// Canonical source: single spaces around binary operators, `, ` between arguments, and
/// parentheses only where precedence requires them. Parsing the output gives a tree of the same
/// shape (see [`Expr::same_shape`]).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number(n) => write_number(f, *n),
            ExprKind::String(s) => write_string(f, s),
            ExprKind::Regex(r) => write_string(f, r.source()),
            ExprKind::Ref(name) => write!(f, "${{{name}}}"),
            ExprKind::Column(name) => f.write_str(name),
            ExprKind::Current => f.write_str("."),
            ExprKind::Parent => f.write_str(".."),
            ExprKind::Neg(x) => {
                f.write_str("-")?;
                let parens = matches!(x.kind, ExprKind::Binary(..))
                    || matches!(x.kind, ExprKind::Number(n) if n < 0.0 || n.is_nan());
                write_child(f, x, parens)
            }
            ExprKind::Binary(op, a, b) => {
                let p = op.precedence();
                // Left-associative: a right operand of the same precedence needs parentheses.
                write_child(f, a, a.precedence() < p)?;
                write!(f, " {} ", op.symbol())?;
                write_child(f, b, b.precedence() <= p)
            }
            ExprKind::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}
