//! `safehome-server bench console`: the server time of the console's overview and urgent list
//! over many submissions. It fills a temporary data directory with a province's worth of
//! routing metadata (92 communes with boundaries, submissions spread over twelve months and
//! the four risk levels, urgent cases with and without a recorded action) and renders each
//! page repeatedly through the same functions the handlers call (queries and HTML).

use std::time::Instant;

use crate::params;
use serde::Serialize;

use super::data::{self, User};
use super::i18n::Lang;
use super::pages::{self, Frame};
use super::users::ConsoleRole;
use crate::admin::Admin;
use crate::error::ServerError;
use crate::submission_store;
use safehome_core::sync::protocol::{ROUTING_SCHEMA, RoutingForm, RoutingHeader};

const COMMUNES: usize = 92;
const DAY_MS: i64 = 86_400_000;

/// Figures for one page and one user, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub page: &'static str,
    pub user: &'static str,
    pub communes: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub html_bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub submissions: usize,
    pub iterations: usize,
    pub fill_s: f64,
    pub timings: Vec<Timing>,
}

/// A small deterministic generator (the figures must not depend on the run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn commune_code(i: usize) -> String {
    format!("{:05}", 5500 + i)
}

/// A commune's square boundary with 400 positions, on a 10-column grid.
fn square(i: usize) -> String {
    let (x0, y0) = (105.3 + (i % 10) as f64 * 0.05, 21.4 + (i / 10) as f64 * 0.05);
    let mut ring = Vec::with_capacity(401);
    for k in 0..400 {
        let t = f64::from(k % 100) / 100.0 * 0.05;
        ring.push(match k / 100 {
            0 => [x0 + t, y0],
            1 => [x0 + 0.05, y0 + t],
            2 => [x0 + 0.05 - t, y0 + 0.05],
            _ => [x0, y0 + 0.05 - t],
        });
    }
    ring.push(ring[0]);
    serde_json::to_string(&vec![vec![ring]]).unwrap_or_default()
}

