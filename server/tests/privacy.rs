//! The server never holds or logs what the envelopes seal: a marker sealed inside a record and
//! a photo appears in no file of the data directory and in no log line; the household code of
//! the routing header appears in no log line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use safehome_core::sync::protocol::Receipt;
use serde_json::json;

const MARKER: &[u8] = b"PLAINTEXT-MARKER-Nguyen-Thi-Lan-7f3a";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_file_and_no_log_line_holds_the_sealed_plaintext() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let server = TestServer::start();
    let phone = server.volunteer(1);
    let checkin = json!({"audit_length": 3, "audit_head": "ab", "pending": 1, "parked": 0,
                         "app_version": "0.1.0", "device_time_ms": now_ms()});
    assert_eq!(phone.json("POST", "/v1/checkin", &checkin).status, 200);

    let mut photo = MARKER.repeat(2000);
    photo.extend_from_slice(MARKER);
    let file = evidence(&phone.key, "ev-1", &photo);
    assert!(!contains(&file, MARKER));
    let id = record_id(1);
    let mut record = b"{\"child\": \"".to_vec();
    record.extend_from_slice(MARKER);
    record.extend_from_slice(b"\"}");
    let body = submission(&phone, routing(&phone, &id, &[("ev-1", &file)]), &record);
    assert_eq!(phone.put_submission(&id, &body).status, 201);
    // Some refusals too: their logs must not carry the body either.
    let mut tampered = body.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(phone.put_submission(&id, &tampered).status, 400);

    let res = phone.create_upload(&id, "ev-1", &file);
    let loc = res.header("Location").unwrap().to_string();
    let half = file.len() / 2;
    assert_eq!(phone.patch(&loc, 0, &file[..half]).status, 204);
    assert_eq!(phone.patch(&loc, half, &file[half..]).status, 204);
    let res = phone.send("GET", &format!("/v1/submissions/{id}/receipt"), b"", &[]);
    assert!(Receipt::verify(&res.json(), &server.public).unwrap().complete);
    let mut server = server;
    let data = server.data();
    server.stop();

    let files = files_under(&data);
    assert!(files.len() >= 3, "{files:?}");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        assert!(!contains(&bytes, MARKER), "{} holds the plaintext", path.display());
    }
    let logs = logs.0.lock().unwrap().clone();
    assert!(contains(&logs, b"submission stored"), "the logs were captured");
    assert!(!contains(&logs, MARKER), "the logs hold the plaintext");
    assert!(!contains(&logs, b"19001-0042"), "the logs hold the household code");
}
