//! `safehome demo`: the main job, on an embedded SQLite database. A phone is set up with a
//! supervisor, a volunteer and a health worker; the volunteer registers and screens a few
//! realistic households (the examples that ship with the templates); a health worker records a
//! child injury; each submission is validated, assessed, signed and queued; the supervisor's
//! review queue puts the urgent cases first. The team's server runs in-process on a loopback
//! port: the phone enrolls with a one-time code, syncs (sealed records and the photo, resumable,
//! each acknowledged by the server's signed receipt) and the outbox empties; the audit chain is
//! verified. Everything lives in a temporary directory unless `--keep DIR` is given (the
//! phone's database in `safehome.db`, the server's data in `server/`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use safehome_core::clock::{Clock, Entropy, FixedClock, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::evidence::envelope::open_bytes;
use safehome_core::evidence::keys::Identity;
use safehome_core::form::risk::Level;
use safehome_core::location::{Fix, Provider};
use safehome_core::store::households::NewHousehold;
use safehome_core::store::profiles::{Actor, Role};
use safehome_core::store::{Store, StoreConfig, StoreError};
use safehome_core::sync::{self, NoProgress};
use safehome_core::templates;
use safehome_server::{Admin, BackgroundServer, ServerConfig};
use serde_json::{Value, json};

use crate::Outcome;
use crate::outln;
use crate::report;
use crate::transport::HttpTransport;
use crate::utc_offset::VIETNAM;

/// The demo team's id on the server (ids are slugs; names are shown by the district office).
const TEAM: &str = "dinh-hoa-1";
const COMMUNES: [&str; 3] = ["05569", "05662", "05692"];

/// A real camera photo with GPS tags (testdata/photos/camera/DSCN0010.jpg, CC BY-SA 4.0: see
/// testdata/photos/README.md), embedded so that an installed binary runs the whole demo.
const PHOTO: &[u8] = include_bytes!("../../testdata/photos/camera/DSCN0010.jpg");

