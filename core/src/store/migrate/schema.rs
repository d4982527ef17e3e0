//! A database's schema in a form two databases can be compared by, so that the schema tests see
//! every kind of drift: each table, index, trigger and view of `sqlite_master` with its SQL
//! normalised (so CHECK lists, UNIQUE and PRIMARY KEY clauses, partial-index WHERE clauses,
//! STRICT and WITHOUT ROWID all count), the indexes SQLite creates itself for UNIQUE and PRIMARY
//! KEY constraints (named by their table and columns: their own names are generated), and
//! `PRAGMA user_version`.
//!
//! Normalising removes what SQLite ignores and what differs between a table created whole and
//! one grown by `ALTER TABLE ADD COLUMN` (which splices the new column's text in as written):
//! comments, whitespace, the case of keywords and identifiers, and how an identifier is quoted.
//! String literals are kept exactly: `CHECK (kind IN ('visit'))` and `('Visit')` differ.

use std::collections::BTreeMap;
use std::fmt;

use rusqlite::Connection;

use crate::store::StoreError;

/// One object of a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaObject {
    /// `table`, `index`, `trigger`, `view`, or `autoindex` (an index SQLite made for a UNIQUE or
    /// PRIMARY KEY constraint).
    pub kind: String,
    /// The object's name; for an autoindex, `table(columns)`.
    pub name: String,
    /// The table it belongs to (a table's is itself; a view's is itself).
    pub table: String,
    /// Its normalised SQL; for an autoindex, what it enforces and how.
    pub sql: String,
}

impl fmt::Display for SchemaObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == "table" || self.kind == "view" || self.kind == "autoindex" {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {} on {}", self.kind, self.name, self.table)
        }
    }
}

/// Everything the schema tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub user_version: i64,
    /// By kind and lower-cased name (SQLite's names are case-insensitive).
    pub objects: BTreeMap<(String, String), SchemaObject>,
}

impl Schema {
    /// Read the schema of a database.
    pub fn read(conn: &Connection) -> Result<Schema, StoreError> {
        let user_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let mut objects = BTreeMap::new();
        // Statistics tables (ANALYZE) are data about the data, not schema. Autoindexes have no
        // SQL; they are read per table below.
        let mut stmt = conn.prepare(
            "SELECT type, name, tbl_name, sql FROM sqlite_master
             WHERE name NOT GLOB 'sqlite_stat*' AND name NOT GLOB 'sqlite_autoindex_*'",
        )?;
        let rows: Vec<(String, String, String, Option<String>)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        for (kind, name, table, sql) in rows {
            if kind == "table" {
                for auto in autoindexes(conn, &name)? {
                    insert(&mut objects, auto);
                }
            }
            let sql = sql.as_deref().map_or_else(|| "(no sql)".to_string(), normalize_sql);
            insert(&mut objects, SchemaObject { kind, name, table, sql });
        }
        Ok(Schema { user_version, objects })
    }

    /// What differs from `expected`, one message per object (empty when they are the same):
    /// what is missing, what is unexpected, and for an object in both, both normalised SQL texts
    /// and the first place they differ.
    pub fn differences(&self, expected: &Schema) -> Vec<String> {
        let mut out = Vec::new();
        if self.user_version != expected.user_version {
            out.push(format!(
                "user_version: expected {}, found {}",
                expected.user_version, self.user_version
            ));
        }
        for (key, want) in &expected.objects {
            match self.objects.get(key) {
                None => out.push(format!("missing {want}: {}", want.sql)),
                Some(got) if !got.table.eq_ignore_ascii_case(&want.table) => {
                    out.push(format!("{want}: found on table {} instead", got.table))
                }
                Some(got) if got.sql != want.sql => out.push(format!(
                    "{want} differs at {}\n    expected: {}\n    found:    {}",
                    first_difference(&want.sql, &got.sql),
                    want.sql,
                    got.sql
                )),
                Some(_) => {}
            }
        }
        for (key, got) in &self.objects {
            if !expected.objects.contains_key(key) {
                out.push(format!("unexpected {got}: {}", got.sql));
            }
        }
        out
    }
}

fn insert(objects: &mut BTreeMap<(String, String), SchemaObject>, o: SchemaObject) {
    let key = (o.kind.clone(), o.name.to_ascii_lowercase());
    objects.insert(key, o);
}

