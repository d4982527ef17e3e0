//! The oversight console over HTTP: sign-in, sessions and their cookies, CSRF, lockout, the
//! security headers, scoping by commune, escaping, the overview, the urgent clock, devices and
//! revocation, enrollment codes, the audit log and the urgent-case webhook.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::console::*;
use common::*;
use safehome_server::AlertConfig;

const HOUR: i64 = 3_600_000;

fn audit_text(server: &TestServer) -> String {
    let mut admin = Client::signed_in(&server.url(), "admin");
    admin.get("/console/audit").text()
}

#[test]
fn a_page_needs_a_session_and_login_sets_a_strict_http_only_cookie() {
    let server = console_server(|_| {});
    let mut c = Client::new(&server.url());
    let res = c.get("/console/overview");
    assert_eq!((res.status, res.header("location")), (303, Some("/console/login")));

    let login = c.get("/console/login");
    assert_eq!(login.status, 200);
    let csp = login.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(login.header("x-frame-options"), Some("DENY"));
    assert_eq!(login.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(login.header("cache-control"), Some("no-store"));
    assert!(login.text().contains("Đăng nhập"), "Vietnamese by default");

    let wrong = c.login("huyen", "not the password");
    assert_eq!(wrong.status, 401);
    let ok = c.login("huyen", PASSWORD);
    assert_eq!((ok.status, ok.header("location")), (303, Some("/console/overview")));
    let cookie = ok
        .headers
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case("set-cookie") && v.starts_with("sh_console="))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert_eq!(c.get("/console/overview").status, 200);

    // Logging out ends the session on the server, not only in the browser.
    let stolen = c.cookies.clone();
    let out = c.submit("/console/overview", "/console/logout", &[]);
    assert_eq!(out.status, 303);
    let mut thief = Client::new(&server.url());
    thief.cookies = stolen;
    assert_eq!(thief.get("/console/overview").status, 303);
}

fn session_cookie(res: &Resp) -> String {
    res.headers
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case("set-cookie") && v.starts_with("sh_console="))
        .map(|(_, v)| v.clone())
        .unwrap()
}

#[test]
fn the_session_cookie_is_secure_over_tls_and_behind_a_tls_proxy() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let server = console_server(|c| {
        c.tls = Some(safehome_server::TlsFiles {
            cert: fixtures.join("tls-cert.pem"),
            key: fixtures.join("tls-key.pem"),
        })
    });
    let pem = std::fs::read(fixtures.join("tls-cert.pem")).unwrap();
    let mut c = Client::https(server.addr().port(), &pem);
    let ok = c.login("huyen", PASSWORD);
    assert_eq!(ok.status, 303);
    assert!(session_cookie(&ok).contains("; Secure"), "{}", session_cookie(&ok));
    assert!(ok.header("strict-transport-security").is_some());
    assert_eq!(c.get("/console/overview").status, 200);

    let proxied = console_server(|c| c.behind_tls_proxy = true);
    let ok = Client::new(&proxied.url()).login("huyen", PASSWORD);
    assert!(session_cookie(&ok).contains("; Secure"), "{}", session_cookie(&ok));
}

#[test]
fn forms_without_their_csrf_token_are_refused() {
    let server = console_server(|_| {});
    let phone = server.volunteer(1);
    // Login itself: a form without the login cookie's token.
    let mut c = Client::new(&server.url());
    c.get("/console/login");
    let res = c.post("/console/login", &[("username", "huyen"), ("password", PASSWORD)]);
    assert_eq!(res.status, 403);
    assert!(!c.cookies.contains_key("sh_console"));

    let mut c = Client::signed_in(&server.url(), "huyen");
    let path = format!("/console/devices/{}/revoke", phone.device_id);
    assert_eq!(c.post(&path, &[]).status, 403);
    assert_eq!(c.post(&path, &[("csrf", "0123")]).status, 403);
    assert_eq!(
        c.post("/console/enrollment", &[("team", TEAM), ("role", "volunteer"), ("hours", "24")])
            .status,
        403
    );
    // The device still syncs.
    assert_eq!(phone.send("GET", "/v1/config", b"", &[]).status, 200);
    assert!(audit_text(&server).contains("missing or wrong CSRF token"));
}

#[test]
fn wrong_passwords_lock_the_user_until_unlocked_and_are_audited() {
    let server = console_server(|_| {});
    let mut c = Client::new(&server.url());
    for _ in 0..5 {
        assert_eq!(c.login("huyen", "wrong password!").status, 401);
    }
    assert_eq!(c.login("huyen", PASSWORD).status, 401, "locked");
    server.admin().unlock_console_user("huyen").unwrap();
    assert_eq!(c.login("huyen", PASSWORD).status, 303);
    let audit = audit_text(&server);
    assert!(
        audit.contains("lockout") && audit.contains("wrong password") && audit.contains("locked"),
        "{audit}"
    );
}

