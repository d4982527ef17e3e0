//! The console's pages, rendered with maud (every interpolated value is HTML-escaped; the only
//! unescaped markup is the QR code's SVG, made by the server from the code). A page function
//! reads what it shows from a connection and returns the whole document, so the benchmark
//! times exactly what a request costs the server.

use crate::sql::Conn;
use maud::{DOCTYPE, Markup, html};

use super::data::{self, CodeLine, User};
use super::i18n::Lang;
use super::svg;
use super::timefmt::{date_time, duration, maybe};
use crate::error::ApiError;

/// Which menu entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Urgent,
    Devices,
    Enrollment,
    Audit,
    None,
}

/// Rows per page on the long lists.
pub const PAGE_ROWS: i64 = 100;
/// A device that has not synced for this long is marked.
const STALE_MS: i64 = 7 * 86_400_000;

/// What every signed-in page needs: who, the form token, the language, where we are.
pub struct Frame<'a> {
    pub user: &'a User,
    pub csrf: &'a str,
    pub lang: Lang,
    /// The page's own path (the language switch returns to it).
    pub path: &'a str,
}

/// The document around a page's body.
pub fn layout(
    frame: Option<&Frame<'_>>,
    lang: Lang,
    title: &str,
    nav: Nav,
    body: Markup,
) -> Markup {
    let t = lang.t();
    let back = frame.map_or("/console/login", |f| f.path);
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t.title) }
                link rel="stylesheet" href="/console/static/console.css";
            }
            body {
                header.top {
                    a.brand href="/console/overview" { (t.title) }
                    @if let Some(f) = frame {
                        nav {
                            @for (item, href, label) in [
                                (Nav::Overview, "/console/overview", t.overview),
                                (Nav::Urgent, "/console/urgent", t.urgent_cases),
                                (Nav::Devices, "/console/devices", t.devices),
                                (Nav::Enrollment, "/console/enrollment", t.enrollment),
                                (Nav::Audit, "/console/audit", t.audit_log),
                            ] {
                                a.current[item == nav] href=(href) { (label) }
                            }
                        }
                        div.who {
                            span { (t.signed_in_as) ": " strong { (f.user.username) } }
                            form.inline method="post" action="/console/logout" {
                                input type="hidden" name="csrf" value=(f.csrf);
                                button.link type="submit" { (t.log_out) }
                            }
                        }
                    }
                    a.lang href=(format!("/console/lang/{}?next={}", lang.other().code(), back)) lang=(lang.other().code()) { (t.switch_to) }
                }
                main { (body) }
            }
        }
    }
}

pub fn login(lang: Lang, login_token: &str, message: Option<&str>) -> Markup {
    let t = lang.t();
    layout(
        None,
        lang,
        t.log_in,
        Nav::None,
        html! {
            section.login {
                h1 { (t.log_in) }
                @if let Some(m) = message { p.error role="alert" { (m) } }
                form method="post" action="/console/login" {
                    input type="hidden" name="csrf" value=(login_token);
                    label { (t.username) input name="username" autocomplete="username" required; }
                    label { (t.password) input type="password" name="password" autocomplete="current-password" required; }
                    button type="submit" { (t.log_in) }
                }
            }
        },
    )
}

/// An error page (403, 404, a refused form...).
pub fn error(frame: Option<&Frame<'_>>, lang: Lang, message: &str) -> Markup {
    let t = lang.t();
    layout(
        frame,
        lang,
        t.error,
        Nav::None,
        html! {
            section.error-page {
                h1 { (t.error) }
                p.error role="alert" { (message) }
                p { a href="/console/overview" { (t.back) } }
            }
        },
    )
}

fn name_of(s: &data::CommuneSummary) -> String {
    match &s.name {
        Some(n) => format!("{n} ({})", s.commune),
        None => s.commune.clone(),
    }
}

fn coverage(screened: i64, registered: Option<i64>) -> String {
    match registered {
        Some(r) if r > 0 => format!("{:.0} %", screened as f64 * 100.0 / r as f64),
        _ => "—".into(),
    }
}

