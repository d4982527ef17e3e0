//! Store benchmarks (`cargo bench -p safehome-core --bench store`), printed as JSON lines:
//! - autosave latency p50/p99 (answer + encrypted draft write, fsync per commit) next to a bare
//!   rusqlite upsert of the same size under the same durability (WAL, synchronous=FULL);
//! - finalize throughput (GPS answered with a platform fix, so the location is judged too);
//! - open time and review-queue time on a database of 100,000 households and 300,000 visits.
//!
//! Run as a test (`cargo test --all-targets`) it does a few iterations of each, as a smoke test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, params};
use safehome_core::clock::{Entropy, SeededEntropy, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::location::Fix;
use safehome_core::store::households::NewHousehold;
use safehome_core::store::profiles::{Actor, Role};
use safehome_core::store::{Store, StoreConfig};
use serde_json::json;

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("safehome-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn open(path: &Path) -> Store {
    Store::open(
        path,
        &DataKey::from_bytes([9u8; 32]),
        Arc::new(SystemClock { offset_minutes: 420 }),
        Arc::new(SystemEntropy::default()),
        StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
    )
    .unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn team(s: &Store) -> Actor {
    let sup = s.create_profile(None, "Sup", Role::Supervisor, "1111").unwrap();
    let sup = s.unlock(&sup.id, "1111").unwrap();
    let v = s.create_profile(Some(&sup), "Vol", Role::Volunteer, "2222").unwrap();
    s.unlock(&v.id, "2222").unwrap()
}

fn household(i: usize) -> NewHousehold {
    NewHousehold {
        commune_code: "05569".into(),
        village: "Thôn Bản Piềng".into(),
        address: None,
        head_name: format!("Nguyễn Văn {i}"),
        members: Vec::new(),
        location: None,
        volunteer_id: None,
    }
}

fn full_answers(s: &Store, vol: &Actor, i: usize) -> safehome_core::store::records::Draft {
    let h = s.add_household(vol, &household(i)).unwrap();
    let mut d = s.start_visit(vol, &h.id, "household_screening").unwrap();
    let examples: Vec<serde_json::Value> =
        serde_json::from_str(safehome_core::templates::EXAMPLE_HOUSEHOLDS).unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&examples[1]["answers"]).map_err(|mut e| e.remove(0)))
        .unwrap();
    // The GPS question from the phone, so finalize judges the location (household, previous
    // visit, photos) as it does in the field.
    let gps = &examples[1]["answers"]["household_gps"];
    let fix = Fix::new(gps["lat"].as_f64().unwrap(), gps["lon"].as_f64().unwrap(), 6.0, s.now_ms());
    s.answer_fix(vol, &mut d, "household_gps", &fix, false).unwrap();
    d
}

