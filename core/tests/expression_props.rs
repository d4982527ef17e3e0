//! Property tests for the expression language: printing and re-parsing random trees gives the
//! same tree, and neither parsing nor evaluating anything panics.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use safehome_core::form::expr::{
    BinOp, Expr, ExprKind, Func, MapEnv, Value, civil_from_days, days_from_civil, eval,
    format_iso_date, parse, parse_date, parse_datetime,
};

const OPS: [BinOp; 13] = [
    BinOp::Or,
    BinOp::And,
    BinOp::Eq,
    BinOp::Ne,
    BinOp::Lt,
    BinOp::Le,
    BinOp::Gt,
    BinOp::Ge,
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Mod,
];

/// Names of the variables in [`env`], plus one that is not there.
const NAMES: [&str; 9] = ["n", "s", "blank", "d", "dt", "t", "nodes", "names", "missing"];

fn leaf(e: ExprKind) -> Expr {
    Expr::new(e, 0)
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..1000).prop_map(f64::from),
        (0u32..100_000).prop_map(|n| f64::from(n) / 64.0),
        any::<f64>().prop_filter("unsigned and not NaN", |n| *n >= 0.0 && !n.is_nan()),
        Just(f64::INFINITY),
    ]
}

/// Literals never hold both quote characters (XPath 1.0 cannot write that).
fn string_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ắđ0-9${}()'.,_-]{0,8}|[a-z \"]{0,5}",
        prop::sample::select(DATE_LIKE.to_vec()).prop_map(str::to_owned),
    ]
}

/// Any i32, with the extremes and realistic offsets (minutes) drawn often.
fn wild_i32() -> impl Strategy<Value = i32> {
    prop_oneof![any::<i32>(), Just(i32::MAX), Just(i32::MIN), -1440i32..1440]
}

/// Any i64, with the extremes and the years around now (milliseconds) drawn often.
fn wild_i64() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN), -1i64 << 45..1i64 << 45]
}

/// Calls and comparisons of the date functions; `X` is replaced by an argument.
const DATE_TEMPLATES: [&str; 14] = [
    "date(X)",
    "date-time(X)",
    "decimal-date-time(X)",
    "decimal-time(X)",
    "format-date(X, '%Y-%m-%d %a %b')",
    "format-date-time(X, '%H:%M:%S.%3 %h %e %n %y')",
    "string(X)",
    "X = ${t}",
    "X < ${t}",
    "X = ${dt}",
    "X >= ${d}",
    "today() - X",
    "now() - X",
    "concat(X, ${t}, ${dt}, now(), today())",
];

/// Date, date-time and time strings, valid and not, for the date functions and comparisons.
const DATE_LIKE: [&str; 10] = [
    "2026-11-29",
    "2023-02-29",
    "2026-11-29T09:30:00+07:00",
    "2026-11-29T23:59:59.999Z",
    "06:00:00.000-07:00",
    "23:59Z",
    "12:00",
    "%Y-%m-%d %H:%M:%S.%3 %a %b %e %n %y %h",
    "9999-12-31T23:59:59-23:59",
    "0000-01-01T00:00:00+23:59",
];

fn ref_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(NAMES.to_vec()).prop_map(str::to_owned),
        "[a-zA-Zđ_][a-zA-Z0-9đ_.-]{0,6}",
    ]
}

fn leaf_expr() -> impl Strategy<Value = Expr> {
    prop_oneof![
        number().prop_map(|n| leaf(ExprKind::Number(n))),
        string_literal().prop_map(|s| leaf(ExprKind::String(s))),
        ref_name().prop_map(|n| leaf(ExprKind::Ref(n))),
        Just(leaf(ExprKind::Current)),
        Just(leaf(ExprKind::Parent)),
        "[a-z_][a-z0-9_]{0,6}"
            .prop_filter("not true/false", |n| n != "true" && n != "false")
            .prop_map(|n| leaf(ExprKind::Column(n))),
    ]
}

fn ref_expr() -> impl Strategy<Value = Expr> {
    ref_name().prop_map(|n| leaf(ExprKind::Ref(n)))
}

