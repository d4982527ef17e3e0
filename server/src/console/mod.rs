//! The oversight console (docs/console.md): server-rendered pages under `/console` for the
//! commune and district offices. It reads routing metadata only (counts, deadlines, devices,
//! codes), never a record's content, and every query is limited to the user's communes.

pub mod alerts;
pub mod areas;
pub mod bench;
pub mod data;
mod i18n;
mod pages;
mod session;
mod svg;
pub(crate) mod timefmt;
pub mod users;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::params;
use crate::sql::OptionalExtension;
use axum::Router;
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;

use self::data::User;
use self::i18n::Lang;
use self::pages::Frame;
use self::session::{LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE};
use self::users::ConsoleRole;
use crate::admin::Role;
use crate::error::{ApiError, ServerError};
use crate::state::AppState;

pub use self::session::LoginLimiter;
pub use self::users::{hash_password, verify_password};

/// The client's address, attached to each request by the serving loop.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

const CSS: &str = include_str!("console.css");

/// The request's session, or return the way to the login page.
macro_rules! ctx {
    ($state:expr, $headers:expr, $path:expr) => {
        match signed_in(&$state, &$headers, $path).await {
            Ok(c) => c,
            Err(r) => return r,
        }
    };
}

/// The console's routes, behind its security headers.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/overview") }))
        .route("/console/", get(|| async { Redirect::to("/console/overview") }))
        .route("/console/static/console.css", get(css))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/lang/{code}", get(set_lang))
        .route("/console/overview", get(overview))
        .route("/console/communes/{code}", get(commune))
        .route("/console/urgent", get(urgent))
        .route("/console/devices", get(devices))
        .route("/console/devices/{device_id}/revoke", get(revoke_page).post(revoke))
        .route("/console/enrollment", get(enrollment).post(create_code))
        .route("/console/enrollment/{code_sha256}/expire", post(expire_code))
        .route("/console/audit", get(audit))
        .layer(middleware::from_fn_with_state(state, security_headers))
}

/// Headers on every console response: a CSP without inline scripts or styles, no framing, no
/// sniffing, no referrer, no caching of pages (HSTS under TLS).
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let cached = h.contains_key(header::CACHE_CONTROL);
    let mut set = |name: &'static str, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "no-referrer");
    set("cross-origin-opener-policy", "same-origin");
    set("cross-origin-resource-policy", "same-origin");
    set("permissions-policy", "camera=(), microphone=(), geolocation=()");
    if !cached {
        set("cache-control", "no-store");
    }
    if state.console.secure_cookies {
        set("strict-transport-security", "max-age=31536000");
    }
    res
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

fn lang_of(headers: &HeaderMap) -> Lang {
    session::cookie(headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c)).unwrap_or(Lang::Vi)
}

fn page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A signed-in request: the user, the session's CSRF token, the language.
struct Ctx {
    user: User,
    csrf: String,
    lang: Lang,
    path: String,
}

impl Ctx {
    fn frame(&self) -> Frame<'_> {
        Frame { user: &self.user, csrf: &self.csrf, lang: self.lang, path: &self.path }
    }

    /// An error page for this user, with the status of `err`.
    fn error(&self, err: &ApiError) -> Response {
        let t = self.lang.t();
        let message = match err.status.as_u16() {
            403 => t.forbidden,
            404 => t.not_found,
            400 => t.bad_form,
            _ => t.error,
        };
        page(err.status, pages::error(Some(&self.frame()), self.lang, message))
    }
}

