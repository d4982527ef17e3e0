//! The archive holder's reader over a server's database, on the engine the suite runs on:
//! every submission as the device sent it, in order, with the device's enrolled key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use safehome_server::archive::ArchiveReader;

#[test]
fn the_archive_reader_gives_every_submission_as_sent_with_its_devices_key() {
    let server = TestServer::start();
    let phone = server.volunteer(70);
    let mut sent = Vec::new();
    for n in 0..5 {
        let id = record_id(n);
        let body = submission(&phone, routing(&phone, &id, &[]), format!("answers {n}").as_bytes());
        assert_eq!(phone.put_submission(&id, &body).status, 201);
        sent.push((id, body));
    }
    let read: Vec<_> = ArchiveReader::open(&server.data()).unwrap().map(Result::unwrap).collect();
    assert_eq!(read.len(), sent.len());
    for ((id, body), got) in sent.iter().zip(&read) {
        assert_eq!((&got.record_id, &got.body), (id, body));
        assert_eq!(got.device_key, phone.key.public());
        assert_eq!((got.superseded_by.as_deref(), got.verdict.as_deref()), (None, None));
    }
    assert!(read.windows(2).all(|w| w[0].seq < w[1].seq), "in the order received");
}
