#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn key(seed: u8) -> DeviceSigningKey {
    DeviceSigningKey::from_seed([seed; 32]).unwrap()
}

fn routing() -> RoutingHeader {
    RoutingHeader {
        schema: ROUTING_SCHEMA.into(),
        record_id: "r-1".into(),
        kind: "visit".into(),
        form: RoutingForm { id: "household_screening".into(), version: "1".into() },
        team: "tn".into(),
        commune: Some("19001".into()),
        household_code: Some("19001-0042".into()),
        risk_level: Some("urgent".into()),
        due_at_ms: Some(2_000),
        finalized_at_ms: 1_000,
        clock_offset_ms: -5,
        device_id: "d-1".into(),
        revision: 1,
        revision_of: None,
        envelope_sha256: String::new(),
        envelope_len: 0,
        evidence: vec![RoutingEvidence { id: "e".into(), sha256: "ab".repeat(32), len: 9 }],
    }
}

#[test]
fn a_signed_request_verifies_and_any_changed_part_does_not() {
    let k = key(1);
    let auth = RequestAuth::sign(&k, "d-1", "put", "/v1/submissions/r-1", b"body", 77, [3; 16]);
    let headers: Vec<(&str, String)> = auth.headers().to_vec();
    let get = |n: &str| headers.iter().find(|(h, _)| *h == n).map(|(_, v)| v.clone());
    let read = RequestAuth::from_headers(get).unwrap().unwrap();
    assert_eq!(read, auth);
    read.verify(&k.public(), "PUT", "/v1/submissions/r-1", b"body").unwrap();
    assert!(read.verify(&k.public(), "POST", "/v1/submissions/r-1", b"body").is_err());
    assert!(read.verify(&k.public(), "PUT", "/v1/submissions/r-2", b"body").is_err());
    assert!(matches!(
        read.verify(&k.public(), "PUT", "/v1/submissions/r-1", b"bodY"),
        Err(ProtocolError::Malformed { field: H_CONTENT_SHA256, .. })
    ));
    assert_eq!(
        read.verify(&key(2).public(), "PUT", "/v1/submissions/r-1", b"body"),
        Err(ProtocolError::BadSignature { what: "request" })
    );
    let mut later = read.clone();
    later.time_ms += 1;
    assert!(later.verify(&k.public(), "PUT", "/v1/submissions/r-1", b"body").is_err());
}

#[test]
fn request_headers_all_absent_is_unsigned_and_some_absent_is_malformed() {
    assert_eq!(RequestAuth::from_headers(|_| None).unwrap(), None);
    let err = RequestAuth::from_headers(|n| (n == H_DEVICE).then(|| "d".to_string()));
    assert!(matches!(err, Err(ProtocolError::Malformed { field: H_TIME, .. })));
}

#[test]
fn the_request_message_is_the_documented_lines() {
    let m = request_message("get", "/v1/config", "d", 5, "00", "ff");
    assert_eq!(m, b"safehome-request-v1\nGET\n/v1/config\nd\n5\n00\nff");
}

#[test]
fn a_submission_body_round_trips_and_binds_its_envelope() {
    let k = key(1);
    let body = SubmissionBody::build(routing(), b"sealed bytes".to_vec(), &k).unwrap();
    assert_eq!(body.routing.envelope_len, 12);
    let bytes = body.encode();
    let back = SubmissionBody::decode(&bytes).unwrap();
    assert_eq!(back, body);
    back.verify(&k.public()).unwrap();
    assert!(back.verify(&key(2).public()).is_err());

    // Another envelope under the same signed routing header is refused.
    let mut swapped = back.clone();
    swapped.envelope = b"sealed bytez".to_vec();
    assert!(matches!(
        swapped.verify(&k.public()),
        Err(ProtocolError::Malformed { field: "routing.envelope_sha256", .. })
    ));
    // Every truncation is refused without a panic.
    for cut in 0..(6 + 4 + body.routing_bytes.len() + 64) {
        assert!(SubmissionBody::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn a_routing_header_that_is_not_canonical_or_has_extra_fields_is_refused() {
    let k = key(1);
    let body = SubmissionBody::build(routing(), b"x".to_vec(), &k).unwrap();
    let mut pretty = body.clone();
    pretty.routing_bytes =
        serde_json::to_vec_pretty(&serde_json::to_value(&body.routing).unwrap()).unwrap();
    assert!(matches!(
        SubmissionBody::decode(&pretty.encode()),
        Err(ProtocolError::Malformed { field: "routing", .. })
    ));
    let mut extra = serde_json::to_value(&body.routing).unwrap();
    extra["name"] = "Nguyễn".into();
    let mut with_name = body.clone();
    with_name.routing_bytes = canonical::to_vec(&extra).unwrap();
    assert!(SubmissionBody::decode(&with_name.encode()).is_err());
}

#[test]
fn receipts_and_configs_verify_only_under_the_server_key_and_label() {
    let server = key(7);
    let receipt = Receipt {
        schema: RECEIPT_SCHEMA.into(),
        record_id: "r-1".into(),
        envelope_sha256: "00".repeat(32),
        device_id: "d-1".into(),
        received_at_ms: 1,
        seq: 3,
        complete: true,
        missing_evidence: vec![],
        issued_at_ms: 2,
    };
    let doc = receipt.sign(&server).unwrap();
    assert_eq!(Receipt::verify(&doc, &server_public(&server)).unwrap(), receipt);
    assert!(Receipt::verify(&doc, &server_public(&key(8))).is_err());
    let mut forged = doc.clone();
    forged["receipt"]["complete"] = false.into();
    assert!(Receipt::verify(&forged, &server_public(&server)).is_err());

    let config = TeamConfig {
        schema: CONFIG_SCHEMA.into(),
        team: "tn".into(),
        communes: vec!["19001".into()],
        device_id: "d-1".into(),
        role: "volunteer".into(),
        recipients: vec![],
        devices: Vec::new(),
        server_public_key: server_public(&server).to_string(),
        issued_at_ms: 5,
    };
    let doc = config.sign(&server).unwrap();
    let (back, pinned) = TeamConfig::verify_first(&doc, None).unwrap();
    assert_eq!((back, pinned), (config.clone(), server_public(&server)));
    assert!(TeamConfig::verify_first(&doc, Some(&server_public(&key(8)))).is_err());
    // A receipt's signature is not a configuration's: the labels differ.
    let as_config = serde_json::json!({"config": doc["config"], "signature": receipt
        .sign(&server).unwrap()["signature"]});
    assert!(TeamConfig::verify(&as_config, &server_public(&server)).is_err());
}

#[test]
fn error_classes_follow_the_table() {
    assert_eq!(classify(401, "clock_skew"), ErrorClass::ClockSkew);
    assert_eq!(classify(403, "device_revoked"), ErrorClass::Stop);
    assert_eq!(classify(409, "submission_conflict"), ErrorClass::Park);
    assert_eq!(classify(413, "too_large"), ErrorClass::Park);
    assert_eq!(classify(507, "storage_full"), ErrorClass::Retry);
    assert_eq!(classify(429, "rate_limited"), ErrorClass::Retry);
    assert_eq!(classify(409, "offset_mismatch"), ErrorClass::Retry);
    assert_eq!(classify(408, "request_timeout"), ErrorClass::Retry);
}
