//! The Rust side of the Kotlin benchmarks (`scripts/kotlin-bench.sh`): the same operations,
//! timed the same way as `android/jvm-bench` times them from Kotlin, so that the script can print
//! Kotlin / Rust ratios from one run:
//! - `rust/call/core_version`: the body of the trivial call (panic guard, a `String`), no FFI;
//! - `rust/core/one_answer/child_age`: criterion's `one_answer/child_age` (core `Session`) on the
//!   household screening with 12 children, alternating the age of `children[7]` between 4 and 9;
//! - `rust/api/one_answer/child_age`: the same answer through `safehome_ffi::FormSession` (the
//!   object Kotlin calls: guard, mutex, `AnswerValue` conversion), filled by the same API calls;
//! - `rust/api/attach_photo/<photo>`: `DraftSession::attach_photo` of an 8 MP phone
//!   photo on a store in a temporary directory (decode, downscale, encode, seal, one transaction).
//!
//! Timing: warm-up, then samples of `batch` calls each timed with a monotonic clock; every
//! figure is per call (median, p10, p90 of the samples). One JSON line per benchmark on stdout;
//! `--out FILE` also writes them to FILE. Run as a test (`cargo test --all-targets`, no
//! `--bench` argument) or with `--quick` it does a few iterations of each, with the small
//! camera photo.

use std::error::Error;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use safehome_core::clock::{FixedClock, SeededEntropy};
use safehome_core::evidence::keys::Identity;
use safehome_core::evidence::photo::sha256;
use safehome_core::form::check::CheckedForm;
use safehome_core::form::session::Session;
use safehome_core::hex;
use safehome_ffi::{
    AnswerValue, FieldKind, FormDefinition, FormSession, NewHousehold, RecipientKind, Role,
    SafeHomeStore, core_version,
};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn Error>>;

const FORM: &str = "household_screening";
const CHILDREN: i64 = 12;
const AGE_PATH: &str = "children[7]/child_age";
const NOW: i64 = 1_795_924_800_000; // 2026-11-29T04:00:00Z, criterion's fixed clock

/// How long and how often to measure one benchmark.
#[derive(Clone, Copy)]
struct Plan {
    warmup: Duration,
    min_warmup_batches: usize,
    samples: usize,
    batch: usize,
}

/// Per-call figures of one benchmark, in nanoseconds.
struct Stats {
    name: String,
    batch: usize,
    samples: usize,
    median: f64,
    p10: f64,
    p90: f64,
    extra: String,
}

impl Stats {
    fn json(&self) -> String {
        format!(
            "{{\"bench\":\"{}\",\"unit\":\"ns\",\"median\":{:.1},\"p10\":{:.1},\"p90\":{:.1},\
             \"samples\":{},\"batch\":{}{}}}",
            self.name, self.median, self.p10, self.p90, self.samples, self.batch, self.extra
        )
    }
}

