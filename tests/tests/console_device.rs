//! The oversight console with a real phone: a volunteer's store fills household screenings,
//! the core's sync engine uploads them through the CLI's HTTP transport, a district officer
//! sees them in the console (coverage, devices) and revokes the phone there; the phone's next
//! sync is refused. Nothing of the records' content reaches any page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use safehome_cli::transport::HttpTransport;
use safehome_core::clock::{SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::evidence::keys::Identity;
use safehome_core::store::profiles::Role;
use safehome_core::store::{Store, StoreConfig};
use safehome_core::sync::{self, NoProgress};
use safehome_server::console::users::ConsoleRole;
use safehome_server::{Admin, BackgroundServer, Role as ServerRole, ServerConfig};

const PASSWORD: &str = "district officer's password";

/// A console session kept by hand (cookies, no redirects followed).
struct Officer {
    base: String,
    agent: ureq::Agent,
    cookies: HashMap<String, String>,
}

impl Officer {
    fn request(&mut self, method: &str, path: &str, form: Option<String>) -> (u16, String) {
        let mut req =
            ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        let cookies: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        req = req.header("Cookie", cookies.join("; "));
        if form.is_some() {
            req = req.header("Content-Type", "application/x-www-form-urlencoded");
        }
        let mut res = self.agent.run(req.body(form.unwrap_or_default()).unwrap()).unwrap();
        for v in res.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.insert(k.into(), v.into());
        }
        (res.status().as_u16(), res.body_mut().read_to_string().unwrap())
    }

    fn csrf(html: &str) -> String {
        let at = html.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
        html[at..at + 64].to_string()
    }

    fn log_in(base: &str, user: &str) -> Officer {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut o = Officer { base: base.into(), agent, cookies: HashMap::new() };
        let (_, page) = o.request("GET", "/console/login", None);
        let form = format!(
            "username={user}&password={}&csrf={}",
            PASSWORD.replace(' ', "+").replace('\'', "%27"),
            Officer::csrf(&page)
        );
        let (status, _) = o.request("POST", "/console/login", Some(form));
        assert_eq!(status, 303);
        o
    }
}

#[test]
fn a_phone_syncs_the_district_officer_sees_it_and_revokes_it_and_its_next_sync_is_refused() {
    let root = tempfile_dir();
    let data = root.join("server");
    safehome_server::init(&data).unwrap();
    let now = safehome_core::clock::Clock::now_ms(&SystemClock::default());
    let archive = Identity::generate(&SystemEntropy::default());
    let mut admin = Admin::open(&data).unwrap();
    admin.add_team("dinh-hoa", &["05569".into()], &archive.recipient(), "Archive", now).unwrap();
    admin
        .add_console_user("huyen", ConsoleRole::District, &["05569".into()], PASSWORD, now)
        .unwrap();
    admin.set_commune("05569", Some("Xã Định Hóa"), Some(40)).unwrap();
    let code = admin
        .create_enrollment_code("dinh-hoa", ServerRole::Volunteer, 3_600_000, now)
        .unwrap()
        .code;
    let server = BackgroundServer::start(ServerConfig::new(&data), "127.0.0.1:0").unwrap();
    let url = server.url();

    // The phone: a supervisor enrolls it, a volunteer screens four households and syncs.
    let store = Store::open(
        &root.join("phone.db"),
        &DataKey::from_bytes([3; 32]),
        Arc::new(SystemClock { offset_minutes: 420 }),
        Arc::new(SystemEntropy::default()),
        StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
    )
    .unwrap();
    let sup = store.create_profile(None, "Giám sát", Role::Supervisor, "1111").unwrap();
    let sup = store.unlock(&sup.id, "1111").unwrap();
    let vol = store.create_profile(Some(&sup), "Cộng tác viên", Role::Volunteer, "2222").unwrap();
    let vol = store.unlock(&vol.id, "2222").unwrap();
    let transport = HttpTransport::new(&url).unwrap();
    let enrolled = sync::enroll(&store, &sup, &transport, &url, &code, None, None).unwrap();
    for i in 0..4 {
        safehome_e2e::screened_visit(&store, &vol, i, None).unwrap();
    }
    let report = sync::run(&store, &vol, &transport, &NoProgress).unwrap();
    assert_eq!(report.acknowledged.len(), 4, "{report:?}");

    let mut officer = Officer::log_in(&url, "huyen");
    let (status, overview) = officer.request("GET", "/console/overview", None);
    assert_eq!(status, 200);
    // Four households screened of the forty registered: 10 %.
    assert!(overview.contains("Xã Định Hóa (05569)") && overview.contains("10 %"), "{overview}");
    let (_, commune) = officer.request("GET", "/console/communes/05569", None);
    assert!(commune.contains(r#"<svg class="chart""#));
    // No name, village or answer the volunteer typed is on any page.
    for page in
        ["/console/overview", "/console/urgent", "/console/devices", "/console/communes/05569"]
    {
        let (_, html) = officer.request("GET", page, None);
        for secret in ["Nguyễn Văn", "Nguyễn Thị Hoa", "Bản Piềng", "both_parents"] {
            assert!(!html.contains(secret), "{secret} on {page}");
        }
    }
    let device_id = enrolled.device_id.clone();
    let (_, devices) = officer.request("GET", "/console/devices", None);
    assert!(devices.contains(&device_id) && devices.contains("Cộng tác viên"), "{devices}");

    let path = format!("/console/devices/{device_id}/revoke");
    let (_, confirm) = officer.request("GET", &path, None);
    let (status, done) =
        officer.request("POST", &path, Some(format!("csrf={}", Officer::csrf(&confirm))));
    assert_eq!(status, 200);
    assert!(done.contains("Đã thu hồi thiết bị."));

    safehome_e2e::screened_visit(&store, &vol, 9, None).unwrap();
    let refused = sync::run(&store, &vol, &transport, &NoProgress);
    let text = format!("{refused:?}");
    assert!(text.contains("revoked"), "the revoked phone's next sync: {text}");
    server.stop().unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let d = std::env::temp_dir()
        .join(format!("safehome-console-device-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