fn fill(admin: &mut Admin, submissions: usize, now: i64) -> Result<(), ServerError> {
    let c = admin.connection();
    c.execute_batch("BEGIN")?;
    let communes: Vec<String> = (0..COMMUNES).map(commune_code).collect();
    for (t, chunk) in communes.chunks(4).enumerate() {
        c.execute(
            "INSERT INTO teams (team, communes, created_at_ms) VALUES (?1, ?2, ?3)",
            params![format!("team-{t}"), serde_json::to_string(chunk).unwrap_or_default(), now],
        )?;
        for d in 0..8 {
            c.execute(
                "INSERT INTO devices (device_id, public_key, team, role, enrolled_at_ms, last_checkin_ms)
                 VALUES (?1, 'k', ?2, 'volunteer', ?3, ?3)",
                params![format!("dev-{t}-{d}"), format!("team-{t}"), now - 30 * DAY_MS],
            )?;
        }
    }
    for (i, code) in communes.iter().enumerate() {
        c.execute(
            "INSERT INTO communes (commune, name, registered_households, geometry) VALUES (?1, ?2, ?3, ?4)",
            params![code, format!("Xã {i}"), 1500 + (i as i64 * 37) % 900, square(i)],
        )?;
    }
    let mut rng = Lcg(16);
    let mut action = c.prepare(
        "INSERT INTO case_actions (record_id, action, action_at_ms, device_id, recorded_at_ms)
         VALUES (?1, 'visited', ?2, NULL, ?2)",
    )?;
    for n in 0..submissions {
        let ci = rng.below(COMMUNES as u64) as usize;
        let finalized = now - rng.below(365 * DAY_MS as u64) as i64;
        let level = match rng.below(100) {
            0..=59 => Some("low"),
            60..=79 => Some("medium"),
            80..=91 => Some("high"),
            92..=96 => Some("urgent"),
            _ => None,
        };
        let due = (level == Some("urgent")).then_some(finalized + 12 * 3_600_000);
        let routing = RoutingHeader {
            schema: ROUTING_SCHEMA.into(),
            record_id: format!("rec-{n:08}"),
            kind: if rng.below(20) == 0 { "incident" } else { "visit" }.into(),
            form: RoutingForm { id: "household_screening".into(), version: "2024.1".into() },
            team: format!("team-{}", ci / 4),
            commune: Some(commune_code(ci)),
            household_code: Some(format!("{}-{:05}", commune_code(ci), rng.below(1200))),
            risk_level: level.map(Into::into),
            due_at_ms: due,
            finalized_at_ms: finalized,
            clock_offset_ms: 0,
            device_id: format!("dev-{}-{}", ci / 4, rng.below(8)),
            revision: 1,
            revision_of: None,
            envelope_sha256: String::new(),
            envelope_len: 0,
            evidence: Vec::new(),
        };
        // What a PUT stores (the body stands in for the sealed bytes).
        submission_store::insert(c, &routing, b"{}", b"\0", finalized + 60_000)?;
        // Most urgent cases got an action; the most recent ones often not yet.
        if let Some(due) = due {
            if due < now - 2 * DAY_MS || rng.below(3) == 0 {
                action.execute(params![routing.record_id, finalized + 3_600_000])?;
            }
        }
    }
    drop(action);
    c.execute_batch("COMMIT; ANALYZE")?;
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

/// Fill a temporary data directory and time the pages.
pub fn run(submissions: usize, iterations: usize) -> Result<Figures, ServerError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir =
        std::env::temp_dir().join(format!("safehome-console-bench-{}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    crate::init(&dir)?;
    let result = run_in(&dir, submissions, iterations);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    dir: &std::path::Path,
    submissions: usize,
    iterations: usize,
) -> Result<Figures, ServerError> {
    let now = safehome_core::clock::Clock::now_ms(&safehome_core::clock::SystemClock::default());
    let mut admin = Admin::open(dir)?;
    let start = Instant::now();
    fill(&mut admin, submissions, now)?;
    let fill_s = start.elapsed().as_secs_f64();
    let c = admin.connection();
    let err = |e: crate::ApiError| ServerError::Invalid(e.body.message);
    let district: Vec<String> = (0..12).map(commune_code).collect();
    let users = [
        ("admin", ConsoleRole::Admin, Vec::new()),
        ("district", ConsoleRole::District, district),
        ("commune", ConsoleRole::Commune, vec![commune_code(3)]),
    ];
    let mut timings = Vec::new();
    for (label, role, communes) in users {
        let user = User {
            username: label.into(),
            role,
            scope: data::scope_of(c, role, communes).map_err(err)?,
        };
        for page in ["overview", "urgent"] {
            let frame = Frame { user: &user, csrf: "x", lang: Lang::Vi, path: "/console/overview" };
            let mut samples = Vec::with_capacity(iterations);
            let mut bytes = 0;
            for _ in 0..iterations.max(1) {
                let t = Instant::now();
                let markup = match page {
                    "overview" => pages::overview(c, &frame, now),
                    _ => pages::urgent(c, &frame, 1, now),
                }
                .map_err(err)?;
                bytes = markup.into_string().len();
                samples.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            samples.sort_by(f64::total_cmp);
            timings.push(Timing {
                page,
                user: label,
                communes: user.scope.communes.len(),
                p50_ms: percentile(&samples, 0.5),
                p95_ms: percentile(&samples, 0.95),
                max_ms: samples.last().copied().unwrap_or(0.0),
                html_bytes: bytes,
            });
        }
    }
    Ok(Figures { submissions, iterations, fill_s, timings })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_benchmark_runs_on_a_small_province() {
        let figures = run(600, 2).unwrap();
        assert_eq!(figures.timings.len(), 6);
        let admin = &figures.timings[0];
        assert_eq!((admin.page, admin.communes), ("overview", COMMUNES));
        assert!(figures.timings.iter().all(|t| t.html_bytes > 1000 && t.p95_ms >= t.p50_ms));
    }
}
