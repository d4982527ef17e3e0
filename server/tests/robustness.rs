//! Slow clients, graceful shutdown and TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use safehome_server::{BackgroundServer, ServerConfig, TlsFiles};

/// Read until the peer closes or `limit` passes; returns what arrived and whether it closed.
fn read_until_closed(tcp: &mut TcpStream, limit: Duration) -> (String, bool) {
    tcp.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let server = TestServer::start_with(|c| c.header_timeout = Duration::from_secs(1));
    let mut tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut tcp, Duration::from_secs(20));
    assert!(closed, "the connection was left open");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_connection_that_sends_nothing_is_closed() {
    let server = TestServer::start_with(|c| c.header_timeout = Duration::from_secs(1));
    let mut tcp = TcpStream::connect(server.addr()).unwrap();
    let (_, closed) = read_until_closed(&mut tcp, Duration::from_secs(20));
    assert!(closed, "an idle connection was left open");
}

#[test]
fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let server = TestServer::start_with(|c| c.body_timeout = Duration::from_secs(1));
    let phone = server.volunteer(1);
    let mut tcp = TcpStream::connect(server.addr()).unwrap();
    let auth = phone.auth("POST", "/v1/checkin", b"{}");
    let mut head = String::from(
        "POST /v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n",
    );
    for (n, v) in auth.headers() {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n{");
    tcp.write_all(head.as_bytes()).unwrap();
    let (answer, _) = read_until_closed(&mut tcp, Duration::from_secs(20));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[test]
fn shutdown_lets_a_request_in_flight_finish_and_accepts_no_more() {
    let mut server = TestServer::start();
    let phone = server.volunteer(1);
    let file = evidence(&phone.key, "ev-1", &(0..5000).map(|i| i as u8).collect::<Vec<_>>());
    let res = phone.create_upload(&record_id(1), "ev-1", &file);
    let loc = res.header("Location").unwrap().to_string();

    // A PATCH whose handler is reading the body (the server sent 100 Continue) when the
    // shutdown begins.
    let auth = phone.auth("PATCH", &loc, &file);
    let mut head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nExpect: 100-continue\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {}\r\n",
        file.len()
    );
    for (n, v) in auth.headers() {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = tcp.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100"));

    let running = server.server.take().unwrap();
    let addr = running.addr();
    let stopping = std::thread::spawn(move || running.stop());
    tcp.write_all(&file).unwrap();
    let (answer, _) = read_until_closed(&mut tcp, Duration::from_secs(20));
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    stopping.join().unwrap().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "still accepting after shutdown");
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn it_serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let public = safehome_server::init(&data).unwrap();
    let mut config = ServerConfig::new(&data);
    config.tls = Some(TlsFiles { cert: fixture("tls-cert.pem"), key: fixture("tls-key.pem") });
    let server = BackgroundServer::start(config, "127.0.0.1:0").unwrap();

    let pem = std::fs::read(fixture("tls-cert.pem")).unwrap();
    let cert = ureq::tls::Certificate::from_pem(&pem).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
        .build();
    let agent: ureq::Agent =
        ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into();
    let url = format!("https://localhost:{}", server.addr().port());
    let res = raw(&agent, &url, "GET", "/v1/server", &[], b"");
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["server_public_key"], public.to_string());
    // Plain HTTP to the TLS port gets no answer.
    assert!(
        agent.get(format!("http://127.0.0.1:{}/healthz", server.addr().port())).call().is_err()
    );
    server.stop().unwrap();
}

#[test]
fn a_bad_certificate_file_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    safehome_server::init(&data).unwrap();
    let mut config = ServerConfig::new(&data);
    config.tls = Some(TlsFiles { cert: fixture("README.md"), key: fixture("tls-key.pem") });
    assert!(matches!(
        BackgroundServer::start(config, "127.0.0.1:0"),
        Err(safehome_server::ServerError::Tls(_))
    ));
}
