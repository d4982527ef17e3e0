//! Evidence uploads (tus 1.0): create, resume, checksums, termination, completion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use base64::Engine;
use common::*;
use safehome_core::sync::protocol::{Receipt, sha256_hex};

fn photo(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn checksum(chunk: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, chunk);
    format!("sha256 {}", base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
}

fn location(res: &Resp) -> String {
    assert_eq!(res.status, 201, "{}", res.text());
    res.header("Location").unwrap().to_string()
}

#[test]
fn an_upload_resumes_completes_and_makes_the_receipt_complete() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let id = record_id(1);
    let file = evidence(&phone.key, "ev-1", &photo(300_000));
    let sha = sha256_hex(&file);

    // The record first: its receipt lists the evidence as missing.
    let body = submission(&phone, routing(&phone, &id, &[("ev-1", &file)]), b"answers");
    let res = phone.put_submission(&id, &body);
    assert_eq!(res.status, 201);
    let receipt = Receipt::verify(&res.json(), &server.public).unwrap();
    assert!(!receipt.complete);
    assert_eq!(receipt.missing_evidence, std::slice::from_ref(&sha));

    let res = phone.create_upload(&id, "ev-1", &file);
    let loc = location(&res);
    assert!(loc.starts_with("/v1/evidence/"));
    assert!(res.header("Upload-Expires").unwrap().ends_with("GMT"));
    assert_eq!(res.header("Tus-Resumable"), Some("1.0.0"));

    let half = file.len() / 2;
    let sum = checksum(&file[..half]);
    let offset = "0".to_string();
    let res = phone.tus(
        "PATCH",
        &loc,
        &file[..half],
        &[
            ("Content-Type", "application/offset+octet-stream"),
            ("Upload-Offset", &offset),
            ("Upload-Checksum", &sum),
        ],
    );
    assert_eq!(res.status, 204, "{}", res.text());
    assert_eq!(res.header("Upload-Offset"), Some(half.to_string().as_str()));

    let res = phone.tus("HEAD", &loc, b"", &[]);
    assert_eq!(res.status, 200);
    assert_eq!(res.header("Upload-Offset"), Some(half.to_string().as_str()));
    assert_eq!(res.header("Upload-Length"), Some(file.len().to_string().as_str()));
    assert_eq!(res.header("Cache-Control"), Some("no-store"));

    let res = phone.patch(&loc, half, &file[half..]);
    assert_eq!(res.status, 204, "{}", res.text());
    assert_eq!(res.header("Upload-Offset"), Some(file.len().to_string().as_str()));

    // Stored by its hash, the partial file gone.
    let blob = server.data().join("blobs").join(&sha[..2]).join(&sha);
    assert_eq!(std::fs::read(&blob).unwrap(), file);
    assert!(files_under(&server.data().join("uploads")).is_empty());

    let res = phone.send("GET", &format!("/v1/submissions/{id}/receipt"), b"", &[]);
    let receipt = Receipt::verify(&res.json(), &server.public).unwrap();
    assert!(receipt.complete);
    assert!(receipt.missing_evidence.is_empty());

    // The same file again: the upload is created complete.
    let loc = location(&phone.create_upload(&id, "ev-1", &file));
    let res = phone.tus("HEAD", &loc, b"", &[]);
    assert_eq!(res.header("Upload-Offset"), Some(file.len().to_string().as_str()));

    let records = server.admin().records().unwrap();
    assert!(records[0].evidence_complete);
}

#[test]
fn options_tells_what_the_server_supports_without_a_signature() {
    let server = TestServer::start();
    let res = raw(&agent(), &server.url(), "OPTIONS", "/v1/evidence/", &[], b"");
    assert_eq!(res.status, 204);
    assert_eq!(res.header("Tus-Version"), Some("1.0.0"));
    assert_eq!(res.header("Tus-Extension"), Some("creation,checksum,termination,expiration"));
    assert_eq!(res.header("Tus-Checksum-Algorithm"), Some("sha256"));
    assert_eq!(res.header("Tus-Max-Size"), Some((64u64 << 20).to_string().as_str()));
    assert!(res.header("SafeHome-Server-Time").is_some());
}

#[test]
fn a_request_without_tus_resumable_is_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let res = phone.send("POST", "/v1/evidence/", b"", &[("Upload-Length", "5")]);
    assert_eq!(res.status, 412);
    assert_eq!(res.header("Tus-Version"), Some("1.0.0"));
}

