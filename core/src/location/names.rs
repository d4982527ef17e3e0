//! Comparing head-of-household names the way a volunteer would: Vietnamese diacritics folded
//! (`đ` -> `d`, every tone mark and vowel mark removed), case and punctuation ignored, and a
//! normalised edit distance that tolerates a typo or a reordered name.
//!
//! `Nguyễn Văn Ân`, `NGUYEN VAN AN` and `nguyen  van an` all fold to `nguyen van an`. Folding
//! loses information on purpose (`Nam` and `Năm` become the same), which is right for finding
//! *possible* duplicates that a person then confirms.

/// Vietnamese letters (and the Latin-1 letters a keyboard may produce) grouped by base letter.
/// Lower case only: input is lower-cased first.
const FOLD_TABLE: &[(char, &str)] = &[
    ('a', "àáảãạăằắẳẵặâầấẩẫậäåā"),
    ('e', "èéẻẽẹêềếểễệëē"),
    ('i', "ìíỉĩịîïī"),
    ('o', "òóỏõọôồốổỗộơờớởỡợöøō"),
    ('u', "ùúủũụưừứửữựûüū"),
    ('y', "ỳýỷỹỵÿ"),
    ('d', "đ"),
    ('c', "ç"),
    ('n', "ñ"),
];

/// The base letter of a lower-case letter, or the letter itself.
fn base_letter(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    for &(base, variants) in FOLD_TABLE {
        if variants.contains(c) {
            return base;
        }
    }
    c
}

/// Combining diacritical marks (U+0300–U+036F): what decomposed (NFD) input carries as separate
/// characters, e.g. U+0301 acute, U+0309 hook above, U+0323 dot below, U+031B horn.
fn is_combining_mark(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Apostrophes inside names (H'Mông, Y'Nhi) are dropped rather than split on.
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}')
}

/// Fold a name: lower case, diacritics removed, `đ` -> `d`, anything that is not a letter or
/// digit becomes a single space, no leading or trailing space.
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if is_combining_mark(c) || is_apostrophe(c) {
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(base_letter(c));
        } else {
            pending_space = true;
        }
    }
    out
}

/// Levenshtein distance between two character sequences (insert, delete, substitute: 1 each).
pub fn edit_distance(a: &[char], b: &[char]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let up = row[j + 1];
            let cost = usize::from(ca != cb);
            row[j + 1] = (diag + cost).min(up + 1).min(row[j] + 1);
            diag = up;
        }
    }
    row[b.len()]
}

/// `1 - distance / longer length`: 1.0 for equal strings, 0.0 for nothing in common.
fn normalised_similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    1.0 - edit_distance(&a, &b) as f64 / longest as f64
}

/// Similarity of two *folded* names in [0, 1]: the better of the normalised edit similarity of
/// the names as written and of their words sorted (so `Văn An Nguyễn` matches `Nguyễn Văn An`).
/// Two empty names have similarity 0 (nothing to compare).
pub fn similarity_folded(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    let direct = normalised_similarity(a, b);
    let sorted = |s: &str| {
        let mut w: Vec<&str> = s.split(' ').collect();
        w.sort_unstable();
        w.join(" ")
    };
    direct.max(normalised_similarity(&sorted(a), &sorted(b)))
}

/// Similarity of two names as typed (folded first). See [`similarity_folded`].
pub fn similarity(a: &str, b: &str) -> f64 {
    similarity_folded(&fold(a), &fold(b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn folds_every_vietnamese_vowel() {
        assert_eq!(fold("àáảãạăằắẳẵặâầấẩẫậ"), "a".repeat(17));
        assert_eq!(fold("ÈÉẺẼẸÊỀẾỂỄỆ"), "e".repeat(11));
        assert_eq!(fold("ìíỉĩị ÌÍỈĨỊ"), "iiiii iiiii");
        assert_eq!(fold("òóỏõọôồốổỗộơờớởỡợ"), "o".repeat(17));
        assert_eq!(fold("ùúủũụưừứửữự"), "u".repeat(11));
        assert_eq!(fold("ỳýỷỹỵ"), "yyyyy");
        assert_eq!(fold("Đặng đình"), "dang dinh");
    }

    #[test]
    fn folds_decomposed_input_and_punctuation() {
        // "Nguyễn" written as NFD: e + circumflex (U+0302) + tilde (U+0303).
        assert_eq!(fold("Nguye\u{0302}\u{0303}n  Va\u{0306}n, An."), "nguyen van an");
        assert_eq!(fold("  Giàng A Páo "), "giang a pao");
        assert_eq!(fold("H'Mông"), "hmong");
        assert_eq!(fold("Lò-Văn-Sáng"), "lo van sang");
    }

    #[test]
    fn edit_distance_basics() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&c("kitten"), &c("sitting")), 3);
        assert_eq!(edit_distance(&c(""), &c("abc")), 3);
        assert_eq!(edit_distance(&c("abc"), &c("abc")), 0);
        assert_eq!(edit_distance(&c("an"), &c("anh")), 1);
    }

    #[test]
    fn similarity_examples() {
        assert_eq!(similarity("Nguyễn Văn An", "NGUYEN VAN AN"), 1.0);
        assert_eq!(similarity("Văn An Nguyễn", "Nguyễn Văn An"), 1.0);
        assert!(similarity("Nguyễn Văn An", "Nguyễn Văn Anh") > 0.9);
        assert!(similarity("Nguyễn Thị Hoa", "Nguyễn Văn Hoa") < 0.85);
        assert!(similarity("Nguyễn Văn Nam", "Trần Văn Nam") < 0.7);
        assert_eq!(similarity("", "An"), 0.0);
    }
}
