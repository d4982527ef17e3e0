//! `safehome geo ...`: locate points in assigned areas, check a GPS fix, validate areas.
//!
//! Exit codes: 0 success; 1 refused input (invalid areas, points, fix) with a reason; 2 usage
//! (an unreadable file, a bad argument).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use safehome_core::clock::{Clock, FixedClock, SystemClock};
use safehome_core::form::expr::parse_datetime;
use safehome_core::location::points_csv;
use safehome_core::location::{
    AccuracyDecision, AccuracyThresholds, AreaSet, AreasError, Fix, FixLimits, ImportOptions,
    PhotoLocation, Placement, PreviousVisit, QualityConfig, QualityFlag, RegisteredLocation,
    VisitContext, quality_flags, validate_fix,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Outcome;
use crate::outln;
use crate::utc_offset::UtcOffset;

#[derive(Subcommand)]
pub enum GeoCommand {
    /// Which assigned area each point is in. Prints CSV `id,area,distance_m,nearest`: the area's
    /// code (empty when outside every area) and, when outside, the distance in metres to the
    /// nearest area and its code.
    Locate {
        /// Assigned areas: a GeoJSON FeatureCollection of Polygon/MultiPolygon features with
        /// `code` and `name` properties.
        #[arg(long)]
        areas: PathBuf,
        /// Points: CSV with a header naming the columns `id`, `lat`, `lon` (any order).
        #[arg(long)]
        points: PathBuf,
        /// Print a JSON array instead of CSV.
        #[arg(long)]
        json: bool,
    },
    /// Validate a GPS fix and print its quality flags. FIX.json is a fix object
    /// (`lat`, `lon`, `accuracy_m`, `time_ms`, ...) or `{"fix": {...}, ...}` with the visit's
    /// context: `assigned_area`, `household`, `previous_visit`, `photos`, `visit_start_ms`,
    /// `visit_end_ms`, `capture_accuracy`, `warning_accuracy`, `confirmed`.
    CheckFix {
        fix: PathBuf,
        /// Assigned areas GeoJSON: report which area the fix is in (and, with an assigned area,
        /// whether it is outside it).
        #[arg(long)]
        areas: Option<PathBuf>,
        /// The code of the volunteer's assigned area (overrides the file's `assigned_area`).
        #[arg(long)]
        assigned: Option<String>,
        /// The current time (ms since the epoch or ISO 8601; without an offset, in the
        /// device's, `--utc-offset`) instead of the system clock.
        #[arg(long)]
        now: Option<String>,
        /// Reason language: vi or en.
        #[arg(long, default_value = "vi")]
        lang: String,
        #[arg(long)]
        json: bool,
    },
    /// Validate an assigned-areas GeoJSON file: exit 0 if valid, 1 with one line per problem.
    Validate {
        areas: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: GeoCommand, offset: UtcOffset) -> Outcome {
    match cmd {
        GeoCommand::Locate { areas, points, json } => locate(&areas, &points, json),
        GeoCommand::CheckFix { fix, areas, assigned, now, lang, json } => {
            check_fix(&fix, areas.as_deref(), assigned, now.as_deref(), offset, &lang, json)
        }
        GeoCommand::Validate { areas, json } => validate(&areas, json),
    }
}

fn fail(outcome: Outcome, msg: &str) -> Outcome {
    eprintln!("{msg}");
    outcome
}

fn read(path: &Path) -> Result<String, Outcome> {
    std::fs::read_to_string(path)
        .map_err(|e| fail(Outcome::Unusable, &format!("{}: {e}", path.display())))
}

/// The problems of an areas file, one line each.
fn area_problems(e: &AreasError) -> Vec<String> {
    match e {
        AreasError::Features(errs) => errs.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    }
}

fn load_areas(path: &Path) -> Result<AreaSet, Outcome> {
    let text = read(path)?;
    AreaSet::from_geojson(&text, &ImportOptions::default()).map_err(|e| {
        for line in area_problems(&e) {
            eprintln!("{}: {line}", path.display());
        }
        Outcome::Refused
    })
}

// ----- validate -----------------------------------------------------------------------------------

fn validate(path: &Path, json: bool) -> Outcome {
    let text = match read(path) {
        Ok(t) => t,
        Err(o) => return o,
    };
    match AreaSet::from_geojson(&text, &ImportOptions::default()) {
        Ok(set) => {
            let polygons: usize = set.areas().iter().map(|a| a.polygon_count()).sum();
            let positions: usize = set.areas().iter().map(|a| a.positions()).sum();
            if json {
                let areas: Vec<Value> = set
                    .areas()
                    .iter()
                    .map(|a| json!({"code": a.code, "name": a.name, "polygons": a.polygon_count()}))
                    .collect();
                outln!("{}", json!({"valid": true, "areas": areas}));
            } else {
                outln!("valid: {} areas, {polygons} polygons, {positions} positions", set.len());
            }
            Outcome::Ok
        }
        Err(e) => {
            if json {
                let errors: Vec<Value> = match &e {
                    AreasError::Features(errs) => errs
                        .iter()
                        .map(|x| {
                            json!({"feature": x.index, "code": x.code, "kind": x.kind.code(),
                                   "message": x.kind.to_string()})
                        })
                        .collect(),
                    other => vec![json!({"feature": null, "message": other.to_string()})],
                };
                outln!("{}", json!({"valid": false, "errors": errors}));
            } else {
                for line in area_problems(&e) {
                    outln!("{line}");
                }
            }
            Outcome::Refused
        }
    }
}

// ----- locate -------------------------------------------------------------------------------------

fn locate(areas: &Path, points: &Path, json: bool) -> Outcome {
    let set = match load_areas(areas) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let text = match read(points) {
        Ok(t) => t,
        Err(o) => return o,
    };
    let pts = match points_csv::read(&text) {
        Ok(p) => p,
        Err(e) => return fail(Outcome::Refused, &format!("{}: {e}", points.display())),
    };
    let code = |i: usize| set.area(i).map(|a| a.code.as_str()).unwrap_or("");
    if json {
        // One row at a time: the output is never held whole in memory.
        let mut rows = crate::out::JsonArray::begin();
        for p in &pts {
            rows.push(&match set.locate(p.at) {
                Placement::Inside { area, on_boundary } => json!({
                    "id": p.id, "area": code(area), "on_boundary": on_boundary,
                    "distance_m": null, "nearest": null
                }),
                Placement::Outside { nearest, distance_m } => json!({
                    "id": p.id, "area": null, "on_boundary": false,
                    "distance_m": (distance_m * 10.0).round() / 10.0, "nearest": code(nearest)
                }),
                Placement::NoAreas | Placement::InvalidPosition => json!({
                    "id": p.id, "area": null, "on_boundary": false,
                    "distance_m": null, "nearest": null
                }),
            });
        }
        rows.end();
        return Outcome::Ok;
    }
    outln!("id,area,distance_m,nearest");
    for p in &pts {
        let id = points_csv::quote(&p.id);
        match set.locate(p.at) {
            Placement::Inside { area, .. } => outln!("{id},{},,", code(area)),
            Placement::Outside { nearest, distance_m } => {
                outln!("{id},,{distance_m:.1},{}", code(nearest))
            }
            Placement::NoAreas | Placement::InvalidPosition => outln!("{id},,,"),
        }
    }
    Outcome::Ok
}

// ----- check-fix ----------------------------------------------------------------------------------

/// A fix with the visit's context, as `check-fix` reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckInput {
    fix: Fix,
    #[serde(default)]
    assigned_area: Option<String>,
    #[serde(default)]
    household: Option<RegisteredLocation>,
    #[serde(default)]
    previous_visit: Option<PreviousVisit>,
    #[serde(default)]
    photos: Vec<PhotoLocation>,
    #[serde(default)]
    visit_start_ms: Option<i64>,
    #[serde(default)]
    visit_end_ms: Option<i64>,
    #[serde(default)]
    capture_accuracy: Option<f64>,
    #[serde(default)]
    warning_accuracy: Option<f64>,
    #[serde(default)]
    confirmed: bool,
}

fn parse_input(text: &str) -> Result<CheckInput, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("fix").is_some() {
        serde_json::from_value(v).map_err(|e| e.to_string())
    } else {
        let fix: Fix = serde_json::from_value(v).map_err(|e| format!("not a fix: {e}"))?;
        Ok(CheckInput {
            fix,
            assigned_area: None,
            household: None,
            previous_visit: None,
            photos: Vec::new(),
            visit_start_ms: None,
            visit_end_ms: None,
            capture_accuracy: None,
            warning_accuracy: None,
            confirmed: false,
        })
    }
}

