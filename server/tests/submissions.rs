//! Submissions: idempotent PUT, conflicts, refused bodies, signed receipts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use safehome_core::sync::protocol::{MAX_SUBMISSION_BODY, Receipt, SubmissionBody};

#[test]
fn a_submission_is_stored_once_and_a_retry_gets_the_same_receipt() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let id = record_id(1);
    let body = submission(&phone, routing(&phone, &id, &[]), b"answers");
    let first = phone.put_submission(&id, &body);
    assert_eq!(first.status, 201, "{}", first.text());
    let receipt = Receipt::verify(&first.json(), &server.public).unwrap();
    assert_eq!(receipt.record_id, id);
    assert_eq!(receipt.device_id, phone.device_id);
    assert_eq!(
        receipt.envelope_sha256,
        SubmissionBody::decode(&body).unwrap().routing.envelope_sha256
    );
    assert!(receipt.complete);
    assert!(receipt.missing_evidence.is_empty());

    let again = phone.put_submission(&id, &body);
    assert_eq!(again.status, 200, "{}", again.text());
    let same = Receipt::verify(&again.json(), &server.public).unwrap();
    assert_eq!((same.seq, same.received_at_ms), (receipt.seq, receipt.received_at_ms));

    let fetched = phone.send("GET", &format!("/v1/submissions/{id}/receipt"), b"", &[]);
    assert_eq!(fetched.status, 200);
    let fetched = Receipt::verify(&fetched.json(), &server.public).unwrap();
    assert_eq!(fetched.seq, receipt.seq);

    // A second record gets the next sequence number.
    let id2 = record_id(2);
    let res = phone.put_submission(&id2, &submission(&phone, routing(&phone, &id2, &[]), b"x"));
    assert_eq!(res.status, 201);
    assert_eq!(Receipt::verify(&res.json(), &server.public).unwrap().seq, receipt.seq + 1);
}

#[test]
fn the_same_submission_sent_at_once_from_eight_connections_is_stored_once() {
    let server = TestServer::start();
    let phone = std::sync::Arc::new(server.volunteer(1));
    let id = record_id(1);
    let body = std::sync::Arc::new(submission(&phone, routing(&phone, &id, &[]), b"answers"));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (phone, body, id, barrier) =
                (phone.clone(), body.clone(), id.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let res = phone.put_submission(&id, &body);
                (res.status, res.json())
            })
        })
        .collect();
    let answers: Vec<(u16, serde_json::Value)> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let repeated = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!((created, repeated), (1, 7), "{statuses:?}");
    let records = server.admin().records().unwrap();
    assert_eq!(records.len(), 1);
    // Every answer is the first receipt, signed by the server.
    for (_, doc) in &answers {
        let r = Receipt::verify(doc, &server.public).unwrap();
        assert_eq!((r.record_id.as_str(), r.seq), (id.as_str(), records[0].seq));
    }
}

#[test]
fn a_receipt_signed_by_another_key_does_not_verify() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let id = record_id(1);
    let res = phone.put_submission(&id, &submission(&phone, routing(&phone, &id, &[]), b"a"));
    let other = TestServer::start();
    assert!(Receipt::verify(&res.json(), &other.public).is_err());
}

#[test]
fn different_bytes_under_the_same_record_id_are_a_conflict() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let id = record_id(1);
    let first = submission(&phone, routing(&phone, &id, &[]), b"one");
    let res = phone.put_submission(&id, &first);
    assert_eq!(res.status, 201);
    let stored_sha = Receipt::verify(&res.json(), &server.public).unwrap().envelope_sha256;
    let res = phone.put_submission(&id, &submission(&phone, routing(&phone, &id, &[]), b"two"));
    assert_eq!((res.status, res.code().as_str()), (409, "submission_conflict"));
    assert_eq!(res.json()["envelope_sha256"], stored_sha);
}

