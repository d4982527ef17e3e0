//! Backups while serving and restores (docs/operations.md): a backup made while a phone keeps
//! uploading, restored into a fresh data directory, serves every record it holds byte for byte
//! under the same key (the phone's pin still holds); a damaged backup is refused whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use safehome_core::sync::protocol::{Receipt, sha256_hex};
use safehome_server::backup::{backup, manifest_of_data, restore};
use safehome_server::{BackgroundServer, DataDir, ServerConfig};
use safehome_testdata::pg_scratch::ScratchDb;

/// Upload record `n` of `phone` with one evidence file; returns the record id.
fn upload(phone: &Phone, n: u64) -> String {
    let id = record_id(n);
    let photo = evidence(&phone.key, "ev", format!("photo {n}").as_bytes());
    let create = phone.create_upload(&id, "ev", &photo);
    assert_eq!(create.status, 201, "{}", create.text());
    let location = create.header("Location").unwrap().to_string();
    assert_eq!(phone.patch(&location, 0, &photo).status, 204);
    let body = submission(phone, routing(phone, &id, &[("ev", &photo)]), b"sealed answers");
    assert_eq!(phone.put_submission(&id, &body).status, 201);
    id
}

#[test]
fn a_backup_made_while_serving_restores_every_record_byte_for_byte() {
    let mut server = TestServer::start();
    let phone = Arc::new(server.volunteer(90));
    for n in 0..20 {
        upload(&phone, n);
    }
    // Uploads go on while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let uploader = {
        let (phone, stop) = (Arc::clone(&phone), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 100;
            while !stop.load(Ordering::SeqCst) {
                upload(&phone, n);
                n += 1;
            }
            n - 100
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    let out = server.dir.path().join("backup");
    let m = backup(&server.data(), &out, now_ms()).unwrap();
    stop.store(true, Ordering::SeqCst);
    let more = uploader.join().unwrap();
    assert!(m.submissions.len() >= 20, "{}", m.submissions.len());
    // A photo may have arrived before its submission when the snapshot was taken: never fewer.
    assert!(m.evidence.len() >= m.submissions.len(), "each record's photo is in the backup");
    let live = manifest_of_data(&DataDir::new(server.data()), m.made_at_ms).unwrap();
    assert_eq!(m.database, if on_postgres() { "postgres" } else { "sqlite" });
    assert_eq!(live.submissions.len(), 20 + more as usize);
    // Every record of the backup is the live server's, byte for byte.
    for (id, sha) in &m.submissions {
        assert_eq!(live.submissions.get(id), Some(sha), "{id}");
    }
    server.stop();

    // Restored into a fresh directory and served: the same key, every record and photo.
    let restored = server.dir.path().join("restored");
    // A PostgreSQL backup goes into an empty database of its own (never the live one).
    let target = ScratchDb::create();
    if let Some(live) = &server.pg {
        let e = restore(&out, &restored, Some(live.url())).unwrap_err();
        assert!(e.to_string().contains("already holds"), "{e}");
        assert!(!restored.exists());
        assert!(restore(&out, &restored, None).is_err(), "PostgreSQL's backup needs a database");
    }
    let r = restore(&out, &restored, target.as_ref().map(ScratchDb::url)).unwrap();
    assert_eq!(r, m);
    assert_eq!(manifest_of_data(&DataDir::new(&restored), m.made_at_ms).unwrap(), m);
    let again = BackgroundServer::start(ServerConfig::new(&restored), "127.0.0.1:0").unwrap();
    let phone = Phone { base: again.url(), ..Arc::try_unwrap(phone).ok().unwrap() };
    for id in m.submissions.keys() {
        let res = phone.send("GET", &format!("/v1/submissions/{id}/receipt"), b"", &[]);
        assert_eq!(res.status, 200, "{id}: {}", res.text());
        let receipt = Receipt::verify(&res.json(), &server.public).unwrap();
        assert!(receipt.complete, "{id}: its photo came back too");
    }
    for sha in m.evidence.keys() {
        let blob = std::fs::read(restored.join("blobs").join(&sha[..2]).join(sha)).unwrap();
        assert_eq!(&sha256_hex(&blob), sha);
    }
    // The phone goes on uploading to the restored server under its pin.
    upload(&phone, 10_000);
    again.stop().unwrap();
}

#[test]
fn a_damaged_backup_is_refused_whole_and_leaves_no_data_directory() {
    let mut server = TestServer::start();
    let phone = server.volunteer(91);
    for n in 0..3 {
        upload(&phone, n);
    }
    let out = server.dir.path().join("backup");
    let m = backup(&server.data(), &out, now_ms()).unwrap();
    server.stop();
    // A second backup into the same folder is refused (nothing is overwritten).
    assert!(backup(&server.data(), &out, now_ms()).is_err());
    // One evidence file damaged.
    let sha = m.evidence.keys().next().unwrap();
    let path = out.join("blobs").join(&sha[..2]).join(sha);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let restored = server.dir.path().join("restored");
    let target = ScratchDb::create();
    let e = restore(&out, &restored, target.as_ref().map(ScratchDb::url)).unwrap_err();
    assert!(e.to_string().contains("damaged"), "{e}");
    assert!(!restored.exists(), "no half-restored data directory");
    // A restore never writes over a data directory.
    assert!(restore(&out, &server.data(), None).is_err());
}
