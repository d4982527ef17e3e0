//! Cells as text, the way pyxform reads them, and spreadsheet coordinates.

use calamine::DataRef;

use crate::civil;

/// A cell's value as text: a whole number without `.0`, a date cell as `YYYY-MM-DD`, a time
/// cell as `HH:MM:SS`, a boolean as `TRUE`/`FALSE` (an XLSForm yes/no spelling).
pub fn text(v: DataRef<'_>) -> String {
    match v {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(f),
        DataRef::String(s) => s,
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Bool(b) => if b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(d) => serial(d.as_f64(), d.is_duration()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s,
        DataRef::Error(e) => e.to_string(),
        DataRef::Empty => String::new(),
    }
}

/// A number as pyxform writes it: integers without a fraction, others in shortest form.
pub fn number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// An Excel serial date (days since 1899-12-30, fraction = time of day).
fn serial(v: f64, duration: bool) -> String {
    if !v.is_finite() || v.abs() > 3_000_000.0 {
        return number(v);
    }
    let days = v.floor();
    let secs = ((v - days) * 86_400.0).round() as i64;
    let (secs, days) = if secs >= 86_400 { (0, days as i64 + 1) } else { (secs, days as i64) };
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if duration || days == 0 {
        return time;
    }
    // 1899-12-30 is 25569 days before 1970-01-01.
    let (y, m, d) = civil::civil_from_days((days - 25_569) as i32);
    if secs == 0 { format!("{y:04}-{m:02}-{d:02}") } else { format!("{y:04}-{m:02}-{d:02}T{time}") }
}

/// A column's letters: 0 -> `A`, 25 -> `Z`, 26 -> `AA`.
pub fn column_letters(col: u32) -> String {
    let mut n = col as u64 + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        out.push(b'A' + r);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A cell in A1 notation from a 0-based column and a 1-based row.
pub fn a1(col: u32, row: u32) -> String {
    format!("{}{row}", column_letters(col))
}

/// The closest of `candidates` to `word` (case-insensitive edit distance at most a third of its
/// length, at least 1), for "did you mean" hints.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = word.to_lowercase();
    let max = (w.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(&w, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= max && !c.eq_ignore_ascii_case(word))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean 'x'?)`, or nothing.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest(word, candidates).map(|c| format!(" (did you mean '{c}'?)")).unwrap_or_default()
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_cells() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        assert_eq!(a1(5, 14), "F14");
    }

    #[test]
    fn numbers_and_serials() {
        assert_eq!(number(1.0), "1");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(serial(0.395_833_333_333_333_3, false), "09:30:00");
        assert_eq!(serial(46_000.0, false), "2025-12-09");
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("yn2", ["yn", "sex"]), Some("yn"));
        assert_eq!(closest("relevent", ["relevant", "required"]), Some("relevant"));
        assert_eq!(closest("zzzzzz", ["yn"]), None);
        assert_eq!(did_you_mean("intger", ["integer", "text"]), " (did you mean 'integer'?)");
    }
}
