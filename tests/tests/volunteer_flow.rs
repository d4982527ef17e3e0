//! A volunteer's household visit end to end through the public core API: navigate the built-in
//! household screening prompt by prompt, answer as a volunteer would, autosave after every
//! answer, have the app killed mid-form, resume from the last save, finish, validate and read
//! the explained risk assessment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use safehome_core::clock::{FixedClock, SeededEntropy};
use safehome_core::form::model::FieldKind;
use safehome_core::form::risk::{self, Level};
use safehome_core::form::session::{Prompt, Session, SessionState};
use safehome_core::templates;
use serde_json::{Value, json};

const NOW: i64 = 1_795_924_800_000; // 2026-11-29T04:00:00Z, 11:00 in Vietnam

/// What this volunteer answers at each prompt: a family with a pond and a toddler.
fn answer_for(p: &Prompt) -> Value {
    let by_name = match p.name.as_str() {
        "consent" => Some(json!("yes")),
        "village" => Some(json!("Thôn Khuôn Tát")),
        "head_name" => Some(json!("Ma Văn Hùng")),
        "num_children" => Some(json!(3)),
        "child_age" => {
            let i: usize = p.path[9..p.path.find(']').unwrap()].parse().unwrap();
            Some(json!([2, 7, 13][i - 1]))
        }
        "child_name" => Some(json!(format!("Ma Thị Con {}", &p.path[9..10]))),
        "pond_fenced" => Some(json!("no")),
        "child_in_school" => Some(json!("yes")),
        "serious_harm" => Some(json!("no")),
        "special_groups" => Some(json!(["none"])),
        "child_dob" => Some(Value::Null), // the family knows ages, not birth dates
        _ => None,
    };
    if let Some(v) = by_name {
        return v;
    }
    match p.kind {
        FieldKind::SelectOne => {
            // Prefer the safe answer where there is one.
            let pick = ["yes", "no", "na"]
                .iter()
                .find(|c| p.choices.iter().any(|x| x.name == **c))
                .map(|c| c.to_string())
                .unwrap_or_else(|| p.choices[0].name.clone());
            json!(pick)
        }
        FieldKind::SelectMultiple => json!([p.choices[0].name]),
        FieldKind::Integer | FieldKind::Decimal => json!(1),
        FieldKind::Geopoint => json!({"lat": 21.905, "lon": 105.648, "alt": 120, "accuracy": 6}),
        FieldKind::Date => json!("2026-11-29"),
        FieldKind::Acknowledge => json!(true),
        _ => Value::Null,
    }
}

#[test]
fn a_visit_survives_the_app_being_killed_and_ends_in_an_explained_assessment() {
    let form = templates::load("household_screening").unwrap().unwrap();
    let clock = Arc::new(FixedClock::new(NOW, 420));
    let new_entropy = || Arc::new(SeededEntropy::new(11));
    let mut s = Session::new(Arc::clone(&form), clock.clone(), new_entropy());
    let mut answered = 0;
    let mut killed = false;
    while let Some(p) = s.next_prompt() {
        clock.advance(3_000);
        if p.kind == FieldKind::Note || p.read_only {
            continue;
        }
        let v = answer_for(&p);
        if v.is_null() {
            continue; // optional text, photos: left blank
        }
        s.set_answer(&p.path, &v).unwrap_or_else(|e| panic!("{}: {e}", p.path));
        answered += 1;
        // Autosave: what the store persists after every answer.
        let saved = serde_json::to_string(&s.state()).unwrap();
        if answered == 12 && !killed {
            // The OS kills the app; the volunteer reopens the visit.
            killed = true;
            let state: SessionState = serde_json::from_str(&saved).unwrap();
            drop(s);
            s = Session::restore(Arc::clone(&form), &state, clock.clone(), new_entropy()).unwrap();
            assert_eq!(
                s.current().map(|c| c.path),
                Some(p.path.clone()),
                "resumes where it stopped"
            );
        }
    }
    assert!(killed, "the form is long enough to be interrupted");
    let report = s.validate();
    assert!(report.is_valid(), "{:#?}", report.violations);
    let progress = s.progress();
    assert_eq!(progress.required_missing, 0);
    assert_eq!(s.output()["children"].as_array().map(Vec::len), Some(3));

    let a = risk::assess(&s).unwrap();
    assert!(a.level >= Level::High, "unfenced pond with a 2-year-old: {a:#?}");
    assert!(a.triggered.iter().any(|t| t.rule_id.starts_with("pond_unfenced")));
    assert_eq!(a.categories[0].category.as_str(), "drowning");
    assert_eq!(a.assessed_at_ms, s.now_ms());
    assert_eq!(a.due_at_ms, a.response_hours.map(|h| a.assessed_at_ms + i64::from(h) * 3_600_000));

    // Timings recorded across the restart: the supervisor sees every question's dwell time.
    let t = s.timings();
    assert!(t.len() >= answered);
    assert!(t.iter().all(|q| q.dwell_ms >= 0));
    assert!(t.iter().any(|q| q.path == "consent" && q.dwell_ms >= 3_000));
}