/// The session of a request, or the way to the login page.
async fn signed_in(state: &AppState, headers: &HeaderMap, path: &str) -> Result<Ctx, Response> {
    let to_login = || Redirect::to("/console/login").into_response();
    let Some(token) = session::cookie(headers, SESSION_COOKIE) else {
        return Err(to_login());
    };
    let digest = session::token_digest(&token);
    let now = state.now_ms();
    let found = state
        .db
        .read(move |c| {
            let row = c
                .query_row(
                    "SELECT s.username, s.csrf_token, s.last_seen_ms, u.role, u.communes
                     FROM console_sessions s JOIN console_users u ON u.username = s.username
                     WHERE s.token_sha256 = ?1 AND s.expires_at_ms > ?2 AND s.last_seen_ms > ?3
                       AND u.disabled_at_ms IS NULL",
                    params![digest, now, now - session::IDLE_MS],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    },
                )
                .optional()?;
            let Some((username, csrf, last_seen, role, communes)) = row else {
                return Ok(None);
            };
            let role: ConsoleRole = role.parse().map_err(|_| ApiError::internal("user role"))?;
            let communes: Vec<String> =
                serde_json::from_str(&communes).map_err(|_| ApiError::internal("user communes"))?;
            let scope = data::scope_of(c, role, communes)?;
            Ok(Some((User { username, role, scope }, csrf, last_seen, digest)))
        })
        .await;
    let Ok(Some((user, csrf, last_seen, digest))) = found else {
        return Err(to_login());
    };
    if last_seen < now - 60_000 {
        // Lazy: losing this costs at most a minute of idle time.
        let _ = state
            .db
            .call_lazy(move |c| {
                c.execute(
                    "UPDATE console_sessions SET last_seen_ms = ?2 WHERE token_sha256 = ?1",
                    params![digest, now],
                )?;
                Ok(())
            })
            .await;
    }
    Ok(Ctx { user, csrf, lang: lang_of(headers), path: path.to_string() })
}

/// Append to the audit log (on the writer; a failure is logged, not shown).
async fn audit_event(
    state: &AppState,
    actor: &str,
    action: &'static str,
    target: Option<String>,
    outcome: &'static str,
    detail: Option<String>,
) {
    let (actor, now) = (actor.to_string(), state.now_ms());
    let r = state
        .db
        .call(move |c| {
            data::audit(c, now, &actor, action, target.as_deref(), outcome, detail.as_deref())
        })
        .await;
    if r.is_err() {
        tracing::error!(action, "could not write the console's audit log");
    }
}

/// Refuse a request outside the user's scope, and say so in the audit log.
async fn refuse(state: &AppState, ctx: &Ctx, action: &'static str, target: String) -> Response {
    audit_event(
        state,
        &ctx.user.username,
        action,
        Some(target),
        "refused",
        Some("outside the user's communes".into()),
    )
    .await;
    ctx.error(&ApiError::forbidden("outside the user's communes"))
}

/// Check a form's CSRF token against the session's; a mismatch is refused and audited.
async fn check_csrf(
    state: &AppState,
    ctx: &Ctx,
    form: &HashMap<String, String>,
    action: &'static str,
) -> Result<(), Response> {
    let sent = form.get("csrf").map(String::as_str).unwrap_or("");
    if session::same_secret(sent, &ctx.csrf) {
        return Ok(());
    }
    audit_event(
        state,
        &ctx.user.username,
        action,
        None,
        "refused",
        Some("missing or wrong CSRF token".into()),
    )
    .await;
    Err(ctx.error(&ApiError::forbidden("CSRF token")))
}

fn render(ctx: &Ctx, result: Result<Markup, ApiError>) -> Response {
    match result {
        Ok(m) => page(StatusCode::OK, m),
        Err(e) => ctx.error(&e),
    }
}

// ---- login ----------------------------------------------------------------------------------

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_form(&state, lang_of(&headers), StatusCode::OK, None)
}

/// The login form with a fresh double-submit token.
fn login_form(state: &AppState, lang: Lang, status: StatusCode, message: Option<&str>) -> Response {
    let token = session::new_token();
    let mut res = page(status, pages::login(lang, &token, message));
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(LOGIN_COOKIE, &token, Some(1800), state.console.secure_cookies),
    );
    res
}

fn peer_ip(peer: Option<&axum::Extension<PeerAddr>>) -> IpAddr {
    peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.0.ip())
}

/// A hash to verify against when the user does not exist, so that the answer takes as long.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

