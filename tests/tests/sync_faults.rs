//! Upload under faults, end to end: a real `safehome-server` process and phone processes,
//! killed with SIGKILL at random moments; a connection cut after the server committed; a
//! phone clock three days off. Each test ends by checking that every finalized record is on
//! the server exactly once, with byte-identical evidence, and that no record the phone counts
//! as acknowledged is missing there.
//!
//! CI runs 12 kill cycles; `SAFEHOME_SYNC_CHAOS_CYCLES=100` runs the longer loop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use safehome_cli::transport::HttpTransport;
use safehome_core::clock::{Clock, Entropy, FixedClock, SeededEntropy, SystemClock, SystemEntropy};
use safehome_core::crypto::DataKey;
use safehome_core::evidence::keys::Identity;
use safehome_core::store::outbox::OutboxState;
use safehome_core::store::profiles::{Actor, Role};
use safehome_core::store::{Store, StoreConfig};
use safehome_core::sync::protocol::sha256_hex;
use safehome_core::sync::{self, NoProgress};
use safehome_server::{Admin, Role as ServerRole};

const KEY: [u8; 32] = [7u8; 32];
const TEAM: &str = "e2e-05569";

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("safehome-sync-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A free loopback port for a server that must come back on the same port after a kill (the
/// phone pinned its URL). Not from the kernel's ephemeral range, where a port released here
/// could be handed to another test's outgoing connection or `bind(0)` before the server binds
/// it again; and never the same twice in this process.
fn free_port() -> u16 {
    use std::sync::atomic::AtomicU32;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20_000 + (std::process::id() % 200) * 50;
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = u16::try_from(base + n % 10_000).unwrap();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The server as a process on a fixed loopback port (phones pin its URL), restartable.
struct ServerProc {
    data: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl ServerProc {
    /// Initialise a data folder with the team and its archive key; returns it with a code.
    fn init(root: &Path, archive: &Identity) -> (ServerProc, String) {
        let data = root.join("server");
        safehome_server::init(&data).unwrap();
        let now = SystemClock::default().now_ms();
        let mut admin = Admin::open(&data).unwrap();
        admin.add_team(TEAM, &["05569".into()], &archive.recipient(), "Archive", now).unwrap();
        let code =
            admin.create_enrollment_code(TEAM, ServerRole::Volunteer, 3_600_000, now).unwrap();
        (ServerProc { data, port: free_port(), child: None }, code.code)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        if self.child.is_some() {
            return;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.with_extension("log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_e2e_server"))
            .args(["serve", "--data"])
            .arg(&self.data)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if healthy(self.port) {
                // Ours, not another server that holds the port.
                let child = self.child.as_mut().unwrap();
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "the server exited: port {} taken",
                    self.port
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the server did not come up on port {}", self.port);
    }

    /// SIGKILL: no shutdown, no flush beyond what was already fsynced.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.starts_with("HTTP/1.1 200")
}

/// The phone: its store, a supervisor (who enrolls it) and a volunteer.
struct Phone {
    db: PathBuf,
    store: Store,
    vol: Actor,
    vol_id: String,
}

fn phone(root: &Path, clock: Arc<dyn Clock>, base_url: &str, code: &str) -> Phone {
    let db = root.join("phone.db");
    let store = Store::open(
        &db,
        &DataKey::from_bytes(KEY),
        clock,
        Arc::new(SystemEntropy::default()),
        StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
    )
    .unwrap();
    let sup = store.create_profile(None, "Giám sát", Role::Supervisor, "1111").unwrap();
    let sup = store.unlock(&sup.id, "1111").unwrap();
    let vol =
        store.create_profile(Some(&sup), "Tình nguyện viên", Role::Volunteer, "2222").unwrap();
    let vol_id = vol.id.clone();
    let vol = store.unlock(&vol.id, "2222").unwrap();
    let transport = HttpTransport::new(base_url).unwrap();
    sync::enroll(&store, &sup, &transport, base_url, code, None, None).unwrap();
    Phone { db, store, vol, vol_id }
}

fn photo() -> PathBuf {
    safehome_testdata::photo("camera/DSCN0010.jpg")
}

/// Run the device process once; returns the records it printed as acknowledged and, unless
/// it was killed after `kill_after`, whether its sync was clean.
fn device_run(p: &Phone, kill_after: Option<Duration>) -> (Vec<String>, Option<bool>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_e2e_device"))
        .arg(&p.db)
        .arg(safehome_core::hex::encode(&KEY))
        .args([&p.vol_id, "2222"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (reader, lines) = safehome_e2e::collect_lines(child.stdout.take().unwrap());
    let clean = match kill_after {
        Some(d) => {
            std::thread::sleep(d);
            let _ = child.kill(); // SIGKILL, if it is still running
            let _ = child.wait();
            None
        }
        None => Some(child.wait().unwrap().success()),
    };
    reader.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    let acked =
        lines.iter().filter_map(|l| l.strip_prefix("ACKNOWLEDGED ")).map(str::to_string).collect();
    (acked, clean)
}

/// What must hold at the end: every finalized record on the server exactly once, its evidence
/// complete and byte-identical, the phone's outbox all acknowledged.
fn check_exactly_once(p: &Phone, server: &ServerProc, finalized: &BTreeSet<String>) {
    let held = Admin::open(&server.data).unwrap().records().unwrap();
    let ids: Vec<&str> = held.iter().map(|r| r.routing.record_id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a record stored twice: {ids:?}");
    let on_server: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    assert_eq!(&on_server, finalized, "the server's records are not the finalized ones");
    let mut photos = 0;
    for r in &held {
        assert!(
            r.evidence_complete,
            "{}: evidence missing {:?}",
            r.routing.record_id, r.missing_evidence
        );
        for att in p.store.attachments(&p.vol, &r.routing.record_id).unwrap() {
            let envelope = p.store.envelope(&p.vol, &att.id).unwrap();
            let sha = sha256_hex(&envelope);
            let blob = server.data.join("blobs").join(&sha[..2]).join(&sha);
            assert_eq!(std::fs::read(&blob).unwrap(), envelope, "evidence {} differs", att.id);
            photos += 1;
        }
    }
    let blobs = walk(&server.data.join("blobs")).len();
    assert_eq!(blobs, photos, "evidence stored more than once");
    let outbox = p.store.outbox().unwrap();
    let waiting: Vec<_> =
        outbox.iter().filter(|o| o.state != OutboxState::Acknowledged).map(|o| &o.id).collect();
    assert!(waiting.is_empty(), "unacknowledged after the last sync: {waiting:?}");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![d.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn sigkill_of_phone_and_server_at_random_moments_loses_and_duplicates_nothing() {
    let cycles: usize =
        std::env::var("SAFEHOME_SYNC_CHAOS_CYCLES").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let root = dir("chaos");
    let archive = Identity::generate(&SystemEntropy::default());
    let (mut server, code) = ServerProc::init(&root, &archive);
    server.start();
    let p = phone(&root, Arc::new(SystemClock { offset_minutes: 420 }), &server.url(), &code);
    let mut finalized = BTreeSet::new();
    for i in 0..4u64 {
        let with_photo = i.is_multiple_of(2);
        let f =
            safehome_e2e::screened_visit(&p.store, &p.vol, i, with_photo.then(photo).as_deref())
                .unwrap();
        finalized.insert(f.record_id);
    }
    let rng = SeededEntropy::new(20261205);
    let mut claimed: BTreeMap<String, usize> = BTreeMap::new();
    let (mut server_kills, mut phone_kills) = (0, 0);
    for cycle in 0..cycles {
        server.start();
        if cycle % 3 == 1 {
            // Work goes on between syncs: a new visit, sometimes with a photo.
            let i = 100 + cycle as u64;
            let f = safehome_e2e::screened_visit(
                &p.store,
                &p.vol,
                i,
                (cycle % 2 == 1).then(photo).as_deref(),
            )
            .unwrap();
            finalized.insert(f.record_id);
        }
        let mut b = [0u8; 2];
        rng.fill(&mut b);
        let delay = Duration::from_millis(u64::from(u16::from_le_bytes(b)) % 700);
        let (acked, _) = device_run(&p, Some(delay));
        phone_kills += 1;
        for id in acked {
            *claimed.entry(id).or_default() += 1;
        }
        if b[0].is_multiple_of(3) {
            server.kill();
            server_kills += 1;
        }
    }
    // Settle: the server up, the phone synced until it has nothing left.
    server.start();
    let mut clean = false;
    for _ in 0..10 {
        let (acked, result) = device_run(&p, None);
        for id in acked {
            *claimed.entry(id).or_default() += 1;
        }
        if result == Some(true) && p.store.outbox_due().unwrap().is_empty() {
            clean = true;
            break;
        }
        // A record whose upload failed waits for its backoff: the test cannot wait minutes,
        // so the settling phase makes every waiting item due now.
        make_due(&p.db);
    }
    assert!(clean, "the phone never finished a clean sync");
    server.kill();
    eprintln!(
        "{cycles} cycles: {phone_kills} phone kills, {server_kills} server kills, {} records",
        finalized.len()
    );
    check_exactly_once(&p, &server, &finalized);
    for (id, times) in &claimed {
        assert!(finalized.contains(id), "acknowledged a record that was never finalized: {id}");
        assert_eq!(*times, 1, "{id} acknowledged {times} times");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

/// Make every waiting outbox item due now (the settling phase of the kill loop). Plain SQL on
/// a column that carries no MAC: only the retry time changes.
fn make_due(db: &Path) {
    let c = rusqlite_connection(db);
    c.execute("UPDATE outbox SET next_attempt_at = 0 WHERE state IN ('pending', 'uploaded')", [])
        .unwrap();
}

fn rusqlite_connection(db: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(db).unwrap();
    c.busy_timeout(Duration::from_secs(10)).unwrap();
    c
}

/// A proxy in front of the server that, while `drop_put` is set, forwards a submission's `PUT`
/// and throws the server's answer away: the connection is cut after the server committed and
/// before the phone read its receipt. It records each answer's status line.
struct CuttingProxy {
    port: u16,
    drop_put: Arc<AtomicBool>,
    statuses: Arc<Mutex<Vec<String>>>,
}

fn cutting_proxy(upstream: u16) -> CuttingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let drop_put = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let (flag, log) = (Arc::clone(&drop_put), Arc::clone(&statuses));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (flag, log) = (Arc::clone(&flag), Arc::clone(&log));
            std::thread::spawn(move || relay(client, upstream, &flag, &log));
        }
    });
    CuttingProxy { port, drop_put, statuses }
}

/// One request per connection: read it, forward it with `Connection: close`, relay or drop
/// the answer.
fn relay(mut client: TcpStream, upstream: u16, drop_put: &AtomicBool, log: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let len: usize = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if client.read_exact(&mut body).is_err() {
        return;
    }
    let head = text
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let head = format!("{}\r\nConnection: close\r\n\r\n", head.trim_end());
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    server.write_all(head.as_bytes()).unwrap();
    server.write_all(&body).unwrap();
    let mut answer = Vec::new();
    let _ = server.read_to_end(&mut answer);
    let status = String::from_utf8_lossy(&answer).lines().next().unwrap_or("").to_string();
    let is_put = text.starts_with("PUT /v1/submissions/");
    log.lock().unwrap().push(format!("{} -> {status}", text.lines().next().unwrap_or("")));
    if is_put && drop_put.swap(false, Ordering::SeqCst) {
        return; // cut: the phone never reads the receipt
    }
    let _ = client.write_all(&answer);
}

#[test]
fn a_connection_cut_after_the_server_committed_gets_the_same_receipt_once() {
    let root = dir("cut");
    let archive = Identity::generate(&SystemEntropy::default());
    let (mut server, code) = ServerProc::init(&root, &archive);
    server.start();
    let proxy = cutting_proxy(server.port);
    let url = format!("http://127.0.0.1:{}", proxy.port);
    let clock = Arc::new(FixedClock::new(SystemClock::default().now_ms(), 420));
    let p = phone(&root, clock.clone(), &url, &code);
    let f = safehome_e2e::screened_visit(&p.store, &p.vol, 1, Some(&photo())).unwrap();
    let transport = HttpTransport::new(&url).unwrap();

    // The first PUT reaches the server, which commits it and answers 201; the phone never
    // reads that answer. Its retry (at once, within the same sync) sends the same bytes and is
    // answered 200 with the first receipt.
    proxy.drop_put.store(true, Ordering::SeqCst);
    let report = sync::run(&p.store, &p.vol, &transport, &NoProgress).unwrap();
    assert_eq!(report.acknowledged.len(), 1, "{report:?}");
    assert_eq!(report.acknowledged[0].record_id, f.record_id);
    let puts: Vec<String> =
        proxy.statuses.lock().unwrap().iter().filter(|l| l.starts_with("PUT")).cloned().collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    assert!(puts[0].ends_with("201 Created"), "{puts:?}");
    assert!(puts[1].ends_with("200 OK"), "the retry is answered with the stored receipt: {puts:?}");
    let held = Admin::open(&server.data).unwrap().records().unwrap();
    assert_eq!(held.len(), 1);
    // Acknowledged once: one `acknowledged` audit entry for the submission's outbox item.
    let db = rusqlite_connection(&p.db);
    let acks: i64 = db
        .query_row(
            "SELECT count(*) FROM audit a JOIN outbox o ON a.entity_id = o.id
             WHERE a.action = 'acknowledged' AND o.item_kind = 'submission'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(acks, 1);
    // A later sync has nothing to send and changes nothing.
    clock.advance(10 * 60_000);
    let again = sync::run(&p.store, &p.vol, &transport, &NoProgress).unwrap();
    assert!(again.acknowledged.is_empty(), "{again:?}");
    assert_eq!(Admin::open(&server.data).unwrap().records().unwrap().len(), 1);
    server.kill();
    check_exactly_once(&p, &server, &BTreeSet::from([f.record_id]));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_phone_clock_three_days_off_still_syncs_and_both_clocks_are_kept() {
    let root = dir("clock");
    let archive = Identity::generate(&SystemEntropy::default());
    let (mut server, code) = ServerProc::init(&root, &archive);
    server.start();
    let three_days = 3 * 86_400_000;
    let clock = Arc::new(FixedClock::new(SystemClock::default().now_ms() - three_days, 420));
    let p = phone(&root, clock, &server.url(), &code);
    let f = safehome_e2e::screened_visit(&p.store, &p.vol, 1, None).unwrap();
    let transport = HttpTransport::new(&server.url()).unwrap();
    let report = sync::run(&p.store, &p.vol, &transport, &NoProgress).unwrap();
    assert_eq!(report.acknowledged.len(), 1, "{report:?}");
    assert!((report.clock_offset_ms - three_days).abs() < 60_000, "{}", report.clock_offset_ms);
    let held = Admin::open(&server.data).unwrap().records().unwrap();
    let r = &held[0];
    assert_eq!(r.routing.record_id, f.record_id);
    // The phone's clock in the record, the server's at receipt, and the offset between them.
    assert!((r.received_at_ms - r.routing.finalized_at_ms - three_days).abs() < 60_000);
    assert!((r.routing.clock_offset_ms - three_days).abs() < 60_000);
    server.kill();
    check_exactly_once(&p, &server, &BTreeSet::from([f.record_id]));
    std::fs::remove_dir_all(&root).unwrap();
}

/// Not a fault: a supervisor's phone that enrolls with its recipient key joins the keys every
/// phone of the team seals to, from the next sync on; a photo sealed after that opens with the
/// supervisor's key, straight from the server's evidence store.
#[test]
fn a_supervisor_enrolling_with_its_key_can_open_what_volunteers_upload_next() {
    let root = dir("supervisor");
    let archive = Identity::generate(&SystemEntropy::default());
    let (mut server, code) = ServerProc::init(&root, &archive);
    server.start();
    let vol_phone =
        phone(&root, Arc::new(SystemClock { offset_minutes: 420 }), &server.url(), &code);
    assert_eq!(vol_phone.store.recipients().unwrap().len(), 1);

    // The supervisor's own phone, with a supervisor code and its recipient key.
    let sup_dir = root.join("supervisor-phone");
    std::fs::create_dir_all(&sup_dir).unwrap();
    let supervisor = Identity::generate(&SystemEntropy::default());
    let sup_code = Admin::open(&server.data)
        .unwrap()
        .create_enrollment_code(
            TEAM,
            ServerRole::Supervisor,
            3_600_000,
            SystemClock::default().now_ms(),
        )
        .unwrap()
        .code;
    let sup_store = Store::open(
        &sup_dir.join("phone.db"),
        &DataKey::from_bytes([8u8; 32]),
        Arc::new(SystemClock { offset_minutes: 420 }),
        Arc::new(SystemEntropy::default()),
        StoreConfig { pin_iterations: 1_000, ..StoreConfig::default() },
    )
    .unwrap();
    let p = sup_store.create_profile(None, "Đỗ Thị Hằng", Role::Supervisor, "1111").unwrap();
    let sup = sup_store.unlock(&p.id, "1111").unwrap();
    let transport = HttpTransport::new(&server.url()).unwrap();
    let key = supervisor.recipient().to_string();
    let config =
        sync::enroll(&sup_store, &sup, &transport, &server.url(), &sup_code, None, Some(&key))
            .unwrap();
    assert!(config.recipients.iter().any(|r| r.public_key == key && r.kind == "supervisor"));

    // The volunteer's next sync brings the new key; the next photo is sealed to it too.
    sync::run(&vol_phone.store, &vol_phone.vol, &transport, &NoProgress).unwrap();
    let keys: Vec<String> =
        vol_phone.store.recipients().unwrap().into_iter().map(|r| r.public_key).collect();
    assert!(keys.contains(&key), "{keys:?}");
    let f =
        safehome_e2e::screened_visit(&vol_phone.store, &vol_phone.vol, 7, Some(&photo())).unwrap();
    let report = sync::run(&vol_phone.store, &vol_phone.vol, &transport, &NoProgress).unwrap();
    assert_eq!(report.acknowledged.len(), 1, "{report:?}");
    let att = &vol_phone.store.attachments(&vol_phone.vol, &f.record_id).unwrap()[0];
    let sha = sha256_hex(&vol_phone.store.envelope(&vol_phone.vol, &att.id).unwrap());
    let blob = std::fs::read(server.data.join("blobs").join(&sha[..2]).join(&sha)).unwrap();
    let device = vol_phone.store.device_key().public();
    let (jpeg, _) =
        safehome_core::evidence::envelope::open_bytes(&blob, &supervisor, Some(&device)).unwrap();
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    server.kill();
    std::fs::remove_dir_all(&root).unwrap();
}

/// The server's disk fills up: the phone gets a clear status (`507 storage_full`, the sync
/// reports it and stops), keeps every record, and uploads them all once there is room.
#[test]
fn a_full_server_disk_is_a_clear_status_and_the_phone_keeps_everything() {
    let root = dir("full");
    let archive = Identity::generate(&SystemEntropy::default());
    let (mut server, code) = ServerProc::init(&root, &archive);
    server.start();
    let clock = Arc::new(FixedClock::new(SystemClock::default().now_ms(), 420));
    let p = phone(&root, clock.clone(), &server.url(), &code);
    server.kill();
    // The database may not grow by a single page: the "disk" is full.
    let pages: u32 = rusqlite_connection(&server.data.join("server.db"))
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let mut config = safehome_server::ServerConfig::new(&server.data);
    config.max_db_pages = Some(pages);
    let full =
        safehome_server::BackgroundServer::start(config, &format!("127.0.0.1:{}", server.port))
            .unwrap();
    let mut finalized = BTreeSet::new();
    for i in 0..2 {
        finalized
            .insert(safehome_e2e::screened_visit(&p.store, &p.vol, i, None).unwrap().record_id);
    }
    let transport = HttpTransport::new(&server.url()).unwrap();
    let report = sync::run(&p.store, &p.vol, &transport, &NoProgress).unwrap();
    assert!(report.acknowledged.is_empty(), "{report:?}");
    let why = report.interrupted.clone().unwrap_or_default();
    assert!(why.contains("storage_full"), "{report:?}");
    assert!(Admin::open(&server.data).unwrap().records().unwrap().is_empty());
    let outbox = p.store.outbox().unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|o| o.state == OutboxState::Pending), "{outbox:?}");
    full.stop().unwrap();

    // Room again: after the backoff, everything goes, once.
    server.start();
    clock.advance(10 * 60_000);
    let report = sync::run(&p.store, &p.vol, &transport, &NoProgress).unwrap();
    assert_eq!(report.acknowledged.len(), 2, "{report:?}");
    server.kill();
    check_exactly_once(&p, &server, &finalized);
    std::fs::remove_dir_all(&root).unwrap();
}