#[test]
fn a_chunk_failing_its_checksum_or_body_hash_is_not_kept() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let file = evidence(&phone.key, "ev-1", &photo(10_000));
    let loc = location(&phone.create_upload(&record_id(1), "ev-1", &file));
    let wrong = checksum(b"something else");
    let res = phone.tus(
        "PATCH",
        &loc,
        &file[..1000],
        &[
            ("Content-Type", "application/offset+octet-stream"),
            ("Upload-Offset", "0"),
            ("Upload-Checksum", &wrong),
        ],
    );
    assert_eq!((res.status, res.code().as_str()), (460, "checksum_mismatch"));
    assert_eq!(phone.tus("HEAD", &loc, b"", &[]).header("Upload-Offset"), Some("0"));

    // Signed for one chunk, another sent.
    let auth = phone.auth("PATCH", &loc, &file[..1000]);
    let res = phone.send_as(
        &auth,
        "PATCH",
        &loc,
        &file[1..1001],
        &[
            ("Tus-Resumable", "1.0.0"),
            ("Content-Type", "application/offset+octet-stream"),
            ("Upload-Offset", "0"),
        ],
    );
    assert_eq!((res.status, res.code().as_str()), (400, "bad_request"));
    assert_eq!(phone.tus("HEAD", &loc, b"", &[]).header("Upload-Offset"), Some("0"));
    // No piece of the refused chunks was kept either.
    assert!(files_under(&server.data().join("uploads")).is_empty());

    // The right chunk still goes in.
    assert_eq!(phone.patch(&loc, 0, &file[..1000]).status, 204);
}

#[test]
fn a_patch_at_the_wrong_offset_is_a_mismatch() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let file = evidence(&phone.key, "ev-1", &photo(10_000));
    let loc = location(&phone.create_upload(&record_id(1), "ev-1", &file));
    assert_eq!(phone.patch(&loc, 0, &file[..100]).status, 204);
    let res = phone.patch(&loc, 0, &file[..100]);
    assert_eq!((res.status, res.code().as_str()), (409, "offset_mismatch"));
    assert_eq!(res.json()["offset"], 100);
}

#[test]
fn patch_and_delete_may_come_as_post_with_the_method_override() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let file = evidence(&phone.key, "ev-1", &photo(10_000));
    let loc = location(&phone.create_upload(&record_id(1), "ev-1", &file));
    // Signed as the PATCH it means, sent as a POST (as Java's HttpURLConnection must).
    let auth = phone.auth("PATCH", &loc, &file[..100]);
    let headers = [
        ("Tus-Resumable", "1.0.0"),
        ("X-HTTP-Method-Override", "PATCH"),
        ("Content-Type", "application/offset+octet-stream"),
        ("Upload-Offset", "0"),
    ];
    let res = phone.send_as(&auth, "POST", &loc, &file[..100], &headers);
    assert_eq!(res.status, 204, "{}", res.text());
    assert_eq!(res.header("Upload-Offset"), Some("100"));
    // Signed as a POST, it does not verify as the PATCH it claims to be.
    let auth = phone.auth("POST", &loc, &file[100..200]);
    let mut h = headers;
    h[3] = ("Upload-Offset", "100");
    let res = phone.send_as(&auth, "POST", &loc, &file[100..200], &h);
    assert_eq!((res.status, res.code().as_str()), (401, "bad_signature"));
    let auth = phone.auth("DELETE", &loc, b"");
    let res = phone.send_as(
        &auth,
        "POST",
        &loc,
        b"",
        &[("Tus-Resumable", "1.0.0"), ("X-HTTP-Method-Override", "DELETE")],
    );
    assert_eq!(res.status, 204, "{}", res.text());
}

#[test]
fn a_terminated_upload_is_gone() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let file = evidence(&phone.key, "ev-1", &photo(10_000));
    let loc = location(&phone.create_upload(&record_id(1), "ev-1", &file));
    assert_eq!(phone.patch(&loc, 0, &file[..100]).status, 204);
    let res = phone.tus("DELETE", &loc, b"", &[]);
    assert_eq!(res.status, 204);
    assert!(files_under(&server.data().join("uploads")).is_empty());
    let res = phone.patch(&loc, 100, &file[100..200]);
    assert_eq!((res.status, res.code().as_str()), (410, "upload_gone"));
    assert_eq!(phone.tus("HEAD", &loc, b"", &[]).status, 410);
}