#[test]
fn one_address_is_rate_limited_across_user_names() {
    let server = console_server(|_| {});
    let mut c = Client::new(&server.url());
    let mut limited = false;
    for i in 0..25 {
        let res = c.login(&format!("nobody{i}"), "wrong password!");
        if res.status == 429 {
            limited = true;
            break;
        }
        assert_eq!(res.status, 401);
    }
    assert!(limited, "20 failures from one address are the limit");
    assert_eq!(c.login("huyen", PASSWORD).status, 429, "even with the right password");
}

#[test]
fn a_commune_officer_sees_only_their_commune_and_cannot_reach_others_by_url() {
    let server = console_server(|_| {});
    let phone_a = server.volunteer(1);
    let phone_b = phone_b(&server, 2);
    upload(&phone_a, 1, TEAM, "19001", "19001-0001", Some("urgent"), Some(3 * HOUR));
    upload(&phone_b, 2, TEAM_B, "19003", "19003-0001", Some("urgent"), Some(5 * HOUR));

    let mut xa3 = Client::signed_in(&server.url(), "xa3");
    assert_eq!(xa3.get("/console/communes/19003").status, 200);
    let refused = xa3.get("/console/communes/19001");
    assert_eq!(refused.status, 403);
    assert!(!refused.text().contains("19001-0001"));
    let urgent = xa3.get("/console/urgent").text();
    assert!(urgent.contains("19003-0001") && !urgent.contains("19001-0001"), "{urgent}");
    let devices = xa3.get("/console/devices").text();
    assert!(devices.contains(&phone_b.device_id) && !devices.contains(&phone_a.device_id));
    let overview = xa3.get("/console/overview").text();
    assert!(!overview.contains("/console/communes/19001"));
    // Revoking, or creating a code for, another commune's team.
    let revoke = format!("/console/devices/{}/revoke", phone_a.device_id);
    assert_eq!(xa3.get(&revoke).status, 403);
    assert_eq!(xa3.submit("/console/devices", &revoke, &[]).status, 403);
    let code = xa3.submit(
        "/console/enrollment",
        "/console/enrollment",
        &[("team", TEAM), ("role", "volunteer"), ("hours", "24")],
    );
    assert_eq!(code.status, 403);
    assert_eq!(phone_a.send("GET", "/v1/config", b"", &[]).status, 200, "not revoked");
    let audit = audit_text(&server);
    assert!(audit.contains("view_commune") && audit.contains("refused"), "{audit}");
}

