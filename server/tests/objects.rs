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

use safehome_server::objects::{
    Credentials, Local, ObjectError, ObjectStore, ObjectsConfig, S3, S3Config, conformance,
};

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
