//! The console's reads and writes: a user's scope, the counts and lists the pages show, the
//! audit log. Plain functions over a connection, so the pages, the tests and the benchmark call
//! the same code. Every query about submissions, devices or codes is filtered by the scope.

use crate::params;
use crate::sql::{Conn, OptionalExtension};

use super::users::ConsoleRole;
use crate::error::ApiError;

/// The communes a signed-in user may see. For an admin, every commune the server knows of.
#[derive(Debug, Clone)]
pub struct Scope {
    pub communes: Vec<String>,
    /// The JSON array of `communes` (bound to `json_each` in the queries).
    pub json: String,
}

impl Scope {
    pub fn new(mut communes: Vec<String>) -> Scope {
        communes.sort();
        communes.dedup();
        let json = serde_json::to_string(&communes).unwrap_or_else(|_| "[]".into());
        Scope { communes, json }
    }

    pub fn allows(&self, commune: &str) -> bool {
        self.communes.iter().any(|c| c == commune)
    }
}

/// A signed-in console user.
#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub role: ConsoleRole,
    pub scope: Scope,
}

/// Every commune the server knows: the teams', the areas', the submissions'.
pub fn all_communes(c: &Conn) -> Result<Vec<String>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT j.value FROM teams t, json_each(t.communes) j
         UNION SELECT commune FROM communes
         UNION SELECT DISTINCT commune FROM routing_monthly",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The user's scope: their communes, or every commune for an admin.
pub fn scope_of(c: &Conn, role: ConsoleRole, communes: Vec<String>) -> Result<Scope, ApiError> {
    Ok(match role {
        ConsoleRole::Admin => Scope::new(all_communes(c)?),
        _ => Scope::new(communes),
    })
}

/// Append to the audit log.
pub fn audit(
    c: &Conn,
    at_ms: i64,
    actor: &str,
    action: &str,
    target: Option<&str>,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), ApiError> {
    c.execute(
        "INSERT INTO console_audit (at_ms, actor, action, target, outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![at_ms, actor, action, target, outcome, detail],
    )?;
    Ok(())
}

/// Risk levels in display order; `none` stands for a record without one.
pub const LEVELS: [&str; 5] = ["urgent", "high", "medium", "low", "none"];

fn level_index(level: Option<&str>) -> usize {
    LEVELS.iter().position(|l| Some(*l) == level).unwrap_or(LEVELS.len() - 1)
}

/// One commune's line on the overview.
#[derive(Debug, Clone, Default)]
pub struct CommuneSummary {
    pub commune: String,
    pub name: Option<String>,
    pub registered: Option<i64>,
    /// Distinct household codes of visit submissions.
    pub screened: i64,
    pub submissions: i64,
    /// Urgent and high cases finalized in the map's window.
    pub urgent_high_recent: i64,
    /// Urgent cases without a recorded action, and how many of them are past their deadline.
    pub urgent_open: i64,
    pub urgent_overdue: i64,
    pub has_geometry: bool,
}

/// Submissions per month and risk level: `counts[month][level]` (months oldest first).
#[derive(Debug, Clone)]
pub struct Series {
    /// Each month's first instant (ms) and label (`2026-03`).
    pub months: Vec<(i64, String)>,
    pub counts: Vec<[i64; 5]>,
}

/// How many days the map's counts cover.
pub const MAP_WINDOW_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;
/// Vietnam's time (UTC+7, no daylight saving): months and days start at its midnight.
pub const VN_OFFSET_MS: i64 = 7 * 3_600_000;

/// The first instant of each of the `n` months ending with the one holding `now_ms`, and one
/// past the last (so `n + 1` values), in Vietnam's time.
pub fn month_starts(now_ms: i64, n: usize) -> Vec<(i64, String)> {
    let (y, m, _) = super::timefmt::civil(now_ms + VN_OFFSET_MS);
    let first = y * 12 + (m - 1) - (n as i64 - 1);
    (first..=first + n as i64)
        .map(|index| {
            let (yy, mm) = (index.div_euclid(12), index.rem_euclid(12) + 1);
            let start = super::timefmt::days_from_civil(yy, mm, 1) * DAY_MS - VN_OFFSET_MS;
            (start, format!("{yy:04}-{mm:02}"))
        })
        .collect()
}