#[test]
fn only_the_device_that_created_an_upload_may_touch_it() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let other = server.volunteer(2);
    let file = evidence(&phone.key, "ev-1", &photo(1000));
    let loc = location(&phone.create_upload(&record_id(1), "ev-1", &file));
    let res = other.tus("HEAD", &loc, b"", &[]);
    assert_eq!(res.status, 403);
    let res = other.patch(&loc, 0, &file);
    assert_eq!((res.status, res.code().as_str()), (403, "forbidden"));
    let res = phone.tus("HEAD", "/v1/evidence/00000000000000000000000000000000", b"", &[]);
    assert_eq!(res.status, 404);
}

#[test]
fn a_finished_file_that_is_not_what_was_declared_is_discarded() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let file = evidence(&phone.key, "ev-1", &photo(5000));
    let mut other = file.clone();
    other[10] ^= 1;
    // Declared as `file`, `other` sent.
    let loc = location(&phone.create_upload(&record_id(1), "ev-1", &file));
    let res = phone.patch(&loc, 0, &other);
    assert_eq!((res.status, res.code().as_str()), (460, "checksum_mismatch"));
    assert_eq!(phone.tus("HEAD", &loc, b"", &[]).status, 410);

    // The declared hash matches, but it is not an envelope of this device.
    let junk = photo(5000);
    let loc = location(&phone.create_upload(&record_id(1), "ev-2", &junk));
    let res = phone.patch(&loc, 0, &junk);
    assert_eq!((res.status, res.code().as_str()), (400, "bad_envelope"));
    let stranger = Phone::new(&server.url(), 9);
    let foreign = evidence(&stranger.key, "ev-3", &photo(100));
    let loc = location(&phone.create_upload(&record_id(1), "ev-3", &foreign));
    let res = phone.patch(&loc, 0, &foreign);
    assert_eq!((res.status, res.code().as_str()), (400, "bad_envelope"));
    assert!(files_under(&server.data().join("blobs")).is_empty());
    assert!(files_under(&server.data().join("uploads")).is_empty());
}

#[test]
fn an_upload_over_the_maximum_size_is_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let meta =
        format!("record_id {},evidence_id {},sha256 {}", b64("r"), b64("e"), b64(&"ab".repeat(32)));
    let len = ((64u64 << 20) + 1).to_string();
    let res = phone.tus(
        "POST",
        "/v1/evidence/",
        b"",
        &[("Upload-Length", &len), ("Upload-Metadata", &meta)],
    );
    assert_eq!((res.status, res.code().as_str()), (413, "too_large"));
}

#[test]
fn a_patch_cut_mid_body_keeps_the_bytes_that_arrived() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let file = evidence(&phone.key, "ev-1", &photo(200_000));
    let loc = location(&phone.create_upload(&record_id(1), "ev-1", &file));
    let chunk = &file[..100_000];
    let sent = 40_000;
    let auth = phone.auth("PATCH", &loc, chunk);
    let mut head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {}\r\n",
        chunk.len()
    );
    for (n, v) in auth.headers() {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(&chunk[..sent]).unwrap();
    tcp.shutdown(Shutdown::Write).unwrap();
    // The server commits what arrived before it answers (or closes).
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);

    let res = phone.tus("HEAD", &loc, b"", &[]);
    assert_eq!(res.header("Upload-Offset"), Some(sent.to_string().as_str()));
    // The client resumes from there and completes.
    let res = phone.patch(&loc, sent, &file[sent..]);
    assert_eq!(res.status, 204, "{}", res.text());
    let sha = sha256_hex(&file);
    assert_eq!(
        std::fs::read(server.data().join("blobs").join(&sha[..2]).join(&sha)).unwrap(),
        file
    );
}

#[test]
fn an_upload_not_completed_within_a_day_expires() {
    let clock = std::sync::Arc::new(safehome_core::clock::FixedClock::new(now_ms(), 0));
    let server_clock = std::sync::Arc::clone(&clock);
    let server = TestServer::start_with(move |c| c.clock = server_clock);
    let phone = server.volunteer(1);
    let file = evidence(&phone.key, "ev-1", &photo(1000));
    let loc = location(&phone.create_upload(&record_id(1), "ev-1", &file));
    assert_eq!(phone.patch(&loc, 0, &file[..10]).status, 204);
    // A day and an hour later (the phone's clock moved with the server's).
    let later = 25 * 3_600_000;
    clock.advance(later);
    phone.offset_ms.store(later, std::sync::atomic::Ordering::SeqCst);
    let res = phone.patch(&loc, 10, &file[10..]);
    assert_eq!((res.status, res.code().as_str()), (410, "upload_gone"));
    assert!(files_under(&server.data().join("uploads")).is_empty());
}