/// The value at quantile `q` of sorted `xs` (nearest rank on `(n - 1) * q`).
fn quantile(xs: &[f64], q: f64) -> f64 {
    let i = ((xs.len().saturating_sub(1)) as f64 * q).round() as usize;
    xs.get(i.min(xs.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
}

/// Warm up for `plan.warmup` (and at least `min_warmup_batches` batches), then time
/// `plan.samples` batches of `plan.batch` calls of `op`.
fn measure(name: &str, plan: Plan, mut op: impl FnMut() -> Res<()>) -> Res<Stats> {
    let start = Instant::now();
    let mut warm = 0;
    while warm < plan.min_warmup_batches || start.elapsed() < plan.warmup {
        for _ in 0..plan.batch {
            op()?;
        }
        warm += 1;
    }
    let mut per_call = Vec::with_capacity(plan.samples);
    for _ in 0..plan.samples {
        let t = Instant::now();
        for _ in 0..plan.batch {
            op()?;
        }
        per_call.push(t.elapsed().as_nanos() as f64 / plan.batch as f64);
    }
    per_call.sort_by(f64::total_cmp);
    Ok(Stats {
        name: name.to_string(),
        batch: plan.batch,
        samples: plan.samples,
        median: quantile(&per_call, 0.5),
        p10: quantile(&per_call, 0.1),
        p90: quantile(&per_call, 0.9),
        extra: String::new(),
    })
}

/// The answers of the household screening with 12 children, in form order: the first example
/// household with children (as criterion's bench takes it) with its roster replaced by 12 kids.
fn answers() -> Res<Vec<(String, Value)>> {
    let examples: Vec<Value> = serde_json::from_str(safehome_core::templates::EXAMPLE_HOUSEHOLDS)?;
    let example = examples
        .iter()
        .map(|e| &e["answers"])
        .find(|a| a["children"].as_array().is_some_and(|c| !c.is_empty()))
        .ok_or("no example household with children")?;
    let top = |name: &str| (name.to_string(), example[name].clone());
    let mut out: Vec<(String, Value)> =
        ["consent", "commune_code", "village", "old_district", "old_commune", "head_name"]
            .into_iter()
            .map(top)
            .collect();
    out.push(top("household_gps"));
    out.push(("num_children".into(), json!(CHILDREN)));
    for i in 0..CHILDREN {
        let n = i + 1;
        let age = (i * 5 + 2) % 16;
        let kid = |f: &str| format!("children[{n}]/{f}");
        out.push((kid("child_name"), json!(format!("Nguyễn Văn Con {n}"))));
        out.push((kid("child_sex"), json!(if i % 2 == 0 { "male" } else { "female" })));
        out.push((kid("child_age"), json!(age)));
        if age >= 6 {
            out.push((kid("child_in_school"), json!("yes")));
        }
        out.push((kid("child_disability"), json!("no")));
        out.push((kid("child_lives_with"), json!("both_parents")));
    }
    for name in [
        "pond_fenced",
        "well_covered",
        "poison_stored",
        "window_bars",
        "kitchen_separate",
        "hot_items_safe",
        "wiring_safe",
        "stairs_railing",
        "gate_fence",
        "helmet_use",
    ] {
        out.push(top(name));
    }
    out.push(("play_area".into(), json!("yes")));
    for name in ["child_injured_12m", "special_groups", "serious_harm", "notes"] {
        out.push(top(name));
    }
    Ok(out)
}

/// The API's answer for a JSON answer to a question of `kind`.
fn api_value(path: &str, kind: FieldKind, v: &Value) -> Res<AnswerValue> {
    Ok(match v {
        Value::String(s) if kind == FieldKind::Text => AnswerValue::Text { value: s.clone() },
        Value::String(s) => AnswerValue::Choice { value: s.clone() },
        Value::Number(n) => AnswerValue::Integer { value: n.as_i64().ok_or("not an integer")? },
        Value::Array(a) => AnswerValue::Choices {
            values: a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        },
        Value::Object(o) => {
            let num = |k: &str| o.get(k).and_then(Value::as_f64).ok_or("geopoint");
            AnswerValue::Geopoint {
                lat: num("lat")?,
                lon: num("lon")?,
                altitude: num("alt")?,
                accuracy: num("accuracy")?,
            }
        }
        _ => return Err(format!("{path}: unexpected answer {v}").into()),
    })
}

/// sha256 of the filled form's output JSON: Kotlin prints the same for its session, so the
/// script can check both sides answer on the same state.
fn digest(output: &str) -> String {
    hex::encode(&sha256(output.as_bytes()))
}

fn one_answer(plan: Plan, out: &mut Vec<Stats>) -> Res<()> {
    let answers = answers()?;
    let src = safehome_core::templates::source(FORM).ok_or("no built-in household screening")?;
    let form = Arc::new(CheckedForm::from_json(src)?);

    // The core session, filled as criterion's bench fills it.
    let mut core = Session::new(
        Arc::clone(&form),
        Arc::new(FixedClock::new(NOW, 420)),
        Arc::new(SeededEntropy::new(1)),
    );
    let mut loaded = serde_json::Map::new();
    let mut kids = vec![serde_json::Map::new(); CHILDREN as usize];
    for (path, v) in &answers {
        match path.strip_prefix("children[").and_then(|r| r.split_once("]/")) {
            Some((n, field)) => {
                let i: usize = n.parse()?;
                kids.get_mut(i - 1).ok_or("child index")?.insert(field.to_string(), v.clone());
            }
            None => {
                loaded.insert(path.clone(), v.clone());
            }
        }
    }
    loaded.insert("children".into(), Value::Array(kids.into_iter().map(Value::Object).collect()));
    core.load_answers(&Value::Object(loaded)).map_err(|e| format!("load: {e:?}"))?;

    // The bindings' session, filled by the API calls Kotlin makes.
    let api = FormSession::new(FormDefinition::builtin(FORM.into())?, 420)?;
    for (path, v) in &answers {
        let kind = api.prompt(path.clone())?.kind;
        if !api.answer(path.clone(), api_value(path, kind, v)?)? {
            return Err(format!("constraint failed at {path}").into());
        }
    }
    let api_output = api.output_json()?;
    if serde_json::from_str::<Value>(&api_output)? != core.output() {
        return Err("the API session and the core session hold different answers".into());
    }
    if !core.validate().is_valid() {
        return Err("the filled household screening is not valid".into());
    }
    let state = format!(",\"output_sha256\":\"{}\"", digest(&api_output));

    let mut flip = false;
    let mut s = measure("rust/core/one_answer/child_age", plan, || {
        flip = !flip;
        let age = if flip { json!(4) } else { json!(9) };
        core.set_answer(black_box(AGE_PATH), &age)?;
        Ok(())
    })?;
    s.extra = state.clone();
    out.push(s);

    let mut s = measure("rust/api/one_answer/child_age", plan, || {
        flip = !flip;
        let age = AnswerValue::Integer { value: if flip { 4 } else { 9 } };
        api.answer(black_box(AGE_PATH).to_string(), age)?;
        Ok(())
    })?;
    s.extra = state;
    out.push(s);
    Ok(())
}

/// A unique temporary directory for a store, removed by `Drop`.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Res<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos();
        let d =
            std::env::temp_dir().join(format!("safehome-api-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&d)?;
        Ok(TempDir(d))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn attach_photos(plan: Plan, photos: &[&str], out: &mut Vec<Stats>) -> Res<()> {
    let tmp = TempDir::new()?;
    let db = tmp.0.join("safehome.db").to_string_lossy().into_owned();
    let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
    let store = SafeHomeStore::open(db, key, 420)?;
    let sup = store.create_profile(None, "Đỗ Thị Hằng".into(), Role::Supervisor, "1357".into())?;
    let sup = store.unlock(sup.id, "1357".into())?;
    let vol = store.create_profile(
        Some(Arc::clone(&sup)),
        "Lục Văn Toàn".into(),
        Role::Volunteer,
        "2468".into(),
    )?;
    let vol = store.unlock(vol.id, "2468".into())?;
    sup.enroll("Đội Mường Tè 1".into(), vec!["05569".into()])?;
    // The archive's public key only: the benchmark never opens what it seals.
    let archive = Identity::from_bytes([5; 32]).recipient().to_string();
    sup.add_recipient(archive, RecipientKind::Archive, "Lưu trữ".into())?;
    let household = vol.add_household(NewHousehold {
        commune_code: "05569".into(),
        village: "Bản Nà Lòng".into(),
        address: None,
        head_name: "Lò Văn Thào".into(),
        members: Vec::new(),
        location: None,
        volunteer_id: None,
    })?;
    let draft = vol.start_visit(household.id, FORM.into())?;
    for name in photos {
        let path = safehome_testdata::photo(&format!("camera/{name}"));
        let path = path.to_string_lossy().into_owned();
        let mut size = (0, 0);
        let stem = name.trim_end_matches(".jpg");
        let mut s = measure(&format!("rust/api/attach_photo/{stem}"), plan, || {
            let a = draft.attach_photo("hazard_photo".into(), path.clone(), None)?;
            size = (a.width, a.height);
            Ok(())
        })?;
        s.extra = format!(",\"out_width\":{},\"out_height\":{}", size.0, size.1);
        out.push(s);
    }
    store.close_store()?;
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `--quick` (scripts/kotlin-bench.sh --quick) or `cargo test`
    // runs a few iterations of each.
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--quick");
    let out_file = args.iter().position(|a| a == "--out").and_then(|i| args.get(i + 1)).cloned();
    let ms = Duration::from_millis;
    let (call, answer, photo, photos): (Plan, Plan, Plan, &[&str]) = if full {
        (
            Plan { warmup: ms(1_000), min_warmup_batches: 10, samples: 300, batch: 1_000 },
            Plan { warmup: ms(1_000), min_warmup_batches: 10, samples: 300, batch: 10 },
            Plan { warmup: Duration::ZERO, min_warmup_batches: 3, samples: 15, batch: 1 },
            &["jolla.jpg"],
        )
    } else {
        (
            Plan { warmup: Duration::ZERO, min_warmup_batches: 1, samples: 3, batch: 10 },
            Plan { warmup: Duration::ZERO, min_warmup_batches: 1, samples: 3, batch: 2 },
            Plan { warmup: Duration::ZERO, min_warmup_batches: 0, samples: 1, batch: 1 },
            &["DSCN0010.jpg"],
        )
    };

    let mut stats = Vec::new();
    stats.push(measure("rust/call/core_version", call, || {
        black_box(core_version()?);
        Ok(())
    })?);
    one_answer(answer, &mut stats)?;
    attach_photos(photo, photos, &mut stats)?;

    let lines: Vec<String> = stats.iter().map(Stats::json).collect();
    for line in &lines {
        println!("{line}");
    }
    if let Some(path) = out_file {
        std::fs::write(path, lines.join("\n") + "\n")?;
    }
    Ok(())
}
