//! Interoperability with a real third-party tus client: tuspy (the tus project's Python
//! client, from PyPI), unmodified except for SafeHome's request signing added around its HTTP
//! calls (`tus_interop/tuspy_client.py`). It uploads an evidence envelope in 64 KiB chunks with
//! `sha256` checksums, stops halfway, and a second tuspy process resumes the same upload from
//! the offset the server reports; the server's receipt then counts the file as arrived.
//!
//! The Python environment is `scripts/python-env.sh`'s (tuspy and cryptography pinned, made once
//! in build/pyenv); `SAFEHOME_PYTHON` names an interpreter that already has them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use safehome_core::sync::protocol::{Receipt, sha256_hex};
use serde_json::Value;

fn tuspy(server: &TestServer, phone: &Phone, file: &Path, extra: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tus_interop/tuspy_client.py");
    let out = Command::new(python())
        .arg(script)
        .args(["--endpoint", &format!("{}/v1/evidence/", server.url())])
        .args(["--device-id", &phone.device_id])
        .args(["--seed-hex", &safehome_core::hex::encode(&[1u8; 32])])
        .arg("--file")
        .arg(file)
        .args(["--record-id", &record_id(1), "--evidence-id", "ev-1"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tuspy failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn tuspy_uploads_evidence_resumes_halfway_and_completes_the_receipt() {
    let server = TestServer::start();
    let phone = server.volunteer(1); // key from seed [1; 32]
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let file = evidence(&phone.key, "ev-1", &plain);
    let path = server.dir.path().join("ev-1.shev");
    std::fs::write(&path, &file).unwrap();

    // The record first: its receipt lists the evidence as missing.
    let id = record_id(1);
    let body = submission(&phone, routing(&phone, &id, &[("ev-1", &file)]), b"answers");
    let receipt =
        Receipt::verify(&phone.put_submission(&id, &body).json(), &server.public).unwrap();
    assert_eq!(receipt.missing_evidence, vec![sha256_hex(&file)]);

    // tuspy creates the upload and stops after half of it.
    let half = file.len() / 2;
    let first = tuspy(&server, &phone, &path, &["--stop-at", &half.to_string()]);
    let url = first["url"].as_str().unwrap().to_string();
    let offset = first["offset"].as_u64().unwrap() as usize;
    assert!(offset >= half && offset < file.len(), "stopped at {offset}");
    let location = url.strip_prefix(&server.url()).unwrap().to_string();
    let head = phone.tus("HEAD", &location, b"", &[]);
    assert_eq!(head.header("Upload-Offset"), Some(offset.to_string().as_str()));

    // Another tuspy process resumes it from the server's offset and finishes.
    let second = tuspy(&server, &phone, &path, &["--resume-url", &url]);
    assert_eq!(second["offset"].as_u64().unwrap() as usize, file.len());

    // Stored by its hash, byte for byte; the receipt is complete.
    let sha = sha256_hex(&file);
    let blob = server.data().join("blobs").join(&sha[..2]).join(&sha);
    assert_eq!(std::fs::read(blob).unwrap(), file);
    let res = phone.send("GET", &format!("/v1/submissions/{id}/receipt"), b"", &[]);
    let receipt = Receipt::verify(&res.json(), &server.public).unwrap();
    assert!(receipt.complete, "{receipt:?}");
}
