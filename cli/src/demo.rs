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
use safehome_core::store::decisions::{DecisionContent, DecisionKind, QuestionComment};
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
    // The commune officer's own phone: enrolled with a supervisor code before anything is
    // sealed, so that the team's submissions are sealed to its inbox too.
    let mut sup_key = [0u8; 32];
    SystemEntropy::default().fill(&mut sup_key);
    let sup_store = Store::open(
        &dir.path.join("supervisor.db"),
        &DataKey::from_bytes(sup_key),
        clock.clone(),
        Arc::new(SystemEntropy::default()),
        StoreConfig::default(),
    )
    .map_err(|e| e.to_string())?;
    let officer =
        profile(&sup_store, None, "Hoàng Thị Lan", Role::Supervisor, "975310").map_err(e)?;
    let sup_code = admin
        .create_enrollment_code(TEAM, safehome_server::Role::Supervisor, 86_400_000, now)
        .map_err(|x| x.to_string())?;
    sync::enroll(&sup_store, &officer, &transport, &server.url(), &sup_code.code, None, None)
        .map_err(|x| x.to_string())?;
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
    review_loop(vi, &clock, &store, &vol, &sup_store, &officer, &transport)?;
    let actions = admin
        .connection()
        .query_row("SELECT count(*) FROM case_actions", [], |r| r.get::<_, i64>(0))
        .map_err(|x| x.to_string())?;
    outln!(
        "  {}: {actions}",
        if vi {
            "Bảng điều khiển của huyện: số ca đã ghi nhận xử lý"
        } else {
            "District console: cases with a recorded action"
        }
    );
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

