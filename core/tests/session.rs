//! Form session behaviour on a small form that exercises every mechanism: relevance through a
//! group, a repeat sized by an answer, a nested open-ended repeat, calculations across repeat
//! levels, a choice filter, constraints, defaults, navigation, save/restore and timings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use proptest::prelude::*;
use safehome_core::clock::{FixedClock, SeededEntropy};
use safehome_core::form::answers::AnswerError;
use safehome_core::form::check::CheckedForm;
use safehome_core::form::risk::{self, Level};
use safehome_core::form::session::{Session, SessionError, ViolationCode};
use serde_json::json;

const ROSTER: &str = include_str!("data/roster.json");
/// 2026-11-29T04:00:00Z; with +07:00 the local date is 2026-11-29.
const NOW: i64 = 1_795_924_800_000;

fn form() -> Arc<CheckedForm> {
    Arc::new(CheckedForm::from_json(ROSTER).expect("test form is valid"))
}

fn session_with(clock: Arc<FixedClock>) -> Session {
    Session::new(form(), clock, Arc::new(SeededEntropy::new(7)))
}

fn session() -> Session {
    session_with(Arc::new(FixedClock::new(NOW, 420)))
}

fn codes(s: &Session) -> Vec<(String, ViolationCode)> {
    s.validate().violations.into_iter().map(|v| (v.path, v.code)).collect()
}

fn household(s: &mut Session) {
    s.load_answers(&json!({
        "consent": "yes", "commune": "05569", "village": "ban_pieng", "head": "Hoàng Văn Dũng",
        "num_children": 3,
        "children": [
            {"child_name": "Hoàng Thị Mai", "age": 3, "sex": "f"},
            {"child_name": "Hoàng Văn Nam", "age": 9, "sex": "m", "in_school": "no"},
            {"child_name": "Hoàng Văn Tùng", "age": 12, "sex": "m", "in_school": "no"}
        ],
        "hazards": ["pond", "well"], "pond_fenced": "no"
    }))
    .expect("answers load");
}

#[test]
fn default_is_applied_once_with_the_local_date() {
    let s = session();
    assert_eq!(s.output()["visit_date"], Value::Null, "hidden until consent");
    let mut s = s;
    s.set_answer("consent", &json!("yes")).unwrap();
    assert_eq!(s.output()["visit_date"], json!("2026-11-29"));
    // Local date, not UTC: at 20:00 UTC it is already the next day in Vietnam.
    let late = Arc::new(FixedClock::new(NOW + 16 * 3_600_000, 420));
    let s2 = session_with(late);
    assert_eq!(s2.state().answers["visit_date"], json!("2026-11-30"));
}

use serde_json::Value;

#[test]
fn refusing_consent_hides_everything_and_is_valid() {
    let mut s = session();
    assert_eq!(codes(&s), vec![("consent".to_string(), ViolationCode::Required)]);
    s.set_answer("consent", &json!("no")).unwrap();
    assert!(s.validate().is_valid());
    assert_eq!(s.output(), json!({"consent": "no"}));
    assert_eq!(s.visible_prompts().len(), 1);
}

#[test]
fn repeat_count_follows_the_answer_and_calculations_cross_levels() {
    let mut s = session();
    household(&mut s);
    let out = s.output();
    assert_eq!(out["children"].as_array().map(Vec::len), Some(3));
    assert_eq!(out["young"], json!(1));
    assert_eq!(out["child_count"], json!(3));
    assert_eq!(out["children"][1]["older_than_first"], json!(true));
    assert_eq!(out["children"][0]["older_than_first"], json!(false));
    // Fewer children: the last instance goes, and the sums follow.
    s.set_answer("num_children", &json!(1)).unwrap();
    let out = s.output();
    assert_eq!(out["children"].as_array().map(Vec::len), Some(1));
    assert_eq!(out["child_count"], json!(1));
    // The 3-year-old is now 7: no child under 6, and in_school becomes required.
    s.set_answer("children[1]/age", &json!(7)).unwrap();
    assert_eq!(s.output()["young"], json!(0));
    assert!(codes(&s).contains(&("children[1]/in_school".into(), ViolationCode::Required)));
}

#[test]
fn relevance_is_per_instance_and_hidden_answers_are_kept_but_not_output() {
    let mut s = session();
    household(&mut s);
    s.set_answer("children[2]/age", &json!(4)).unwrap();
    let out = s.output();
    assert!(out["children"][1].get("in_school").is_none(), "in_school hidden for a 4-year-old");
    assert_eq!(out["children"][2]["in_school"], json!("no"));
    assert_eq!(s.state().answers["children"][1]["in_school"], json!("no"), "kept in the draft");
    s.set_answer("children[2]/age", &json!(9)).unwrap();
    assert_eq!(s.output()["children"][1]["in_school"], json!("no"), "restored when shown again");
}