/// The overview: every commune of the scope, the chart over all of them, the map.
pub fn overview(c: &Conn, f: &Frame<'_>, now_ms: i64) -> Result<Markup, ApiError> {
    let t = f.lang.t();
    let summaries = data::summaries(c, &f.user.scope, now_ms)?;
    let series = data::series(c, &f.user.scope.json, now_ms, 12)?;
    let shapes = data::geometries(c, &f.user.scope)?;
    Ok(layout(
        Some(f),
        f.lang,
        t.overview,
        Nav::Overview,
        html! {
            h1 { (t.overview) }
            p.sub { (t.all_communes) ": " (f.user.scope.communes.len()) }
            div.cards {
                section.card {
                    h2 { (t.chart_title) }
                    (svg::risk_chart(&series, f.lang))
                }
                section.card {
                    h2 { (t.map_title) }
                    (svg::choropleth(&shapes, &summaries, f.lang))
                }
            }
            section.card {
                h2 { (t.coverage) }
                div.scroll {
                    table {
                        thead { tr {
                            th { (t.commune) } th.num { (t.screened) } th.num { (t.registered) }
                            th.num { (t.coverage) } th.num { (t.submissions) } th.num { (t.urgent_open) }
                        } }
                        tbody {
                            @for s in &summaries {
                                tr {
                                    td { a href=(format!("/console/communes/{}", s.commune)) { (name_of(s)) } }
                                    td.num { (s.screened) }
                                    td.num { (s.registered.map_or_else(|| "—".to_string(), |r| r.to_string())) }
                                    td.num { (coverage(s.screened, s.registered)) }
                                    td.num { (s.submissions) }
                                    td.num.alert[s.urgent_overdue > 0] {
                                        (s.urgent_open)
                                        @if s.urgent_overdue > 0 { " (" (s.urgent_overdue) " " (t.overdue) ")" }
                                    }
                                }
                            }
                        }
                    }
                }
                p.note { (t.coverage_note) }
            }
        },
    ))
}

/// One commune: its numbers and its chart. The caller has checked the scope.
pub fn commune(c: &Conn, f: &Frame<'_>, code: &str, now_ms: i64) -> Result<Markup, ApiError> {
    let t = f.lang.t();
    let one = data::Scope::new(vec![code.to_string()]);
    let summary = data::summaries(c, &one, now_ms)?.into_iter().next().unwrap_or_default();
    let series = data::series(c, &one.json, now_ms, 12)?;
    let title = name_of(&summary);
    Ok(layout(
        Some(f),
        f.lang,
        &title,
        Nav::Overview,
        html! {
            h1 { (t.commune) ": " (title) }
            dl.figures {
                div { dt { (t.screened) } dd { (summary.screened) } }
                div { dt { (t.registered) } dd { (summary.registered.map_or_else(|| "—".to_string(), |r| r.to_string())) } }
                div { dt { (t.coverage) } dd { (coverage(summary.screened, summary.registered)) } }
                div { dt { (t.submissions) } dd { (summary.submissions) } }
                div.alert[summary.urgent_overdue > 0] { dt { (t.urgent_open) } dd { (summary.urgent_open) " (" (summary.urgent_overdue) " " (t.overdue) ")" } }
            }
            section.card {
                h2 { (t.chart_title) }
                (svg::risk_chart(&series, f.lang))
            }
        },
    ))
}

