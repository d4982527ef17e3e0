//! Regular expressions for `regex(value, pattern)`. ODK requires the *whole* value to match
//! ("an exact and complete match", as Java's `Pattern.matches`), so patterns are compiled
//! anchored. The syntax is the Rust `regex` crate's, which covers what forms use (classes,
//! repetition, alternation, Unicode `\d`/`\w`) but not look-around or back-references; those
//! are refused at parse time when the pattern is a literal.
//!
//! A literal pattern is compiled once, when the expression is parsed, and kept in the tree. A
//! computed pattern goes through a small per-thread cache.

use std::cell::RefCell;

use regex::{Regex, RegexBuilder};

/// Compiled-program budget per pattern: generous for real patterns, small for a phone.
const SIZE_LIMIT: usize = 1 << 20;
/// Computed patterns remembered per thread.
const CACHE_SIZE: usize = 16;

/// A string literal that is the pattern argument of `regex()`, with its compiled form.
#[derive(Clone)]
pub struct RegexLiteral {
    source: String,
    anchored: Regex,
}

impl RegexLiteral {
    /// Compile `source`; the error is a one-line description.
    pub fn new(source: &str) -> Result<RegexLiteral, String> {
        compile(source).map(|anchored| RegexLiteral { source: source.to_owned(), anchored })
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether all of `s` matches the pattern.
    pub fn is_match(&self, s: &str) -> bool {
        self.anchored.is_match(s)
    }
}

impl PartialEq for RegexLiteral {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl std::fmt::Debug for RegexLiteral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RegexLiteral").field(&self.source).finish()
    }
}

fn build(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| one_line(&e))
}

/// The last line of the crate's (multi-line, caret-annotated) message.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid pattern");
    line.trim().trim_start_matches("error: ").to_owned()
}

/// Compile `pattern` so that it must match the whole input.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    // Check the pattern on its own first: wrapping could make an unbalanced `a)(b` valid.
    build(pattern)?;
    build(&format!(r"\A(?:{pattern})\z"))
}

thread_local! {
    static CACHE: RefCell<Vec<(String, Result<Regex, String>)>> = const { RefCell::new(Vec::new()) };
}

/// Whether all of `s` matches the computed `pattern`, compiling through the per-thread cache.
pub(crate) fn matches_dynamic(pattern: &str, s: &str) -> Result<bool, String> {
    let cached = CACHE.try_with(|cell| {
        let Ok(mut cache) = cell.try_borrow_mut() else {
            return compile(pattern).map(|re| re.is_match(s));
        };
        let hit = cache.iter().position(|(p, _)| p == pattern);
        let entry = match hit {
            Some(i) => cache.remove(i),
            None => (pattern.to_owned(), compile(pattern)),
        };
        let result = entry.1.as_ref().map(|re| re.is_match(s)).map_err(Clone::clone);
        cache.insert(0, entry);
        cache.truncate(CACHE_SIZE);
        result
    });
    // Without the cache (only while the thread is being torn down), compile afresh.
    cached.unwrap_or_else(|_| compile(pattern).map(|re| re.is_match(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_string_semantics() {
        let r = RegexLiteral::new("a|ab").unwrap();
        assert!(r.is_match("ab"));
        assert!(r.is_match("a"));
        assert!(!r.is_match("abc"));
        assert!(RegexLiteral::new("a)(b").is_err());
        assert!(RegexLiteral::new("(a").unwrap_err().contains("unclosed group"));
        assert!(RegexLiteral::new("a{1000}{1000}").is_err());
    }

    #[test]
    fn dynamic_cache() {
        assert_eq!(matches_dynamic("[0-9]+", "123"), Ok(true));
        assert_eq!(matches_dynamic("[0-9]+", "12a"), Ok(false));
        assert!(matches_dynamic("[", "x").is_err());
        for i in 0..40 {
            assert_eq!(matches_dynamic(&format!("x{{{i}}}"), &"x".repeat(i)), Ok(true));
        }
    }
}