#[test]
fn typed_errors_name_the_path() {
    let mut s = session();
    household(&mut s);
    match s.set_answer("children[2]/age", &json!("nine")) {
        Err(SessionError::Answer { path, error: AnswerError::TypeMismatch { .. } }) => {
            assert_eq!(path, "children[2]/age")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        s.set_answer("children[2]/sex", &json!("x")),
        Err(SessionError::Answer { error: AnswerError::NotAChoice(_), .. })
    ));
    assert!(matches!(
        s.set_answer("children[9]/age", &json!(3)),
        Err(SessionError::NoSuchInstance { index: 9, .. })
    ));
    assert!(matches!(s.set_answer("nope", &json!(3)), Err(SessionError::UnknownField { .. })));
    assert!(matches!(s.set_answer("children/age", &json!(3)), Err(SessionError::BadPath { .. })));
    assert!(matches!(s.set_answer("young", &json!(3)), Err(SessionError::Answer { .. })));
    assert!(matches!(
        s.set_answer("children[0]/age", &json!(3)),
        Err(SessionError::BadPath { .. })
    ));
    assert!(matches!(
        s.set_answer("visit_date", &json!("2026-02-30")),
        Err(SessionError::Answer { error: AnswerError::TypeMismatch { .. }, .. })
    ));
    assert!(matches!(s.set_answer("head", &json!({"a": 1})), Err(SessionError::Answer { .. })));
    assert!(matches!(s.remove_repeat("children[1]"), Err(SessionError::FixedRepeat { .. })));
    // Nothing already saved was lost by the refusals.
    assert_eq!(s.output()["children"][1]["age"], json!(9));
}

#[test]
fn constraints_are_reported_with_the_authors_message() {
    let mut s = session();
    household(&mut s);
    assert_eq!(s.set_answer("num_children", &json!(25)), Ok(false));
    s.set_language("en").unwrap();
    let v = s.validate();
    let c = v.violations.iter().find(|v| v.path == "num_children").expect("violation");
    assert_eq!(c.code, ViolationCode::Constraint);
    assert_eq!(c.message, "From 0 to 20");
    assert_eq!(s.set_answer("num_children", &json!(2)), Ok(true));
}

#[test]
fn choice_filter_uses_choice_columns() {
    let mut s = session();
    household(&mut s);
    let village = s.prompt_at("village").unwrap();
    let names: Vec<_> = village.choices.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["ban_pieng", "na_mao"]);
    s.set_answer("commune", &json!("05662")).unwrap();
    assert!(codes(&s).contains(&("village".into(), ViolationCode::ChoiceFiltered)));
}

#[test]
fn nested_open_repeat_with_limits_and_urgent_rule() {
    let mut s = session();
    household(&mut s);
    for i in 1..=3 {
        let p = s.add_repeat("children[2]/injuries").unwrap();
        assert_eq!(p, format!("children[2]/injuries[{i}]"));
        s.set_answer(&format!("{p}/injury_kind"), &json!("bỏng")).unwrap();
    }
    assert!(matches!(
        s.add_repeat("children[2]/injuries"),
        Err(SessionError::TooManyInstances { max: 3, .. })
    ));
    assert_eq!(s.output()["children"][1]["injuries"][2]["injury_child"], json!("Hoàng Văn Nam"));
    let a = risk::assess(&s).unwrap();
    assert_eq!(a.level, Level::Urgent);
    let urgent = a.triggered.iter().find(|t| t.urgent).unwrap();
    assert_eq!(urgent.instance.as_deref(), Some("children[2]"));
    assert_eq!(urgent.reason, "Hoàng Văn Nam bị thương nhiều lần");
    s.remove_repeat("children[2]/injuries[1]").unwrap();
    assert_eq!(s.output()["children"][1]["injuries"].as_array().map(Vec::len), Some(2));
    assert_ne!(risk::assess(&s).unwrap().level, Level::Urgent);
}

#[test]
fn risk_assessment_explains_points_and_caps_repeat_rules() {
    let mut s = session();
    household(&mut s);
    let a = risk::assess(&s).unwrap();
    let ids: Vec<_> = a.triggered.iter().map(|t| (t.rule_id.as_str(), t.points)).collect();
    assert_eq!(
        ids,
        [("pond_unfenced", 4), ("well", 1), ("out_of_school", 2), ("out_of_school", 1)]
    );
    assert_eq!(a.total_points, 8);
    assert_eq!(a.level, Level::High);
    assert_eq!(a.response_hours, Some(168));
    assert_eq!(a.due_at_ms, Some(NOW + 168 * 3_600_000));
    assert_eq!(a.categories[0].points, 5);
    assert_eq!(a.triggered[0].reason, "Ao không rào, có 1 trẻ nhỏ");
    assert_eq!(a.triggered[3].reason, "Hoàng Văn Tùng không đi học");
    s.set_answer("pond_fenced", &json!("yes")).unwrap();
    assert_eq!(risk::assess(&s).unwrap().level, Level::Medium);
}