async fn login(
    State(state): State<AppState>,
    peer: Option<axum::Extension<PeerAddr>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&headers);
    let t = lang.t();
    let now = state.now_ms();
    let ip = peer_ip(peer.as_ref());
    let username = form.get("username").map(|u| u.trim().to_lowercase()).unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let sent = form.get("csrf").map(String::as_str).unwrap_or("");
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !session::same_secret(sent, &expected) {
        audit_event(
            &state,
            &username,
            "login",
            None,
            "refused",
            Some("missing or wrong CSRF token".into()),
        )
        .await;
        return login_form(&state, lang, StatusCode::FORBIDDEN, Some(t.bad_form));
    }
    if !state.console.limiter.allows(ip, now) {
        audit_event(
            &state,
            &username,
            "login",
            None,
            "refused",
            Some(format!("rate limit of {ip}")),
        )
        .await;
        return login_form(&state, lang, StatusCode::TOO_MANY_REQUESTS, Some(t.too_many_attempts));
    }
    let name = username.clone();
    let user = state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT password_hash, locked_until_ms, disabled_at_ms IS NOT NULL
                 FROM console_users WHERE username = ?1",
                [&name],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, bool>(2)?)),
            )
            .optional()?)
        })
        .await
        .ok()
        .flatten();
    let hash = user.as_ref().map_or_else(|| dummy_hash().to_string(), |u| u.0.clone());
    let pw = password.clone();
    let verified =
        tokio::task::spawn_blocking(move || verify_password(&hash, &pw)).await.unwrap_or(false);
    let locked = user.as_ref().is_some_and(|u| u.1.is_some_and(|until| until > now));
    let disabled = user.as_ref().is_some_and(|u| u.2);
    if user.is_none() || !verified || locked || disabled {
        state.console.limiter.failed(ip, now);
        let reason = if user.is_none() {
            "unknown user"
        } else if locked {
            "locked"
        } else if disabled {
            "disabled"
        } else {
            "wrong password"
        };
        let name = username.clone();
        let counts = user.is_some() && !locked && !disabled;
        let _ = state
            .db
            .call(move |c| {
                if counts {
                    c.execute(
                        "UPDATE console_users SET failed_logins = failed_logins + 1 WHERE username = ?1",
                        [&name],
                    )?;
                    let failed: i64 = c.query_row(
                        "SELECT failed_logins FROM console_users WHERE username = ?1",
                        [&name],
                        |r| r.get(0),
                    )?;
                    if failed >= session::MAX_FAILED_LOGINS {
                        c.execute(
                            "UPDATE console_users SET failed_logins = 0, locked_until_ms = ?2
                             WHERE username = ?1",
                            params![name, now + session::LOCK_MS],
                        )?;
                        data::audit(c, now, &name, "lockout", Some(&name), "ok", Some("too many wrong passwords"))?;
                    }
                }
                data::audit(c, now, &name, "login", None, "failed", Some(reason))
            })
            .await;
        return login_form(&state, lang, StatusCode::UNAUTHORIZED, Some(t.login_failed));
    }
    let token = session::new_token();
    let digest = session::token_digest(&token);
    let csrf = session::new_token();
    let name = username.clone();
    let created = state
        .db
        .call(move |c| {
            c.execute(
                "UPDATE console_users SET failed_logins = 0, locked_until_ms = NULL WHERE username = ?1",
                [&name],
            )?;
            c.execute("DELETE FROM console_sessions WHERE expires_at_ms <= ?1", [now])?;
            c.execute(
                "INSERT INTO console_sessions (token_sha256, username, csrf_token, created_at_ms,
                                               last_seen_ms, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![digest, name, csrf, now, now + session::ABSOLUTE_MS],
            )?;
            data::audit(c, now, &name, "login", None, "ok", None)
        })
        .await;
    if created.is_err() {
        return login_form(&state, lang, StatusCode::INTERNAL_SERVER_ERROR, Some(t.error));
    }
    let mut res = Redirect::to("/console/overview").into_response();
    let secure = state.console.secure_cookies;
    res.headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(SESSION_COOKIE, &token, None, secure));
    res.headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(LOGIN_COOKIE, "", Some(0), secure));
    res
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let ctx = ctx!(state, headers, "/console/overview");
    if let Err(r) = check_csrf(&state, &ctx, &form, "logout").await {
        return r;
    }
    let digest = session::cookie(&headers, SESSION_COOKIE)
        .map(|t| session::token_digest(&t))
        .unwrap_or_default();
    let (name, now) = (ctx.user.username.clone(), state.now_ms());
    let _ = state
        .db
        .call(move |c| {
            c.execute("DELETE FROM console_sessions WHERE token_sha256 = ?1", [&digest])?;
            data::audit(c, now, &name, "logout", None, "ok", None)
        })
        .await;
    let mut res = Redirect::to("/console/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(SESSION_COOKIE, "", Some(0), state.console.secure_cookies),
    );
    res
}