/// A directory removed when the demo ends (unless kept).
struct Workdir {
    path: PathBuf,
    keep: bool,
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn workdir(keep: Option<&Path>) -> Result<Workdir, String> {
    let path = match keep {
        Some(p) => p.to_path_buf(),
        None => std::env::temp_dir().join(format!("safehome-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Workdir { path, keep: keep.is_some() })
}

pub fn run(lang: &str, keep: Option<&Path>) -> Outcome {
    match demo(lang, keep) {
        Ok(()) => Outcome::Ok,
        Err(e) => {
            eprintln!("demo failed: {e}");
            Outcome::Refused
        }
    }
}

fn demo(lang: &str, keep: Option<&Path>) -> Result<(), String> {
    let vi = lang == "vi";
    let dir = workdir(keep)?;
    let db = dir.path.join("safehome.db");
    let mut key = [0u8; 32];
    SystemEntropy::default().fill(&mut key);
    // The demo's households are in Vietnam, whatever `--utc-offset` says (the phone passes its
    // own offset in the app). Its day runs on a clock that starts now and moves 40 minutes
    // between households, as a volunteer's round does (the location checks compare visit
    // times: instant travel would be flagged).
    let clock = Arc::new(FixedClock::new(SystemClock::default().now_ms(), VIETNAM.minutes()));
    let store = Store::open(
        &db,
        &DataKey::from_bytes(key),
        clock.clone(),
        Arc::new(SystemEntropy::default()),
        StoreConfig::default(),
    )
    .map_err(|e| e.to_string())?;
    let e = |e: StoreError| e.to_string();

    outln!("SafeHome demo — {} {}", if vi { "cơ sở dữ liệu" } else { "database" }, db.display());
    let sup = profile(&store, None, "Đỗ Thị Hằng", Role::Supervisor, "135790").map_err(e)?;
    let vol = profile(&store, Some(&sup), "Lục Văn Toàn", Role::Volunteer, "246802").map_err(e)?;
    let hw =
        profile(&store, Some(&sup), "Nông Văn Khải", Role::HealthWorker, "112233").map_err(e)?;
    // The province's archive key: everything the team seals is sealed to it. Its private half
    // never touches a phone; the demo keeps it in memory to show a photo opening on the other
    // side.
    let archive = Identity::generate(&SystemEntropy::default());
    // The team's server, in-process on a loopback port, set up as the district office would:
    // its key (pinned by phones), the team with its communes and archive key, and a one-time
    // enrollment code for this phone.
    let server_dir = dir.path.join("server");
    let server_key = safehome_server::init(&server_dir).map_err(|x| x.to_string())?;
    let now = SystemClock::default().now_ms();
    let mut admin = Admin::open(&server_dir).map_err(|x| x.to_string())?;
    let communes: Vec<String> = COMMUNES.iter().map(|c| c.to_string()).collect();
    admin
        .add_team(TEAM, &communes, &archive.recipient(), "Lưu trữ tỉnh Thái Nguyên", now)
        .map_err(|x| x.to_string())?;
    let code = admin
        .create_enrollment_code(TEAM, safehome_server::Role::Volunteer, 86_400_000, now)
        .map_err(|x| x.to_string())?;
    let server = BackgroundServer::start(ServerConfig::new(&server_dir), "127.0.0.1:0")
        .map_err(|x| x.to_string())?;
    let transport = HttpTransport::new(&server.url())?;
    let config = sync::enroll(
        &store,
        &sup,
        &transport,
        &server.url(),
        &code.code,
        Some(&server_key.to_string()),
        None,
    )
    .map_err(|x| x.to_string())?;
    outln!(
        "{}: {} {} {}, {} {}, {} {}",
        if vi { "Máy chủ của nhóm" } else { "Team server" },
        server.url(),
        if vi { "khóa" } else { "key" },
        &server_key.to_string()[..20],
        if vi { "mã đăng ký" } else { "enrollment code" },
        code.code,
        if vi { "nhóm" } else { "team" },
        config.team
    );
    let mut sealed_photo: Option<String> = None;
    outln!(
        "{}: 1 supervisor, 1 volunteer, 1 health worker (PIN: PBKDF2-SHA256, 600,000 iterations)\n",
        if vi { "Thiết bị" } else { "Device" }
    );

    let examples: Vec<Value> = serde_json::from_str(templates::EXAMPLE_HOUSEHOLDS)
        .map_err(|x| format!("examples: {x}"))?;
    for (i, ex) in examples.iter().enumerate() {
        let label = ex["label"].as_str().unwrap_or("household");
        outln!("== {}. {label}", i + 1);
        let answers = &ex["answers"];
        let household = NewHousehold {
            commune_code: answers["commune_code"].as_str().unwrap_or("05569").to_string(),
            village: answers["village"].as_str().unwrap_or("").to_string(),
            address: None,
            head_name: answers["head_name"].as_str().unwrap_or("").to_string(),
            members: Vec::new(),
            location: None,
            volunteer_id: None,
        };
        if i > 0 {
            clock.advance(40 * 60_000);
        }
        let h = store.add_household(&vol, &household).map_err(e)?;
        let mut draft = store.start_visit(&vol, &h.id, "household_screening").map_err(e)?;
        store
            .edit(&mut draft, |s| {
                s.set_language(lang)?;
                s.load_answers(answers).map_err(|mut errs| errs.remove(0))
            })
            .map_err(e)?;
        // The phone's GPS answers the location question; the store keeps the whole fix and
        // judges it at finalize (provider, accuracy, the photo's EXIF position and time).
        let gps = &answers["household_gps"];
        let (Some(lat), Some(lon)) = (gps["lat"].as_f64(), gps["lon"].as_f64()) else {
            return Err(format!("example household {}: no household_gps position", i + 1));
        };
        let accuracy = gps["accuracy"].as_f64().unwrap_or(8.0);
        let mut fix = Fix::new(lat, lon, accuracy, store.now_ms() - 3_000);
        fix.provider = Provider::Gps;
        store.answer_fix(&vol, &mut draft, "household_gps", &fix, true).map_err(e)?;
        if i == 1 {
            // The app hands the core the camera's file; the demo writes its embedded photo.
            let photo = dir.path.join("pond.jpg");
            std::fs::write(&photo, PHOTO).map_err(|x| format!("{}: {x}", photo.display()))?;
            let att = store.attach_photo(&vol, &mut draft, "hazard_photo", &photo).map_err(e)?;
            std::fs::remove_file(&photo).map_err(|x| format!("{}: {x}", photo.display()))?;
            outln!(
                "  {} {}x{}, {} bytes {}",
                if vi { "ảnh ao cá:" } else { "pond photo:" },
                att.width,
                att.height,
                att.envelope_len,
                if vi { "đã niêm phong, đã xóa EXIF" } else { "sealed, EXIF removed" }
            );
            sealed_photo = Some(att.id);
        }
        report::print_validation(draft.session(), &draft.session().validate());
        let done = store.finalize(&vol, &draft).map_err(e)?;
        if let Some(a) = &done.assessment {
            report::print_assessment(a, lang);
        }
        outln!(
            "  {} {} sha256 {}…\n",
            if vi { "mã hộ" } else { "household" },
            h.code,
            &done.submission_sha256[..16]
        );
    }

    // A health worker records a burn of a two-year-old that the family cannot explain.
    outln!(
        "== {}",
        if vi {
            "Trạm y tế xã: tai nạn thương tích"
        } else {
            "Commune health station: injury incident"
        }
    );
    let mut inc =
        store.start_incident(&hw, "injury_incident", None, Some("Bé Hoàng Gia Bảo")).map_err(e)?;
    store
        .edit(&mut inc, |s| {
            s.set_language(lang)?;
            s.load_answers(&incident_answers(store.now_ms())).map_err(|mut errs| errs.remove(0))
        })
        .map_err(e)?;
    report::print_validation(inc.session(), &inc.session().validate());
    let done = store.finalize(&hw, &inc).map_err(e)?;
    if let Some(a) = &done.assessment {
        report::print_assessment(a, lang);
    }

    // The supervisor's queue: urgent first, then by deadline.
    outln!(
        "\n== {}",
        if vi { "Hàng đợi của cán bộ giám sát" } else { "Supervisor's review queue" }
    );
    let mut flagged = 0;
    for q in store.review_queue(&sup, 500).map_err(e)? {
        let due = q
            .due_at_ms
            .map(|d| format!("{}h", (d - store.now_ms() + 1_800_000) / 3_600_000))
            .unwrap_or("-".into());
        let flags: Vec<&str> = q.quality_flags.iter().map(|f| f.as_str()).collect();
        outln!(
            "  {:<8} {:<9} {:<7} due {due:>5}  {}{}",
            q.risk_level.map_or("-", Level::as_str),
            q.kind.as_str(),
            q.state.as_str(),
            q.id,
            if flags.is_empty() { String::new() } else { format!("  ⚑ {}", flags.join(", ")) }
        );
        if !flags.is_empty() {
            flagged += 1;
            // The reasons, with the numbers behind them, are in the record.
            for f in store.record(&sup, &q.id).map_err(e)?.quality_flags {
                outln!("           ⚑ {}", if vi { &f.reason_vi } else { &f.reason_en });
            }
        }
    }
    if flagged == 0 {
        // The pond photo's EXIF places it in Italy in 2008: its record must carry flags.
        return Err("no record in the review queue carries a location flag".into());
    }

    // On the other side (the province's archive): the photo opens with its key, and the
    // device's signature proves it was not altered since the volunteer's phone sealed it.
    let id = sealed_photo.ok_or("no example household took the pond photo")?;
    let envelope = store.envelope(&sup, &id).map_err(e)?;
    let (jpeg, opened) = open_bytes(&envelope, &archive, Some(&store.device_key().public()))
        .map_err(|x| x.to_string())?;
    outln!(
        "\n{}: {} bytes JPEG, sha256 {}…, {}",
        if vi {
            "Ảnh mở bằng khóa lưu trữ của tỉnh, chữ ký thiết bị hợp lệ"
        } else {
            "Photo opened with the province archive's key, device signature valid"
        },
        jpeg.len(),
        &safehome_core::hex::encode(&opened.metadata.plaintext_sha256)[..16],
        match (opened.metadata.gps.is_some(), vi) {
            (true, true) => "có GPS niêm phong bên trong",
            (true, false) => "GPS sealed inside",
            (false, true) => "không có GPS",
            (false, false) => "no GPS",
        }
    );

    // Sync: every finalized record goes to the server, urgent first, the photo by tus; each is
    // acknowledged only by the server's signed receipt. The demo's phone clock ran ahead through
    // the day's visits: the server's clock corrects it.
    let waiting = store.outbox().map_err(e)?.len();
    let report = sync::run(&store, &vol, &transport, &NoProgress).map_err(|x| x.to_string())?;
    outln!(
        "\n== {}",
        if vi {
            "Đồng bộ với máy chủ của nhóm"
        } else {
            "Sync with the team's server"
        }
    );
    outln!(
        "  {} {} {} ({} {}), {} bytes {}; {} {} min",
        report.acknowledged.len(),
        if vi { "hồ sơ đã được xác nhận" } else { "records acknowledged" },
        if vi { "bằng biên nhận có chữ ký" } else { "by signed receipts" },
        waiting,
        if vi { "mục hộp thư đi" } else { "outbox items" },
        report.bytes_sent,
        if vi { "đã gửi" } else { "sent" },
        if vi { "đồng hồ điện thoại chạy nhanh" } else { "phone clock ahead by" },
        -report.clock_offset_ms / 60_000
    );
    // What the server holds: routing headers and signed receipts, never the answers.
    let held = admin.records().map_err(|x| x.to_string())?;
    for r in &held {
        outln!(
            "  {} #{:<2} {:<8} {:<6} {} {}",
            if vi { "biên nhận" } else { "receipt" },
            r.seq,
            r.routing.kind,
            r.routing.risk_level.as_deref().unwrap_or("-"),
            r.routing.record_id,
            match (r.routing.evidence.is_empty(), r.evidence_complete, vi) {
                (true, _, _) => String::new(),
                (false, true, true) => format!("+ {} ảnh đã nhận", r.routing.evidence.len()),
                (false, true, false) => format!("+ {} photo received", r.routing.evidence.len()),
                (false, false, true) => "+ ảnh chưa đến".into(),
                (false, false, false) => "+ photo missing".into(),
            }
        );
    }
    server.stop().map_err(|x| x.to_string())?;
    let outbox = store.outbox().map_err(e)?;
    let acknowledged = outbox
        .iter()
        .filter(|o| o.state == safehome_core::store::outbox::OutboxState::Acknowledged)
        .count();
    if !report.is_clean() || acknowledged != outbox.len() || held.len() != report.acknowledged.len()
    {
        return Err(format!(
            "sync left {} of {} outbox items unacknowledged ({} records on the server)",
            outbox.len() - acknowledged,
            outbox.len(),
            held.len()
        ));
    }
    let status = store.storage_status().map_err(e)?;
    let audit = store.verify_audit().map_err(e)?;
    outln!(
        "\n{}: {} {}, {} {}, {} bytes {}; {} {} ({} {})",
        if vi { "Hộp thư đi" } else { "Outbox" },
        outbox.len(),
        if vi { "mục" } else { "items" },
        acknowledged,
        if vi { "đã xác nhận" } else { "acknowledged" },
        status.pending_upload_bytes,
        if vi { "chờ gửi" } else { "waiting to upload" },
        if vi { "chuỗi nhật ký kiểm tra" } else { "audit chain" },
        if audit.is_intact() { "OK" } else { "BROKEN" },
        audit.entries,
        if vi { "mục" } else { "entries" }
    );
    if !audit.is_intact() {
        return Err(format!("audit chain broken: {:?}", audit.problem));
    }
    Ok(())
}

fn profile(
    store: &Store,
    by: Option<&Actor>,
    name: &str,
    role: Role,
    pin: &str,
) -> Result<Actor, StoreError> {
    let p = store.create_profile(by, name, role, pin)?;
    store.unlock(&p.id, pin)
}

/// An unexplained burn of a 2-year-old at home, yesterday (in Vietnam).
fn incident_answers(now_ms: i64) -> Value {
    let today = safehome_core::form::expr::local_day(now_ms, VIETNAM.minutes());
    let yesterday = safehome_core::form::expr::format_iso_date(today - 1);
    json!({
        "child_name": "Hoàng Gia Bảo",
        "child_sex": "male",
        "child_age": 2,
        "incident_date": yesterday,
        "incident_time": "18:30",
        "place_code": "0",
        "activity_code": "4",
        "mechanism": "burn",
        "burn_type": "hot_liquid",
        "intent": "undetermined",
        "supervised": "unknown",
        "injury_nature": "burn",
        "body_parts": ["arms"],
        "severity": "moderate",
        "outcome": "not_disabled",
        "care": ["commune_station"],
        "injury_explained": "no",
        "incident_gps": {"lat": 21.9012, "lon": 105.6421, "alt": 80, "accuracy": 9}
    })
}
