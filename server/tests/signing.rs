//! Request signing: every failure of docs/protocol.md's five steps, and the clock correction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::Ordering;

use common::*;
use safehome_core::sync::protocol::{CLOCK_WINDOW_MS, ErrorClass, H_SERVER_TIME, classify};
use serde_json::json;

fn checkin_body() -> serde_json::Value {
    json!({"audit_length": 1, "audit_head": "ab", "pending": 0, "parked": 0,
           "app_version": "0.1.0", "device_time_ms": now_ms()})
}

#[test]
fn an_unsigned_request_is_refused() {
    let server = TestServer::start();
    let res = raw(&agent(), &server.url(), "GET", "/v1/config", &[], b"");
    assert_eq!((res.status, res.code().as_str()), (401, "unsigned"));
    assert!(res.header(H_SERVER_TIME).is_some());
}

#[test]
fn an_unknown_device_is_refused() {
    let server = TestServer::start();
    let phone = Phone::new(&server.url(), 9);
    let res = phone.send("GET", "/v1/config", b"", &[]);
    assert_eq!((res.status, res.code().as_str()), (401, "unknown_device"));
}

#[test]
fn a_bad_signature_and_a_wrong_body_hash_are_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let body = serde_json::to_vec(&checkin_body()).unwrap();
    let ct = [("Content-Type", "application/json")];

    let mut auth = phone.auth("POST", "/v1/checkin", &body);
    let mut sig = auth.signature.into_bytes();
    sig[0] = if sig[0] == b'0' { b'1' } else { b'0' };
    auth.signature = String::from_utf8(sig).unwrap();
    let res = phone.send_as(&auth, "POST", "/v1/checkin", &body, &ct);
    assert_eq!((res.status, res.code().as_str()), (401, "bad_signature"));

    // Signed for another path.
    let auth = phone.auth("POST", "/v1/checkin?x=1", &body);
    let res = phone.send_as(&auth, "POST", "/v1/checkin", &body, &ct);
    assert_eq!((res.status, res.code().as_str()), (401, "bad_signature"));

    // The body changed after signing.
    let auth = phone.auth("POST", "/v1/checkin", &body);
    let mut other = body.clone();
    other.push(b' ');
    let res = phone.send_as(&auth, "POST", "/v1/checkin", &other, &ct);
    assert_eq!((res.status, res.code().as_str()), (400, "bad_request"));
    assert_eq!(res.json()["field"], "SafeHome-Content-SHA256");
}

#[test]
fn a_revoked_device_is_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    assert_eq!(phone.send("GET", "/v1/config", b"", &[]).status, 200);
    server.admin().revoke(&phone.device_id, now_ms()).unwrap();
    let res = phone.send("GET", "/v1/config", b"", &[]);
    assert_eq!((res.status, res.code().as_str()), (403, "device_revoked"));
    assert_eq!(classify(res.status, &res.code()), ErrorClass::Stop);
}

#[test]
fn a_replayed_nonce_is_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let auth = phone.auth("GET", "/v1/config", b"");
    assert_eq!(phone.send_as(&auth, "GET", "/v1/config", b"", &[]).status, 200);
    let res = phone.send_as(&auth, "GET", "/v1/config", b"", &[]);
    assert_eq!((res.status, res.code().as_str()), (401, "replayed"));
}

#[test]
fn a_clock_three_days_off_learns_the_server_time_and_then_succeeds() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    phone.offset_ms.store(-3 * 86_400_000, Ordering::SeqCst);
    let res = phone.json("POST", "/v1/checkin", &checkin_body());
    assert_eq!((res.status, res.code().as_str()), (401, "clock_skew"));
    assert_eq!(classify(res.status, &res.code()), ErrorClass::ClockSkew);
    let server_time = res.json()["server_time_ms"].as_i64().unwrap();
    assert!((server_time - now_ms()).abs() < CLOCK_WINDOW_MS);
    assert!((res.server_time() - server_time).abs() < 1_000);
    // The phone corrects its offset from the answer (server time minus its own clock) and
    // retries: it now signs with its clock plus that offset.
    let device_clock_error = -3 * 86_400_000;
    let device_time = now_ms() + device_clock_error;
    phone.offset_ms.store(device_clock_error + (server_time - device_time), Ordering::SeqCst);
    let res = phone.json("POST", "/v1/checkin", &checkin_body());
    assert_eq!(res.status, 200, "{}", res.text());
    // The operator sees the last skew.
    let devices = server.admin().devices().unwrap();
    assert!(devices[0].last_clock_skew_ms.is_some());
}

#[test]
fn every_response_carries_the_server_time() {
    let server = TestServer::start();
    let a = agent();
    for (method, path) in [("GET", "/healthz"), ("GET", "/v1/server"), ("GET", "/nope")] {
        let res = raw(&a, &server.url(), method, path, &[], b"");
        let t = res.server_time();
        assert!((t - now_ms()).abs() < 60_000, "{path}");
    }
    let res = raw(&a, &server.url(), "GET", "/v1/server", &[], b"");
    assert_eq!(res.json()["protocol"], 1);
    assert_eq!(res.json()["server_public_key"], server.public.to_string());
    let res = raw(&a, &server.url(), "GET", "/healthz", &[], b"");
    assert_eq!((res.status, res.text().as_str()), (200, "ok"));
}

#[test]
fn checkin_remembers_the_audit_chain_and_flags_a_regression() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let checkin = |len: i64, head: &str| {
        let res = phone.json(
            "POST",
            "/v1/checkin",
            &json!({"audit_length": len, "audit_head": head, "pending": 2, "parked": 0,
                    "app_version": "0.1.0", "device_time_ms": now_ms()}),
        );
        assert_eq!(res.status, 200, "{}", res.text());
        res.json()
    };
    let first = checkin(10, "aa");
    assert_eq!(first["regression"], false);
    assert_eq!(first["last_audit_length"], serde_json::Value::Null);
    let second = checkin(12, "bb");
    assert_eq!(
        (second["regression"].clone(), second["last_audit_length"].clone()),
        (json!(false), json!(10))
    );
    assert!(!server.admin().devices().unwrap()[0].regression);
    // An older copy of the phone's database: a shorter chain.
    let third = checkin(11, "cc");
    assert_eq!(third["regression"], true);
    assert_eq!(third["last_audit_head"], "bb");
    let device = &server.admin().devices().unwrap()[0];
    assert!(device.regression);
    assert_eq!(device.audit_length, Some(11));
    // The same length with another head is a regression too.
    let phone2 = server.volunteer(2);
    let send = |len: i64, head: &str| {
        phone2
            .json(
                "POST",
                "/v1/checkin",
                &json!({"audit_length": len, "audit_head": head, "pending": 0, "parked": 0,
                        "app_version": "0.1.0", "device_time_ms": now_ms()}),
            )
            .json()
    };
    assert_eq!(send(5, "aa")["regression"], false);
    assert_eq!(send(5, "ab")["regression"], true);
}
