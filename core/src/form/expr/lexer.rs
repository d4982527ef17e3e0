//! Tokens of the expression language, with 1-based character columns.
//!
//! As in XPath 1.0, whether a word is an operator (`and`, `or`, `div`, `mod`) depends on the
//! token before it: after an operand (a literal, a reference, a name, `.`, `..` or `)`) a word is
//! read as an operator name, anywhere else as a function or bare name. Operator words are read as letters only,
//! so `3 div-1` works, while function names may contain `-`, `_`, `.`, digits and a `jr:` style
//! prefix.

use super::parser::{ExprError, ExprErrorKind};
use crate::form::limits::{MAX_EXPR_TOKENS, MAX_STRING_LEN};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Number(f64),
    Str(String),
    Ref(String),
    Dot,
    DotDot,
    LParen,
    RParen,
    Comma,
    Plus,
    Minus,
    Star,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// A word in operand position: a function name, or a bare name (a choice column).
    Name(String),
    /// A word in operator position: `and`, `or`, `div`, `mod`, or something the parser refuses.
    OpName(String),
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Number(n) => format!("number {}", super::Value::number_to_string(*n)),
            Tok::Str(_) => String::from("string literal"),
            Tok::Ref(n) => format!("${{{n}}}"),
            Tok::Dot => String::from("'.'"),
            Tok::DotDot => String::from("'..'"),
            Tok::LParen => String::from("'('"),
            Tok::RParen => String::from("')'"),
            Tok::Comma => String::from("','"),
            Tok::Plus => String::from("'+'"),
            Tok::Minus => String::from("'-'"),
            Tok::Star => String::from("'*'"),
            Tok::Eq => String::from("'='"),
            Tok::Ne => String::from("'!='"),
            Tok::Lt => String::from("'<'"),
            Tok::Le => String::from("'<='"),
            Tok::Gt => String::from("'>'"),
            Tok::Ge => String::from("'>='"),
            Tok::Name(n) | Tok::OpName(n) => format!("'{n}'"),
            Tok::Eof => String::from("end of expression"),
        }
    }

    /// Whether a word after this token is in operator position.
    fn ends_operand(&self) -> bool {
        matches!(
            self,
            Tok::Number(_)
                | Tok::Str(_)
                | Tok::Ref(_)
                | Tok::Dot
                | Tok::DotDot
                | Tok::RParen
                | Tok::Name(_)
        )
    }
}

/// A token and the 1-based character column where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub col: usize,
}