#[test]
fn labels_fill_in_references() {
    let mut s = session();
    household(&mut s);
    assert_eq!(s.prompt_at("children[2]/child_name").unwrap().label, "Tên trẻ thứ 2");
    assert_eq!(s.prompt_at("children[2]/age").unwrap().label, "Tuổi của Hoàng Văn Nam");
    s.set_language("en").unwrap();
    assert_eq!(s.prompt_at("note_young").unwrap().label, "1 children under 6");
    assert!(s.set_language("fr").is_err());
}

#[test]
fn navigation_skips_hidden_questions_and_progress_counts() {
    let mut s = session();
    assert_eq!(s.next_prompt().unwrap().path, "consent");
    assert!(s.next_prompt().is_none(), "nothing else is visible before consent");
    s.set_answer("consent", &json!("yes")).unwrap();
    let order: Vec<String> = std::iter::from_fn(|| s.next_prompt().map(|p| p.path)).collect();
    assert_eq!(order[..3], ["commune", "village", "head"]);
    assert!(!order.iter().any(|p| p == "pond_fenced"));
    assert_eq!(s.previous_prompt().unwrap().path, order[order.len() - 2]);
    let p = s.progress();
    assert_eq!((p.answered, p.required_missing), (2, 3)); // consent + default date; commune, head, num_children
    household(&mut s);
    assert!(s.visible_prompts().iter().any(|p| p.path == "children[3]/in_school"));
    assert_eq!(s.progress().required_missing, 0);
}

#[test]
fn geopoint_over_warning_accuracy_needs_confirmation() {
    let mut s = session();
    household(&mut s);
    let fix = json!({"lat": 21.9, "lon": 105.6, "alt": 60, "accuracy": 80});
    s.set_answer("location", &fix).unwrap();
    assert!(codes(&s).contains(&("location".into(), ViolationCode::AccuracyUnconfirmed)));
    s.set_geopoint_confirmed("location", &fix).unwrap();
    assert!(!codes(&s).iter().any(|(_, c)| *c == ViolationCode::AccuracyUnconfirmed));
    assert!(s.set_answer("location", &json!({"lat": 95, "lon": 0})).is_err());
}

#[test]
fn state_round_trips_through_json_exactly() {
    let clock = Arc::new(FixedClock::new(NOW, 420));
    let mut s = session_with(clock.clone());
    household(&mut s);
    s.clear_answer("visit_date").unwrap(); // cleared default must stay cleared
    s.add_repeat("children[1]/injuries").unwrap();
    s.set_answer("children[1]/injuries[1]/injury_kind", &json!("ngã")).unwrap();
    s.go_to("children[2]/age").unwrap();
    let saved = serde_json::to_string(&s.state()).unwrap();
    let state = serde_json::from_str(&saved).unwrap();
    let r = Session::restore(form(), &state, clock, Arc::new(SeededEntropy::new(1))).unwrap();
    assert_eq!(r.output(), s.output());
    assert_eq!(r.validate(), s.validate());
    assert_eq!(risk::assess(&r), risk::assess(&s));
    assert_eq!(r.current().map(|p| p.path), Some("children[2]/age".into()));
    assert!(r.output().get("visit_date").is_none());
    assert_eq!(r.events(), s.events());
}

#[test]
fn restore_refuses_another_form_version() {
    let s = session();
    let mut state = s.state();
    state.form_version = "2".into();
    let clock = Arc::new(FixedClock::new(NOW, 420));
    assert!(matches!(
        Session::restore(form(), &state, clock, Arc::new(SeededEntropy::new(1))),
        Err(SessionError::FormMismatch { .. })
    ));
}

#[test]
fn timings_measure_dwell_per_question() {
    let clock = Arc::new(FixedClock::new(NOW, 420));
    let mut s = session_with(clock.clone());
    s.next_prompt().unwrap(); // consent shown
    clock.advance(4_000);
    s.set_answer("consent", &json!("yes")).unwrap();
    clock.advance(1_000);
    s.next_prompt().unwrap(); // commune
    clock.advance(10_000);
    s.set_answer("commune", &json!("05569")).unwrap();
    clock.advance(2_000);
    let t = s.timings();
    assert_eq!(t[0].path, "consent");
    assert_eq!((t[0].dwell_ms, t[0].changes), (5_000, 1));
    assert_eq!((t[1].path.as_str(), t[1].dwell_ms, t[1].changes), ("commune", 12_000, 1));
}