fn parse_now(s: &str, offset: UtcOffset) -> Option<i64> {
    let s = s.trim();
    s.parse::<i64>().ok().or_else(|| parse_datetime(s, offset.minutes()).map(|(ms, _)| ms))
}

fn reason<'a>(f: &'a QualityFlag, lang: &str) -> &'a str {
    if lang == "en" { &f.reason_en } else { &f.reason_vi }
}

fn refuse_fix(json: bool, code: &str, message: &str) -> Outcome {
    if json {
        outln!("{}", json!({"valid": false, "error": {"code": code, "message": message}}));
    } else {
        outln!("invalid: {message}");
    }
    Outcome::Refused
}

fn check_fix(
    path: &Path,
    areas: Option<&Path>,
    assigned: Option<String>,
    now: Option<&str>,
    offset: UtcOffset,
    lang: &str,
    json: bool,
) -> Outcome {
    if lang != "vi" && lang != "en" {
        return fail(Outcome::Unusable, &format!("--lang must be vi or en, not `{lang}`"));
    }
    let now_ms = match now.map(|s| parse_now(s, offset)) {
        Some(None) => {
            return fail(Outcome::Unusable, "--now must be milliseconds or an ISO 8601 time");
        }
        Some(Some(ms)) => Some(ms),
        None => None,
    };
    let text = match read(path) {
        Ok(t) => t,
        Err(o) => return o,
    };
    let input = match parse_input(&text) {
        Ok(i) => i,
        Err(e) => return fail(Outcome::Refused, &format!("{}: {e}", path.display())),
    };
    let set = match areas.map(load_areas).transpose() {
        Ok(s) => s,
        Err(o) => return o,
    };
    let assigned = assigned.or(input.assigned_area.clone());
    if assigned.is_some() && set.is_none() {
        return fail(Outcome::Unusable, "an assigned area needs --areas");
    }
    let clock: Box<dyn Clock> = match now_ms {
        Some(ms) => Box::new(FixedClock::new(ms, offset.minutes())),
        None => Box::new(SystemClock { offset_minutes: offset.minutes() }),
    };
    let valid = match validate_fix(&input.fix, &FixLimits::default(), clock.as_ref()) {
        Ok(v) => v,
        Err(e) => return refuse_fix(json, e.code(), &e.to_string()),
    };
    let thresholds =
        AccuracyThresholds { capture_m: input.capture_accuracy, warning_m: input.warning_accuracy };
    let decision = thresholds.decide(input.fix.accuracy_m);
    let accepted = match thresholds.accept(valid, input.confirmed) {
        Ok(a) => a,
        Err(e) => return refuse_fix(json, "confirmation_required", &e.to_string()),
    };
    if let (Some(set), Some(code)) = (&set, &assigned) {
        if set.find(code).is_none() {
            return fail(
                Outcome::Refused,
                &format!("assigned area `{code}` is not in the areas file"),
            );
        }
    }
    let when = accepted.fix.fix.time_ms;
    let ctx = VisitContext {
        fix: &accepted,
        visit_start_ms: input.visit_start_ms.unwrap_or(when),
        visit_end_ms: input.visit_end_ms.unwrap_or(when),
        assigned: set.as_ref().zip(assigned.as_deref()),
        household: input.household,
        previous_visit: input.previous_visit,
        photos: &input.photos,
    };
    let flags = match quality_flags(&ctx, &QualityConfig::default()) {
        Ok(f) => f,
        Err(e) => return fail(Outcome::Refused, &e.to_string()),
    };
    let placement = set.as_ref().map(|s| (s, s.locate(accepted.fix.position())));
    let decision_str = match decision {
        AccuracyDecision::AcceptAutomatically => "accept_automatically",
        AccuracyDecision::AcceptOnRequest => "accept_on_request",
        AccuracyDecision::NeedsConfirmation { .. } => "confirmed_over_warning",
    };
    if json {
        let area = placement.map(|(s, p)| match p {
            Placement::Inside { area, on_boundary } => {
                json!({"area": s.area(area).map(|a| &a.code), "on_boundary": on_boundary})
            }
            Placement::Outside { nearest, distance_m } => {
                json!({"area": null, "nearest": s.area(nearest).map(|a| &a.code),
                       "distance_m": (distance_m * 10.0).round() / 10.0})
            }
            Placement::NoAreas | Placement::InvalidPosition => json!({"area": null}),
        });
        outln!(
            "{}",
            json!({
                "valid": true,
                "age_ms": accepted.fix.age_ms,
                "decision": decision_str,
                "placement": area,
                "flags": flags,
            })
        );
        return Outcome::Ok;
    }
    let f = &accepted.fix.fix;
    outln!(
        "valid: accuracy {} m, age {:.1} s, provider {}{}",
        f.accuracy_m,
        accepted.fix.age_ms as f64 / 1000.0,
        serde_json::to_value(f.provider)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        if f.mock { ", mock" } else { "" }
    );
    outln!("decision: {decision_str}");
    if let Some((s, p)) = placement {
        match p {
            Placement::Inside { area, on_boundary } => {
                let a = s.area(area);
                outln!(
                    "area: {} ({}){}",
                    a.map(|a| a.code.as_str()).unwrap_or(""),
                    a.map(|a| a.name.as_str()).unwrap_or(""),
                    if on_boundary { ", on the boundary" } else { "" }
                );
            }
            Placement::Outside { nearest, distance_m } => outln!(
                "area: none; nearest {} at {distance_m:.1} m",
                s.area(nearest).map(|a| a.code.as_str()).unwrap_or("")
            ),
            Placement::NoAreas | Placement::InvalidPosition => outln!("area: none"),
        }
    }
    if flags.is_empty() {
        outln!("flags: none");
    }
    for fl in &flags {
        let nums: Vec<String> = fl.numbers.iter().map(|(k, v)| format!("{k}={v:.1}")).collect();
        let subject = fl.subject.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
        outln!("flag {}{subject}: {} [{}]", fl.code.as_str(), reason(fl, lang), nums.join(" "));
    }
    Outcome::Ok
}