/// A call of `f` with a valid argument list drawn from `inner`.
fn call(f: Func, inner: BoxedStrategy<Expr>) -> BoxedStrategy<Expr> {
    match f {
        Func::IndexedRepeat => prop_oneof![
            (ref_expr(), ref_expr(), inner.clone()).prop_map(|(a, b, c)| vec![a, b, c]),
            (ref_expr(), ref_expr(), inner.clone(), ref_expr(), inner)
                .prop_map(|(a, b, c, d, e)| vec![a, b, c, d, e]),
        ]
        .prop_map(move |args| leaf(ExprKind::Call(f, args)))
        .boxed(),
        // A literal pattern must be a valid regex; computed ones may be anything.
        Func::Regex => (
            inner.clone(),
            prop_oneof![
                prop::sample::select(vec!["[a-z]+", "^0[0-9]{9}$", "a|ab", ".*", ""])
                    .prop_map(|p| leaf(ExprKind::String(p.to_owned()))),
                inner,
            ],
        )
            .prop_map(move |(a, b)| leaf(ExprKind::Call(f, vec![a, b])))
            .boxed(),
        _ => {
            let (min, max) = f.arity();
            let max = max.unwrap_or(min + 3).min(min + 3);
            prop::collection::vec(inner, min..=max)
                .prop_map(move |args| leaf(ExprKind::Call(f, args)))
                .boxed()
        }
    }
}

/// Random trees of bounded depth, with the shapes the parser can produce.
fn expr() -> impl Strategy<Value = Expr> {
    leaf_expr().prop_recursive(6, 48, 4, |inner| {
        let inner = inner.boxed();
        prop_oneof![
            inner.clone().prop_map(|e| leaf(ExprKind::Neg(Box::new(e)))),
            (prop::sample::select(OPS.to_vec()), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| leaf(ExprKind::Binary(op, Box::new(a), Box::new(b)))),
            prop::sample::select(Func::all().collect::<Vec<_>>())
                .prop_flat_map(move |f| call(f, inner.clone())),
        ]
    })
}

/// Strings that look like expressions, to reach deep into the parser.
fn expression_like() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "${a}",
        "${n}",
        "${nodes}",
        ".",
        "..",
        "(",
        ")",
        ",",
        "+",
        "-",
        "*",
        " div ",
        " mod ",
        " and ",
        " or ",
        "=",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "1",
        "2.5",
        ".5",
        "'x'",
        "\"y\"",
        "'",
        "if(",
        "concat(",
        "regex(",
        "substr(",
        "date(",
        "format-date(",
        "indexed-repeat(",
        "jr:choice-name(",
        "uuid(",
        "selected(",
        "now()",
        "today()",
        "true()",
        "$",
        "{",
        "}",
        " ",
        "ắ",
        "foo(",
        "'[a-'",
        "'2026-02-30'",
        "max(",
        "sum(",
        "round(",
        "pow(",
        "'06:00:00-07:00'",
        "'2026-11-29T09:30:00Z'",
        "${t}",
        "${dt}",
        "${d}",
        "decimal-time(",
        "date-time(",
        "decimal-date-time(",
        "format-date-time(",
        "'%H:%M %a'",
    ]);
    prop::collection::vec(tokens, 0..40).prop_map(|t| t.concat())
}

fn env(seed: u64) -> MapEnv {
    env_at(seed, 1_795_924_800_000, 420, 1_795_919_400_000)
}

