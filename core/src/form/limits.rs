//! Resource limits of forms and sessions: what a form file can make a session hold or compute.
//!
//! A form is untrusted input (a file someone sends, an XLSForm converted on the phone), and a
//! few hundred bytes of form can describe an unbounded amount of work: nested repeats whose
//! counts multiply, calculations that double a string at every step. Each limit below is
//! checked twice:
//!
//! - by the definition check (`CheckedForm::from_json`, CLI `safehome form validate`), which
//!   refuses a form that would always exceed it, with the field path and the limit's name
//!   (`DefinitionErrorKind::Limit`);
//! - while the form is filled, where the session refuses the operation that would exceed it
//!   with a typed error (`SessionError::TooManyInstances`, `EvalError::StringTooLong`, ...)
//!   instead of allocating, so memory stays bounded whatever the answers.
//!
//! The values are documented in `docs/forms.md` ("Limits").

use super::check::{FieldId, FieldInfo};
use super::expr::{self, Expr, ExprKind, Func, MapEnv};
use super::model::FieldKind;

/// Most instances one repeat can have in one place (per instance of its enclosing repeats),
/// whatever `repeat_count`, `max_repeats` or the volunteer asks for.
pub const MAX_REPEAT_INSTANCES: usize = 500;

/// Most repeat instances one session holds in total, over every repeat and nesting level.
pub const MAX_TOTAL_INSTANCES: usize = 10_000;

/// Most field values one session holds: one per field of the form outside repeats, plus one per
/// field of a repeat for each of its instances. (A value is about 80 bytes plus its text, so this
/// bounds a session's slots to under 100 MB.)
pub const MAX_SESSION_VALUES: usize = 1_000_000;

/// Deepest nesting of repeats inside repeats (a repeat at top level is depth 1).
pub const MAX_REPEAT_NESTING: usize = 4;

/// Deepest nesting of groups and repeats (a field at top level is depth 1; a field inside one
/// group is depth 2).
pub const MAX_FIELD_DEPTH: usize = 16;

/// Most tokens in one expression (`concat(${a}, 'b')` is 6 tokens).
pub const MAX_EXPR_TOKENS: usize = 4_096;

/// Longest string, in bytes (UTF-8), that an expression may build (`concat`, `join`,
/// `translate`, `format-date`, ...). A longer result is refused before it is allocated.
pub const MAX_STRING_LEN: usize = 65_536;

/// Longest answer a volunteer may type or an app may pass for one field, in bytes (UTF-8):
/// 32 KiB is about 10,000 Vietnamese characters, far more than any note, and bounds what one
/// answer costs the session, the draft and the sealed submission.
pub const MAX_ANSWER_BYTES: usize = 32_768;

/// Most pieces (field values and literals, counted through the calculations and defaults they
/// read, every node of a repeated field counted) that one calculation or default can assemble
/// into a string. This catches, in the definition, calculations whose length grows
/// exponentially along a chain (`b = concat(a, a)`, `c = concat(b, b)`, ...), which would
/// otherwise only be refused at fill time.
pub const MAX_STRING_PIECES: u64 = 65_536;

/// The most instances a repeat can have in one place: a constant `repeat_count` (clamped to
/// [`MAX_REPEAT_INSTANCES`]), else `max_repeats` (clamped), else [`MAX_REPEAT_INSTANCES`].
pub(crate) fn max_instances(f: &FieldInfo) -> u64 {
    let cap = MAX_REPEAT_INSTANCES as u64;
    if let Some(e) = &f.repeat_count {
        return constant_count(e).map_or(cap, |n| n.min(cap));
    }
    f.def.max_repeats.map_or(cap, |m| u64::from(m).min(cap))
}

/// The fewest instances a repeat has in one place: a constant `repeat_count`, else
/// `min_repeats` (a form cannot be valid with fewer), else 0.
pub(crate) fn min_instances(f: &FieldInfo) -> u64 {
    match &f.repeat_count {
        Some(e) => constant_count(e).unwrap_or(0),
        None => f.def.min_repeats.map_or(0, u64::from),
    }
}