fn pager(base: &str, page: i64, total: i64, lang: Lang) -> Markup {
    let t = lang.t();
    let pages = ((total + PAGE_ROWS - 1) / PAGE_ROWS).max(1);
    html! {
        @if pages > 1 {
            nav.pager {
                @if page > 1 { a href=(format!("{base}?page={}", page - 1)) { (t.previous) } }
                span { (t.page) " " (page) " / " (pages) }
                @if page < pages { a href=(format!("{base}?page={}", page + 1)) { (t.next) } }
            }
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The urgent clock.
pub fn urgent(c: &Conn, f: &Frame<'_>, page: i64, now_ms: i64) -> Result<Markup, ApiError> {
    let t = f.lang.t();
    let (cases, total) = data::urgent_cases(c, &f.user.scope, PAGE_ROWS, (page - 1) * PAGE_ROWS)?;
    Ok(layout(
        Some(f),
        f.lang,
        t.urgent_cases,
        Nav::Urgent,
        html! {
            h1 { (t.urgent_cases) " (" (total) ")" }
            p.sub { (t.urgent_intro) }
            @if cases.is_empty() {
                p.note { (t.no_urgent) }
            } @else {
                div.scroll {
                    table.urgent {
                        thead { tr {
                            th { (t.time_left) } th { (t.deadline) } th { (t.commune) } th { (t.household_code) }
                            th { (t.team) } th { (t.finalized) } th { (t.action) }
                        } }
                        tbody {
                            @for case in &cases {
                                @let overdue = case.action.is_none() && case.due_at_ms.is_some_and(|d| d < now_ms);
                                tr.overdue[overdue] .done[case.action.is_some()] data-record=(case.record_id) {
                                    td.left {
                                        @match (case.due_at_ms, &case.action) {
                                            (_, Some(_)) => { "—" }
                                            (Some(due), None) if due < now_ms => { strong.badge { (f.lang.overdue_by(&duration(now_ms - due, f.lang))) } }
                                            (Some(due), None) => { (f.lang.time_left(&duration(due - now_ms, f.lang))) }
                                            (None, None) => { "—" }
                                        }
                                    }
                                    td { (maybe(case.due_at_ms)) }
                                    td { (case.commune) }
                                    td { (case.household_code.as_deref().unwrap_or("—")) }
                                    td { (case.team) }
                                    td { (date_time(case.finalized_at_ms)) }
                                    td {
                                        @match &case.action {
                                            Some((what, at)) => { span.ok { (what) " · " (date_time(*at)) } }
                                            None => { span.missing { (t.action_none) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (pager("/console/urgent", page, total, f.lang))
            }
        },
    ))
}

/// The devices of the teams in scope.
pub fn devices(
    c: &Conn,
    f: &Frame<'_>,
    now_ms: i64,
    notice: Option<&str>,
) -> Result<Markup, ApiError> {
    let t = f.lang.t();
    let devices = data::devices(c, &f.user.scope)?;
    Ok(layout(
        Some(f),
        f.lang,
        t.devices,
        Nav::Devices,
        html! {
            h1 { (t.devices) }
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            @if devices.is_empty() {
                p.note { (t.no_devices) }
            } @else {
                div.scroll {
                    table.devices {
                        thead { tr {
                            th { (t.device) } th { (t.team) } th { (t.role) } th { (t.last_sync) }
                            th.num { (t.backlog) } th.num { (t.clock_skew) } th { (t.app_version) } th {}
                        } }
                        tbody {
                            @for d in &devices {
                                @let stale = d.revoked_at_ms.is_none() && d.last_sync_ms.unwrap_or(d.enrolled_at_ms) < now_ms - STALE_MS;
                                tr.revoked[d.revoked_at_ms.is_some()] .stale[stale] data-device=(d.device_id) {
                                    td { code title=(d.device_id) { (short(&d.device_id)) }
                                        @if d.regression { br; span.badge { (t.regression) } } }
                                    td { (d.team) }
                                    td { (f.lang.role(&d.role)) }
                                    td {
                                        (d.last_sync_ms.map_or_else(|| t.never.to_string(), date_time))
                                        @if stale { br; span.badge { (t.stale) } }
                                    }
                                    td.num {
                                        (d.pending.map_or_else(|| "—".to_string(), |p| p.to_string()))
                                        @if let Some(p) = d.parked.filter(|p| *p > 0) { " (" (p) " " (t.parked) ")" }
                                    }
                                    td.num { (d.clock_skew_ms.map_or_else(|| "—".to_string(), |s| format!("{:+} s", s / 1000))) }
                                    td { (d.app_version.as_deref().unwrap_or("—")) }
                                    td {
                                        @match d.revoked_at_ms {
                                            Some(at) => { span.muted { (t.revoked) " " (date_time(at)) } }
                                            None => { a.button.danger href=(format!("/console/devices/{}/revoke", d.device_id)) { (t.revoke) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// The confirmation before a revocation.
pub fn revoke_confirm(f: &Frame<'_>, device_id: &str, team: &str) -> Markup {
    let t = f.lang.t();
    layout(
        Some(f),
        f.lang,
        t.revoke,
        Nav::Devices,
        html! {
            section.confirm {
                h1 { (t.revoke_question) }
                p { (t.device) ": " code { (device_id) } " · " (t.team) ": " (team) }
                p.warning { (t.revoke_warning) }
                form method="post" action=(format!("/console/devices/{device_id}/revoke")) {
                    input type="hidden" name="csrf" value=(f.csrf);
                    button.danger type="submit" { (t.revoke_confirm) }
                    " "
                    a.button href="/console/devices" { (t.cancel) }
                }
            }
        },
    )
}

fn code_status(code: &CodeLine, now_ms: i64, lang: Lang) -> (String, bool) {
    let t = lang.t();
    match (&code.used_by_device, code.expires_at_ms <= now_ms) {
        (Some(d), _) => (format!("{} ({})", t.used, short(d)), false),
        (None, true) => (t.expired.into(), false),
        (None, false) => (t.active.into(), true),
    }
}

/// Enrollment codes: the form, the new code (once) and the list.
pub fn enrollment(
    c: &Conn,
    f: &Frame<'_>,
    now_ms: i64,
    new_code: Option<(&str, &str, &str, i64)>,
) -> Result<Markup, ApiError> {
    let t = f.lang.t();
    let teams = data::teams(c, &f.user.scope)?;
    let codes = data::codes(c, &f.user.scope, 200)?;
    Ok(layout(
        Some(f),
        f.lang,
        t.enrollment,
        Nav::Enrollment,
        html! {
            h1 { (t.enrollment) }
            @if let Some((code, team, role, expires)) = new_code {
                section.card.new-code {
                    h2 { (t.new_code) }
                    div.qr { (svg::qr(code)) }
                    p.code { output #new-code { (code) } }
                    p { (t.team) ": " (team) " · " (t.role) ": " (f.lang.role(role)) " · " (t.expires) ": " (date_time(expires)) }
                    p.note { (t.new_code_note) }
                }
            }
            section.card {
                h2 { (t.create_code) }
                @if teams.is_empty() {
                    p.note { (t.no_teams) }
                } @else {
                    form.grid method="post" action="/console/enrollment" {
                        input type="hidden" name="csrf" value=(f.csrf);
                        label { (t.team) select name="team" { @for team in &teams { option value=(team) { (team) } } } }
                        label { (t.role) select name="role" {
                            @for role in ["volunteer", "supervisor", "health_worker"] { option value=(role) { (f.lang.role(role)) } }
                        } }
                        label { (t.valid_hours) input type="number" name="hours" value="24" min="1" max="720"; }
                        button type="submit" { (t.create_code) }
                    }
                }
            }
            section.card {
                @if codes.is_empty() {
                    p.note { (t.no_codes) }
                } @else {
                    div.scroll {
                        table.codes {
                            thead { tr {
                                th { (t.code_id) } th { (t.team) } th { (t.role) } th { (t.created) }
                                th { (t.expires) } th { (t.status) } th {}
                            } }
                            tbody {
                                @for code in &codes {
                                    @let (status, active) = code_status(code, now_ms, f.lang);
                                    tr.inactive[!active] {
                                        td { code { (short(&code.code_sha256)) } }
                                        td { (code.team) }
                                        td { (f.lang.role(&code.role)) }
                                        td { (date_time(code.created_at_ms)) }
                                        td { (date_time(code.expires_at_ms)) }
                                        td { (status) }
                                        td {
                                            @if active {
                                                form.inline method="post" action=(format!("/console/enrollment/{}/expire", code.code_sha256)) {
                                                    input type="hidden" name="csrf" value=(f.csrf);
                                                    button.link type="submit" { (t.expire) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// The audit log.
pub fn audit(c: &Conn, f: &Frame<'_>, page: i64) -> Result<Markup, ApiError> {
    let t = f.lang.t();
    let (lines, total) = data::audit_log(c, f.user, PAGE_ROWS, (page - 1) * PAGE_ROWS)?;
    let admin = f.user.role == super::users::ConsoleRole::Admin;
    Ok(layout(
        Some(f),
        f.lang,
        t.audit_log,
        Nav::Audit,
        html! {
            h1 { (t.audit_log) }
            p.sub { (if admin { t.audit_scope_admin } else { t.audit_scope_own }) }
            div.scroll {
                table.audit {
                    thead { tr { th { "#" } th { (t.time) } th { (t.actor) } th { (t.action) } th { (t.target) } th { (t.outcome) } th { (t.detail) } } }
                    tbody {
                        @for l in &lines {
                            tr.refused[l.outcome != "ok"] {
                                td.num { (l.seq) }
                                td { (date_time(l.at_ms)) }
                                td { (l.actor) }
                                td { code { (l.action) } }
                                td { (l.target.as_deref().unwrap_or("")) }
                                td { (l.outcome) }
                                td { (l.detail.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
            (pager("/console/audit", page, total, f.lang))
        },
    ))
}
