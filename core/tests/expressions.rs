//! The expression language against a table of cases: every function, operator, empty-value
//! rule, coercion, date arithmetic, node-set and parse error.
//!
//! Expected values follow ODK's documentation (docs.getodk.org, "Form operators and functions")
//! and XPath 1.0; where those are silent, JavaRosa (ODK Collect's engine). Comments mark the
//! non-obvious ones and the places where SafeHome deliberately differs.
//!
//! Results are rendered compactly: `'text'` for strings, numbers as XPath prints them,
//! `true`/`false`, `date …`, `datetime …`, `time …`, `[…]` for node-sets; errors as
//! `parse <Kind> @<column>` or `eval <Kind>`.

use std::collections::BTreeMap;

use safehome_core::form::expr::{
    Env, EvalError, ExprErrorKind, ExprKind, MapEnv, Value, days_from_civil, eval, parse,
};

/// 2026-11-29T04:00:00Z, which is 11:00 on a Sunday in Vietnam (+07:00).
const NOW_MS: i64 = 1_795_924_800_000;
const OFFSET: i32 = 420;

fn vars() -> BTreeMap<String, Value> {
    let date = |y, m, d| Value::Date(days_from_civil(y, m, d));
    let num = |n: f64| Value::Num(n);
    let s = |t: &str| Value::Str(t.to_owned());
    BTreeMap::from([
        ("age".to_owned(), num(4.0)),
        ("age_str".to_owned(), s("4")),
        ("name".to_owned(), s("Nguyễn Văn An")),
        ("blank".to_owned(), Value::empty()),
        ("pets".to_owned(), s("cat dog fish")),
        ("yes".to_owned(), s("yes")),
        ("flag".to_owned(), Value::Bool(true)),
        ("zero".to_owned(), num(0.0)),
        ("neg".to_owned(), num(-7.0)),
        ("big".to_owned(), num(1e21)),
        ("dob".to_owned(), date(2022, 3, 15)),
        ("dob_str".to_owned(), s("2022-03-15")),
        // 2026-11-29T09:30:00+07:00
        ("visit".to_owned(), Value::DateTime { ms: 1_795_919_400_000, offset_min: 420 }),
        // 06:30 local
        ("wake".to_owned(), Value::Time(6 * 3_600_000 + 30 * 60_000)),
        ("kids_age".to_owned(), Value::Nodes(vec![num(3.0), num(7.0), num(12.0)])),
        ("kids_name".to_owned(), Value::Nodes(vec![s("Lan"), s("Minh"), s("")])),
        ("kids_mixed".to_owned(), Value::Nodes(vec![num(3.0), s(""), s("5")])),
        ("no_kids".to_owned(), Value::Nodes(vec![])),
    ])
}

fn env() -> MapEnv {
    MapEnv::new(vars())
        .with_now_ms(NOW_MS)
        .with_offset_minutes(OFFSET)
        .with_seed(42)
        .with_choice_label("pets", "cat", "Mèo")
        .with_choice_label("pets", "dog", "Chó")
}

fn render(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("'{s}'"),
        Value::Num(n) => Value::number_to_string(*n),
        Value::Bool(b) => b.to_string(),
        Value::Date(_) => format!("date {}", v.to_xpath_string()),
        Value::DateTime { .. } => format!("datetime {}", v.to_xpath_string()),
        Value::Time(_) => format!("time {}", v.to_xpath_string()),
        Value::Nodes(items) => {
            format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", "))
        }
    }
}

fn kind_name(k: &ExprErrorKind) -> &'static str {
    match k {
        ExprErrorKind::Syntax(_) => "Syntax",
        ExprErrorKind::UnknownFunction(_) => "UnknownFunction",
        ExprErrorKind::Arity { .. } => "Arity",
        ExprErrorKind::BadRegex { .. } => "BadRegex",
        ExprErrorKind::Empty => "Empty",
        ExprErrorKind::TooManyTokens { .. } => "TooManyTokens",
    }
}

fn run(src: &str, env: &dyn Env) -> String {
    match parse(src) {
        Err(e) => format!("parse {} @{}", kind_name(&e.kind), e.col),
        Ok(expr) => match eval(&expr, env) {
            Ok(v) => render(&v),
            Err(EvalError::UnknownField { .. }) => String::from("eval UnknownField"),
            Err(EvalError::BadArgument { .. }) => String::from("eval BadArgument"),
            Err(EvalError::StringTooLong { .. }) => String::from("eval StringTooLong"),
            Err(EvalError::TooManyInstances { .. }) => String::from("eval TooManyInstances"),
        },
    }
}