/// The value of a `repeat_count` that reads nothing (no field, no `.`, no clock or randomness),
/// as the session would truncate it; `None` when it depends on the filling.
pub(crate) fn constant_count(e: &Expr) -> Option<u64> {
    if !e.references().is_empty() || e.uses_current() || e.is_volatile() {
        return None;
    }
    let mut reads = false;
    e.visit(&mut |node| {
        reads |= matches!(node.kind, ExprKind::Column(_) | ExprKind::Parent)
            || matches!(node.kind, ExprKind::Call(Func::Position | Func::IndexedRepeat, _));
    });
    if reads {
        return None;
    }
    let n = expr::eval(e, &MapEnv::default()).ok()?.to_num();
    // As the session: a count that is not a positive finite number gives no instances.
    Some(if n.is_finite() && n > 0.0 { n.trunc().min(u64::MAX as f64) as u64 } else { 0 })
}

/// Static bound on the number of pieces a string built by an expression is assembled from
/// (see [`MAX_STRING_PIECES`]). `fan` gives, for each field, the pieces of its own value as far
/// as it is already known (1 for a plain answer); `context` is the field the expression belongs
/// to (its repeats decide whether a reference is one value or a node-set).
pub(crate) struct Pieces<'a> {
    pub fields: &'a [FieldInfo],
    pub by_name: &'a std::collections::HashMap<String, FieldId>,
    pub fan: &'a [u64],
    pub context: &'a FieldInfo,
}