/// The indexes SQLite made for a table's UNIQUE and PRIMARY KEY constraints (a WITHOUT ROWID
/// table's primary key included), named by table and key columns.
fn autoindexes(conn: &Connection, table: &str) -> Result<Vec<SchemaObject>, StoreError> {
    let mut list = conn.prepare(
        "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1) WHERE origin <> 'c'",
    )?;
    let indexes: Vec<(String, i64, String, i64)> = list
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut cols = conn.prepare(
        "SELECT name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key ORDER BY seqno",
    )?;
    let mut out = Vec::new();
    for (index, unique, origin, partial) in indexes {
        let columns: Vec<(Option<String>, i64, Option<String>)> = cols
            .query_map([&index], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let names: Vec<String> = columns
            .iter()
            .map(|(n, _, _)| n.as_deref().unwrap_or("<expression>").to_ascii_lowercase())
            .collect();
        let keys: Vec<String> = columns
            .iter()
            .map(|(n, desc, coll)| {
                let n = n.as_deref().unwrap_or("<expression>").to_ascii_lowercase();
                let coll = coll.as_deref().unwrap_or("binary").to_ascii_lowercase();
                format!("{n} collate {coll} {}", if *desc == 1 { "desc" } else { "asc" })
            })
            .collect();
        let what = if origin == "pk" { "primary key" } else { "unique constraint" };
        out.push(SchemaObject {
            kind: "autoindex".into(),
            name: format!("{}({})", table.to_ascii_lowercase(), names.join(", ")),
            table: table.to_string(),
            sql: format!("{what} ({}) unique={unique} partial={partial}", keys.join(", ")),
        });
    }
    Ok(out)
}

/// Where two normalised texts first differ, with a little of each around it.
fn first_difference(expected: &str, found: &str) -> String {
    let a: Vec<&str> = expected.split(' ').collect();
    let b: Vec<&str> = found.split(' ').collect();
    let at = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let around = |t: &[&str]| {
        let start = at.saturating_sub(4);
        let end = (at + 6).min(t.len());
        let mut s = t.get(start..end).unwrap_or_default().join(" ");
        if start > 0 {
            s.insert_str(0, "… ");
        }
        if end < t.len() {
            s.push_str(" …");
        }
        s
    };
    format!("token {at}: expected `{}`, found `{}`", around(&a), around(&b))
}

/// One statement's SQL as a canonical string of tokens separated by single spaces: comments
/// and whitespace dropped, keywords and identifiers lower-cased, identifiers unquoted when they
/// need no quotes (`"records"`, `[records]` and `records` are one name to SQLite), string and
/// blob literals kept as written.
pub fn normalize_sql(sql: &str) -> String {
    tokens(sql).join(" ")
}

fn tokens(sql: &str) -> Vec<String> {
    let c: Vec<char> = sql.chars().collect();
    let at = |i: usize| c.get(i).copied();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(ch) = at(i) {
        let next = at(i + 1);
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '-' && next == Some('-') {
            while at(i).is_some_and(|x| x != '\n') {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            i += 2;
            while at(i).is_some() && !(at(i) == Some('*') && at(i + 1) == Some('/')) {
                i += 1;
            }
            i += 2;
        } else if ch == '\'' {
            let (text, end) = quoted(&c, i, '\'');
            out.push(format!("'{}'", text.replace('\'', "''")));
            i = end;
        } else if ch == '"' || ch == '`' || ch == '[' {
            let close = if ch == '[' { ']' } else { ch };
            let (text, end) = quoted(&c, i, close);
            out.push(identifier(&text));
            i = end;
        } else if is_word_start(ch) {
            let start = i;
            while at(i).is_some_and(is_word_char) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // x'0102' is a blob literal, not the identifier x.
            if word.eq_ignore_ascii_case("x") && at(i) == Some('\'') {
                let (text, end) = quoted(&c, i, '\'');
                out.push(format!("x'{}'", text.to_ascii_lowercase()));
                i = end;
            } else {
                out.push(word.to_ascii_lowercase());
            }
        } else if ch.is_ascii_digit() || (ch == '.' && next.is_some_and(|x| x.is_ascii_digit())) {
            let start = i;
            while let Some(x) = at(i) {
                let exponent_sign = (x == '+' || x == '-')
                    && i > start
                    && matches!(at(i - 1), Some('e' | 'E'))
                    && !c[start..i].iter().any(|d| matches!(d, 'x' | 'X'));
                if x.is_ascii_alphanumeric() || x == '.' || x == '_' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(c[start..i].iter().collect::<String>().to_ascii_lowercase());
        } else {
            let three: String = c[i..(i + 3).min(c.len())].iter().collect();
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            let op = if three == "->>" {
                three
            } else if ["<>", "!=", "<=", ">=", "==", "||", "<<", ">>", "->"].contains(&two.as_str())
            {
                two
            } else {
                ch.to_string()
            };
            i += op.chars().count();
            // `!=` and `<>` are the same operator, as are `=` and `==`.
            out.push(match op.as_str() {
                "<>" => "!=".to_string(),
                "==" => "=".to_string(),
                _ => op,
            });
        }
    }
    out
}

/// The text between the quote at `open` and its closing quote (a doubled closing quote stands
/// for itself, except inside `[...]`), and the position after the closing quote.
fn quoted(c: &[char], open: usize, close: char) -> (String, usize) {
    let doubles = close != ']';
    let mut text = String::new();
    let mut i = open + 1;
    while let Some(&ch) = c.get(i) {
        if ch == close {
            if doubles && c.get(i + 1) == Some(&close) {
                text.push(close);
                i += 2;
                continue;
            }
            return (text, i + 1);
        }
        text.push(ch);
        i += 1;
    }
    (text, i)
}

/// An identifier as one canonical token: bare and lower-cased when it needs no quotes, else in
/// double quotes (SQLite compares identifiers without regard to ASCII case either way).
fn identifier(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && chars.all(|x| x.is_ascii_alphanumeric() || x == '_');
    if plain {
        name.to_ascii_lowercase()
    } else {
        format!("\"{}\"", name.to_ascii_lowercase().replace('"', "\"\""))
    }
}

fn is_word_start(ch: char) -> bool {
    ch.is_alphabetic() || ch == '_' || !ch.is_ascii()
}

fn is_word_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_' || ch == '$' || !ch.is_ascii()
}