/// The supervisor's loop between the two phones: the officer's phone pulls the team's records
/// (its queue, urgent first, with the location flags and how fast each form was filled), records
/// the action taken on the urgent case within its 12 hours, and returns a visit with a comment
/// on a question; the volunteer's sync reopens it, the volunteer corrects it, and the officer
/// approves the revision. Every step is signed, sealed and audited on both phones.
fn review_loop(
    vi: bool,
    clock: &FixedClock,
    store: &Store,
    vol: &Actor,
    sup_store: &Store,
    officer: &Actor,
    transport: &HttpTransport,
) -> Result<(), String> {
    let e = |e: StoreError| e.to_string();
    let sync_err = |x: sync::SyncError| x.to_string();
    let t = |v: &'static str, en: &'static str| if vi { v } else { en };
    outln!(
        "\n== {}",
        t(
            "Điện thoại của cán bộ giám sát: hàng đợi",
            "Supervisor's review queue, on the officer's own phone"
        )
    );
    let pulled = sync::run(sup_store, officer, transport, &NoProgress).map_err(sync_err)?;
    outln!(
        "  {} {} ({} {}, {} bytes), {} {}",
        pulled.review.pulled,
        t("hồ sơ đã tải về, mở và kiểm tra chữ ký", "records pulled, opened and signature-checked"),
        pulled.review.evidence_fetched,
        t("ảnh", "photo(s)"),
        pulled.review.evidence_bytes,
        pulled.review.quarantined.len(),
        t("bị cách ly", "quarantined")
    );
    let queue = sup_store.received_queue(officer, 500).map_err(e)?;
    let mut flagged = 0;
    for q in &queue {
        let left = q
            .time_left_ms
            .map_or("-".to_string(), |ms| format!("{}h", (ms + 1_800_000) / 3_600_000));
        outln!(
            "  {:<8} {:<9} {} {left:>5}  {}  {} {}/{}",
            q.risk_level.map_or("-", Level::as_str),
            q.kind,
            t("còn", "left"),
            q.record_id,
            t("trả lời nhanh", "fast answers"),
            q.fast_answers,
            q.answered
        );
        if !q.quality_flags.is_empty() {
            flagged += 1;
            outln!("           ⚑ {}", q.quality_flags.join(", "));
            for f in sup_store.received_record(officer, &q.record_id).map_err(e)?.quality_flags {
                outln!("           ⚑ {}", if vi { &f.reason_vi } else { &f.reason_en });
            }
        }
    }
    if flagged == 0 {
        // The pond photo's EXIF places it in Italy in 2008: its record must carry flags.
        return Err("no record in the review queue carries a location flag".into());
    }
    // The urgent case: the officer went to the family and records when.
    let urgent = queue
        .iter()
        .find(|q| q.risk_level == Some(Level::Urgent))
        .ok_or("no urgent case in the queue")?;
    let due = urgent.due_at_ms.ok_or("the urgent case has no deadline")?;
    let acted_at = clock.now_ms() - 30 * 60_000;
    let act = sync::Decision {
        kind: DecisionKind::Act,
        content: DecisionContent {
            note: t(
                "Đã đến nhà cùng công an xã; cháu được đưa đến nơi an toàn.",
                "Visited with the commune police; the child was taken somewhere safe.",
            )
            .into(),
            comments: Vec::new(),
        },
        action_at_ms: Some(acted_at),
    };
    sync::decide(sup_store, officer, &urgent.record_id, &act).map_err(sync_err)?;
    outln!(
        "  {} {}: {} {} h {} min {}",
        t("Ca khẩn cấp", "Urgent case"),
        urgent.record_id,
        t("đã xử lý", "acted on"),
        (due - acted_at) / 3_600_000,
        (due - acted_at) % 3_600_000 / 60_000,
        t("trước hạn 12 giờ", "before its 12-hour deadline")
    );
    // A visit returned with a comment next to a question.
    let low = queue
        .iter()
        .find(|q| q.risk_level == Some(Level::Low) && q.kind == "visit")
        .ok_or("no low-risk visit in the queue")?;
    let ret = sync::Decision {
        kind: DecisionKind::Return,
        content: DecisionContent {
            note: t("Xin kiểm tra lại tuổi của cháu.", "Please check the child's age.").into(),
            comments: vec![QuestionComment {
                path: "children[1]/child_age".into(),
                comment: t("Cháu Hà 10 hay 11 tuổi?", "Is Hà 10 or 11?").into(),
            }],
        },
        action_at_ms: None,
    };
    sync::decide(sup_store, officer, &low.record_id, &ret).map_err(sync_err)?;
    let sent = sync::run(sup_store, officer, transport, &NoProgress).map_err(sync_err)?;
    outln!(
        "  {} {} {}",
        sent.review.decisions_sent,
        t("quyết định đã ký, niêm phong và gửi", "decisions signed, sealed and sent"),
        t("(ghi nhận xử lý, trả lại)", "(action, return)")
    );

    outln!(
        "\n== {}",
        t(
            "Điện thoại của tình nguyện viên: hồ sơ bị trả lại",
            "Volunteer's phone: a returned visit"
        )
    );
    let back = sync::run(store, vol, transport, &NoProgress).map_err(sync_err)?;
    let draft_id = back.review.reopened.first().ok_or("the return did not reopen the visit")?;
    for d in store.decisions_for(vol, &low.record_id).map_err(e)? {
        if let Some(c) = d.content {
            outln!("  {} {}: {}", t("Giám sát", "Supervisor"), d.kind, c.note);
            for q in c.comments {
                outln!("    {} → {}", q.path, q.comment);
            }
        }
    }
    let mut draft = store.open_draft(vol, draft_id).map_err(e)?;
    store.answer(&mut draft, "children[1]/child_age", &json!(11)).map_err(e)?;
    let corrected = store.finalize(vol, &draft).map_err(e)?;
    let report = sync::run(store, vol, transport, &NoProgress).map_err(sync_err)?;
    outln!(
        "  {} {} {}, {} {}",
        t("Đã sửa và gửi lại bản", "Corrected and sent again as revision"),
        corrected.record_id,
        t("(lần 2)", "(revision 2)"),
        report.acknowledged.len(),
        t("hồ sơ đã được xác nhận", "records acknowledged")
    );

    let pulled = sync::run(sup_store, officer, transport, &NoProgress).map_err(sync_err)?;
    let approve = sync::Decision {
        kind: DecisionKind::Approve,
        content: DecisionContent {
            note: t("Đã đúng.", "Correct now.").into(),
            comments: Vec::new(),
        },
        action_at_ms: None,
    };
    sync::decide(sup_store, officer, &corrected.record_id, &approve).map_err(sync_err)?;
    sync::run(sup_store, officer, transport, &NoProgress).map_err(sync_err)?;
    let seen = sync::run(store, vol, transport, &NoProgress).map_err(sync_err)?;
    let approved = store
        .decisions_for(vol, &corrected.record_id)
        .map_err(e)?
        .iter()
        .any(|d| d.kind == DecisionKind::Approve);
    outln!(
        "  {} {} {}; {} {}",
        t("Giám sát nhận", "The officer pulled"),
        pulled.review.pulled,
        t("bản sửa và phê duyệt", "revision and approved it"),
        t("tình nguyện viên thấy:", "the volunteer sees:"),
        if approved { t("đã phê duyệt", "approved") } else { "?" }
    );
    if !approved || seen.review.decisions_applied == 0 {
        return Err("the approval did not reach the volunteer's phone".into());
    }
    let audit = sup_store.verify_audit().map_err(e)?;
    outln!(
        "  {} {} ({} {})",
        t("Chuỗi nhật ký của điện thoại giám sát", "Officer's phone audit chain"),
        if audit.is_intact() { "OK" } else { "BROKEN" },
        audit.entries,
        t("mục", "entries")
    );
    if !audit.is_intact() {
        return Err(format!("officer's audit chain broken: {:?}", audit.problem));
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