impl Pieces<'_> {
    /// Pieces of `e`'s value; with `whole`, a node-set counts every node (as `concat` and
    /// `join` read it), otherwise only its first.
    pub(crate) fn of(&self, e: &Expr, whole: bool) -> u64 {
        match &e.kind {
            ExprKind::Ref(name) => match self.by_name.get(name) {
                Some(&g) => {
                    let own = self.fan.get(g).copied().unwrap_or(1);
                    if whole { own.saturating_mul(self.nodes(g)) } else { own }
                }
                None => 1,
            },
            ExprKind::Call(f, args) => self.call(*f, args, whole),
            _ => 1,
        }
    }

    /// How many values `${g}` gives in this context: 1 in the same instance, else the product
    /// of the most instances of each repeat between the context and `g` (capped by the session
    /// limit).
    fn nodes(&self, g: FieldId) -> u64 {
        let Some(ginfo) = self.fields.get(g) else { return 1 };
        let mut chain = ginfo.repeats.clone();
        if ginfo.kind() == FieldKind::Repeat {
            chain.push(g);
        }
        let common = chain.iter().zip(&self.context.repeats).take_while(|(a, b)| a == b).count();
        let mut n: u64 = 1;
        for &r in chain.get(common..).unwrap_or(&[]) {
            n = n.saturating_mul(self.fields.get(r).map_or(1, max_instances));
        }
        n.min(MAX_TOTAL_INSTANCES as u64)
    }

    fn call(&self, f: Func, args: &[Expr], whole: bool) -> u64 {
        let arg = |i: usize, whole: bool| args.get(i).map_or(1, |a| self.of(a, whole));
        match f {
            Func::Concat => args.iter().fold(0u64, |acc, a| acc.saturating_add(self.of(a, true))),
            Func::Join => {
                let rest = args.get(1..).unwrap_or(&[]);
                let items = rest.iter().fold(0u64, |acc, a| {
                    let n = match &a.kind {
                        ExprKind::Ref(name) => self.by_name.get(name).map_or(1, |&g| self.nodes(g)),
                        _ => 1,
                    };
                    acc.saturating_add(n)
                });
                let values = rest.iter().fold(0u64, |acc, a| acc.saturating_add(self.of(a, true)));
                values.saturating_add(items.saturating_sub(1).saturating_mul(arg(0, false)))
            }
            Func::If => arg(1, whole).max(arg(2, whole)),
            Func::Coalesce => arg(0, false).max(arg(1, false)),
            Func::Once
            | Func::String
            | Func::Substr
            | Func::SubstringBefore
            | Func::SubstringAfter
            | Func::Translate
            | Func::NormalizeSpace
            | Func::SelectedAt => {
                if args.is_empty() {
                    1
                } else {
                    arg(0, false)
                }
            }
            Func::FormatDate | Func::FormatDateTime => arg(1, false),
            Func::IndexedRepeat => arg(0, false),
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Arc;

    use serde_json::{Value as Json, json};

    use super::*;
    use crate::clock::{FixedClock, SeededEntropy};
    use crate::form::check::{CheckedForm, DefinitionError, DefinitionErrorKind, FormError};
    use crate::form::expr::{EvalError, ExprErrorKind};
    use crate::form::session::{Session, SessionError, ViolationCode};

    fn form(fields: Json) -> String {
        json!({"id": "t", "version": "1", "title": {"en": "t"}, "languages": ["en"], "fields": fields})
            .to_string()
    }

    fn checked(fields: Json) -> Arc<CheckedForm> {
        match CheckedForm::from_json(&form(fields)) {
            Ok(f) => Arc::new(f),
            Err(e) => panic!("form refused: {e}"),
        }
    }

    fn refused(fields: Json) -> Vec<DefinitionError> {
        match CheckedForm::from_json(&form(fields)) {
            Err(FormError::Definition(e)) => e,
            Err(other) => panic!("expected definition errors, got {other}"),
            Ok(_) => panic!("expected definition errors, the form was accepted"),
        }
    }

    /// The error for limit `name` at `path`, which must be there.
    fn limit_at<'e>(errs: &'e [DefinitionError], path: &str, name: &str) -> &'e DefinitionError {
        errs.iter()
            .find(|e| {
                e.path == path
                    && matches!(&e.kind, DefinitionErrorKind::Limit { name: n, .. } if *n == name)
            })
            .unwrap_or_else(|| panic!("no {name} error at {path}: {errs:?}"))
    }

    fn session(form: Arc<CheckedForm>) -> Session {
        Session::new(form, Arc::new(FixedClock::new(0, 0)), Arc::new(SeededEntropy::new(1)))
    }

    fn repeat(name: &str, extra: Json, children: Json) -> Json {
        let mut r = json!({"name": name, "type": "repeat", "children": children});
        if let (Json::Object(o), Json::Object(e)) = (&mut r, extra) {
            o.extend(e);
        }
        r
    }

    /// The probe's 350-byte form: three nested repeats of 500 would be 125 million instances.
    #[test]
    fn three_nested_repeats_of_500_are_refused_by_validation() {
        let count = json!({"repeat_count": "500"});
        let c = repeat("c", count.clone(), json!([{"name": "x", "type": "text"}]));
        let b = repeat("b", count.clone(), json!([c]));
        let errs = refused(json!([repeat("a", count, json!([b]))]));
        let e = limit_at(&errs, "a/b", "MAX_TOTAL_INSTANCES");
        let text = e.to_string();
        assert!(text.contains("250000 of this repeat (500 × 500)"), "{text}");
        assert!(text.contains("over the limit of 10000 (MAX_TOTAL_INSTANCES)"), "{text}");
        limit_at(&errs, "a/b/c", "MAX_SESSION_VALUES");
        // Nothing else: the limits are reported once, where they are first exceeded.
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn fixed_counts_within_the_limits_pass() {
        // 20 × 499 + 20 = 10,000 instances: exactly the limit.
        let inner =
            repeat("b", json!({"repeat_count": "499"}), json!([{"name": "x", "type": "text"}]));
        let f = checked(json!([repeat("a", json!({"repeat_count": "10 * 2"}), json!([inner]))]));
        let s = session(f);
        assert_eq!(s.held().0, MAX_TOTAL_INSTANCES);
    }

    #[test]
    fn min_repeats_count_as_fixed_and_many_fields_count_as_values() {
        // min_repeats are instances every valid filling has.
        let b = repeat("b", json!({"min_repeats": 200}), json!([{"name": "x", "type": "text"}]));
        let errs = refused(json!([repeat("a", json!({"min_repeats": 100}), json!([b]))]));
        limit_at(&errs, "a/b", "MAX_TOTAL_INSTANCES");
        // 500 instances of 2,001 fields each: over a million values.
        let fields: Vec<Json> =
            (0..2_001).map(|i| json!({"name": format!("f{i}"), "type": "text"})).collect();
        let errs =
            refused(json!([repeat("r", json!({"repeat_count": "500"}), Json::Array(fields))]));
        let e = limit_at(&errs, "r", "MAX_SESSION_VALUES");
        assert!(
            e.to_string().contains("500 instances of this repeat with 2001 fields each"),
            "{e}"
        );
    }

    #[test]
    fn per_repeat_bounds_over_the_limit_are_refused() {
        let x = json!([{"name": "x", "type": "text"}]);
        let errs = refused(json!([
            repeat("a", json!({"repeat_count": "501"}), x.clone()),
            repeat("b", json!({"max_repeats": 1000}), json!([{"name": "y", "type": "text"}])),
        ]));
        assert!(
            limit_at(&errs, "a", "MAX_REPEAT_INSTANCES")
                .to_string()
                .contains("repeat_count is 501")
        );
        assert!(
            limit_at(&errs, "b", "MAX_REPEAT_INSTANCES")
                .to_string()
                .contains("max_repeats is 1000")
        );
    }

    #[test]
    fn nesting_depth_is_bounded() {
        // Five repeats nested in one another.
        let mut f = json!({"name": "x", "type": "text"});
        for i in (1..=5).rev() {
            f = repeat(&format!("r{i}"), json!({}), json!([f]));
        }
        let errs = refused(json!([f]));
        limit_at(&errs, "r1/r2/r3/r4/r5", "MAX_REPEAT_NESTING");
        assert_eq!(errs.len(), 1, "{errs:?}");

        // Groups 17 deep: the 16th level may not have children.
        let mut f = json!({"name": "x", "type": "text"});
        for i in (1..=MAX_FIELD_DEPTH).rev() {
            f = json!({"name": format!("g{i}"), "type": "group", "children": [f]});
        }
        let errs = refused(json!([f]));
        let path: Vec<String> = (1..=MAX_FIELD_DEPTH).map(|i| format!("g{i}")).collect();
        limit_at(&errs, &path.join("/"), "MAX_FIELD_DEPTH");
        // One level less is fine.
        let mut f = json!({"name": "x", "type": "text"});
        for i in (1..MAX_FIELD_DEPTH).rev() {
            f = json!({"name": format!("g{i}"), "type": "group", "children": [f]});
        }
        checked(json!([f]));
    }

    /// Open-ended repeats nested: the volunteer can add instances until the session holds
    /// `MAX_TOTAL_INSTANCES`; the next `add_repeat` is refused and changes nothing.
    #[test]
    fn open_ended_repeats_are_refused_at_add_repeat_past_the_limit() {
        let b = repeat("b", json!({}), json!([{"name": "x", "type": "text"}]));
        let mut s = session(checked(json!([repeat("a", json!({}), json!([b]))])));
        let mut refused_at = None;
        'outer: for i in 1..=MAX_REPEAT_INSTANCES {
            let a = s.add_repeat("a").unwrap();
            for _ in 0..MAX_REPEAT_INSTANCES {
                match s.add_repeat(&format!("{a}/b")) {
                    Ok(_) => {}
                    Err(e) => {
                        refused_at = Some((i, e));
                        break 'outer;
                    }
                }
            }
        }
        let (i, e) = refused_at.expect("the limit was never reached");
        // 20 instances of `a`, 19 full ones of 500 `b` and 480 in the last.
        assert_eq!(i, 20);
        assert_eq!(e, SessionError::TooManyInstances { path: "a[20]/b".into(), max: 480 });
        assert_eq!(s.held().0, MAX_TOTAL_INSTANCES);
        assert_eq!(
            s.add_repeat("a"),
            Err(SessionError::TooManyInstances { path: "a".into(), max: 20 })
        );
        assert_eq!(s.instance_count(s.form().id_of("a").unwrap(), &[]), 20);
        // Removing one makes room again.
        s.remove_repeat("a[20]/b[480]").unwrap();
        s.add_repeat("a[1]/b").unwrap_err();
        s.add_repeat("a[20]/b").unwrap();
    }

    /// A count from an answer that would go over the limit: the answer is refused with a typed
    /// error and the session is as it was.
    #[test]
    fn an_answer_whose_counts_do_not_fit_is_refused() {
        let b =
            repeat("b", json!({"repeat_count": "${m}"}), json!([{"name": "x", "type": "text"}]));
        let f = checked(json!([
            {"name": "n", "type": "integer"},
            {"name": "m", "type": "integer"},
            repeat("a", json!({"repeat_count": "${n}"}), json!([b])),
        ]));
        let mut s = session(f);
        s.set_answer("n", &json!(500)).unwrap();
        s.set_answer("m", &json!(19)).unwrap();
        assert_eq!(s.held().0, 500 + 500 * 19);
        let before = s.held();
        let e = s.set_answer("m", &json!(20)).unwrap_err();
        assert!(
            matches!(e, SessionError::TooManyInstances { ref path, .. } if path.ends_with("/b")),
            "{e}"
        );
        assert_eq!(s.held(), before);
        assert_eq!(s.output()["m"], json!(19));
        assert!(s.validate().is_valid(), "{:?}", s.validate());
        // The probe's numbers: 500 × 500 is refused the same way.
        s.set_answer("m", &json!(500)).unwrap_err();
        assert_eq!(s.held(), before);
    }

    /// Undoing puts back the instances that a shrinking repeat dropped in the same change,
    /// with their answers.
    #[test]
    fn undo_puts_back_dropped_instances_with_their_answers() {
        let d = repeat("d", json!({"repeat_count": "30"}), json!([{"name": "y", "type": "text"}]));
        let f = checked(json!([
            {"name": "k", "type": "integer"},
            repeat("a", json!({"repeat_count": "${k}"}), json!([{"name": "name", "type": "text"}])),
            repeat("b", json!({"repeat_count": "if(${k} < 3, 500, 0)"}), json!([d])),
        ]));
        let mut s = session(f);
        s.set_answer("k", &json!(3)).unwrap();
        s.set_answer("a[3]/name", &json!("kept")).unwrap();
        let before = s.held();
        // k = 2 drops a[3] and asks for 500 × 31 instances of b and d.
        assert!(matches!(s.set_answer("k", &json!(2)), Err(SessionError::TooManyInstances { .. })));
        assert_eq!(s.held(), before);
        assert_eq!(s.output()["a"][2]["name"], json!("kept"));
        assert!(s.validate().is_valid(), "{:?}", s.validate());
    }

    /// A count that does not fit when the session starts (from a default) leaves the repeat as it
    /// was and is reported by `validate`.
    #[test]
    fn a_default_count_over_the_limit_is_reported() {
        let b =
            repeat("b", json!({"repeat_count": "${n}"}), json!([{"name": "x", "type": "text"}]));
        let f = checked(json!([
            {"name": "n", "type": "integer", "default": "500"},
            repeat("a", json!({"repeat_count": "${n}"}), json!([b])),
        ]));
        let s = session(f);
        assert!(s.held().0 <= MAX_TOTAL_INSTANCES);
        let report = s.validate();
        let v = report
            .violations
            .iter()
            .find(|v| v.code == ViolationCode::Expression)
            .expect("the count is reported");
        assert!(v.message.contains("MAX_TOTAL_INSTANCES"), "{}", v.message);
    }

    /// The probe's chain of 40 `concat(x, x)`: refused by the definition check where the pieces
    /// first exceed the limit (2^17 > 65,536), once.
    #[test]
    fn a_doubling_concat_chain_is_refused_by_validation() {
        let mut fields = vec![json!({"name": "c0", "type": "text"})];
        for i in 1..=40 {
            let calc = format!("concat(${{c{}}}, ${{c{}}})", i - 1, i - 1);
            fields.push(json!({"name": format!("c{i}"), "type": "calculate", "calculation": calc}));
        }
        let errs = refused(Json::Array(fields));
        assert_eq!(errs.len(), 1, "{errs:?}");
        let e = limit_at(&errs, "c17", "MAX_STRING_PIECES");
        assert!(e.to_string().contains("131072 pieces"), "{e}");
    }

    /// A chain that passes the definition check (2^12 pieces) but is filled with long answers:
    /// the evaluator refuses the string past `MAX_STRING_LEN` with a typed error, the value is
    /// blank (so the rest of the chain stays small), and `validate` reports it with its path.
    #[test]
    fn a_long_concat_is_refused_at_fill_time() {
        let mut fields = vec![json!({"name": "c0", "type": "text"})];
        for i in 1..=12 {
            let calc = format!("concat(${{c{}}}, ${{c{}}})", i - 1, i - 1);
            fields.push(json!({"name": format!("c{i}"), "type": "calculate", "calculation": calc}));
        }
        let mut s = session(checked(Json::Array(fields)));
        s.set_answer("c0", &json!("x".repeat(100))).unwrap();
        let out = s.output();
        // 100 × 2^9 = 51,200 bytes fits; 102,400 does not.
        assert_eq!(out["c9"].as_str().map(str::len), Some(51_200));
        // Blank calculations are output as null.
        assert_eq!(out["c10"], Json::Null);
        assert_eq!(out["c12"], Json::Null);
        let report = s.validate();
        let v = report.violations.iter().find(|v| v.path == "c10").expect("c10 is reported");
        assert_eq!(v.code, ViolationCode::Expression);
        let expected = EvalError::StringTooLong { function: "concat", col: 1, max: MAX_STRING_LEN };
        assert_eq!(v.message, format!("calculation: {expected}"));
    }

    #[test]
    fn join_and_translate_refuse_long_results_before_building_them() {
        use crate::form::expr::{MapEnv, Value, eval, parse};
        let long = "é".repeat(20_000); // 40,000 bytes
        let env = MapEnv::new([("s".to_string(), Value::Str(long))].into_iter().collect());
        let join = parse("join(' ', ${s}, ${s})").unwrap();
        assert!(matches!(
            eval(&join, &env),
            Err(EvalError::StringTooLong { function: "join", .. })
        ));
        // Each 'é' (2 bytes) becomes a 4-byte character: 4 × 20,000 bytes.
        let translate = parse("translate(${s}, 'é', '😀')").unwrap();
        assert!(matches!(
            eval(&translate, &env),
            Err(EvalError::StringTooLong { function: "translate", .. })
        ));
        let ok = parse("translate(substr(${s}, 0, 10000), 'é', '😀')").unwrap();
        assert_eq!(eval(&ok, &env).unwrap().to_xpath_string().len(), 40_000);
    }

    /// Joins over one repeat stay within the pieces limit; over three nested open-ended repeats
    /// they can too (capped by the session's instance limit) — but a join of a doubling chain
    /// does not.
    #[test]
    fn pieces_count_repeats_and_defaults() {
        let inner = repeat("r", json!({}), json!([{"name": "name", "type": "text"}]));
        checked(
            json!([inner, {"name": "all", "type": "calculate", "calculation": "join(', ', ${name})"}]),
        );
        let errs = refused(json!([
            {"name": "a", "type": "text"},
            {"name": "b", "type": "text", "default": "concat(${a}, ${a}, ${a}, ${a}, ${a}, ${a}, ${a}, ${a})"},
            repeat("r", json!({}), json!([{"name": "c", "type": "text", "default": "concat(${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b}, ${b})"}])),
            {"name": "all", "type": "calculate", "calculation": "join(', ', ${c})"},
        ]));
        // 8 × 20 × 500 + 499 separators.
        let e = limit_at(&errs, "all", "MAX_STRING_PIECES");
        assert!(e.to_string().contains("80499 pieces"), "{e}");
    }

    #[test]
    fn expressions_are_bounded_in_tokens_and_depth() {
        use crate::form::expr::{MAX_DEPTH, MAX_NESTING, parse};
        // 2,049 ones and 2,048 pluses.
        let many = vec!["1"; MAX_EXPR_TOKENS / 2 + 1].join("+");
        let e = parse(&format!("concat({})", many.replace('+', ","))).unwrap_err();
        assert_eq!(e.kind, ExprErrorKind::TooManyTokens { max: MAX_EXPR_TOKENS });
        let e = refused(
            json!([{"name": "c", "type": "calculate", "calculation": format!("concat({})", many.replace('+', ","))}]),
        );
        assert!(e[0].to_string().contains("MAX_EXPR_TOKENS"), "{}", e[0]);
        // Deep nesting is refused by the parser, long before the stack is at risk, however deep
        // the input: parentheses, calls, unary minus and operator chains.
        for src in [
            format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}1{}", "not(".repeat(100_000), ")".repeat(100_000)),
            format!("{}1", "-".repeat(1_000)),
            vec!["1"; 1_000].join(" + "),
        ] {
            let src = src.chars().take(8_000).collect::<String>();
            assert!(parse(&src).is_err(), "{}…", &src[..20]);
        }
        // At the limits, parsing and evaluating (a recursion per level) both work.
        let deepest = format!("{}1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        let calls = format!("{}1{}", "abs(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        let chain = vec!["1"; MAX_DEPTH].join(" + ");
        for src in [deepest, calls, chain] {
            let e = parse(&src).unwrap();
            crate::form::expr::eval(&e, &MapEnv::default()).unwrap();
        }
    }

    /// A literal over the string limit is refused when the form is checked.
    #[test]
    fn long_literals_are_refused() {
        let lit = format!("'{}'", "a".repeat(MAX_STRING_LEN + 1));
        let errs = refused(json!([{"name": "c", "type": "calculate", "calculation": lit}]));
        assert!(errs[0].to_string().contains("MAX_STRING_LEN"), "{}", errs[0]);
    }
}