/// (source, expected) evaluated in [`env`].
const CASES: &[(&str, &str)] = &[
    // ---- arithmetic ----
    ("1 + 2", "3"),
    ("7 - 10", "-3"),
    ("2 * 3.5", "7"),
    ("7 div 2", "3.5"),
    ("7 mod 3", "1"),
    // mod is the remainder with the sign of the dividend (XPath 1.0, like Java's %).
    ("-7 mod 3", "-1"),
    ("7 mod -3", "1"),
    ("5.5 mod 2", "1.5"),
    // IEEE division, as XPath 1.0.
    ("1 div 0", "Infinity"),
    ("-1 div 0", "-Infinity"),
    ("0 div 0", "NaN"),
    ("5 mod 0", "NaN"),
    (".5 + .25", "0.75"),
    ("0.1 + 0.2", "0.30000000000000004"),
    ("1 div 3", "0.3333333333333333"),
    ("1 + 2 * 3", "7"),
    ("(1 + 2) * 3", "9"),
    ("10 - 4 - 3", "3"),
    ("2 * 3 mod 4", "2"),
    ("-2 * -3", "6"),
    ("--3", "3"),
    ("- ${age}", "-4"),
    ("${age}+1", "5"),
    // `div` is an operator after an operand even when glued to a minus.
    ("${age} div-2", "-2"),
    ("  ${age}\t*\n2  ", "8"),
    ("${age_str} * 2", "8"),
    // Blank is not zero: arithmetic on it is NaN (ODK "empty values").
    ("${blank} + 1", "NaN"),
    ("'abc' * 1", "NaN"),
    // JavaRosa reads a comma as the decimal separator.
    ("'3,5' * 2", "7"),
    ("' 12 ' + 0", "12"),
    // XPath's number grammar has no exponent.
    ("'1e3' + 0", "NaN"),
    ("true() + true()", "2"),
    ("${big}", "1000000000000000000000"),
    ("${neg} * 0", "0"),
    // ---- equality ----
    ("${age} = 4", "true"),
    ("${age} = '4'", "true"),
    ("${age_str} = 4", "true"),
    // Two strings compare as strings…
    ("${age_str} = '4.0'", "false"),
    // …but a number on either side makes it numeric.
    ("${age} = '4.0'", "true"),
    ("${yes} = 'yes'", "true"),
    ("${yes} != 'no'", "true"),
    ("${blank} = ''", "true"),
    ("${blank} = 0", "false"),
    ("${blank} != 0", "true"),
    // Numbers compare within 1e-12, as JavaRosa's XPathEqExpr.
    ("0.1 + 0.2 = 0.3", "true"),
    ("1 div 0 = 1 div 0", "true"),
    ("0 div 0 = 0 div 0", "false"),
    // A boolean on either side compares booleans: 'false' is a non-empty string, so true.
    ("${flag} = 'false'", "true"),
    ("true() = 1", "true"),
    ("false() = ''", "true"),
    ("${zero} = false()", "true"),
    ("1 = 1 = 1", "true"),
    // ---- relational ----
    ("${blank} < 5", "false"),
    ("${blank} >= 5", "false"),
    ("2 <= 2", "true"),
    ("2 >= 3", "false"),
    ("'10' > '9'", "true"),
    ("'abc' < 'abd'", "false"),
    ("1 < 2 < 3", "true"),
    // (3 > 2) is true, and true > 1 is 1 > 1.
    ("3 > 2 > 1", "false"),
    // ---- dates in comparisons ----
    ("${dob} < '2023-01-01'", "true"),
    // Date-looking strings compare as dates (JavaRosa would need date() around the literal).
    ("${dob_str} < '2023-01-01'", "true"),
    ("${dob_str} > '2022-03-14'", "true"),
    ("${dob} = '2022-03-15'", "true"),
    ("${dob} = date('2022-03-15')", "true"),
    ("${dob} != '2022-03-16'", "true"),
    ("${dob_str} = '2022-03-15'", "true"),
    ("today() > ${dob}", "true"),
    ("${visit} > ${dob}", "true"),
    ("${visit} < now()", "true"),
    ("${wake} < '07:00'", "true"),
    ("${wake} = '06:30:00.000+07:00'", "true"),
    // 23:30 UTC is 06:30 in +07:00.
    ("${wake} = '23:30:00Z'", "true"),
    // ---- logic ----
    ("1 and 0", "false"),
    ("1 or 0", "true"),
    ("'' or 'a'", "true"),
    ("${no_kids} or false()", "false"),
    ("${kids_age} and true()", "true"),
    ("true() or ${missing}", "true"),
    ("false() and ${missing}", "false"),
    ("${missing}", "eval UnknownField"),
    ("${missing} + 1", "eval UnknownField"),
    ("not(${blank})", "true"),
    ("not('false')", "false"),
    ("boolean(0)", "false"),
    ("boolean('0')", "true"),
    ("boolean(0 div 0)", "false"),
    ("boolean(${no_kids})", "false"),
    ("boolean(${kids_name})", "true"),
    ("boolean(${dob})", "true"),
    ("true()", "true"),
    ("false()", "false"),
    ("boolean-from-string('TRUE')", "true"),
    ("boolean-from-string('1')", "true"),
    ("boolean-from-string('yes')", "false"),
    ("boolean-from-string(${blank})", "false"),
    // ---- node-sets (fields in a repeat, seen from outside it) ----
    ("${kids_age}", "[3, 7, 12]"),
    ("${kids_age} = 7", "true"),
    ("${kids_age} = 8", "false"),
    // Existential: some node differs from 7.
    ("${kids_age} != 7", "true"),
    ("${kids_age} > 10", "true"),
    ("${kids_age} < 3", "false"),
    ("5 < ${kids_age}", "true"),
    // An empty node-set compares false with everything but a boolean.
    ("${no_kids} = ''", "false"),
    ("${no_kids} != ''", "false"),
    ("${no_kids} = false()", "true"),
    ("${kids_name} = 'Minh'", "true"),
    ("${kids_name} = ''", "true"),
    ("${kids_age} = ${kids_mixed}", "true"),
    // number(node-set) is the first node's.
    ("${kids_age} + 1", "4"),
    ("string(${kids_name})", "'Lan'"),
    ("count(${kids_age})", "3"),
    ("count(${no_kids})", "0"),
    // XPath counts nodes: a non-repeating field is one node, answered or not.
    ("count(${age})", "1"),
    ("count(${blank})", "1"),
    ("count-non-empty(${kids_name})", "2"),
    ("count-non-empty(${blank})", "0"),
    ("count-non-empty(${age})", "1"),
    ("sum(${kids_age})", "22"),
    // JavaRosa's sum skips values that are not numbers (unanswered instances).
    ("sum(${kids_mixed})", "8"),
    ("sum(${no_kids})", "0"),
    ("sum(${age})", "4"),
    ("max(${kids_age})", "12"),
    ("min(${kids_age})", "3"),
    // max/min: any empty value gives NaN (ODK XForms spec).
    ("max(${kids_mixed})", "NaN"),
    ("max(${no_kids})", "NaN"),
    ("max(1, 5, 3)", "5"),
    ("min(4, ${kids_age})", "3"),
    ("max(2, '')", "NaN"),
    ("min('7', 3.5)", "3.5"),
    ("concat(${kids_name})", "'LanMinh'"),
    ("concat('[', ${kids_age}, ']')", "'[3712]'"),
    ("join(', ', ${kids_age})", "'3, 7, 12'"),
    ("join('-', 'a', 'b', ${kids_age})", "'a-b-3-7-12'"),
    ("join(', ', ${kids_name})", "'Lan, Minh, '"),
    ("join(', ')", "''"),
    ("indexed-repeat(${kids_name}, ${kids}, 2)", "'Minh'"),
    ("indexed-repeat(${kids_name}, ${kids}, 1 + 1)", "'Minh'"),
    ("indexed-repeat(${kids_name}, ${kids}, 5)", "''"),
    // A blank index reads as blank (JavaRosa would substitute instance 1).
    ("indexed-repeat(${kids_name}, ${kids}, ${blank})", "''"),
    ("indexed-repeat(${kids_age}, ${kids}, 3) * 2", "24"),
    ("indexed-repeat(${nope}, ${kids}, 1)", "eval UnknownField"),
    // Outside a repeat the context node is the only one of its name: position 1.
    ("position(..)", "1"),
    // ---- strings ----
    ("concat('a', 1, true(), ${blank}, 2.50)", "'a1true2.5'"),
    ("concat()", "''"),
    ("concat(${dob}, ' ', ${wake})", "'2022-03-15 06:30:00.000+07:00'"),
    ("'it''s'", "parse Syntax @5"),
    ("\"it's\"", "'it's'"),
    ("string-length('Nguyễn')", "6"),
    ("string-length(${name})", "13"),
    ("string-length(${blank})", "0"),
    ("string-length(12.5)", "4"),
    ("substr('hello', 1, 3)", "'el'"),
    ("substr('hello', 2)", "'llo'"),
    // Negative indexes count from the end, as in JavaRosa.
    ("substr('hello', -3)", "'llo'"),
    ("substr('hello', 1, 100)", "'ello'"),
    ("substr('hello', 4, 2)", "''"),
    ("substr('hello', 1.9, 3.9)", "'el'"),
    ("substr('hello', ${blank})", "'hello'"),
    ("substr(${name}, 0, 6)", "'Nguyễn'"),
    ("substr(${name}, 7, 10)", "'Văn'"),
    ("substring-before('a-b-c', '-')", "'a'"),
    ("substring-after('a-b-c', '-')", "'b-c'"),
    ("substring-after('abc', 'x')", "''"),
    ("contains(${name}, 'Văn')", "true"),
    ("contains('abc', '')", "true"),
    ("starts-with('abc', 'ab')", "true"),
    ("ends-with('abc', 'bc')", "true"),
    ("ends-with('abc', 'b')", "false"),
    ("normalize-space('  a \t b  ')", "'a b'"),
    // Characters of `from` without a counterpart in `to` are removed (XPath translate()).
    ("translate('abcabc', 'abc', 'AB')", "'ABAB'"),
    ("translate('hello', 'el', 'ip')", "'hippo'"),
    ("string(1 div 3 * 3)", "'1'"),
    ("string(0.5)", "'0.5'"),
    ("string(-0)", "'0'"),
    ("string(1 div 0)", "'Infinity'"),
    ("string(0 div 0)", "'NaN'"),
    ("string(true())", "'true'"),
    ("string(${dob})", "'2022-03-15'"),
    ("string(${visit})", "'2026-11-29T09:30:00.000+07:00'"),
    // Times are written as ODK stores them, with the session's offset.
    ("string(${wake})", "'06:30:00.000+07:00'"),
    ("string(123456789012)", "'123456789012'"),
    ("string(0.000001)", "'0.000001'"),
    ("coalesce(${blank}, 'x')", "'x'"),
    ("coalesce(${age}, 'x')", "4"),
    ("coalesce(${blank}, ${blank})", "''"),
    ("coalesce(0 div 0, 5)", "5"),
    ("coalesce(${no_kids}, 'none')", "'none'"),
    ("coalesce(${kids_age}, 1)", "3"),
    ("coalesce('a', ${missing})", "'a'"),
    ("if(${age} < 5, 'young', 'old')", "'young'"),
    ("if(${blank}, 1, 2)", "2"),
    ("if(true(), 1, ${missing})", "1"),
    ("if(selected(${pets}, 'dog') and ${age} < 5, 'yes', 'no')", "'yes'"),
    // ---- regex: the whole string must match (ODK: "exact and complete match") ----
    ("regex('abc', '[a-c]+')", "true"),
    ("regex('abcd', '[a-c]+')", "false"),
    ("regex('0912345678', '^0[0-9]{9}$')", "true"),
    ("regex('', '.*')", "true"),
    ("regex('ab', 'a|ab')", "true"),
    (r"regex('ắ', '\w')", "true"),
    ("regex('a', concat('[', 'a-z', ']'))", "true"),
    ("regex('a', concat('[', 'a-z'))", "eval BadArgument"),
    ("regex(${name}, '[^0-9]+')", "true"),
    // ---- selects ----
    ("selected(${pets}, 'dog')", "true"),
    ("selected(${pets}, 'do')", "false"),
    ("selected(${pets}, ' fish ')", "true"),
    ("selected(${pets}, '')", "false"),
    ("selected(${blank}, 'a')", "false"),
    ("selected('a  b', 'b')", "true"),
    ("count-selected(${pets})", "3"),
    ("count-selected('')", "0"),
    ("count-selected('  a  ')", "1"),
    ("selected-at(${pets}, 0)", "'cat'"),
    ("selected-at(${pets}, 2)", "'fish'"),
    // Out of range is the empty string (ODK docs).
    ("selected-at(${pets}, 3)", "''"),
    ("selected-at(${pets}, -1)", "''"),
    ("selected-at(${pets}, ${blank})", "''"),
    ("selected-at(${pets}, 1.7)", "'dog'"),
    ("jr:choice-name('dog', '${pets}')", "'Chó'"),
    ("jr:choice-name(selected-at(${pets}, 0), '${pets}')", "'Mèo'"),
    ("jr:choice-name('bird', '${pets}')", "''"),
    ("jr:choice-name('', '${pets}')", "''"),
    ("jr:choice-name('cat', 'pets')", "'Mèo'"),
    ("jr:choice-name('cat', '/data/pets')", "'Mèo'"),
    // ---- numbers ----
    ("int(3.7)", "3"),
    ("int(-3.7)", "-3"),
    ("int('')", "NaN"),
    ("int('12abc')", "NaN"),
    ("int(${age_str})", "4"),
    ("number('  42 ')", "42"),
    ("number(true())", "1"),
    ("number('abc')", "NaN"),
    ("number(${dob})", "19066"),
    ("number('2022-03-15')", "19066"),
    ("round(2.5)", "3"),
    // Half away from zero (JavaRosa rounds -2.5 to -2, XPath's half-up).
    ("round(-2.5)", "-3"),
    ("round(2.4)", "2"),
    // Decimal rounding of the written number, as JavaRosa's BigDecimal: not 2.67.
    ("round(2.675, 2)", "2.68"),
    ("round(1.005, 2)", "1.01"),
    ("round(1234.5678, -2)", "1200"),
    ("round(${blank})", "NaN"),
    ("round(1, 31)", "NaN"),
    ("pow(2, 10)", "1024"),
    ("pow(2, -1)", "0.5"),
    ("pow(4, 0.5)", "2"),
    // NaN propagates even where IEEE says pow(x, 0) = 1.
    ("pow(${blank}, 0)", "NaN"),
    ("pow(1, ${blank})", "NaN"),
    ("floor(-1.5)", "-2"),
    ("ceiling(1.2)", "2"),
    ("abs(-3)", "3"),
    ("sqrt(16)", "4"),
    ("sqrt(-1)", "NaN"),
    ("log10(1000)", "3"),
    ("exp10(2)", "100"),
    ("log(1)", "0"),
    ("exp(0)", "1"),
    ("pi() > 3.14159 and pi() < 3.1416", "true"),
    // ---- dates and times ----
    ("today()", "date 2026-11-29"),
    ("now()", "datetime 2026-11-29T11:00:00.000+07:00"),
    ("string(now())", "'2026-11-29T11:00:00.000+07:00'"),
    ("date('2024-02-29')", "date 2024-02-29"),
    ("date('2023-02-29')", "eval BadArgument"),
    ("date('not a date')", "eval BadArgument"),
    // JavaRosa passes blank (and NaN) through date() rather than failing.
    ("date('')", "''"),
    ("date(${blank} + 1)", "''"),
    ("date(0)", "date 1970-01-01"),
    ("date(19000)", "date 2022-01-08"),
    ("date(-1)", "date 1969-12-31"),
    ("date(-0.5)", "date 1969-12-31"),
    ("date(today() + 1)", "date 2026-11-30"),
    ("date(${dob} + 30)", "date 2022-04-14"),
    ("date(${visit})", "date 2026-11-29"),
    ("date('2026-11-29T23:30:00Z')", "date 2026-11-29"),
    ("date(1 div 0)", "eval BadArgument"),
    ("date(true())", "eval BadArgument"),
    ("today() - ${dob}", "1720"),
    ("int((today() - ${dob}) div 365.25)", "4"),
    ("${dob} + 1", "19067"),
    ("date-time('2026-11-29T09:30:00+07:00')", "datetime 2026-11-29T09:30:00.000+07:00"),
    ("date-time('2026-11-29')", "datetime 2026-11-29T00:00:00.000+07:00"),
    ("date-time(0)", "datetime 1970-01-01T07:00:00.000+07:00"),
    ("date-time(0.5)", "datetime 1970-01-01T19:00:00.000+07:00"),
    ("date-time(${dob})", "datetime 2022-03-15T00:00:00.000+07:00"),
    ("date-time('x')", "eval BadArgument"),
    ("decimal-date-time('1970-01-02T12:00:00Z')", "1.5"),
    // The example in the ODK docs: days since the epoch in UTC.
    ("decimal-date-time('2018-04-24T15:30:00.000-07:00')", "17645.9375"),
    ("decimal-date-time(${dob})", "19066"),
    ("decimal-date-time(now())", "20786.166666666668"),
    ("decimal-date-time('')", "''"),
    ("decimal-date-time(date-time(1.25))", "1.25"),
    ("decimal-time('12:00:00.000+07:00')", "0.5"),
    ("decimal-time('18:00')", "0.75"),
    // 06:00 at -07:00 is 20:00 in the session's +07:00.
    ("decimal-time('06:00:00.000-07:00')", "0.8333333333333334"),
    ("decimal-time(${wake})", "0.2708333333333333"),
    ("decimal-time(now())", "0.4583333333333333"),
    ("decimal-time(2.25)", "0.25"),
    ("decimal-time('')", "''"),
    ("format-date(${dob}, '%d/%m/%Y')", "'15/03/2022'"),
    ("format-date(${dob}, '%e %b %y, %a')", "'15 Mar 22, Tue'"),
    ("format-date('2026-11-29', '%Y-%n-%e')", "'2026-11-29'"),
    ("format-date(${blank}, '%Y')", "''"),
    ("format-date(today(), '%b %e')", "'Nov 29'"),
    ("format-date(date('2026-01-05'), '%a %b')", "'Mon Jan'"),
    ("format-date(0, '%Y-%m-%d')", "'1970-01-01'"),
    ("format-date(${dob}, '100%% %q')", "'100% %q'"),
    ("format-date('garbage', '%Y')", "eval BadArgument"),
    ("format-date-time(now(), '%H:%M:%S.%3')", "'11:00:00.000'"),
    ("format-date-time(${visit}, '%h:%M %a')", "'9:30 Sun'"),
    ("format-date-time(${wake}, '%H:%M')", "'06:30'"),
    // ---- randomness (seeded) ----
    ("string-length(uuid())", "36"),
    (
        "regex(uuid(), '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}')",
        "true",
    ),
    ("string-length(uuid(10))", "10"),
    ("regex(uuid(16), '[0-9A-Za-z]{16}')", "true"),
    ("uuid(0)", "''"),
    ("uuid(5000)", "eval BadArgument"),
    ("uuid(-1)", "eval BadArgument"),
    ("uuid(${blank})", "eval BadArgument"),
    ("random() >= 0 and random() < 1", "true"),
    // `once` with a blank current value evaluates its argument.
    ("once(3)", "3"),
    // ---- parse errors, with 1-based character columns ----
    ("", "parse Empty @1"),
    ("   ", "parse Empty @1"),
    ("1 +", "parse Syntax @4"),
    ("(1 + 2", "parse Syntax @7"),
    ("1 + 2)", "parse Syntax @6"),
    ("1 + * 2", "parse Syntax @5"),
    ("1 2", "parse Syntax @3"),
    ("=", "parse Syntax @1"),
    ("${age} == 1", "parse Syntax @9"),
    ("- ", "parse Syntax @3"),
    ("foo(1)", "parse UnknownFunction @1"),
    ("concat('a', bar())", "parse UnknownFunction @13"),
    ("'ắắ' = foo()", "parse UnknownFunction @8"),
    ("choice-name('a', 'b')", "parse UnknownFunction @1"),
    ("if(1, 2)", "parse Arity @1"),
    ("today(1)", "parse Arity @1"),
    ("substr('a')", "parse Arity @1"),
    ("round(1, 2, 3)", "parse Arity @1"),
    ("max()", "parse Arity @1"),
    ("1 + jr:choice-name('a')", "parse Arity @5"),
    ("indexed-repeat(${a}, ${r})", "parse Arity @1"),
    ("indexed-repeat(${a}, ${r}, 1, ${s})", "parse Syntax @31"),
    ("indexed-repeat('a', ${r}, 1)", "parse Syntax @16"),
    ("indexed-repeat(${a}, 2, 1)", "parse Syntax @22"),
    ("regex(., '[a-')", "parse BadRegex @10"),
    // Look-behind is not supported by the regex engine: refused when the form is loaded.
    ("regex(., '(?<=a)b')", "parse BadRegex @10"),
    ("'unterminated", "parse Syntax @1"),
    ("${age", "parse Syntax @1"),
    ("$age", "parse Syntax @1"),
    ("${1abc}", "parse Syntax @1"),
    ("${}", "parse Syntax @1"),
    // A bare name is a choice column (see `choice_filter_columns`); outside a choice filter it
    // selects nothing, and the form's definition check refuses it.
    ("age > 3", "false"),
    ("age", "[]"),
    ("true", "parse Syntax @1"),
    ("${age} > 3 AND ${age} < 5", "parse Syntax @12"),
    ("${age} # 1", "parse Syntax @8"),
    ("concat(1, )", "parse Syntax @11"),
    ("concat(1,,2)", "parse Syntax @10"),
    ("concat(1 2)", "parse Syntax @10"),
];