/// Submissions by month and risk level over `communes` (each of them in the scope), from the
/// counts kept with each insert (`routing_monthly`).
pub fn series(
    c: &Conn,
    communes_json: &str,
    now_ms: i64,
    months: usize,
) -> Result<Series, ApiError> {
    let mut bounds = month_starts(now_ms, months);
    bounds.pop();
    let (first, last) = match (bounds.first(), bounds.last()) {
        (Some(f), Some(l)) => (f.1.clone(), l.1.clone()),
        _ => return Ok(Series { months: bounds, counts: Vec::new() }),
    };
    let mut counts = vec![[0i64; 5]; bounds.len()];
    let mut stmt = c.prepare_cached(
        "SELECT month, risk_level, sum(submissions) FROM routing_monthly
         WHERE commune IN (SELECT value FROM json_each(?1)) AND month BETWEEN ?2 AND ?3
         GROUP BY month, risk_level",
    )?;
    let rows = stmt.query_map(params![communes_json, first, last], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
    })?;
    for r in rows {
        let (month, level, n) = r?;
        if let Some(i) = bounds.iter().position(|(_, label)| *label == month) {
            counts[i][level_index(Some(&level))] += n;
        }
    }
    Ok(Series { months: bounds, counts })
}

/// Run `sql`, whose rows start with a commune code, and hand each row to `set` with that
/// commune's line (rows of communes without a line are passed over).
fn fill<P: crate::sql::Params>(
    c: &Conn,
    out: &mut [CommuneSummary],
    sql: &str,
    params: P,
    set: impl Fn(&mut CommuneSummary, &crate::sql::Row) -> crate::sql::Result<()>,
) -> Result<(), ApiError> {
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    while let Some(row) = rows.next()? {
        let code: String = row.get(0)?;
        if let Ok(i) = out.binary_search_by(|s| s.commune.as_str().cmp(&code)) {
            set(&mut out[i], row)?;
        }
    }
    Ok(())
}

/// One line per commune of the scope (those with no data too), in code order.
pub fn summaries(c: &Conn, scope: &Scope, now_ms: i64) -> Result<Vec<CommuneSummary>, ApiError> {
    let mut out: Vec<CommuneSummary> = scope
        .communes
        .iter()
        .map(|code| CommuneSummary { commune: code.clone(), ..CommuneSummary::default() })
        .collect();
    let json = &scope.json;
    fill(
        c,
        &mut out,
        "SELECT commune, name, registered_households, geometry IS NOT NULL FROM communes
         WHERE commune IN (SELECT value FROM json_each(?1))",
        [json],
        |s, r| {
            s.name = Some(r.get(1)?);
            s.registered = r.get(2)?;
            s.has_geometry = r.get(3)?;
            Ok(())
        },
    )?;
    fill(
        c,
        &mut out,
        "SELECT commune, sum(submissions) FROM routing_monthly
         WHERE commune IN (SELECT value FROM json_each(?1)) GROUP BY commune",
        [json],
        |s, r| r.get(1).map(|n| s.submissions = n),
    )?;
    fill(
        c,
        &mut out,
        "SELECT commune, count(*) FROM screened_households
         WHERE commune IN (SELECT value FROM json_each(?1)) GROUP BY commune",
        [json],
        |s, r| r.get(1).map(|n| s.screened = n),
    )?;
    fill(
        c,
        &mut out,
        "SELECT commune, count(*) FROM submission_routing
         WHERE commune IN (SELECT value FROM json_each(?1)) AND finalized_at_ms >= ?2
           AND risk_level IN ('urgent', 'high')
         GROUP BY commune",
        params![json, now_ms - MAP_WINDOW_DAYS * DAY_MS],
        |s, r| r.get(1).map(|n| s.urgent_high_recent = n),
    )?;
    fill(
        c,
        &mut out,
        "SELECT r.commune, count(*), count(CASE WHEN r.due_at_ms < ?2 THEN 1 END)
         FROM submission_routing r
         WHERE r.risk_level = 'urgent' AND r.commune || '' IN (SELECT value FROM json_each(?1))
           AND NOT EXISTS (SELECT 1 FROM case_actions a WHERE a.record_id = r.record_id)
         GROUP BY r.commune",
        params![json, now_ms],
        |s, r| {
            s.urgent_open = r.get(1)?;
            s.urgent_overdue = r.get(2)?;
            Ok(())
        },
    )?;
    Ok(out)
}