/// Switch the language and go back to a console page (only a console path: no open redirect).
async fn set_lang(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = Lang::from_code(&code).unwrap_or(Lang::Vi);
    let next = q.get("next").map(String::as_str).unwrap_or("/console/overview");
    let safe = next.starts_with("/console/")
        && next.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
        && !next.contains("//");
    let mut res = Redirect::to(if safe { next } else { "/console/overview" }).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            LANG_COOKIE,
            lang.code(),
            Some(365 * 86_400),
            state.console.secure_cookies,
        ),
    );
    res
}

// ---- pages ----------------------------------------------------------------------------------

/// Render a page from the reader connection for a signed-in user.
async fn show<F>(state: &AppState, ctx: &Ctx, f: F) -> Response
where
    F: FnOnce(&crate::sql::Conn, &Frame<'_>, i64) -> Result<Markup, ApiError> + Send + 'static,
{
    let now = state.now_ms();
    let (user, csrf, lang, path) = (ctx.user.clone(), ctx.csrf.clone(), ctx.lang, ctx.path.clone());
    let result = state
        .db
        .read(move |c| f(c, &Frame { user: &user, csrf: &csrf, lang, path: &path }, now))
        .await;
    render(ctx, result)
}

fn page_number(q: &HashMap<String, String>) -> i64 {
    q.get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).clamp(1, 1_000_000)
}

async fn overview(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ctx = ctx!(state, headers, "/console/overview");
    show(&state, &ctx, pages::overview).await
}

async fn commune(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ctx = ctx!(state, headers, &format!("/console/communes/{code}"));
    if !ctx.user.scope.allows(&code) {
        return refuse(&state, &ctx, "view_commune", code).await;
    }
    show(&state, &ctx, move |c, f, now| pages::commune(c, f, &code, now)).await
}

async fn urgent(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let page_no = page_number(&q);
    let ctx = ctx!(state, headers, "/console/urgent");
    show(&state, &ctx, move |c, f, now| pages::urgent(c, f, page_no, now)).await
}

async fn devices(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ctx = ctx!(state, headers, "/console/devices");
    show(&state, &ctx, |c, f, now| pages::devices(c, f, now, None)).await
}

async fn audit(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let page_no = page_number(&q);
    let ctx = ctx!(state, headers, "/console/audit");
    show(&state, &ctx, move |c, f, _| pages::audit(c, f, page_no)).await
}

async fn enrollment(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ctx = ctx!(state, headers, "/console/enrollment");
    show(&state, &ctx, |c, f, now| pages::enrollment(c, f, now, None)).await
}

// ---- actions --------------------------------------------------------------------------------

/// The device's team when it is the user's to manage.
async fn device_team(
    state: &AppState,
    ctx: &Ctx,
    device_id: &str,
) -> Result<Option<String>, ApiError> {
    let (scope, id) = (ctx.user.scope.clone(), device_id.to_string());
    state.db.read(move |c| data::device_in_scope(c, &scope, &id)).await
}

async fn revoke_page(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let ctx = ctx!(state, headers, "/console/devices");
    match device_team(&state, &ctx, &device_id).await {
        Ok(Some(team)) => {
            page(StatusCode::OK, pages::revoke_confirm(&ctx.frame(), &device_id, &team))
        }
        Ok(None) => refuse(&state, &ctx, "revoke_device", device_id).await,
        Err(e) => ctx.error(&e),
    }
}

/// What an action did, for the audit log: its target and a detail.
struct Done<T> {
    value: T,
    target: String,
    detail: Option<String>,
}