fn syntax(col: usize, msg: impl Into<String>) -> ExprError {
    ExprError { col, kind: ExprErrorKind::Syntax(msg.into()) }
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// Characters allowed after the first in a field name.
fn is_ref_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// Characters allowed after the first in a function name (`jr:choice-name`).
fn is_func_char(c: char) -> bool {
    is_ref_char(c) || c == ':'
}

/// Split `src` into tokens, ending with [`Tok::Eof`] (whose column is one past the last char).
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0usize;
    while i < chars.len() {
        let Some(&c) = chars.get(i) else { break };
        let col = i + 1;
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if out.len() >= MAX_EXPR_TOKENS {
            return Err(ExprError {
                col,
                kind: ExprErrorKind::TooManyTokens { max: MAX_EXPR_TOKENS },
            });
        }
        let operator_position = out.last().is_some_and(|t| t.tok.ends_operand());
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '+' => (Tok::Plus, 1),
            '-' => (Tok::Minus, 1),
            '*' => (Tok::Star, 1),
            '=' => (Tok::Eq, 1),
            '!' if next == Some('=') => (Tok::Ne, 2),
            '<' if next == Some('=') => (Tok::Le, 2),
            '<' => (Tok::Lt, 1),
            '>' if next == Some('=') => (Tok::Ge, 2),
            '>' => (Tok::Gt, 1),
            '\'' | '"' => {
                let rest = chars.get(i + 1..).unwrap_or(&[]);
                let Some(end) = rest.iter().position(|&q| q == c) else {
                    return Err(syntax(col, "unterminated string literal"));
                };
                if end > MAX_STRING_LEN {
                    return Err(syntax(
                        col,
                        format!(
                            "string literal longer than {MAX_STRING_LEN} characters (MAX_STRING_LEN)"
                        ),
                    ));
                }
                let s: String = rest.iter().take(end).collect();
                (Tok::Str(s), end + 2)
            }
            '$' => {
                if next != Some('{') {
                    return Err(syntax(
                        col,
                        "expected '{' after '$' (references are written ${name})",
                    ));
                }
                let rest = chars.get(i + 2..).unwrap_or(&[]);
                let Some(end) = rest.iter().position(|&q| q == '}') else {
                    return Err(syntax(col, "unterminated reference: missing '}'"));
                };
                let name_chars = rest.get(..end).unwrap_or(&[]);
                let valid = match name_chars.split_first() {
                    Some((&first, tail)) => {
                        is_name_start(first) && tail.iter().all(|&ch| is_ref_char(ch))
                    }
                    None => false,
                };
                if !valid {
                    return Err(syntax(col, "invalid field name in ${...}"));
                }
                (Tok::Ref(name_chars.iter().collect()), end + 3)
            }
            '.' if next == Some('.') => (Tok::DotDot, 2),
            '.' if next.is_some_and(|d| d.is_ascii_digit()) => number(&chars, i)?,
            '.' => (Tok::Dot, 1),
            '0'..='9' => number(&chars, i)?,
            c if is_name_start(c) => {
                if operator_position {
                    let len = chars
                        .get(i..)
                        .unwrap_or(&[])
                        .iter()
                        .take_while(|ch| ch.is_ascii_alphabetic())
                        .count();
                    if len == 0 {
                        return Err(syntax(col, format!("unexpected character '{c}'")));
                    }
                    let word: String = chars.get(i..i + len).unwrap_or(&[]).iter().collect();
                    (Tok::OpName(word), len)
                } else {
                    let len = 1 + chars
                        .get(i + 1..)
                        .unwrap_or(&[])
                        .iter()
                        .take_while(|&&ch| is_func_char(ch))
                        .count();
                    let word: String = chars.get(i..i + len).unwrap_or(&[]).iter().collect();
                    (Tok::Name(word), len)
                }
            }
            other => return Err(syntax(col, format!("unexpected character '{other}'"))),
        };
        out.push(Token { tok, col });
        i += len;
    }
    out.push(Token { tok: Tok::Eof, col: chars.len() + 1 });
    Ok(out)
}

/// `digits[.digits]` or `.digits` starting at `i`.
fn number(chars: &[char], i: usize) -> Result<(Tok, usize), ExprError> {
    let rest = chars.get(i..).unwrap_or(&[]);
    let int_len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut len = int_len;
    if rest.get(len) == Some(&'.') {
        len += 1;
        len += rest.get(len..).unwrap_or(&[]).iter().take_while(|c| c.is_ascii_digit()).count();
    }
    let text: String = rest.get(..len).unwrap_or(&[]).iter().collect();
    match text.parse::<f64>() {
        Ok(n) => Ok((Tok::Number(n), len)),
        Err(_) => Err(syntax(i + 1, "invalid number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn operator_words_depend_on_position() {
        assert_eq!(
            toks("3 div-1"),
            vec![
                Tok::Number(3.0),
                Tok::OpName("div".into()),
                Tok::Minus,
                Tok::Number(1.0),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("count-selected(.)"),
            vec![Tok::Name("count-selected".into()), Tok::LParen, Tok::Dot, Tok::RParen, Tok::Eof]
        );
        assert_eq!(toks("div(1)").first(), Some(&Tok::Name("div".into())));
        assert_eq!(
            toks("a or b"),
            vec![Tok::Name("a".into()), Tok::OpName("or".into()), Tok::Name("b".into()), Tok::Eof]
        );
    }

    #[test]
    fn columns_count_characters() {
        let t = tokenize("'ắ' = ${x}").unwrap();
        assert_eq!(t.iter().map(|t| t.col).collect::<Vec<_>>(), vec![1, 5, 7, 11]);
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks(".5 5. .. ."),
            vec![Tok::Number(0.5), Tok::Number(5.0), Tok::DotDot, Tok::Dot, Tok::Eof]
        );
        assert_eq!(toks("\"it's\""), vec![Tok::Str("it's".into()), Tok::Eof]);
        assert_eq!(toks("${a.b-c_1}"), vec![Tok::Ref("a.b-c_1".into()), Tok::Eof]);
        assert!(tokenize("${1a}").is_err());
        assert!(tokenize("${}").is_err());
        assert!(tokenize("'abc").is_err());
        assert!(tokenize("#").is_err());
    }
}
