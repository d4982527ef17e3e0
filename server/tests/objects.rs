//! The object stores against the same round trips: a local folder, and a real S3-compatible
//! server (moto, the Python AWS mock, in server mode on a loopback port; installed by
//! `scripts/python-env.sh`). Set `SAFEHOME_SKIP_S3=1` to skip the S3 half on a machine without
//! it; otherwise a moto that cannot start fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use common::*;
use safehome_core::sync::protocol::{Receipt, sha256_hex};
use safehome_server::objects::{
    Credentials, Local, ObjectError, ObjectStore, ObjectsConfig, Opened, S3, S3Config, blob_key,
    conformance,
};
use safehome_server::{BackgroundServer, ServerConfig};

/// A moto server, killed when dropped (a failing test too).
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_moto() -> Moto {
    let python = common::python();
    let port = free_port();
    let child = Command::new(&python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} -m moto.server ({e}); install moto[server] or set SAFEHOME_SKIP_S3=1")
        });
    let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return moto;
        }
        if let Some(status) = moto.child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = moto.child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!(
                "moto did not start ({status}): {err}\n(install moto[server] with pip, or set \
                 SAFEHOME_SKIP_S3=1 to skip the S3 test)"
            );
        }
        assert!(Instant::now() < deadline, "moto did not listen on {addr} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn s3(endpoint: &str, bucket: &str) -> S3 {
    let config = format!("s3://{bucket}?endpoint={endpoint}&region=us-east-1");
    let ObjectsConfig::S3(config) = config.parse::<ObjectsConfig>().unwrap() else {
        panic!("not an S3 configuration");
    };
    let config: S3Config = config;
    S3::new(config, Credentials::new("AKIAIOSFODNN7EXAMPLE", "test-secret")).unwrap()
}

#[test]
fn a_local_folder_passes_the_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = Local::new(dir.path());
    conformance::round_trips(&store, "suite", 5).unwrap();
    // Nothing is left behind: no temporary files, no empty upload folders.
    let mut left = Vec::new();
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                left.push(e.path());
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_s3_compatible_server_passes_the_round_trips() {
    if std::env::var("SAFEHOME_SKIP_S3").as_deref() == Ok("1") {
        eprintln!("SAFEHOME_SKIP_S3=1: the S3 round trips are skipped");
        return;
    }
    let moto = start_moto();
    let store = s3(&moto.endpoint, "evidence").with_page_size(4);
    store.create_bucket().unwrap();
    store.create_bucket().unwrap();
    conformance::round_trips(&store, "suite", 4).unwrap();

    // An answer larger than the limit is refused, not read.
    let small = s3(&moto.endpoint, "evidence").with_max_answer(1000);
    small.put("big", &[7u8; 5000]).unwrap();
    match small.get("big") {
        Err(ObjectError::TooLarge { limit: 1000, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(small.get_range("big", 0, 1000).unwrap().unwrap().len(), 1000);
    assert_eq!(small.size("big").unwrap(), Some(5000));
    small.delete("big").unwrap();

    // A missing bucket is an error that says what and where.
    let missing = s3(&moto.endpoint, "no-such-bucket");
    let err = missing.list("blobs/").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("no-such-bucket") && text.contains("404"), "{text}");
    assert!(matches!(missing.get("blobs/ab/x"), Err(ObjectError::Http { status: 404, .. })));

    // Nothing listens: a transport error, quickly.
    drop(moto);
    let gone = s3(&format!("http://127.0.0.1:{}", free_port()), "evidence");
    assert!(matches!(gone.get("a"), Err(ObjectError::Transport { .. })));
}

fn skip_s3() -> bool {
    let skip = std::env::var("SAFEHOME_SKIP_S3").as_deref() == Ok("1");
    if skip {
        eprintln!("SAFEHOME_SKIP_S3=1: the S3 test is skipped");
    }
    skip
}

/// Two server processes (two servers over one database and one bucket, as behind a
/// round-robin): an upload begun on one is resumed and completed on the other, the evidence
/// lands in the bucket (nothing in the data directory), its pieces are gone, and either server
/// serves it back, whole or in ranges.
#[test]
fn an_upload_begun_on_one_server_completes_on_another_over_one_bucket() {
    if skip_s3() {
        return;
    }
    let moto = start_moto();
    let bucket = s3(&moto.endpoint, "shared");
    bucket.create_bucket().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(bucket);
    let objects = ObjectsConfig::Opened(Opened(Arc::clone(&store)));
    let a = TestServer::start_with(|c| c.objects = objects.clone());
    let mut config = ServerConfig::new(a.data());
    config.objects = objects;
    let b = BackgroundServer::start(config, "127.0.0.1:0").unwrap();

    let mut phone = a.volunteer(1);
    let id = record_id(1);
    let plain: Vec<u8> = (0..2_500_000u32).map(|i| (i * 13 % 241) as u8).collect();
    let file = evidence(&phone.key, "ev-1", &plain);
    let sha = sha256_hex(&file);
    let body = submission(&phone, routing(&phone, &id, &[("ev-1", &file)]), b"answers");
    assert_eq!(phone.put_submission(&id, &body).status, 201);
    let res = phone.create_upload(&id, "ev-1", &file);
    assert_eq!(res.status, 201, "{}", res.text());
    let loc = res.header("Location").unwrap().to_string();
    let upload_id = loc.rsplit('/').next().unwrap().to_string();

    // 1.5 MB on server A: stored as pieces of up to 1 MiB.
    let first = 1_500_000;
    assert_eq!(phone.patch(&loc, 0, &file[..first]).status, 204);
    let pieces = store.list(&format!("uploads/{upload_id}/")).unwrap();
    assert_eq!(pieces.iter().map(|p| p.size).sum::<u64>(), first as u64);
    assert!(pieces.len() >= 2, "{pieces:?}");

    // Server B knows where to resume, and completes the upload.
    phone.base = b.url();
    let res = phone.tus("HEAD", &loc, b"", &[]);
    assert_eq!(res.header("Upload-Offset"), Some(first.to_string().as_str()), "{}", res.text());
    let res = phone.patch(&loc, first, &file[first..]);
    assert_eq!(res.status, 204, "{}", res.text());

    assert_eq!(store.get(&blob_key(&sha)).unwrap().as_deref(), Some(file.as_slice()));
    assert_eq!(store.list("uploads/").unwrap(), Vec::new());
    assert!(files_under(&a.data().join("blobs")).is_empty());
    assert!(files_under(&a.data().join("uploads")).is_empty());

    // The receipt (from A) counts it; either server serves it, in ranges too.
    phone.base = a.url();
    let res = phone.send("GET", &format!("/v1/submissions/{id}/receipt"), b"", &[]);
    assert!(Receipt::verify(&res.json(), &a.public).unwrap().complete);
    for base in [a.url(), b.url()] {
        phone.base = base;
        let blob_path = format!("/v1/blobs/{sha}");
        let res = phone.send("GET", &blob_path, b"", &[]);
        assert_eq!((res.status, res.body.len()), (200, file.len()));
        assert!(res.body == file);
        let res = phone.send("GET", &blob_path, b"", &[("Range", "bytes=1000000-1000009")]);
        assert_eq!(res.status, 206);
        assert_eq!(res.body, file[1_000_000..1_000_010]);
        let tail = format!("bytes={}-99999999", file.len() - 5);
        let res = phone.send("GET", &blob_path, b"", &[("Range", &tail)]);
        assert_eq!((res.status, res.body.as_slice()), (206, &file[file.len() - 5..]));
    }
    b.stop().unwrap();
}