/// A form's action by a signed-in user: the CSRF token checked, then `f` on the writer within
/// a savepoint together with its audit entry. `f` answers `None` for something outside the
/// user's scope, which is refused (403) and audited against `target`.
async fn act<T, F>(
    state: &AppState,
    ctx: &Ctx,
    form: &HashMap<String, String>,
    action: &'static str,
    target: String,
    f: F,
) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&crate::sql::Conn, &data::Scope, i64) -> Result<Option<Done<T>>, ApiError>
        + Send
        + 'static,
{
    check_csrf(state, ctx, form, action).await?;
    let (scope, name, now) = (ctx.user.scope.clone(), ctx.user.username.clone(), state.now_ms());
    let done = state
        .db
        .call(move |c| {
            let sp = c.savepoint()?;
            let Some(done) = f(&sp, &scope, now)? else {
                return Ok(None);
            };
            let (target, detail) = (Some(done.target.as_str()), done.detail.as_deref());
            data::audit(&sp, now, &name, action, target, "ok", detail)?;
            sp.commit()?;
            Ok(Some(done.value))
        })
        .await;
    match done {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(refuse(state, ctx, action, target).await),
        Err(e) => Err(ctx.error(&e)),
    }
}

async fn revoke(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let ctx = ctx!(state, headers, "/console/devices");
    let id = device_id.clone();
    let done =
        act(&state, &ctx, &form, "revoke_device", device_id.clone(), move |c, scope, now| {
            let Some(team) = data::device_in_scope(c, scope, &id)? else {
                return Ok(None);
            };
            crate::admin::revoke_device(c, &id, now).map_err(server_error)?;
            Ok(Some(Done { value: (), target: id, detail: Some(format!("team {team}")) }))
        })
        .await;
    if let Err(r) = done {
        return r;
    }
    tracing::info!(device = %device_id, "revoked from the console");
    show(&state, &ctx, |c, f, now| pages::devices(c, f, now, Some(f.lang.t().device_revoked))).await
}

/// An operator-side failure as an answer.
fn server_error(e: ServerError) -> ApiError {
    match e {
        ServerError::NotFound(m) => ApiError::not_found(m),
        ServerError::Invalid(m) | ServerError::Exists(m) => ApiError::bad_request("form", m),
        ServerError::Db(e) => ApiError::db(&e),
        _ => ApiError::internal("console action"),
    }
}

async fn create_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let ctx = ctx!(state, headers, "/console/enrollment");
    let team = form.get("team").cloned().unwrap_or_default();
    let role: Option<Role> = form.get("role").and_then(|r| r.parse().ok());
    let hours: Option<i64> =
        form.get("hours").and_then(|h| h.parse().ok()).filter(|h| (1..=720).contains(h));
    let (Some(role), Some(hours)) = (role, hours) else {
        // The token first: a forged form is refused as such whatever its fields.
        if let Err(r) = check_csrf(&state, &ctx, &form, "create_code").await {
            return r;
        }
        return ctx.error(&ApiError::bad_request("form", "role or hours"));
    };
    let t = team.clone();
    let created = act(&state, &ctx, &form, "create_code", team.clone(), move |c, scope, now| {
        if !data::team_in_scope(c, scope, &t)? {
            return Ok(None);
        }
        let code =
            crate::admin::insert_code(c, &t, role, hours * 3_600_000, now).map_err(server_error)?;
        let detail = format!("team {t}, role {}, {hours} h", role.as_str());
        Ok(Some(Done { target: codes_digest(&code.code), value: code, detail: Some(detail) }))
    })
    .await;
    match created {
        Ok(code) => {
            show(&state, &ctx, move |c, f, now| {
                let new = (code.code.as_str(), team.as_str(), role.as_str(), code.expires_at_ms);
                pages::enrollment(c, f, now, Some(new))
            })
            .await
        }
        Err(r) => r,
    }
}

fn codes_digest(code: &str) -> String {
    crate::codes::normalize(code).map(|n| crate::codes::digest(&n)).unwrap_or_default()
}

async fn expire_code(
    State(state): State<AppState>,
    Path(code_sha256): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let ctx = ctx!(state, headers, "/console/enrollment");
    let sha = code_sha256.clone();
    let done = act(&state, &ctx, &form, "expire_code", code_sha256, move |c, scope, now| {
        let expired = data::expire_code(c, scope, &sha, now)?;
        Ok(expired.then_some(Done { value: (), target: sha, detail: None }))
    })
    .await;
    match done {
        Ok(()) => Redirect::to("/console/enrollment").into_response(),
        Err(r) => r,
    }
}