#[test]
fn a_tampered_envelope_is_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let id = record_id(1);
    // Flip a byte of the envelope's header (its device signature no longer verifies) and
    // re-sign the routing header over the changed envelope, so only the envelope is at fault.
    let mut envelope = evidence(&phone.key, &id, b"answers");
    envelope[60] ^= 1;
    let body = SubmissionBody::build(routing(&phone, &id, &[]), envelope, &phone.key).unwrap();
    let res = phone.put_submission(&id, &body.encode());
    assert_eq!((res.status, res.code().as_str()), (400, "bad_envelope"), "{}", res.text());
    assert!(res.json()["reason"].is_string());

    // An envelope sealed by another device's key.
    let other = Phone::new(&server.url(), 2);
    let envelope = evidence(&other.key, &id, b"answers");
    let body = SubmissionBody::build(routing(&phone, &id, &[]), envelope, &phone.key).unwrap();
    let res = phone.put_submission(&id, &body.encode());
    assert_eq!((res.status, res.code().as_str()), (400, "bad_envelope"));

    // Bytes changed after the routing header was signed.
    let mut bytes = submission(&phone, routing(&phone, &id, &[]), b"answers");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let res = phone.put_submission(&id, &bytes);
    assert_eq!((res.status, res.code().as_str()), (400, "bad_submission"));
    // Nothing was stored.
    let res = phone.send("GET", &format!("/v1/submissions/{id}/receipt"), b"", &[]);
    assert_eq!((res.status, res.code().as_str()), (404, "not_found"));
}

#[test]
fn a_routing_header_for_another_device_record_or_team_is_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let other = server.volunteer(2);
    let id = record_id(1);

    let mut r = routing(&phone, &id, &[]);
    r.device_id = other.device_id.clone();
    let res = phone.put_submission(&id, &submission(&phone, r, b"a"));
    assert_eq!((res.status, res.code().as_str()), (400, "bad_submission"));
    assert_eq!(res.json()["field"], "routing.device_id");

    let res =
        phone.put_submission(&record_id(9), &submission(&phone, routing(&phone, &id, &[]), b"a"));
    assert_eq!((res.status, res.code().as_str()), (400, "bad_submission"));
    assert_eq!(res.json()["field"], "routing.record_id");

    let mut r = routing(&phone, &id, &[]);
    r.team = "another".into();
    let res = phone.put_submission(&id, &submission(&phone, r, b"a"));
    assert_eq!(res.json()["field"], "routing.team");

    let res = phone.put_submission(&id, b"not a submission");
    assert_eq!((res.status, res.code().as_str()), (400, "bad_submission"));
    assert_eq!(res.json()["field"], "magic");

    // Another device cannot read this device's receipt.
    let res = phone.put_submission(&id, &submission(&phone, routing(&phone, &id, &[]), b"a"));
    assert_eq!(res.status, 201);
    let res = other.send("GET", &format!("/v1/submissions/{id}/receipt"), b"", &[]);
    assert_eq!((res.status, res.code().as_str()), (403, "forbidden"));
}

#[test]
fn a_wrong_content_type_is_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let id = record_id(1);
    let body = submission(&phone, routing(&phone, &id, &[]), b"a");
    let res = phone.send(
        "PUT",
        &format!("/v1/submissions/{id}"),
        &body,
        &[("Content-Type", "text/plain")],
    );
    assert_eq!((res.status, res.code().as_str()), (415, "bad_content_type"));
}

#[test]
fn an_oversize_body_is_refused_before_it_is_read() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let path = format!("/v1/submissions/{}", record_id(1));
    let ct = ("Content-Type", "application/vnd.safehome.submission");
    let answer = declare_only(&server, &phone, "PUT", &path, &[ct], MAX_SUBMISSION_BODY + 1);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");
    assert!(answer.contains(&format!("\"limit\":{MAX_SUBMISSION_BODY}")), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("safehome-server-time"), "{answer}");
}

#[test]
fn a_json_body_over_a_mebibyte_is_refused() {
    let server = TestServer::start();
    let phone = server.volunteer(1);
    let ct = ("Content-Type", "application/json");
    let answer = declare_only(&server, &phone, "POST", "/v1/checkin", &[ct], (1 << 20) + 1);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");
}