fn bench_autosave(n: usize) {
    let d = dir("autosave");
    let s = open(&d.join("store.db"));
    let vol = team(&s);
    let mut draft = full_answers(&s, &vol, 0);
    let draft_bytes =
        serde_json::to_vec(&draft.session().state_without_events()).unwrap().len() + 29;

    // The baseline: the same number of bytes upserted by a bare connection with the same
    // durability. The two are interleaved, so both see the same disk and machine load.
    let c = Connection::open(d.join("bare.db")).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.execute_batch(
        "CREATE TABLE drafts (id TEXT PRIMARY KEY, data BLOB NOT NULL, updated_at INTEGER NOT NULL)",
    )
    .unwrap();
    let mut blob = vec![0u8; draft_bytes];
    let rng = SeededEntropy::new(1);
    let mut answer = Vec::with_capacity(n);
    let mut bare = Vec::with_capacity(n);
    for i in 0..n {
        let v = json!(format!("Ghi chú số {i}: ao cá chưa rào"));
        let t = Instant::now();
        s.answer(&mut draft, "notes", &v).unwrap();
        answer.push(t.elapsed().as_secs_f64() * 1e6);

        rng.fill(&mut blob[..16]);
        let t = Instant::now();
        c.execute(
            "INSERT INTO drafts (id, data, updated_at) VALUES ('draft-1', ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            params![blob, i as i64],
        )
        .unwrap();
        bare.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (a50, a99) = summary(answer);
    let (b50, b99) = summary(bare);
    println!(
        "{{\"bench\":\"autosave\",\"n\":{n},\"draft_bytes\":{draft_bytes},\"answer_autosave_p50_us\":{a50:.0},\"answer_autosave_p99_us\":{a99:.0},\"bare_upsert_p50_us\":{b50:.0},\"bare_upsert_p99_us\":{b99:.0},\"ratio_p50\":{:.2},\"ratio_p99\":{:.2}}}",
        a50 / b50,
        a99 / b99
    );
    let _ = std::fs::remove_dir_all(&d);
}

fn bench_finalize(n: usize) {
    let d = dir("finalize");
    let s = open(&d.join("store.db"));
    let vol = team(&s);
    let drafts: Vec<_> = (0..n).map(|i| full_answers(&s, &vol, i)).collect();
    let mut times = Vec::with_capacity(n);
    let t0 = Instant::now();
    for dr in &drafts {
        let t = Instant::now();
        s.finalize(&vol, dr).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let total = t0.elapsed().as_secs_f64();
    let (p50, p99) = summary(times);
    println!(
        "{{\"bench\":\"finalize\",\"n\":{n},\"per_second\":{:.1},\"p50_ms\":{p50:.2},\"p99_ms\":{p99:.2}}}",
        n as f64 / total
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// Fill a database with `households` households and `visits` records through SQL (the API
/// would take hours of fsyncs); blobs have the sizes real encrypted values have.
fn populate(path: &Path, households: usize, visits: usize) -> Actor {
    let s = open(path);
    let vol = team(&s);
    let sup = s.profiles().unwrap().into_iter().find(|p| p.role == Role::Supervisor).unwrap();
    drop(s);
    let mut c = Connection::open(path).unwrap();
    let tx = c.transaction().unwrap();
    let rng = SeededEntropy::new(7);
    let blob = |n: usize| {
        let mut b = vec![0u8; n];
        rng.fill(&mut b);
        b
    };
    let levels = ["low", "low", "low", "medium", "medium", "high", "urgent"];
    {
        let mut h = tx
            .prepare(
                "INSERT INTO households (id, code, commune_code, volunteer_id, village_enc, head_name_enc, members_enc,
                    location_enc, created_at, updated_at) VALUES (?1, ?2, '05569', ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            )
            .unwrap();
        for i in 0..households {
            h.execute(params![
                format!("h{i}"),
                format!("05569-b-{i:06}"),
                vol.profile_id(),
                blob(45),
                blob(50),
                blob(300),
                blob(90),
                i as i64
            ])
            .unwrap();
        }
        let mut r = tx
            .prepare(
                "INSERT INTO records (id, kind, household_id, form_id, form_version, owner_id, state, revision,
                    submission_enc, submission_hash, signature, risk_level, due_at, created_at, updated_at, finalized_at)
                 VALUES (?1, 'visit', ?2, 'household_screening', '2026.1', ?3, ?4, 1, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?10)",
            )
            .unwrap();
        for i in 0..visits {
            // Mostly acknowledged history, purged after retention (receipts only); the last 300
            // await review with their payloads.
            let pending = i + 300 >= visits;
            let state = if pending { "queued" } else { "acknowledged" };
            let level = levels[i % levels.len()];
            r.execute(params![
                format!("r{i}"),
                format!("h{}", i % households),
                vol.profile_id(),
                state,
                pending.then(|| blob(7000)),
                blob(32),
                blob(64),
                level,
                (i as i64) * 1000,
                i as i64
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    let s = open(path);
    // Rows written with plain SQL carry no seal: seal them as the app would have.
    s.seal_all_rows().unwrap();
    s.unlock(&sup.id, "1111").unwrap()
}

fn bench_large(households: usize, visits: usize) {
    let d = dir("large");
    let path = d.join("store.db");
    let t = Instant::now();
    let sup = populate(&path, households, visits);
    let built = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut opens = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let s = open(&path);
        opens.push(t.elapsed().as_secs_f64() * 1e3);
        drop(s);
    }
    let s = open(&path);
    let mut queue = Vec::new();
    let mut n = 0;
    for _ in 0..20 {
        let t = Instant::now();
        n = s.review_queue(&sup, 500).unwrap().len();
        queue.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (o50, o99) = summary(opens);
    let (q50, q99) = summary(queue);
    println!(
        "{{\"bench\":\"large\",\"households\":{households},\"visits\":{visits},\"db_mb\":{:.0},\"build_s\":{built:.1},\"open_p50_ms\":{o50:.1},\"open_max_ms\":{o99:.1},\"review_queue_items\":{n},\"review_queue_p50_ms\":{q50:.1},\"review_queue_p99_ms\":{q99:.1}}}",
        size as f64 / 1e6
    );
    let _ = std::fs::remove_dir_all(&d);
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if full {
        bench_autosave(2_000);
        bench_finalize(200);
        bench_large(100_000, 300_000);
    } else {
        bench_autosave(5);
        bench_finalize(2);
        bench_large(50, 150);
    }
}