/// [`env`] with any clock, offset and date-time answer, to catch arithmetic overflow.
fn env_at(seed: u64, now_ms: i64, offset_min: i32, dt_ms: i64) -> MapEnv {
    let vars: BTreeMap<String, Value> = BTreeMap::from([
        ("n".to_owned(), Value::Num(4.0)),
        ("s".to_owned(), Value::Str("cat dog".to_owned())),
        ("blank".to_owned(), Value::empty()),
        ("d".to_owned(), Value::Date(19_066)),
        ("dt".to_owned(), Value::DateTime { ms: dt_ms, offset_min }),
        ("t".to_owned(), Value::Time(23_400_000)),
        (
            "nodes".to_owned(),
            Value::Nodes(vec![Value::Num(3.0), Value::empty(), Value::Num(f64::INFINITY)]),
        ),
        (
            "names".to_owned(),
            Value::Nodes(vec![Value::Str("Lan".to_owned()), Value::Nodes(vec![])]),
        ),
    ]);
    MapEnv::new(vars)
        .with_now_ms(now_ms)
        .with_offset_minutes(offset_min)
        .with_seed(seed)
        .with_current(Value::Str("x".to_owned()))
        .with_position(2)
        .with_choice_label("s", "cat", "Mèo")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn printed_trees_reparse_to_the_same_shape(e in expr()) {
        let printed = e.to_string();
        let again = parse(&printed);
        prop_assert!(again.is_ok(), "{printed:?}: {:?}", again);
        let again = again.unwrap_or_else(|_| e.clone());
        prop_assert!(e.same_shape(&again), "{printed:?} reparsed as {again:?}");
        prop_assert_eq!(again.to_string(), printed);
    }

    #[test]
    fn parsing_any_string_never_panics(src in any::<String>()) {
        let _ = parse(&src);
    }

    #[test]
    fn parsing_expression_like_strings_never_panics(src in expression_like()) {
        if let Ok(e) = parse(&src) {
            // Whatever parses also prints and reparses to the same shape.
            let again = parse(&e.to_string());
            prop_assert!(again.as_ref().is_ok_and(|a| a.same_shape(&e)), "{src:?} -> {}", e);
        }
    }

    #[test]
    fn evaluating_random_trees_never_panics(e in expr(), seed in any::<u64>()) {
        let _ = eval(&e, &env(seed));
    }

    #[test]
    fn evaluating_with_any_clock_never_panics(
        e in expr(),
        seed in any::<u64>(),
        now in wild_i64(),
        offset in wild_i32(),
        dt in wild_i64(),
    ) {
        let _ = eval(&e, &env_at(seed, now, offset, dt));
    }

    #[test]
    fn date_functions_with_any_clock_never_panic(
        template in prop::sample::select(DATE_TEMPLATES.to_vec()),
        arg in prop_oneof![
            prop::sample::select(DATE_LIKE.to_vec()).prop_map(|s| format!("'{s}'")),
            prop::sample::select(vec!["${d}", "${dt}", "${t}", "${n}", "${nodes}", "1e0", "-1"])
                .prop_map(str::to_owned),
            any::<f64>().prop_filter("finite", |n| n.is_finite()).prop_map(|n| {
                let text = Value::number_to_string(n.abs());
                if n < 0.0 { format!("-{text}") } else { text }
            }),
        ],
        now in wild_i64(),
        offset in wild_i32(),
        dt in wild_i64(),
    ) {
        let src = template.replace('X', &arg);
        if let Ok(e) = parse(&src) {
            let _ = eval(&e, &env_at(0, now, offset, dt));
        }
    }

    #[test]
    fn evaluating_parsed_strings_never_panics(src in expression_like(), seed in any::<u64>()) {
        if let Ok(e) = parse(&src) {
            let _ = eval(&e, &env(seed));
        }
    }

    #[test]
    fn numbers_print_and_read_back(n in any::<f64>().prop_filter("finite", |n| n.is_finite())) {
        let s = Value::number_to_string(n);
        prop_assert!(!s.contains('e') && !s.contains('E'), "{s}");
        prop_assert_eq!(Value::str_to_num(&s), if n == 0.0 { 0.0 } else { n });
    }

    #[test]
    fn dates_round_trip(days in -719_162i32..2_932_896) {
        // Years 0001 to 9999.
        let (y, m, d) = civil_from_days(days);
        prop_assert_eq!(days_from_civil(y, m, d), days);
        prop_assert_eq!(parse_date(&format_iso_date(days)), Some(days));
    }

    #[test]
    fn date_parsers_never_panic(s in "[0-9T:.+Z -]{0,30}", off in -1000i32..1000) {
        let _ = parse_date(&s);
        let _ = parse_datetime(&s, off);
    }
}
