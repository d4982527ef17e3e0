//! Parsed expressions.

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
    /// Unary minus.
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
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

pub use super::functions::Func;
