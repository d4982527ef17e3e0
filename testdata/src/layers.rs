//! Module layering, checked from the source text: which top-level modules of a crate may use
//! which others. A crate's test lists one [`Layer`] per top-level module (`mod x;` in `lib.rs`);
//! [`violations`] then reports every use of a sibling module that the using module's layer does
//! not allow, naming the file and line, and any problem with the table itself (a module without
//! a layer, a layer without a module, a cycle among the allowed uses).
//!
//! A use is a path that names the sibling: `crate::x…`, `crate::{x, …}`, or `super::…::x` that
//! climbs out of the module. Comments and test code (`#[cfg(test)] mod … { … }` and test-only
//! files `#[cfg(test)] mod …;`) are not checked: tests may use any layer. `docs/architecture.md`
//! explains the layers of each crate.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A top-level module and the sibling modules it may use.
#[derive(Debug, Clone, Copy)]
pub struct Layer {
    pub module: &'static str,
    pub may_use: &'static [&'static str],
}

/// Every layering problem of the crate whose `src/` folder is `src`, as readable lines; empty
/// when the crate keeps its layers.
///
/// # Panics
/// When `src/lib.rs` or a module's file cannot be read.
pub fn violations(src: &Path, layers: &[Layer]) -> Vec<String> {
    let mut out = Vec::new();
    let lib = read(&src.join("lib.rs"));
    let modules: BTreeSet<String> = declared_modules(&lib).into_iter().map(|(m, _)| m).collect();
    let table: BTreeMap<&str, &[&str]> = layers.iter().map(|l| (l.module, l.may_use)).collect();
    for m in &modules {
        if !table.contains_key(m.as_str()) {
            out.push(format!(
                "module `{m}` has no layer: add it to the table with what it may use"
            ));
        }
    }
    for l in layers {
        if !modules.contains(l.module) {
            out.push(format!("layer `{}` names no module of lib.rs", l.module));
        }
        for u in l.may_use {
            if !modules.contains(*u) {
                out.push(format!(
                    "layer `{}` may use `{u}`, which is no module of lib.rs",
                    l.module
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&table) {
        out.push(format!("the layers allow a cycle: {}", cycle.join(" -> ")));
    }
    for m in &modules {
        let allowed: BTreeSet<&str> =
            table.get(m.as_str()).map_or(BTreeSet::new(), |a| a.iter().copied().collect());
        for (file, path) in module_files(src, m) {
            let text = read(&file);
            let root = src.parent().and_then(Path::parent).unwrap_or(src);
            let shown = file.strip_prefix(root).unwrap_or(&file);
            for (line, used) in uses(&code_only(&text), &path, &modules) {
                if used != *m && !allowed.contains(used.as_str()) {
                    let list = allowed.iter().copied().collect::<Vec<_>>().join(", ");
                    out.push(format!(
                        "{}:{line}: `{m}` may not use `{used}` (it may use: {})",
                        shown.display(),
                        if list.is_empty() { "nothing" } else { list.as_str() }
                    ));
                }
            }
        }
    }
    out
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `mod x;` declarations of a file (`pub`, `pub(crate)` or private), with whether each is
/// test-only (`#[cfg(test)]` on the line before).
fn declared_modules(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut test_attr = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(name) =
            without_visibility(t).strip_prefix("mod ").and_then(|r| r.strip_suffix(';'))
        {
            out.push((name.trim().to_string(), test_attr));
        }
        test_attr = after_attribute(test_attr, t);
    }
    out
}

/// An item without its `pub`, `pub(crate)` or `pub(super)`.
fn without_visibility(item: &str) -> &str {
    ["pub(crate) ", "pub(super) ", "pub "].iter().find_map(|p| item.strip_prefix(p)).unwrap_or(item)
}

/// Whether the next item is test-only, after line `t`: `#[cfg(test)]` says so, further
/// attributes and blank lines keep it so, anything else ends it.
fn after_attribute(test_attr: bool, t: &str) -> bool {
    if t == "#[cfg(test)]" {
        true
    } else if t.is_empty() || t.starts_with("#[") {
        test_attr
    } else {
        false
    }
}

/// The non-test files of top-level module `m`, each with its module path (`["location",
/// "areas", "index"]`).
fn module_files(src: &Path, m: &str) -> Vec<(PathBuf, Vec<String>)> {
    let mut out = Vec::new();
    let file = src.join(format!("{m}.rs"));
    let dir = src.join(m);
    if file.is_file() {
        collect(&file, &dir, vec![m.to_string()], &mut out);
    } else {
        collect(&dir.join("mod.rs"), &dir, vec![m.to_string()], &mut out);
    }
    out
}

/// `file` (of module `path`, whose children live in `children`) and its non-test descendants.
fn collect(file: &Path, children: &Path, path: Vec<String>, out: &mut Vec<(PathBuf, Vec<String>)>) {
    let text = read(file);
    out.push((file.to_path_buf(), path.clone()));
    for (name, test_only) in declared_modules(&text) {
        if test_only {
            continue;
        }
        let mut child = path.clone();
        child.push(name.clone());
        let as_file = children.join(format!("{name}.rs"));
        let as_dir = children.join(&name);
        if as_file.is_file() {
            collect(&as_file, &as_dir, child, out);
        } else {
            collect(&as_dir.join("mod.rs"), &as_dir, child, out);
        }
    }
}

/// The text with comments and inline test modules blanked out (line breaks kept, so that byte
/// offsets still give line numbers).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skipping: Option<i64> = None; // brace depth inside a test module
    let mut test_attr = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(depth) = skipping.as_mut() {
            *depth += brace_balance(line);
            if *depth <= 0 {
                skipping = None;
            }
            out.push('\n');
            continue;
        }
        if test_attr && without_visibility(t).starts_with("mod ") && t.ends_with('{') {
            let depth = brace_balance(line);
            if depth > 0 {
                skipping = Some(depth);
            }
            test_attr = false;
            out.push('\n');
            continue;
        }
        test_attr = after_attribute(test_attr, t);
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn brace_balance(line: &str) -> i64 {
    line.chars().map(|c| i64::from(c == '{') - i64::from(c == '}')).sum()
}

/// Every sibling module that `code` (of the module at `path`) names, with the line.
fn uses(code: &str, path: &[String], modules: &BTreeSet<String>) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let bytes = code.as_bytes();
    let ident_start =
        |i: usize| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        // `crate::` or a chain of `super::` that climbs to the crate root.
        let (climb, len) = if rest.starts_with("crate::") && ident_start(i) {
            (true, "crate::".len())
        } else if rest.starts_with("super::") && ident_start(i) {
            let mut n = 0;
            let mut len = 0;
            while code[i + len..].starts_with("super::") {
                n += 1;
                len += "super::".len();
            }
            (n >= path.len(), len)
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        if climb {
            for name in first_segments(&code[i + len..]) {
                if modules.contains(&name) {
                    out.push((line_of(i), name));
                }
            }
        }
        i += len;
    }
    out
}

/// The first path segment after `crate::`, or each item's first segment of a `{…}` group.
fn first_segments(after: &str) -> Vec<String> {
    let after = after.trim_start();
    let ident = |s: &str| -> String {
        s.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
    };
    let Some(group) = after.strip_prefix('{') else { return vec![ident(after)] };
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (k, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(ident(&group[start..k]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(ident(&group[start..k]));
                start = k + 1;
            }
            _ => {}
        }
    }
    items.into_iter().filter(|s| !s.is_empty()).collect()
}

/// A cycle among the allowed uses, if the table has one.
fn find_cycle<'a>(table: &BTreeMap<&'a str, &'a [&'a str]>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        m: &'a str,
        table: &BTreeMap<&'a str, &'a [&'a str]>,
        state: &mut BTreeMap<&'a str, bool>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match state.get(m) {
            Some(true) => return None,
            Some(false) => {
                let from = stack.iter().position(|s| *s == m).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(m);
                return Some(cycle);
            }
            None => {}
        }
        state.insert(m, false);
        stack.push(m);
        for next in table.get(m).copied().unwrap_or(&[]) {
            if let Some(c) = visit(next, table, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(m, true);
        None
    }
    let mut state = BTreeMap::new();
    for m in table.keys() {
        if let Some(c) = visit(m, table, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn paths_that_name_a_sibling_are_found() {
        let m = set(&["form", "store", "clock"]);
        let p = vec!["location".to_string(), "fix".to_string()];
        let code = "use crate::form::model::Field;\nuse crate::{clock::Clock, store};\n\
                    use super::super::form;\nuse super::geodesic;\nlet x = my_crate::store;\n";
        let got = uses(code, &p, &m);
        let want = [(1, "form"), (2, "clock"), (2, "store"), (3, "form")];
        assert_eq!(got, want.map(|(l, s)| (l, s.to_string())));
    }

    #[test]
    fn comments_and_test_modules_are_not_code() {
        let text = "//! see crate::store\nfn a() {} // crate::store\n#[cfg(test)]\nmod tests {\n    \
                    use crate::store;\n    fn f() { if x { } }\n}\nuse crate::form;\n";
        let code = code_only(text);
        assert_eq!(code.lines().count(), text.lines().count());
        let got = uses(&code, &["location".into()], &set(&["store", "form"]));
        assert_eq!(got, vec![(8, "form".to_string())]);
    }

    #[test]
    fn a_cycle_in_the_table_is_found() {
        let table: BTreeMap<&str, &[&str]> =
            [("a", &["b"][..]), ("b", &["c"][..]), ("c", &["a"][..])].into_iter().collect();
        assert_eq!(find_cycle(&table), Some(vec!["a", "b", "c", "a"]));
        let table: BTreeMap<&str, &[&str]> =
            [("a", &["b", "c"][..]), ("b", &["c"][..]), ("c", &[][..])].into_iter().collect();
        assert_eq!(find_cycle(&table), None);
    }
}
