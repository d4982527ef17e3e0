//! Names of the output tables: Excel sheet names and CSV file names, made legal and unique.

use std::collections::HashSet;

/// Excel refuses a sheet name over 31 characters (counted in UTF-16 units).
const SHEET_NAME_MAX: usize = 31;

/// Names already handed out, compared as the file system or Excel compares them: Excel sheet
/// names are case-insensitive, and so are file names on Windows and macOS, where analysts open
/// the CSV files.
#[derive(Debug, Default)]
pub(super) struct Names {
    taken: HashSet<String>,
}

impl Names {
    /// Reserve a name the export writes itself (`codebook`), so no table takes it.
    pub(super) fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_lowercase());
    }

    /// A legal, unused sheet name close to `wanted`: forbidden characters (`[]:*?/\`) become
    /// `_`, no apostrophe at either end, at most 31 characters, `~2`, `~3`... on a clash.
    pub(super) fn sheet(&mut self, wanted: &str) -> String {
        let clean: String = wanted
            .chars()
            .map(|c| if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') { '_' } else { c })
            .filter(|c| !c.is_control())
            .collect();
        let clean = clean.trim_matches('\'').trim();
        // Excel keeps "History" for itself.
        let base = if clean.is_empty() || clean.eq_ignore_ascii_case("history") {
            format!("{clean}_sheet")
        } else {
            clean.to_string()
        };
        self.unique(&base, |base, suffix| {
            let budget = SHEET_NAME_MAX - suffix.encode_utf16().count();
            let mut out = String::new();
            let mut used = 0;
            for c in base.chars() {
                used += c.len_utf16();
                if used > budget {
                    break;
                }
                out.push(c);
            }
            // Truncation must not leave an apostrophe at the end either.
            let trimmed = out.trim_end_matches('\'').trim_end();
            format!("{trimmed}{suffix}")
        })
    }

    /// A portable, unused CSV file name for `stem`: letters, digits, `.`, `_`, `-` only.
    pub(super) fn file(&mut self, stem: &str, ext: &str) -> String {
        let clean: String = stem
            .chars()
            .map(
                |c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' },
            )
            .collect();
        let clean = clean.trim_start_matches('.');
        let clean = if clean.is_empty() { "table" } else { clean };
        self.unique(clean, |base, suffix| format!("{base}{suffix}.{ext}"))
    }

    fn unique(&mut self, base: &str, make: impl Fn(&str, &str) -> String) -> String {
        let mut n = 1usize;
        loop {
            let suffix = if n == 1 { String::new() } else { format!("~{n}") };
            let name = make(base, &suffix);
            if self.taken.insert(name.to_lowercase()) {
                return name;
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_legal_short_and_unique() {
        let mut n = Names::default();
        n.reserve("codebook");
        assert_eq!(n.sheet("household_screening 2026.1"), "household_screening 2026.1");
        let long = "children (household_screening 2026.1)";
        let a = n.sheet(long);
        let b = n.sheet(long);
        assert_eq!(a.encode_utf16().count(), 31);
        assert!(b.ends_with("~2") && b.encode_utf16().count() <= 31, "{b}");
        assert_eq!(n.sheet("a/b:c[1]"), "a_b_c_1_");
        assert_eq!(n.sheet("'quoted'"), "quoted");
        assert_eq!(n.sheet("Codebook"), "Codebook~2");
        assert_eq!(n.sheet("history"), "history_sheet");
    }

    #[test]
    fn file_names_are_portable_and_unique() {
        let mut n = Names::default();
        assert_eq!(n.file("household_screening-2026.1", "csv"), "household_screening-2026.1.csv");
        assert_eq!(n.file("a b/c", "csv"), "a_b_c.csv");
        assert_eq!(n.file("A_B_C", "csv"), "A_B_C~2.csv");
        assert_eq!(n.file("..", "csv"), "table.csv");
    }
}