#[derive(Debug, Clone)]
enum Op {
    Consent(bool),
    Count(u8),
    Age(u8, u8),
    School(u8, bool),
    Hazards(u8),
    Fenced(bool),
    AddInjury(u8),
    RemoveInjury(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(Op::Consent),
        (0u8..5).prop_map(Op::Count),
        (0u8..5, 0u8..16).prop_map(|(i, a)| Op::Age(i, a)),
        (0u8..5, any::<bool>()).prop_map(|(i, b)| Op::School(i, b)),
        (0u8..8).prop_map(Op::Hazards),
        any::<bool>().prop_map(Op::Fenced),
        (0u8..5).prop_map(Op::AddInjury),
        (0u8..5).prop_map(Op::RemoveInjury),
    ]
}

fn apply(s: &mut Session, op: &Op) {
    let yn = |b: bool| json!(if b { "yes" } else { "no" });
    // Refusals (missing instances, limits) are part of the test: they must leave state intact.
    let _ = match op {
        Op::Consent(b) => s.set_answer("consent", &yn(*b)).map(|_| ()),
        Op::Count(n) => s.set_answer("num_children", &json!(n)).map(|_| ()),
        Op::Age(i, a) => s.set_answer(&format!("children[{}]/age", i + 1), &json!(a)).map(|_| ()),
        Op::School(i, b) => {
            s.set_answer(&format!("children[{}]/in_school", i + 1), &yn(*b)).map(|_| ())
        }
        Op::Hazards(m) => {
            let all = ["pond", "well", "fire"];
            let pick: Vec<_> = (0..3).filter(|k| m & (1 << k) != 0).map(|k| all[k]).collect();
            s.set_answer("hazards", &json!(pick)).map(|_| ())
        }
        Op::Fenced(b) => s.set_answer("pond_fenced", &yn(*b)).map(|_| ()),
        Op::AddInjury(i) => s.add_repeat(&format!("children[{}]/injuries", i + 1)).map(|_| ()),
        Op::RemoveInjury(i) => s.remove_repeat(&format!("children[{}]/injuries[1]", i + 1)),
    };
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Incremental recomputation must agree with computing everything from scratch.
    #[test]
    fn incremental_recompute_matches_full_recompute(ops in proptest::collection::vec(op(), 1..40)) {
        let clock = Arc::new(FixedClock::new(NOW, 420));
        let mut s = session_with(clock.clone());
        for o in &ops {
            apply(&mut s, o);
            let fresh = Session::restore(form(), &s.state(), clock.clone(), Arc::new(SeededEntropy::new(1)))
                .expect("own state restores");
            prop_assert_eq!(fresh.output(), s.output());
            prop_assert_eq!(fresh.validate(), s.validate());
            prop_assert_eq!(risk::assess(&fresh), risk::assess(&s));
            prop_assert_eq!(fresh.visible_prompts(), s.visible_prompts());
        }
    }
}

#[test]
fn aggregates_follow_instances_that_come_and_go() {
    let mut s = session();
    household(&mut s);
    assert_eq!(s.output()["young"], json!(1));
    s.set_answer("num_children", &json!(0)).unwrap();
    assert_eq!(s.output()["young"], json!(0), "no child left, no child under 6");
    assert_eq!(s.output()["child_count"], json!(0));
    s.set_answer("num_children", &json!(2)).unwrap();
    s.set_answer("children[2]/age", &json!(2)).unwrap();
    for (child, kind) in [(1, "ngã"), (2, "bỏng"), (2, "đuối nước")] {
        let p = s.add_repeat(&format!("children[{child}]/injuries")).unwrap();
        s.set_answer(&format!("{p}/injury_kind"), &json!(kind)).unwrap();
    }
    assert_eq!(s.output()["injury_kinds"], json!("ngã,bỏng,đuối nước"));
    // Removing from the middle shifts later instances; aggregates must not keep stale values.
    s.remove_repeat("children[2]/injuries[1]").unwrap();
    assert_eq!(s.output()["injury_kinds"], json!("ngã,đuối nước"));
    assert_eq!(s.output()["injury_count"], json!(2));
}

/// Found by the property test: `older_than_first` in instance 2 reads instance 1's age through
/// indexed-repeat, so a change of the first child's age must reach the second child.
#[test]
fn indexed_repeat_dependencies_reach_other_instances() {
    let mut s = session();
    for op in [Op::Count(3), Op::Consent(true), Op::Age(1, 3), Op::Age(0, 0)] {
        apply(&mut s, &op);
    }
    assert_eq!(s.output()["children"][1]["older_than_first"], json!(true));
    apply(&mut s, &Op::Age(0, 5));
    assert_eq!(s.output()["children"][1]["older_than_first"], json!(false));
}
