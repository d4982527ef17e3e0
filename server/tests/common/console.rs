//! The console's side of the tests: a server with two teams in three communes, console users
//! of each role, commune boundaries; a small cookie-keeping client that does not follow
//! redirects; and helpers that upload routing metadata as a phone does.

use std::collections::HashMap;
use std::time::Duration;

use safehome_server::console::users::ConsoleRole;

use super::*;

pub const TEAM_B: &str = "tn-19003";
pub const PASSWORD: &str = "mật khẩu dài đủ 12";

/// Three square communes: 19001 and 19002 (team tn-19001), 19003 (team tn-19003).
pub const AREAS: &str = r#"{"type": "FeatureCollection", "features": [
 {"type": "Feature", "properties": {"code": "19001", "name": "Xã Định Hóa"}, "geometry": {"type": "Polygon", "coordinates": [[[105.6, 21.9], [105.7, 21.9], [105.7, 22.0], [105.6, 22.0], [105.6, 21.9]]]}},
 {"type": "Feature", "properties": {"code": "19002", "name": "Xã Trại Cau"}, "geometry": {"type": "Polygon", "coordinates": [[[105.7, 21.9], [105.8, 21.9], [105.8, 22.0], [105.7, 22.0], [105.7, 21.9]]]}},
 {"type": "Feature", "properties": {"code": "19003", "name": "Xã Đồng Hỷ <b>"}, "geometry": {"type": "Polygon", "coordinates": [[[105.8, 21.9], [105.9, 21.9], [105.9, 22.0], [105.8, 22.0], [105.8, 21.9]]]}}
]}"#;

/// A server with the console's users: `admin`, `huyen` (district officer of 19001 and 19002)
/// and `xa3` (commune officer of 19003); the second team; the communes' boundaries and
/// registered households.
pub fn console_server(tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let server = TestServer::start_with(tune);
    let mut admin = server.admin();
    admin.add_team(TEAM_B, &["19003".into()], &archive().recipient(), "Archive", now_ms()).unwrap();
    admin.add_console_user("admin", ConsoleRole::Admin, &[], PASSWORD, now_ms()).unwrap();
    admin
        .add_console_user(
            "huyen",
            ConsoleRole::District,
            &["19001".into(), "19002".into()],
            PASSWORD,
            now_ms(),
        )
        .unwrap();
    admin
        .add_console_user("xa3", ConsoleRole::Commune, &["19003".into()], PASSWORD, now_ms())
        .unwrap();
    admin.import_areas(AREAS, &Default::default()).unwrap();
    admin.set_commune("19001", None, Some(10)).unwrap();
    server
}

/// A phone of team B (commune 19003).
pub fn phone_b(server: &TestServer, seed: u8) -> Phone {
    let code = server
        .admin()
        .create_enrollment_code(TEAM_B, safehome_server::Role::Volunteer, 86_400_000, now_ms())
        .unwrap()
        .code;
    let phone = Phone::new(&server.url(), seed);
    assert_eq!(phone.enroll(&code, None).status, 200);
    phone
}

/// Upload a record with this routing metadata; returns its id.
pub fn upload(
    phone: &Phone,
    n: u64,
    team: &str,
    commune: &str,
    household: &str,
    level: Option<&str>,
    due_in_ms: Option<i64>,
) -> String {
    let id = record_id(n);
    let mut r = routing(phone, &id, &[]);
    r.team = team.into();
    r.commune = Some(commune.into());
    r.household_code = Some(household.into());
    r.risk_level = level.map(Into::into);
    r.due_at_ms = due_in_ms.map(|d| now_ms() + d);
    let body = submission(phone, r, b"answers: never seen by the server");
    let res = phone.put_submission(&id, &body);
    assert_eq!(res.status, 201, "{}", res.text());
    id
}

/// A client that keeps cookies and shows redirects as they are.
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    pub cookies: HashMap<String, String>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client::with_config(base, ureq::Agent::config_builder())
    }

    /// A client of `https://localhost:PORT` that trusts the test certificate `pem`.
    pub fn https(port: u16, pem: &[u8]) -> Client {
        let cert = ureq::tls::Certificate::from_pem(pem).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![cert])))
            .build();
        let base = format!("https://localhost:{port}");
        Client::with_config(&base, ureq::Agent::config_builder().tls_config(tls))
    }

    fn with_config(
        base: &str,
        config: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
    ) -> Client {
        let agent = config
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client { base: base.into(), agent, cookies: HashMap::new() }
    }

    fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> Resp {
        let mut headers = Vec::new();
        if !self.cookies.is_empty() {
            let c: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            headers.push(("Cookie".to_string(), c.join("; ")));
        }
        if body.is_some() {
            headers.push((
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ));
        }
        let res =
            raw(&self.agent, &self.base, method, path, &headers, body.unwrap_or("").as_bytes());
        for (name, value) in &res.headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap_or("");
                if let Some((k, v)) = pair.split_once('=') {
                    if v.is_empty() || value.contains("Max-Age=0") {
                        self.cookies.remove(k);
                    } else {
                        self.cookies.insert(k.to_string(), v.to_string());
                    }
                }
            }
        }
        res
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, None)
    }

    /// Post a form as is.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body: Vec<String> =
            fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        self.send("POST", path, Some(&body.join("&")))
    }

    /// Post a form with the CSRF token of the page at `form_page`.
    pub fn submit(&mut self, form_page: &str, path: &str, fields: &[(&str, &str)]) -> Resp {
        let page = self.get(form_page);
        let token = csrf_of(&page.text());
        let mut all = fields.to_vec();
        all.push(("csrf", &token));
        self.post(path, &all)
    }

    /// Log in (the login page's token first); the response.
    pub fn login(&mut self, user: &str, password: &str) -> Resp {
        self.submit(
            "/console/login",
            "/console/login",
            &[("username", user), ("password", password)],
        )
    }

    /// A client logged in as `user`.
    pub fn signed_in(base: &str, user: &str) -> Client {
        let mut c = Client::new(base);
        let res = c.login(user, PASSWORD);
        assert_eq!(res.status, 303, "login of {user}: {}", res.text());
        c
    }
}

/// Percent-encoding for a form field.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The first CSRF token of a page's forms.
pub fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a form with a CSRF token");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}