/// A commune's boundary: polygons, each rings of `[lon, lat]`.
pub type Polygons = Vec<Vec<Vec<[f64; 2]>>>;

/// The boundaries of the scope's communes that have one.
pub fn geometries(c: &Conn, scope: &Scope) -> Result<Vec<(String, Polygons)>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT commune, geometry FROM communes
         WHERE geometry IS NOT NULL AND commune IN (SELECT value FROM json_each(?1))
         ORDER BY commune",
    )?;
    let rows =
        stmt.query_map([&scope.json], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for r in rows {
        let (code, text) = r?;
        let polygons: Polygons = serde_json::from_str(&text)
            .map_err(|_| ApiError::internal("stored commune geometry"))?;
        out.push((code, polygons));
    }
    Ok(out)
}

/// One urgent case on the urgent list: routing metadata only.
#[derive(Debug, Clone)]
pub struct UrgentCase {
    pub record_id: String,
    pub commune: String,
    pub household_code: Option<String>,
    pub team: String,
    pub device_id: String,
    pub finalized_at_ms: i64,
    pub received_at_ms: i64,
    pub due_at_ms: Option<i64>,
    /// The supervisor's recorded action (its kind and time), if any.
    pub action: Option<(String, i64)>,
}

// The urgent queries write `r.commune || ''`: an expression rather than the column keeps SQLite
// from choosing the commune index (every submission of the scope) over the partial index of
// urgent cases. (SQLite's own idiom, `+r.commune`, is not PostgreSQL's.)

/// The columns of an urgent case, from `submission_routing r` left-joined with its action `a`.
const URGENT_COLUMNS: &str = "r.record_id, r.commune, r.household_code, r.team, r.device_id,
     r.finalized_at_ms, r.received_at_ms, r.due_at_ms, a.action, a.action_at_ms";

fn urgent_row(r: &crate::sql::Row) -> crate::sql::Result<UrgentCase> {
    let action: Option<String> = r.get(8)?;
    let action_at: Option<i64> = r.get(9)?;
    Ok(UrgentCase {
        record_id: r.get(0)?,
        commune: r.get(1)?,
        household_code: r.get(2)?,
        team: r.get(3)?,
        device_id: r.get(4)?,
        finalized_at_ms: r.get(5)?,
        received_at_ms: r.get(6)?,
        due_at_ms: r.get(7)?,
        action: action.zip(action_at),
    })
}

/// Urgent cases in the scope, a page at a time, and how many there are in all: first those
/// without a recorded action, earliest deadline first (so the overdue ones lead), then those
/// with one, latest deadline first. Each part walks the partial index of urgent cases by
/// deadline and stops at the page's end: no sort of every urgent case.
pub fn urgent_cases(
    c: &Conn,
    scope: &Scope,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UrgentCase>, i64), ApiError> {
    let (open, total): (i64, i64) = c.query_row(
        "SELECT count(*) FILTER (WHERE NOT EXISTS
                    (SELECT 1 FROM case_actions a WHERE a.record_id = r.record_id)),
                count(*)
         FROM submission_routing r
         WHERE r.risk_level = 'urgent' AND r.commune || '' IN (SELECT value FROM json_each(?1))",
        [&scope.json],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut cases = Vec::new();
    if offset < open {
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {URGENT_COLUMNS} FROM submission_routing r
             LEFT JOIN case_actions a ON a.record_id = r.record_id
             WHERE r.risk_level = 'urgent' AND r.commune || '' IN (SELECT value FROM json_each(?1))
               AND a.record_id IS NULL
             ORDER BY r.due_at_ms LIMIT ?2 OFFSET ?3"
        ))?;
        let rows = stmt.query_map(params![scope.json, limit, offset], urgent_row)?;
        cases = rows.collect::<Result<Vec<_>, _>>()?;
    }
    let room = limit - cases.len() as i64;
    if room > 0 {
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {URGENT_COLUMNS} FROM submission_routing r
             JOIN case_actions a ON a.record_id = r.record_id
             WHERE r.risk_level = 'urgent' AND r.commune || '' IN (SELECT value FROM json_each(?1))
             ORDER BY r.due_at_ms DESC LIMIT ?2 OFFSET ?3"
        ))?;
        let rows = stmt.query_map(params![scope.json, room, (offset - open).max(0)], urgent_row)?;
        cases.extend(rows.collect::<Result<Vec<_>, _>>()?);
    }
    Ok((cases, total))
}