#[test]
fn the_urgent_list_puts_overdue_cases_first_marks_them_and_shows_recorded_actions() {
    let server = console_server(|_| {});
    let phone = server.volunteer(1);
    let later = upload(&phone, 1, TEAM, "19001", "H-LATER", Some("urgent"), Some(5 * HOUR));
    let overdue = upload(&phone, 2, TEAM, "19001", "H-OVERDUE", Some("urgent"), Some(-2 * HOUR));
    let acted = upload(&phone, 3, TEAM, "19002", "H-ACTED", Some("urgent"), Some(-HOUR));
    upload(&phone, 4, TEAM, "19001", "H-HIGH", Some("high"), None);
    server
        .admin()
        .record_case_action(&acted, "visited", now_ms() - 30 * 60_000, None, now_ms())
        .unwrap();

    let mut c = Client::signed_in(&server.url(), "huyen");
    let html = c.get("/console/urgent").text();
    let pos = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle} in {html}"));
    assert!(
        pos(&overdue) < pos(&later) && pos(&later) < pos(&acted),
        "overdue, then by deadline, then acted on"
    );
    assert!(!html.contains("H-HIGH"), "only urgent cases");
    assert!(html.contains(&format!(r#"<tr class="overdue" data-record="{overdue}""#)), "{html}");
    assert!(html.contains("Quá hạn 2 giờ") || html.contains("Quá hạn 1 giờ 59 phút"), "{html}");
    assert!(html.contains("Còn 4 giờ 59 phút") || html.contains("Còn 5 giờ 0 phút"), "{html}");
    assert!(html.contains("visited"), "the recorded action");
    assert!(html.contains("Chưa ghi nhận"), "no action yet");
    assert!(!html.contains("answers: never seen"), "no record content");

    c.get("/console/lang/en?next=/console/urgent");
    let en = c.get("/console/urgent").text();
    assert!(en.contains("Urgent cases") && en.contains("Overdue by"), "{en}");
}

#[test]
fn values_from_phones_and_areas_render_as_text() {
    let server = console_server(|_| {});
    let phone = server.volunteer(1);
    upload(&phone, 1, TEAM, "19001", "<script>alert(1)</script>", Some("urgent"), Some(HOUR));
    let mut c = Client::signed_in(&server.url(), "admin");
    let html = c.get("/console/urgent").text();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    assert!(!html.contains("<script>"));
    let overview = c.get("/console/overview").text();
    assert!(
        overview.contains("Xã Đồng Hỷ &lt;b&gt;") && !overview.contains("Hỷ <b>"),
        "{overview}"
    );
}

#[test]
fn the_overview_shows_coverage_risk_over_time_and_the_map() {
    let server = console_server(|_| {});
    let phone = server.volunteer(1);
    upload(&phone, 1, TEAM, "19001", "19001-1", Some("low"), None);
    upload(&phone, 2, TEAM, "19001", "19001-2", Some("high"), None);
    upload(&phone, 3, TEAM, "19001", "19001-2", Some("urgent"), Some(HOUR));
    upload(&phone, 4, TEAM, "19002", "19002-1", Some("medium"), None);
    let mut c = Client::signed_in(&server.url(), "huyen");
    let html = c.get("/console/overview").text();
    // 19001: two households screened of ten registered.
    assert!(html.contains("20 %"), "{html}");
    assert!(html.contains(r#"<svg class="chart""#) && html.contains(r#"class="lv-urgent""#));
    // The map: 19001 has two urgent or high cases, 19002 none; 19003 is not drawn.
    assert!(
        html.contains(r#"<path class="commune m1""#)
            && html.contains(r#"<path class="commune m0""#)
    );
    assert!(html.contains("Xã Định Hóa (19001): 2"), "{html}");
    assert!(!html.contains("/console/communes/19003"));
    assert!(!html.contains("style="), "no inline style (CSP)");
    let commune = c.get("/console/communes/19001").text();
    assert!(commune.contains("Xã Định Hóa") && commune.contains(r#"<svg class="chart""#));
}

#[test]
fn devices_are_listed_and_a_revoked_one_is_refused_at_its_next_sync() {
    let server = console_server(|_| {});
    let phone = server.volunteer(1);
    assert_eq!(
        phone.json("POST", "/v1/checkin", &serde_json::json!({
            "audit_length": 3, "audit_head": "ab", "app_version": "0.1.0", "pending": 4, "parked": 1,
            "device_time_ms": now_ms() + 90_000
        })).status,
        200
    );
    let mut c = Client::signed_in(&server.url(), "huyen");
    let list = c.get("/console/devices").text();
    assert!(list.contains(&phone.device_id[..8]) && list.contains("Cộng tác viên"), "{list}");
    assert!(
        list.contains("(1 tạm giữ)")
            && (list.contains("+90 s") || list.contains("+89 s"))
            && list.contains("0.1.0"),
        "{list}"
    );
    assert!(!list.contains("Hơn 7 ngày chưa đồng bộ"), "synced just now");
    // A phone silent for eight days is marked.
    let db = safehome_server::DataDir::new(server.data()).open_db().unwrap();
    db.execute("UPDATE devices SET last_checkin_ms = ?1", [now_ms() - 8 * 86_400_000]).unwrap();
    assert!(c.get("/console/devices").text().contains("Hơn 7 ngày chưa đồng bộ"));
    let path = format!("/console/devices/{}/revoke", phone.device_id);
    let confirm = c.get(&path);
    assert!(confirm.text().contains("Xác nhận thu hồi"));
    let done = c.submit(&path, &path, &[]);
    assert_eq!(done.status, 200);
    assert!(done.text().contains("Đã thu hồi thiết bị."));
    let next = phone.send("GET", "/v1/config", b"", &[]);
    assert_eq!((next.status, next.code().as_str()), (403, "device_revoked"));
    assert!(audit_text(&server).contains("revoke_device"));
}

#[test]
fn an_enrollment_code_made_in_the_console_enrolls_a_phone_once_and_can_be_expired() {
    let server = console_server(|_| {});
    let mut c = Client::signed_in(&server.url(), "huyen");
    let made = c.submit(
        "/console/enrollment",
        "/console/enrollment",
        &[("team", TEAM), ("role", "volunteer"), ("hours", "24")],
    );
    assert_eq!(made.status, 200);
    let html = made.text();
    let start = html.find(r#"<output id="new-code">"#).unwrap() + r#"<output id="new-code">"#.len();
    let code = &html[start..start + 14];
    assert!(html.contains("<svg") && html.contains("<path"), "a QR code");
    let phone = Phone::new(&server.url(), 5);
    assert_eq!(phone.enroll(code, None).status, 200);
    assert_eq!(Phone::new(&server.url(), 6).enroll(code, None).status, 410, "used");
    assert!(c.get("/console/enrollment").text().contains("Đã dùng"));

    let second = c
        .submit(
            "/console/enrollment",
            "/console/enrollment",
            &[("team", TEAM), ("role", "supervisor"), ("hours", "2")],
        )
        .text();
    let start =
        second.find(r#"<output id="new-code">"#).unwrap() + r#"<output id="new-code">"#.len();
    let code2 = second[start..start + 14].to_string();
    let sha = safehome_core::sync::protocol::sha256_hex(code2.replace('-', "").as_bytes());
    let expired =
        c.submit("/console/enrollment", &format!("/console/enrollment/{sha}/expire"), &[]);
    assert_eq!(expired.status, 303);
    let late = Phone::new(&server.url(), 7).enroll(&code2, Some(&archive().recipient()));
    assert_eq!((late.status, late.code().as_str()), (410, "enrollment_code_expired"));
    let audit = audit_text(&server);
    assert!(audit.contains("create_code") && audit.contains("expire_code"), "{audit}");
    assert!(!audit.contains(code) && !audit.contains(&code2), "codes are not logged");
}

/// A local webhook receiver: answers each request with the next status and keeps the bodies.
fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for (stream, status) in
            listener.incoming().zip(statuses.into_iter().chain(std::iter::repeat(200)))
        {
            let mut s = stream.unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        seen.lock().unwrap().push(text[end + 4..].to_string());
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ = s.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (url, bodies)
}

#[test]
fn an_urgent_case_without_action_near_its_deadline_is_posted_to_the_webhook_with_retries() {
    let (url, bodies) = receiver(vec![500]);
    let server = console_server(|c| {
        let mut alerts = AlertConfig::new(url.clone(), 4);
        alerts.poll = Duration::from_millis(50);
        alerts.backoff = Duration::from_millis(10);
        c.alerts = Some(alerts);
    });
    let phone = server.volunteer(1);
    let near = upload(&phone, 1, TEAM, "19001", "H-NEAR", Some("urgent"), Some(HOUR));
    let far = upload(&phone, 2, TEAM, "19001", "H-FAR", Some("urgent"), Some(10 * HOUR));
    // The action is recorded before the record arrives, so no alert round sees it without.
    let acted = record_id(3);
    server.admin().record_case_action(&acted, "visited", now_ms(), None, now_ms()).unwrap();
    assert_eq!(upload(&phone, 3, TEAM, "19001", "H-ACTED", Some("urgent"), Some(HOUR)), acted);
    let deadline = Instant::now() + Duration::from_secs(20);
    while bodies.lock().unwrap().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = bodies.lock().unwrap().clone();
    assert!(got.len() >= 2, "a failed delivery and its retry: {got:?}");
    let first: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(first["record_id"], near.as_str());
    assert_eq!(first["event"], "urgent_case_without_action");
    assert_eq!(
        (first["attempt"].as_i64(), got.len()),
        (Some(1), 2),
        "delivered once, then no more"
    );
    assert!(
        !got.iter().any(|b| b.contains(&far) || b.contains(&acted) || b.contains("H-NEAR")),
        "{got:?}"
    );
    let audit = audit_text(&server);
    assert!(
        audit.contains("attempt 1: HTTP 500") && audit.contains("attempt 2: HTTP 200"),
        "{audit}"
    );
}

#[test]
fn a_session_ends_after_an_idle_hour_and_a_lockout_after_fifteen_minutes() {
    let clock = std::sync::Arc::new(safehome_core::clock::FixedClock::new(now_ms(), 420));
    let c2 = clock.clone();
    let server = console_server(move |c| c.clock = c2);
    let mut c = Client::signed_in(&server.url(), "huyen");
    clock.advance(59 * 60_000);
    assert_eq!(c.get("/console/overview").status, 200, "used within the hour");
    clock.advance(59 * 60_000);
    assert_eq!(c.get("/console/overview").status, 200, "each request restarts the idle hour");
    clock.advance(61 * 60_000);
    let idle = c.get("/console/overview");
    assert_eq!((idle.status, idle.header("location")), (303, Some("/console/login")));

    let mut c = Client::new(&server.url());
    for _ in 0..5 {
        assert_eq!(c.login("xa3", "wrong password!").status, 401);
    }
    clock.advance(14 * 60_000);
    assert_eq!(c.login("xa3", PASSWORD).status, 401, "still locked");
    clock.advance(2 * 60_000);
    assert_eq!(c.login("xa3", PASSWORD).status, 303, "the lockout has passed");
}