#[test]
fn table() {
    let env = env();
    let mut failures = Vec::new();
    for &(src, want) in CASES {
        let got = run(src, &env);
        if got != want {
            failures.push(format!("{src:?}: want {want}, got {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    assert!(CASES.len() >= 170, "only {} cases", CASES.len());
}

/// Cases that read `.`: (current value as JSON, source, expected).
const CURRENT_CASES: &[(&str, &str, &str)] = &[
    (r#""hello""#, ".", "'hello'"),
    (r#""hello""#, "string-length()", "5"),
    (r#""hello""#, "string-length(.)", "5"),
    (r#""  hello   world ""#, "normalize-space()", "'hello world'"),
    (r#""hello""#, "regex(., '[a-z]+')", "true"),
    (r#""hello""#, ". = 'hello'", "true"),
    (r#""hello""#, "string()", "'hello'"),
    (r#""hello""#, "number()", "NaN"),
    (r#""a b""#, "count-selected(.)", "2"),
    // once(): a value that is already there is kept.
    (r#""hello""#, "once('z')", "'hello'"),
    (r#""hello""#, "once(uuid())", "'hello'"),
    (r#""""#, "once('z')", "'z'"),
    ("17", ". >= 18", "false"),
    ("17", "number()", "17"),
    ("17", ". + 1", "18"),
    ("null", ". = ''", "true"),
];

#[test]
fn current_value_cases() {
    let mut failures = Vec::new();
    for &(current, src, want) in CURRENT_CASES {
        let current: serde_json::Value = serde_json::from_str(current).unwrap();
        let env = env().with_current(Value::from_json(&current));
        let got = run(src, &env);
        if got != want {
            failures.push(format!("{src:?} with . = {current}: want {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn position_and_offsets() {
    let in_repeat = env().with_position(3);
    assert_eq!(run("position(..)", &in_repeat), "3");
    assert_eq!(run("position()", &in_repeat), "3");
    assert_eq!(run("position(..) - 1", &in_repeat), "2");

    // At 04:00 UTC it is still the 28th at -07:00, and already the 29th at +07:00.
    let west = env().with_offset_minutes(-420);
    assert_eq!(run("today()", &west), "date 2026-11-28");
    assert_eq!(run("now()", &west), "datetime 2026-11-28T21:00:00.000-07:00");
    assert_eq!(run("format-date-time(now(), '%a %H:%M')", &west), "'Sat 21:00'");
    let utc = env().with_offset_minutes(0);
    assert_eq!(run("string(now())", &utc), "'2026-11-29T04:00:00.000Z'");
    // Local midnight: the date changes exactly then.
    let just_before = env().with_now_ms(NOW_MS + 13 * 3_600_000 - 1);
    assert_eq!(run("today()", &just_before), "date 2026-11-29");
    let midnight = env().with_now_ms(NOW_MS + 13 * 3_600_000);
    assert_eq!(run("today()", &midnight), "date 2026-11-30");
}

#[test]
fn every_parsed_case_prints_and_reparses_to_the_same_shape() {
    let mut checked = 0;
    for &(src, _) in CASES {
        let Ok(e) = parse(src) else { continue };
        let printed = e.to_string();
        let again =
            parse(&printed).unwrap_or_else(|err| panic!("{src:?} printed as {printed:?}: {err}"));
        assert!(e.same_shape(&again), "{src:?} printed as {printed:?} reparses differently");
        assert_eq!(again.to_string(), printed, "printing is not stable for {src:?}");
        checked += 1;
    }
    assert!(checked > 150);
}

#[test]
fn canonical_printing() {
    let cases = [
        (
            "if(selected(${x},'a')and ${age}<5,'yes','no')",
            "if(selected(${x}, 'a') and ${age} < 5, 'yes', 'no')",
        ),
        ("(1+2)*3", "(1 + 2) * 3"),
        ("1-(2-3)", "1 - (2 - 3)"),
        ("(1-2)-3", "1 - 2 - 3"),
        ("-(1+2)", "-(1 + 2)"),
        ("((${a}))", "${a}"),
        ("\"it's\"", "\"it's\""),
        ("position(..)", "position(..)"),
        ("3 div-1", "3 div -1"),
        ("1 or 2 and 3", "1 or 2 and 3"),
        ("(1 or 2) and 3", "(1 or 2) and 3"),
        ("jr:choice-name(., '${x}')", "jr:choice-name(., '${x}')"),
    ];
    for (src, want) in cases {
        assert_eq!(parse(src).unwrap().to_string(), want, "{src}");
    }
}

#[test]
fn references_and_current() {
    let e =
        parse("if(${a} > 1, jr:choice-name(${b}, '${c}'), indexed-repeat(${d}, ${r}, .))").unwrap();
    assert_eq!(e.references(), vec![("a", 4), ("b", 29), ("c", 36), ("d", 59), ("r", 65)]);
    assert!(e.uses_current());
    assert!(!parse("${a} + 1").unwrap().uses_current());
    assert!(parse("string-length() > 3").unwrap().uses_current());
    assert!(!parse("string-length(${a}) > 3").unwrap().uses_current());
    assert!(parse("once(uuid())").unwrap().uses_current());
    assert!(parse("1 + uuid()").unwrap().is_volatile());
    assert!(!parse("${a}").unwrap().is_volatile());
    assert!(parse("concat(${a}, today())").unwrap().is_volatile());
    // A choice-name field not written as '${name}' is not a reference.
    assert_eq!(parse("jr:choice-name('x', 'y')").unwrap().references(), vec![]);
}

#[test]
fn choice_filter_columns() {
    // In a choice filter, bare names are the candidate choice's columns (docs/forms.md).
    let e = parse("commune = ${commune} and name != 'other'").unwrap();
    assert_eq!(e.columns(), vec![("commune", 1), ("name", 26)]);
    assert_eq!(e.references(), vec![("commune", 11)]);
    assert_eq!(e.to_string(), "commune = ${commune} and name != 'other'");
    let env = |commune: &str, name: &str| {
        MapEnv::new(BTreeMap::from([("commune".to_owned(), Value::from("05569"))]))
            .with_column("commune", Value::from(commune))
            .with_column("name", Value::from(name))
    };
    assert_eq!(run("commune = ${commune} and name != 'other'", &env("05569", "ban_pieng")), "true");
    assert_eq!(run("commune = ${commune} and name != 'other'", &env("05662", "na_lay")), "false");
    assert_eq!(run("commune = ${commune} and name != 'other'", &env("05569", "other")), "false");
    // Operator words are names where an operand is expected.
    assert_eq!(parse("div = mod").unwrap().columns(), vec![("div", 1), ("mod", 7)]);
    assert_eq!(run("-commune or name", &env("5", "x")), "true");
    // Without columns (any other context) a bare name is an empty node-set.
    let plain = MapEnv::default();
    assert_eq!(run("commune = ''", &plain), "false");
    assert_eq!(run("commune != ''", &plain), "false");
    assert_eq!(run("count(commune)", &plain), "0");
}

#[test]
fn literal_regex_is_compiled_at_parse_time() {
    let e = parse("regex(., '[0-9]+')").unwrap();
    let ExprKind::Call(_, args) = &e.kind else { panic!("not a call") };
    assert!(matches!(args[1].kind, ExprKind::Regex(_)));
    assert_eq!(args[1].literal_text(), Some("[0-9]+"));
    let err = parse("regex(., '(a')").unwrap_err();
    assert_eq!(err.col, 10);
    match err.kind {
        ExprErrorKind::BadRegex { pattern, message } => {
            assert_eq!(pattern, "(a");
            assert!(!message.contains('\n'), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_messages() {
    let msg = |src: &str| parse(src).unwrap_err().to_string();
    assert_eq!(msg("1 + foo(2)"), "column 5: unknown function foo()");
    assert_eq!(msg("if(1)"), "column 1: if() takes 3 arguments, got 1");
    assert_eq!(msg("today(1)"), "column 1: today() takes no arguments, got 1");
    assert_eq!(msg("round()"), "column 1: round() takes 1 to 2 arguments, got 0");
    assert_eq!(msg("max()"), "column 1: max() takes at least 1 argument, got 0");
    assert_eq!(msg(""), "column 1: empty expression");
    assert_eq!(msg("1 +"), "column 4: unexpected end of expression");
    assert_eq!(msg("${a} AND 1"), "column 6: unknown operator 'AND' (operators are lower case)");
    assert_eq!(msg("true and 1"), "column 1: 'true' needs parentheses: true()");
    let e = eval(&parse("date('x')").unwrap(), &env()).unwrap_err();
    assert_eq!(e.to_string(), "date() at column 1: argument is not a date");
    let e = eval(&parse("1 + ${nope}").unwrap(), &env()).unwrap_err();
    assert_eq!(e.to_string(), "unknown field ${nope}");
}

#[test]
fn nesting_is_bounded() {
    let e = env();
    // At the limits, evaluation and printing work (also in debug builds with small stacks).
    let calls = format!("{}1{}", "abs(".repeat(63), ")".repeat(63));
    assert_eq!(run(&calls, &e), "1");
    let parens = format!("{}1{}", "(".repeat(64), ")".repeat(64));
    assert_eq!(run(&parens, &e), "1");
    let chain = vec!["1"; 256].join(" + ");
    assert_eq!(run(&chain, &e), "256");
    let minus = format!("{}1", "-".repeat(255));
    assert_eq!(run(&minus, &e), "-1");
    let ifs = format!("{}1{}", "if(true(), ".repeat(63), ", 0)".repeat(63));
    assert_eq!(run(&ifs, &e), "1");
    // Beyond them, a syntax error rather than a stack overflow; the longest inputs are refused
    // by the token limit (MAX_EXPR_TOKENS) before they are parsed at all.
    for src in [
        format!("{}1{}", "abs(".repeat(65), ")".repeat(65)),
        format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
        vec!["1"; 257].join(" + "),
        format!("{}1", "-".repeat(100_000)),
    ] {
        let out = run(&src, &e);
        assert!(
            out.starts_with("parse Syntax") || out.starts_with("parse TooManyTokens"),
            "{}: {out}",
            &src[..20]
        );
    }
}

#[test]
fn randomness_is_seeded() {
    let u = |seed| eval(&parse("uuid()").unwrap(), &env().with_seed(seed)).unwrap();
    assert_eq!(u(7), u(7));
    assert_ne!(u(7), u(8));
    let e = env();
    let expr = parse("uuid()").unwrap();
    assert_ne!(eval(&expr, &e).unwrap(), eval(&expr, &e).unwrap(), "the stream advances");
}

#[test]
fn map_env_from_json_and_values() {
    let env = MapEnv::from_json(&serde_json::json!({
        "age": 3, "pets": "cat dog", "kids": [2, 4], "ok": true, "none": null
    }))
    .unwrap();
    assert_eq!(run("${age} + sum(${kids})", &env), "9");
    assert_eq!(run("selected(${pets}, 'dog') and ${ok}", &env), "true");
    assert_eq!(run("${none} = ''", &env), "true");
    assert_eq!(run("indexed-repeat(${kids}, ${r}, 2)", &env), "4");
    assert_eq!(run("indexed-repeat(${age}, ${r}, 1)", &env), "3");
    assert_eq!(run("indexed-repeat(${age}, ${r}, 2)", &env), "''");
    assert_eq!(
        MapEnv::from_json(&serde_json::json!([1])).unwrap_err().to_string(),
        "variables must be a JSON object of field names to values"
    );

    assert!(Value::empty().is_empty());
    assert!(Value::Num(f64::NAN).is_empty());
    assert!(Value::Nodes(vec![]).is_empty());
    assert!(!Value::Num(0.0).is_empty());
    assert!(!Value::Num(0.0).to_bool());
    assert!(Value::Str("false".into()).to_bool());
    assert_eq!(Value::Nodes(vec![Value::Num(2.0)]).to_num(), 2.0);
    assert_eq!(Value::Nodes(vec![]).to_xpath_string(), "");
    assert_eq!(
        Value::DateTime { ms: NOW_MS, offset_min: OFFSET }.to_json(),
        serde_json::json!("2026-11-29T11:00:00.000+07:00")
    );
    assert_eq!(Value::Num(3.0).to_json(), serde_json::json!(3));
    assert_eq!(Value::Num(2.5).to_json(), serde_json::json!(2.5));
    assert_eq!(Value::Num(f64::INFINITY).to_json(), serde_json::json!("Infinity"));
}