/// Whether every commune of a team is in the scope (what makes its devices and codes the
/// user's to see and manage).
const TEAM_IN_SCOPE: &str = "NOT EXISTS (SELECT 1 FROM json_each(t.communes) j
                                   WHERE j.value NOT IN (SELECT value FROM json_each(?1)))";

/// The teams in the scope.
pub fn teams(c: &Conn, scope: &Scope) -> Result<Vec<String>, ApiError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT t.team FROM teams t WHERE {TEAM_IN_SCOPE} ORDER BY t.team"
    ))?;
    let rows = stmt.query_map([&scope.json], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn team_in_scope(c: &Conn, scope: &Scope, team: &str) -> Result<bool, ApiError> {
    Ok(c.query_row(
        &format!("SELECT 1 FROM teams t WHERE t.team = ?2 AND {TEAM_IN_SCOPE}"),
        params![scope.json, team],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// A device on the devices page.
#[derive(Debug, Clone)]
pub struct DeviceLine {
    pub device_id: String,
    pub team: String,
    pub role: String,
    pub enrolled_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub last_sync_ms: Option<i64>,
    pub pending: Option<i64>,
    pub parked: Option<i64>,
    pub clock_skew_ms: Option<i64>,
    pub app_version: Option<String>,
    pub regression: bool,
}

pub fn devices(c: &Conn, scope: &Scope) -> Result<Vec<DeviceLine>, ApiError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT d.device_id, d.team, d.role, d.enrolled_at_ms, d.revoked_at_ms, d.last_checkin_ms,
                d.pending, d.parked, d.last_clock_skew_ms, d.app_version, d.regression_at_ms
         FROM devices d JOIN teams t ON t.team = d.team
         WHERE {TEAM_IN_SCOPE}
         ORDER BY d.revoked_at_ms IS NOT NULL, d.team, d.enrolled_at_ms, d.device_id"
    ))?;
    let rows = stmt.query_map([&scope.json], |r| {
        Ok(DeviceLine {
            device_id: r.get(0)?,
            team: r.get(1)?,
            role: r.get(2)?,
            enrolled_at_ms: r.get(3)?,
            revoked_at_ms: r.get(4)?,
            last_sync_ms: r.get(5)?,
            pending: r.get(6)?,
            parked: r.get(7)?,
            clock_skew_ms: r.get(8)?,
            app_version: r.get(9)?,
            regression: r.get::<_, Option<i64>>(10)?.is_some(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A device's team, if the device exists and its team is in the scope.
pub fn device_in_scope(
    c: &Conn,
    scope: &Scope,
    device_id: &str,
) -> Result<Option<String>, ApiError> {
    Ok(c.query_row(
        &format!(
            "SELECT d.team FROM devices d JOIN teams t ON t.team = d.team
                 WHERE d.device_id = ?2 AND {TEAM_IN_SCOPE}"
        ),
        params![scope.json, device_id],
        |r| r.get(0),
    )
    .optional()?)
}

/// An enrollment code on the enrollment page (by its hash: the server never keeps the code).
#[derive(Debug, Clone)]
pub struct CodeLine {
    pub code_sha256: String,
    pub team: String,
    pub role: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub used_by_device: Option<String>,
    pub used_at_ms: Option<i64>,
}

/// The scope's codes, newest first (at most `limit`).
pub fn codes(c: &Conn, scope: &Scope, limit: i64) -> Result<Vec<CodeLine>, ApiError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT e.code_sha256, e.team, e.role, e.created_at_ms, e.expires_at_ms, e.used_by_device,
                e.used_at_ms
         FROM enrollment_codes e JOIN teams t ON t.team = e.team
         WHERE {TEAM_IN_SCOPE}
         ORDER BY e.created_at_ms DESC, e.code_sha256 LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![scope.json, limit], |r| {
        Ok(CodeLine {
            code_sha256: r.get(0)?,
            team: r.get(1)?,
            role: r.get(2)?,
            created_at_ms: r.get(3)?,
            expires_at_ms: r.get(4)?,
            used_by_device: r.get(5)?,
            used_at_ms: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Expire an unused code of the scope now; whether there was one.
pub fn expire_code(
    c: &Conn,
    scope: &Scope,
    code_sha256: &str,
    now_ms: i64,
) -> Result<bool, ApiError> {
    let n = c.execute(
        &format!(
            "UPDATE enrollment_codes SET expires_at_ms = CASE WHEN expires_at_ms < ?3 THEN expires_at_ms ELSE ?3 END
             WHERE code_sha256 = ?2 AND used_by_device IS NULL
               AND team IN (SELECT t.team FROM teams t WHERE {TEAM_IN_SCOPE})"
        ),
        params![scope.json, code_sha256, now_ms],
    )?;
    Ok(n > 0)
}

/// One audit entry.
#[derive(Debug, Clone)]
pub struct AuditLine {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// The audit log, newest first: every entry for an admin, a user's own otherwise.
pub fn audit_log(
    c: &Conn,
    user: &User,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditLine>, i64), ApiError> {
    let admin = user.role == ConsoleRole::Admin;
    let mut stmt = c.prepare_cached(
        "SELECT seq, at_ms, actor, action, target, outcome, detail FROM console_audit
         WHERE ?1 = 1 OR actor = ?2 ORDER BY seq DESC LIMIT ?3 OFFSET ?4",
    )?;
    let rows = stmt.query_map(params![admin, user.username, limit, offset], |r| {
        Ok(AuditLine {
            seq: r.get(0)?,
            at_ms: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            outcome: r.get(5)?,
            detail: r.get(6)?,
        })
    })?;
    let lines = rows.collect::<Result<Vec<_>, _>>()?;
    let total: i64 = c.query_row(
        "SELECT count(*) FROM console_audit WHERE ?1 = 1 OR actor = ?2",
        params![admin, user.username],
        |r| r.get(0),
    )?;
    Ok((lines, total))
}

/// Record a supervisor's action on a case (the interface issue #18's decisions will use; the
/// console reads it). Routing only: which record, what kind of action, when, from which device.
pub fn record_case_action(
    c: &Conn,
    record_id: &str,
    action: &str,
    action_at_ms: i64,
    device_id: Option<&str>,
    now_ms: i64,
) -> Result<(), ApiError> {
    c.execute(
        "INSERT INTO case_actions (record_id, action, action_at_ms, device_id, recorded_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (record_id) DO UPDATE SET action = ?2, action_at_ms = ?3, device_id = ?4,
                                               recorded_at_ms = ?5",
        params![record_id, action, action_at_ms, device_id, now_ms],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn months_start_at_midnight_in_vietnam() {
        // 2026-03-01 00:30 in Vietnam is 2026-02-28 17:30 UTC.
        let now = 1_772_299_800_000; // 2026-02-28T17:30:00Z
        let m = month_starts(now, 2);
        assert_eq!(
            m.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
            ["2026-02", "2026-03", "2026-04"]
        );
        assert_eq!(m[1].0, 1_772_298_000_000, "2026-02-28T17:00:00Z");
        assert!(m[1].0 <= now && now < m[2].0);
    }
}
