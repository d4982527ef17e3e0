#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The sealed evidence envelope: round trips, every attack of issue 3 (each refused with a
//! specific typed error), known-answer tests of the primitives, the published test vectors of
//! docs/envelope.md, and property tests.

use proptest::prelude::*;
use safehome_core::clock::{Entropy, SeededEntropy};
use safehome_core::evidence::envelope::{
    self, CHUNK_SIZE, EnvelopeError, FIXED_HEADER_LEN, FileSink, MemorySink, Randomness,
    SIGNATURE_LEN, STANZA_LEN, SealRequest, SeekableSealRequest, Sink, TAG_LEN,
};
use safehome_core::evidence::keys::KeyError;
use safehome_core::evidence::{
    DevicePublicKey, DeviceSigningKey, EvidenceInfo, GpsPoint, Identity, KeyKind, RecipientKey,
};
use safehome_core::hex;

// ---------------------------------------------------------------------------------------------
// helpers

struct Team {
    ids: Vec<Identity>,
    recipients: Vec<RecipientKey>,
    device: DeviceSigningKey,
}

fn team(seed: u64, n: usize) -> Team {
    let e = SeededEntropy::new(seed);
    let ids: Vec<Identity> = (0..n).map(|_| Identity::generate(&e)).collect();
    let recipients = ids.iter().map(Identity::recipient).collect();
    Team { ids, recipients, device: DeviceSigningKey::generate(&e).unwrap() }
}

fn info() -> EvidenceInfo {
    EvidenceInfo {
        evidence_id: "6f1c0d2e-8a4b-4c1d-9e2f-3a4b5c6d7e8f".into(),
        content_type: "image/jpeg".into(),
        captured_at_ms: Some(1_700_000_000_000),
        gps: Some(GpsPoint {
            latitude: 16.0544,
            longitude: 108.2022,
            altitude_m: None,
            time_ms: None,
        }),
        original_sha256: Some([7u8; 32]),
        width: Some(2000),
        height: Some(1500),
    }
}

fn payload(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + 7) as u8) ^ salt).collect()
}

/// Seal `p` to the team with seeded randomness; returns the envelope and its header length.
fn seal(t: &Team, p: &[u8], seed: u64) -> (Vec<u8>, usize) {
    let e = SeededEntropy::new(seed);
    let (env, s) = envelope::seal_bytes(
        p,
        info(),
        &t.recipients,
        &t.device,
        1_700_000_001_000,
        Randomness::Injected(&e),
    )
    .unwrap();
    (env, s.header_len)
}

fn open(env: &[u8], id: &Identity) -> Result<Vec<u8>, EnvelopeError> {
    envelope::open_bytes(env, id, None).map(|(p, _)| p)
}

/// Byte ranges of the payload chunks of an envelope.
fn chunk_ranges(env_len: usize, header_len: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut pos = header_len + SIGNATURE_LEN;
    while pos < env_len {
        let end = (pos + CHUNK_SIZE + TAG_LEN).min(env_len);
        out.push(pos..end);
        pos = end;
    }
    out
}

macro_rules! assert_err {
    ($result:expr, $pat:pat $(if $guard:expr)?) => {
        match $result {
            Err($pat) $(if $guard)? => {}
            other => panic!("expected {}, got {:?}", stringify!($pat), other.map(|v| v.len())),
        }
    };
}

/// Re-sign a (tampered) header with `key`, as a malicious device could.
fn resign(env: &mut [u8], header_len: usize, key: &DeviceSigningKey) {
    let sig = key.sign(&envelope::signed_message(&env[..header_len]));
    env[header_len..header_len + SIGNATURE_LEN].copy_from_slice(&sig);
}

// ---------------------------------------------------------------------------------------------
// round trips

#[test]
fn every_recipient_opens_and_gets_the_metadata() {
    let t = team(1, 3);
    let p = payload(200_000, 0);
    let (env, _) = seal(&t, &p, 10);
    for id in &t.ids {
        let (out, opened) = envelope::open_bytes(&env, id, Some(&t.device.public())).unwrap();
        assert_eq!(out, p);
        let m = opened.metadata;
        assert_eq!(m.evidence_id, info().evidence_id);
        assert_eq!(m.content_type, "image/jpeg");
        assert_eq!(m.captured_at_ms, Some(1_700_000_000_000));
        assert_eq!(m.sealed_at_ms, 1_700_000_001_000);
        assert_eq!(m.plaintext_len, 200_000);
        assert_eq!(m.gps.unwrap().latitude, 16.0544);
        assert_eq!(m.device, t.device.public());
        assert_eq!(opened.recipients, 3);
    }
    // The keyless verifier agrees on the signer and the size.
    let v = envelope::verify(&env[..], Some(&t.device.public())).unwrap();
    assert_eq!((v.recipients, v.payload_len, v.envelope_len), (3, 200_000, env.len() as u64));
}

#[test]
fn the_sealing_phone_cannot_open_its_own_envelope() {
    // The phone holds only the device signing key; recipients' secrets never reach it.
    let t = team(2, 2);
    let (env, _) = seal(&t, b"photo", 11);
    let phone = Identity::generate(&SeededEntropy::new(999));
    assert_err!(open(&env, &phone), EnvelopeError::NotARecipient);
}

#[test]
fn ring_and_dalek_paths_interoperate_and_system_randomness_is_fresh() {
    let t = team(3, 2);
    let p = payload(100_000, 1);
    let a = envelope::seal_bytes(&p, info(), &t.recipients, &t.device, 0, Randomness::System)
        .unwrap()
        .0;
    let b = envelope::seal_bytes(&p, info(), &t.recipients, &t.device, 0, Randomness::System)
        .unwrap()
        .0;
    assert_ne!(a, b, "two seals of the same photo must differ (fresh file key and shares)");
    for id in &t.ids {
        assert_eq!(open(&a, id).unwrap(), p);
        assert_eq!(open(&b, id).unwrap(), p);
    }
}

#[test]
fn file_sink_commits_only_verified_payloads() {
    let dir = std::env::temp_dir().join(format!("safehome-sink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = team(4, 1);
    let p = payload(3 * CHUNK_SIZE + 5, 2);
    let (env, _) = seal(&t, &p, 12);

    let good = dir.join("good.jpg");
    let mut sink = FileSink::create(&good).unwrap();
    let temp = sink.temp_path().to_path_buf();
    envelope::open(&env[..], &t.ids[0], None, &mut sink).unwrap();
    assert_eq!(std::fs::read(&good).unwrap(), p);
    assert!(!temp.exists());

    // A payload cut in its last chunk: earlier chunks verified and were written to the temp
    // file, but the destination never appears and the temp file is gone.
    let bad = dir.join("bad.jpg");
    let mut sink = FileSink::create(&bad).unwrap();
    let temp = sink.temp_path().to_path_buf();
    let r = envelope::open(&env[..env.len() - 3], &t.ids[0], None, &mut sink);
    assert!(matches!(r, Err(EnvelopeError::Truncated { .. })));
    assert!(!bad.exists());
    assert!(!temp.exists());

    // A memory sink hands out nothing unless committed.
    let mut m = MemorySink::new();
    let _ = envelope::open(&env[..env.len() - 3], &t.ids[0], None, &mut m);
    assert!(m.into_committed().is_none());
    let mut m = MemorySink::new();
    m.commit().unwrap();
    assert_eq!(m.into_committed(), Some(Vec::new()));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// the sealing paths: streaming writer, `seal`, `seal_bytes` and `seal_seekable` give the same
// bytes; the seekable sealer leaves nothing that opens when its input is wrong

/// Lengths around chunk and batch boundaries, below and above the size from which the payload
/// is hashed on a second thread (1 MiB).
const PATH_LENS: [usize; 10] = [
    0,
    1,
    CHUNK_SIZE - 1,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    8 * CHUNK_SIZE,
    8 * CHUNK_SIZE + 1,
    1 << 20,
    (1 << 20) + 8 * CHUNK_SIZE,
    33 * CHUNK_SIZE + 5,
];

fn seekable_req(t: &Team, len: usize, expect: Option<[u8; 32]>) -> SeekableSealRequest<'_> {
    SeekableSealRequest {
        recipients: &t.recipients,
        device: &t.device,
        info: info(),
        sealed_at_ms: 1_700_000_001_000,
        plaintext_len: len as u64,
        expect_sha256: expect,
    }
}

fn sha256(p: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, p).as_ref().try_into().unwrap()
}

/// A reader that hands out at most `step` bytes per call, and fails with an I/O error after
/// `fail_after` bytes if set.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    fail_after: Option<usize>,
    served: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.fail_after.is_some_and(|f| self.served >= f) {
            return Err(std::io::Error::other("disk gone"));
        }
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.served += n;
        Ok(n)
    }
}

#[test]
fn every_sealing_path_gives_the_same_bytes() {
    let t = team(70, 2);
    for (k, &len) in PATH_LENS.iter().enumerate() {
        let p = payload(len, k as u8);
        let seed = 700 + k as u64;
        let (whole, s) = envelope::seal_bytes(
            &p,
            info(),
            &t.recipients,
            &t.device,
            1_700_000_001_000,
            Randomness::Injected(&SeededEntropy::new(seed)),
        )
        .unwrap();
        assert_eq!(whole.len() as u64, s.envelope_len, "len {len}");

        // The incremental writer, fed in one piece.
        let req = SealRequest {
            recipients: &t.recipients,
            device: &t.device,
            info: info(),
            sealed_at_ms: 1_700_000_001_000,
            plaintext_len: len as u64,
            plaintext_sha256: sha256(&p),
        };
        let mut streamed = Vec::new();
        let e = SeededEntropy::new(seed);
        let mut w =
            envelope::EnvelopeWriter::new(req, Randomness::Injected(&e), &mut streamed).unwrap();
        w.update(&p).unwrap();
        let ws = w.finish().unwrap();
        assert_eq!(streamed, whole, "EnvelopeWriter, len {len}");
        assert_eq!(ws.header_sha256, s.header_sha256);

        // `seal` from a reader that trickles, to any writer.
        let req = SealRequest {
            recipients: &t.recipients,
            device: &t.device,
            info: info(),
            sealed_at_ms: 1_700_000_001_000,
            plaintext_len: len as u64,
            plaintext_sha256: sha256(&p),
        };
        let mut sealed = Vec::new();
        let e = SeededEntropy::new(seed);
        let input = Trickle { data: &p, step: 40_000, fail_after: None, served: 0 };
        let ss = envelope::seal(req, Randomness::Injected(&e), input, &mut sealed).unwrap();
        assert_eq!(sealed, whole, "seal, len {len}");
        assert_eq!(ss.header_sha256, s.header_sha256);

        // `seal_seekable`, the header written last, at a cursor that does not start at zero;
        // with and without the expected hash.
        for expect in [None, Some(sha256(&p))] {
            let mut cur = std::io::Cursor::new(b"prefix".to_vec());
            cur.set_position(6);
            let e = SeededEntropy::new(seed);
            let input = Trickle { data: &p, step: 100_000, fail_after: None, served: 0 };
            let ks = envelope::seal_seekable(
                seekable_req(&t, len, expect),
                Randomness::Injected(&e),
                input,
                &mut cur,
            )
            .unwrap();
            assert_eq!(cur.position(), 6 + whole.len() as u64);
            let out = cur.into_inner();
            assert_eq!(&out[..6], b"prefix");
            assert_eq!(&out[6..], &whole[..], "seal_seekable, len {len}");
            assert_eq!(ks.header_sha256, s.header_sha256);
            assert_eq!(ks.envelope_len, s.envelope_len);
            assert_eq!(ks.metadata, s.metadata);
        }

        let (out, opened) =
            envelope::open_bytes(&whole, &t.ids[1], Some(&t.device.public())).unwrap();
        assert_eq!(out, p);
        assert_eq!(opened.metadata.plaintext_sha256, sha256(&p));
    }
}

#[test]
fn the_seekable_sealer_into_a_file_sink_commits_only_whole_envelopes() {
    let dir = std::env::temp_dir().join(format!("safehome-seekable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = team(71, 1);
    for len in [3 * CHUNK_SIZE + 5, (2 << 20) + 77] {
        let p = payload(len, 3);
        let (whole, _) = seal(&t, &p, 710);

        // Success: the sink is committed and holds exactly the envelope.
        let good = dir.join(format!("good-{len}.shev"));
        let mut sink = FileSink::create(&good).unwrap();
        let temp = sink.temp_path().to_path_buf();
        let e = SeededEntropy::new(710);
        envelope::seal_seekable(
            seekable_req(&t, len, None),
            Randomness::Injected(&e),
            &p[..],
            &mut sink,
        )
        .unwrap();
        sink.commit().unwrap();
        assert_eq!(std::fs::read(&good).unwrap(), whole);
        assert!(!temp.exists());
        assert_eq!(open(&std::fs::read(&good).unwrap(), &t.ids[0]).unwrap(), p);

        // Failures: a short input, a long one, an input that fails, a hash that is not the
        // expected one. Each is refused, the destination never appears and the temp file goes.
        let cut = &p[..len - 1];
        let mut longer = p.clone();
        longer.push(0);
        type Case<'a> = (&'a str, Box<dyn std::io::Read + 'a>, Option<[u8; 32]>);
        let cases: Vec<Case<'_>> = vec![
            ("short", Box::new(cut), None),
            ("long", Box::new(&longer[..]), None),
            (
                "failing",
                Box::new(Trickle { data: &p, step: 50_000, fail_after: Some(len / 2), served: 0 }),
                None,
            ),
            ("wrong hash", Box::new(&p[..]), Some([9u8; 32])),
        ];
        for (what, input, expect) in cases {
            let bad = dir.join(format!("bad-{len}.shev"));
            let mut sink = FileSink::create(&bad).unwrap();
            let temp = sink.temp_path().to_path_buf();
            let e = SeededEntropy::new(711);
            let r = envelope::seal_seekable(
                seekable_req(&t, len, expect),
                Randomness::Injected(&e),
                input,
                &mut sink,
            );
            match (what, &r) {
                ("short", Err(EnvelopeError::LengthMismatch { declared, actual }))
                | ("long", Err(EnvelopeError::LengthMismatch { declared, actual })) => {
                    assert_eq!(*declared, len as u64);
                    assert_eq!(
                        *actual,
                        if what == "short" { len as u64 - 1 } else { len as u64 + 1 }
                    );
                }
                ("failing", Err(EnvelopeError::Io(_)))
                | ("wrong hash", Err(EnvelopeError::HashMismatch)) => {}
                _ => panic!("{what}, len {len}: {:?}", r.map(|s| s.envelope_len)),
            }
            drop(sink);
            assert!(!bad.exists(), "{what}");
            assert!(!temp.exists(), "{what}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without a sink that can be discarded, a failed seekable seal leaves bytes behind, but never
/// a header: nothing written opens or verifies.
#[test]
fn a_failed_seekable_seal_leaves_no_header() {
    let t = team(72, 1);
    for len in [3 * CHUNK_SIZE + 5, (2 << 20) + 77] {
        let p = payload(len, 4);
        for (cut, expect) in [(len - 1, None), (len, Some([1u8; 32]))] {
            let mut cur = std::io::Cursor::new(Vec::new());
            let e = SeededEntropy::new(720);
            let r = envelope::seal_seekable(
                seekable_req(&t, len, expect),
                Randomness::Injected(&e),
                &p[..cut],
                &mut cur,
            );
            assert!(r.is_err());
            let out = cur.into_inner();
            assert!(out.len() > FIXED_HEADER_LEN);
            assert!(out[..FIXED_HEADER_LEN].iter().all(|&b| b == 0), "a header was written");
            assert_err!(open(&out, &t.ids[0]), EnvelopeError::NotAnEnvelope);
            assert!(matches!(envelope::verify(&out[..], None), Err(EnvelopeError::NotAnEnvelope)));
        }
    }
}

/// `seal` (the streaming path, which hashes on a second thread for large payloads) refuses a
/// payload that is not the declared one before it writes the final chunk.
#[test]
fn streaming_seal_holds_the_final_chunk_until_the_payload_checks_out() {
    let t = team(73, 1);
    for len in [3 * CHUNK_SIZE + 5, (2 << 20) + 77] {
        let p = payload(len, 5);
        let (whole, _) = seal(&t, &p, 730);
        let final_chunk = (len - 1) % CHUNK_SIZE + 1 + TAG_LEN;
        let req = |sha| SealRequest {
            recipients: &t.recipients,
            device: &t.device,
            info: info(),
            sealed_at_ms: 1_700_000_001_000,
            plaintext_len: len as u64,
            plaintext_sha256: sha,
        };
        // Wrong hash: everything but the final chunk was written, and it does not open.
        let mut out = Vec::new();
        let e = SeededEntropy::new(730);
        let mut q = p.clone();
        q[len / 2] ^= 1;
        let r = envelope::seal(req(sha256(&p)), Randomness::Injected(&e), &q[..], &mut out);
        assert!(matches!(r, Err(EnvelopeError::HashMismatch)), "{:?}", r.map(|s| s.chunks));
        assert_eq!(out.len(), whole.len() - final_chunk);
        assert_err!(open(&out, &t.ids[0]), EnvelopeError::Truncated { .. });
        // Too long and too short.
        let mut longer = p.clone();
        longer.extend_from_slice(b"xyz");
        for (input, actual) in [(&longer[..], len as u64 + 1), (&p[..len - 10], len as u64 - 10)] {
            let mut out = Vec::new();
            let e = SeededEntropy::new(730);
            let r = envelope::seal(req(sha256(&p)), Randomness::Injected(&e), input, &mut out);
            assert!(
                matches!(r, Err(EnvelopeError::LengthMismatch { declared, actual: a })
                    if declared == len as u64 && a == actual),
                "{:?}",
                r.map(|s| s.chunks)
            );
            assert!(out.len() <= whole.len() - final_chunk);
            assert!(open(&out, &t.ids[0]).is_err());
        }
    }
}

/// Opening a large envelope (hashed on a second thread) refuses every attack at the right
/// chunk and commits nothing.
#[test]
fn large_envelopes_are_opened_with_the_same_checks() {
    let dir = std::env::temp_dir().join(format!("safehome-large-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = team(74, 2);
    let len = (3 << 20) + 12_345;
    let p = payload(len, 6);
    let (env, h) = seal(&t, &p, 740);
    let ranges = chunk_ranges(env.len(), h);
    assert_eq!(ranges.len(), 49);
    let dest = dir.join("out.bin");
    let try_open = |e: &[u8]| {
        let mut sink = FileSink::create(&dest).unwrap();
        let temp = sink.temp_path().to_path_buf();
        let r = envelope::open(e, &t.ids[1], Some(&t.device.public()), &mut sink);
        if r.is_err() {
            assert!(!dest.exists());
        }
        assert!(!temp.exists());
        r
    };
    // Whole: committed.
    try_open(&env).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), p);
    std::fs::remove_file(&dest).unwrap();
    // A flipped byte in chunks 0, 17, 48 (the final one).
    for c in [0usize, 17, 48] {
        let mut e = env.clone();
        e[ranges[c].start + 100] ^= 0x40;
        assert!(
            matches!(try_open(&e), Err(EnvelopeError::ChunkAuthFailed { chunk }) if chunk == c as u64)
        );
    }
    // Two chunks swapped.
    let mut e = env.clone();
    let (a, b) = (ranges[20].clone(), ranges[21].clone());
    let tmp = e[a.clone()].to_vec();
    e.copy_within(b.clone(), a.start);
    e[b].copy_from_slice(&tmp);
    assert!(matches!(try_open(&e), Err(EnvelopeError::ChunkAuthFailed { chunk: 20 })));
    // Cut mid-chunk, cut at a chunk boundary, the final chunk dropped, a byte too many.
    assert!(matches!(
        try_open(&env[..ranges[30].start + 5]),
        Err(EnvelopeError::Truncated { chunk: Some(30), .. })
    ));
    assert!(matches!(
        try_open(&env[..ranges[30].start]),
        Err(EnvelopeError::Truncated { chunk: Some(30), .. })
    ));
    assert!(matches!(
        try_open(&env[..ranges[48].start]),
        Err(EnvelopeError::Truncated { chunk: Some(48), .. })
    ));
    let mut longer = env.clone();
    longer.push(0);
    assert!(matches!(try_open(&longer), Err(EnvelopeError::TrailingData)));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A large output is synced in the background while it is written (every
/// `FileSink::WRITEBACK_EVERY` bytes); committing still renames a whole file into place, and
/// discarding still leaves nothing.
#[test]
fn file_sink_with_background_writeback_commits_and_discards_whole() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("safehome-writeback-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let block = payload(CHUNK_SIZE, 7);
    let blocks = (2 * FileSink::WRITEBACK_EVERY as usize) / CHUNK_SIZE + 3;
    for commit in [true, false] {
        let dest = dir.join(format!("big-{commit}.bin"));
        let mut sink = FileSink::create(&dest).unwrap();
        let temp = sink.temp_path().to_path_buf();
        for _ in 0..blocks {
            sink.write_all(&block).unwrap();
        }
        assert!(!dest.exists());
        if commit {
            sink.commit().unwrap();
            let got = std::fs::read(&dest).unwrap();
            assert_eq!(got.len(), blocks * CHUNK_SIZE);
            assert!(got.chunks(CHUNK_SIZE).all(|c| c == &block[..]));
        } else {
            sink.discard();
            assert!(!dest.exists());
        }
        assert!(!temp.exists());
        // A sink is used once.
        assert!(sink.write_all(&block).is_err());
        assert!(sink.commit().is_err());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// attacks: payload

/// Four full chunks and a short final one.
fn five_chunks(seed: u64) -> (Team, Vec<u8>, Vec<u8>, usize) {
    let t = team(seed, 2);
    let p = payload(4 * CHUNK_SIZE + 1000, seed as u8);
    let (env, h) = seal(&t, &p, seed + 100);
    (t, p, env, h)
}

#[test]
fn truncation_at_a_chunk_boundary() {
    let (t, _, env, h) = five_chunks(20);
    let c = chunk_ranges(env.len(), h);
    assert_eq!(c.len(), 5);
    for (i, r) in c.iter().enumerate() {
        assert_err!(
            open(&env[..r.start], &t.ids[0]),
            EnvelopeError::Truncated { section: "payload", chunk: Some(k) } if k == i as u64
        );
    }
    // Cut in the header and in the signature.
    assert_err!(
        open(&env[..FIXED_HEADER_LEN + 3], &t.ids[0]),
        EnvelopeError::Truncated { section: "header", .. }
    );
    assert_err!(
        open(&env[..h + 10], &t.ids[0]),
        EnvelopeError::Truncated { section: "signature", .. }
    );
    assert_err!(open(&env[..3], &t.ids[0]), EnvelopeError::Truncated { section: "header", .. });
}

#[test]
fn truncation_mid_chunk() {
    let (t, _, env, h) = five_chunks(21);
    let c = chunk_ranges(env.len(), h);
    for (i, r) in c.iter().enumerate() {
        for cut in [r.start + 1, r.start + (r.end - r.start) / 2, r.end - 1] {
            assert_err!(
                open(&env[..cut], &t.ids[1]),
                EnvelopeError::Truncated { chunk: Some(k), .. } if k == i as u64
            );
        }
    }
}

#[test]
fn missing_final_chunk() {
    let (t, _, env, h) = five_chunks(22);
    let c = chunk_ranges(env.len(), h);
    let without_last = &env[..c[4].start];
    assert_err!(open(without_last, &t.ids[0]), EnvelopeError::Truncated { chunk: Some(4), .. });
    // The keyless verifier sees it too.
    assert!(matches!(
        envelope::verify(without_last, None),
        Err(EnvelopeError::Truncated { section: "payload", .. })
    ));
}

#[test]
fn trailing_bytes() {
    let (t, _, env, _) = five_chunks(23);
    for extra in [&b"x"[..], &[0u8; 16], &[0u8; CHUNK_SIZE + TAG_LEN]] {
        let mut e = env.clone();
        e.extend_from_slice(extra);
        assert_err!(open(&e, &t.ids[0]), EnvelopeError::TrailingData);
        assert!(matches!(envelope::verify(&e[..], None), Err(EnvelopeError::TrailingData)));
    }
}

#[test]
fn an_empty_final_chunk_after_data() {
    // A payload that fills its chunks exactly ends with a full final chunk, never an empty one;
    // an "empty final chunk" (a bare tag) appended after it is refused.
    let t = team(24, 1);
    let p = payload(2 * CHUNK_SIZE, 3);
    let (env, h) = seal(&t, &p, 124);
    assert_eq!(chunk_ranges(env.len(), h).len(), 2);
    let mut e = env.clone();
    e.extend_from_slice(&[0u8; TAG_LEN]);
    assert_err!(open(&e, &t.ids[0]), EnvelopeError::TrailingData);
    // The same attack made by a key holder is refused by the unit test
    // `empty_final_chunk_after_data_is_refused_even_with_the_key` (envelope.rs).
}

#[test]
fn reordered_duplicated_and_dropped_chunks() {
    let (t, _, env, h) = five_chunks(25);
    let c = chunk_ranges(env.len(), h);
    let body = |order: &[usize]| {
        let mut e = env[..c[0].start].to_vec();
        for &i in order {
            e.extend_from_slice(&env[c[i].clone()]);
        }
        e
    };
    // Reordered: chunks 1 and 2 swapped.
    assert_err!(
        open(&body(&[0, 2, 1, 3, 4]), &t.ids[0]),
        EnvelopeError::ChunkAuthFailed { chunk: 1 }
    );
    // Duplicated in place of the next one, and inserted (the file grows).
    assert_err!(
        open(&body(&[0, 0, 2, 3, 4]), &t.ids[0]),
        EnvelopeError::ChunkAuthFailed { chunk: 1 }
    );
    assert_err!(
        open(&body(&[0, 1, 1, 2, 3, 4]), &t.ids[0]),
        EnvelopeError::ChunkAuthFailed { chunk: 2 }
    );
    // Dropped.
    assert_err!(open(&body(&[0, 2, 3, 4]), &t.ids[0]), EnvelopeError::ChunkAuthFailed { chunk: 1 });
    // The final chunk moved earlier (it is short, so the read runs out first).
    assert_err!(
        open(&body(&[4, 0, 1, 2, 3]), &t.ids[0]),
        EnvelopeError::ChunkAuthFailed { chunk: 0 }
    );
    // A non-final chunk presented as the final one: same length, wrong flag and counter.
    let mut e = body(&[0, 1, 2, 3]);
    e.extend_from_slice(&env[c[3].start..c[3].start + c[4].len()]);
    assert_err!(open(&e, &t.ids[0]), EnvelopeError::ChunkAuthFailed { chunk: 4 });
}

#[test]
fn chunk_header_stanza_and_signature_spliced_from_another_envelope() {
    // Two envelopes of equal-length payloads by the same device to the same team.
    let t = team(26, 2);
    let pa = payload(3 * CHUNK_SIZE + 10, 1);
    let pb = payload(3 * CHUNK_SIZE + 10, 2);
    let (a, ha) = seal(&t, &pa, 1000);
    let (b, hb) = seal(&t, &pb, 2000);
    assert_eq!(ha, hb);
    let h = ha;
    let ca = chunk_ranges(a.len(), h);

    // A chunk from B at the same position in A.
    let mut e = a.clone();
    e[ca[1].clone()].copy_from_slice(&b[ca[1].clone()]);
    assert_err!(open(&e, &t.ids[0]), EnvelopeError::ChunkAuthFailed { chunk: 1 });

    // B's header and signature on A's payload: B's header is genuine, A's chunks are not B's.
    let mut e = b[..h + SIGNATURE_LEN].to_vec();
    e.extend_from_slice(&a[h + SIGNATURE_LEN..]);
    assert_err!(open(&e, &t.ids[0]), EnvelopeError::ChunkAuthFailed { chunk: 0 });

    // B's stanza for recipient 0 in A's header.
    let s0 = FIXED_HEADER_LEN..FIXED_HEADER_LEN + STANZA_LEN;
    let mut e = a.clone();
    e[s0.clone()].copy_from_slice(&b[s0.clone()]);
    assert_err!(open(&e, &t.ids[0]), EnvelopeError::BadSignature);
    assert!(matches!(envelope::verify(&e[..], None), Err(EnvelopeError::BadSignature)));

    // B's sealed metadata in A's header.
    let mut e = a.clone();
    let m = FIXED_HEADER_LEN + 2 * STANZA_LEN..h;
    e[m.clone()].copy_from_slice(&b[m]);
    assert_err!(open(&e, &t.ids[1]), EnvelopeError::BadSignature);

    // B's signature on A.
    let mut e = a.clone();
    e[h..h + SIGNATURE_LEN].copy_from_slice(&b[h..h + SIGNATURE_LEN]);
    assert_err!(open(&e, &t.ids[0]), EnvelopeError::BadSignature);
    assert!(matches!(envelope::verify(&e[..], None), Err(EnvelopeError::BadSignature)));
}

// ---------------------------------------------------------------------------------------------
// attacks: identities and devices

#[test]
fn wrong_identity_and_unknown_recipient() {
    let t = team(30, 2);
    let (env, _) = seal(&t, &payload(5000, 0), 300);
    // An identity that was never a recipient.
    let stranger = Identity::generate(&SeededEntropy::new(31));
    assert_err!(open(&env, &stranger), EnvelopeError::NotARecipient);
    // A team member's identity for an envelope sealed to the other recipients only.
    let e2 =
        envelope::seal_bytes(b"x", info(), &t.recipients[1..], &t.device, 0, Randomness::System)
            .unwrap()
            .0;
    assert_err!(open(&e2, &t.ids[0]), EnvelopeError::NotARecipient);
    assert_eq!(open(&e2, &t.ids[1]).unwrap(), b"x");
    // The wrong kind of key is refused when the key text is read.
    let r = t.recipients[0].to_string();
    assert_eq!(
        r.parse::<Identity>().unwrap_err(),
        KeyError::WrongKind { expected: KeyKind::Identity, found: KeyKind::Recipient }
    );
}

#[test]
fn expected_device_is_enforced() {
    let t = team(32, 1);
    let other = DeviceSigningKey::generate(&SeededEntropy::new(33)).unwrap();
    let (env, _) = seal(&t, b"photo", 320);
    match envelope::open_bytes(&env, &t.ids[0], Some(&other.public())) {
        Err(EnvelopeError::UnexpectedDevice { expected, found }) => {
            assert_eq!(expected, other.public());
            assert_eq!(found, t.device.public());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        envelope::verify(&env[..], Some(&other.public())),
        Err(EnvelopeError::UnexpectedDevice { .. })
    ));
}

#[test]
fn re_signed_envelopes() {
    let t = team(34, 1);
    let mallory = DeviceSigningKey::generate(&SeededEntropy::new(35)).unwrap();
    let (env, h) = seal(&t, &payload(1000, 4), 340);

    // Mallory signs the genuine header (which still names the real device).
    let mut e = env.clone();
    resign(&mut e, h, &mallory);
    assert_err!(open(&e, &t.ids[0]), EnvelopeError::BadSignature);

    // Mallory puts her own key in the header and signs: the signature verifies, the sealed
    // metadata (which she cannot re-encrypt without being a recipient) names the real device.
    let mut e = env.clone();
    e[42..74].copy_from_slice(mallory.public().as_bytes());
    resign(&mut e, h, &mallory);
    let v = envelope::verify(&e[..], None).unwrap();
    assert_eq!(v.device, mallory.public(), "the keyless verifier only vouches for the signer");
    assert_err!(open(&e, &t.ids[0]), EnvelopeError::DeviceKeyMismatch);
    // ... and a reader who expects the real device stops at once.
    assert!(matches!(
        envelope::open_bytes(&e, &t.ids[0], Some(&t.device.public())),
        Err(EnvelopeError::UnexpectedDevice { .. })
    ));
}

#[test]
fn all_zero_and_low_order_points() {
    // Curve25519's low-order u-coordinates (and non-canonical encodings of them).
    let mut points: Vec<[u8; 32]> = vec![[0u8; 32]];
    let mut one = [0u8; 32];
    one[0] = 1;
    points.push(one);
    points.push(unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"));
    points.push(unhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"));
    for last in [0xec, 0xed, 0xee] {
        let mut p = [0xffu8; 32];
        p[0] = last;
        p[31] = 0x7f;
        points.push(p);
    }
    let mut high = [0u8; 32];
    high[31] = 0x80; // zero with the ignored top bit set
    points.push(high);

    let t = team(36, 2);
    let (env, h) = seal(&t, &payload(100, 5), 360);
    for p in &points {
        // Refused as a recipient key, in bytes and in text.
        assert_eq!(
            RecipientKey::from_bytes(*p).unwrap_err(),
            KeyError::LowOrderPoint,
            "{}",
            hex::encode(p)
        );
        let text = safehome_core::evidence::bech32::encode("shrecip", p, false);
        assert_eq!(text.parse::<RecipientKey>().unwrap_err(), KeyError::LowOrderPoint);
        // In a stanza, behind a valid signature (a malicious device), refused by the reader.
        for stanza in 0..2 {
            let mut e = env.clone();
            let at = FIXED_HEADER_LEN + stanza * STANZA_LEN;
            e[at..at + 32].copy_from_slice(p);
            resign(&mut e, h, &t.device);
            // Recipient 1 meets the bad stanza 0 first; recipient 0 opens stanza 0 before
            // meeting a bad stanza 1.
            let r = open(&e, &t.ids[1]);
            assert_err!(r, EnvelopeError::LowOrderPoint { stanza: s } if s == stanza);
            if stanza == 1 {
                assert!(open(&e, &t.ids[0]).is_ok());
            }
            // Without the re-signature it is just a forgery.
            let mut f = env.clone();
            f[at..at + 32].copy_from_slice(p);
            assert_err!(open(&f, &t.ids[1]), EnvelopeError::BadSignature);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// attacks: header fields

#[test]
fn tampered_version_suite_and_lengths() {
    let t = team(40, 2);
    let (env, h) = seal(&t, &payload(70_000, 6), 400);
    let id = &t.ids[0];
    let with = |at: usize, bytes: &[u8]| {
        let mut e = env.clone();
        e[at..at + bytes.len()].copy_from_slice(bytes);
        e
    };
    assert_err!(open(&with(0, b"\x89SHEV\r\n\x1b"), id), EnvelopeError::NotAnEnvelope);
    assert_err!(open(&with(8, &[2]), id), EnvelopeError::UnsupportedVersion(2));
    assert_err!(open(&with(8, &[0]), id), EnvelopeError::UnsupportedVersion(0));
    assert_err!(open(&with(9, &[2]), id), EnvelopeError::UnsupportedSuite(2));
    assert_err!(
        open(&with(10, &[17]), id),
        EnvelopeError::MalformedHeader { field: "chunk size", .. }
    );
    assert_err!(
        open(&with(11, &[1]), id),
        EnvelopeError::MalformedHeader { field: "reserved byte", .. }
    );
    // Stanza count.
    assert_err!(
        open(&with(12, &[0, 0]), id),
        EnvelopeError::MalformedHeader { field: "stanza count", .. }
    );
    assert_err!(
        open(&with(12, &[0, 65]), id),
        EnvelopeError::MalformedHeader { field: "stanza count", .. }
    );
    assert_err!(open(&with(12, &[0, 1]), id), EnvelopeError::BadSignature);
    assert_err!(open(&with(12, &[0, 3]), id), EnvelopeError::BadSignature);
    // Metadata length.
    assert_err!(
        open(&with(14, &[0, 0, 0, 16]), id),
        EnvelopeError::MalformedHeader { field: "metadata length", .. }
    );
    assert_err!(
        open(&with(14, &[0, 1, 0, 17]), id),
        EnvelopeError::MalformedHeader { field: "metadata length", .. }
    );
    let meta_len = u32::from_be_bytes(env[14..18].try_into().unwrap());
    assert_err!(open(&with(14, &(meta_len + 1).to_be_bytes()), id), EnvelopeError::BadSignature);
    assert_err!(open(&with(14, &(meta_len - 1).to_be_bytes()), id), EnvelopeError::BadSignature);
    // Payload length: any change breaks the signature; absurd values are refused first.
    for len in [0u64, 69_999, 70_001, 1 << 30] {
        assert_err!(open(&with(18, &len.to_be_bytes()), id), EnvelopeError::BadSignature);
    }
    assert_err!(
        open(&with(18, &u64::MAX.to_be_bytes()), id),
        EnvelopeError::MalformedHeader { field: "payload length", .. }
    );
    // Salt and device key.
    assert_err!(open(&with(26, &[0xAA]), id), EnvelopeError::BadSignature);
    assert_err!(open(&with(42, &[0xAA]), id), EnvelopeError::BadSignature);
    let _ = h;
    // Not an envelope at all.
    assert_err!(open(b"", id), EnvelopeError::NotAnEnvelope);
    assert_err!(open(b"age-encryption.org/v1\n", id), EnvelopeError::NotAnEnvelope);
}

#[test]
fn every_single_byte_flip_of_a_small_envelope_is_refused() {
    let t = team(50, 1);
    let (env, h) = seal(&t, &payload(100, 7), 500);
    let body = h + SIGNATURE_LEN;
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..env.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut e = env.clone();
            e[i] ^= x;
            let err = match open(&e, &t.ids[0]) {
                Ok(_) => panic!("flip {x:#04x} at byte {i} went unnoticed"),
                Err(err) => err,
            };
            // What each region must give.
            let ok = match i {
                0..=7 => matches!(err, EnvelopeError::NotAnEnvelope),
                8 => matches!(err, EnvelopeError::UnsupportedVersion(_)),
                9 => matches!(err, EnvelopeError::UnsupportedSuite(_)),
                10..=11 => matches!(err, EnvelopeError::MalformedHeader { .. }),
                12..=25 => matches!(
                    err,
                    EnvelopeError::MalformedHeader { .. }
                        | EnvelopeError::BadSignature
                        | EnvelopeError::Truncated { .. }
                ),
                _ if i < body => matches!(err, EnvelopeError::BadSignature),
                _ => matches!(err, EnvelopeError::ChunkAuthFailed { chunk: 0 }),
            };
            assert!(ok, "flip {x:#04x} at byte {i}: {err:?}");
            *counts.entry(format!("{:?}", std::mem::discriminant(&err))).or_default() += 1;
        }
    }
    assert!(counts.len() >= 6, "{counts:?}");
}

#[test]
fn random_flips_of_a_one_mebibyte_envelope_are_refused() {
    let t = team(51, 2);
    let p = payload(1 << 20, 8);
    let (env, h) = seal(&t, &p, 510);
    let body = h + SIGNATURE_LEN;
    let rng = SeededEntropy::new(52);
    for _ in 0..150 {
        let mut b = [0u8; 8];
        rng.fill(&mut b);
        let r = u64::from_le_bytes(b);
        let i = (r % env.len() as u64) as usize;
        let x = ((r >> 40) as u8).max(1);
        let mut e = env.clone();
        e[i] ^= x;
        let err = open(&e, &t.ids[1]).expect_err("flip went unnoticed");
        if i >= body {
            let chunk = ((i - body) / (CHUNK_SIZE + TAG_LEN)) as u64;
            assert!(
                matches!(err, EnvelopeError::ChunkAuthFailed { chunk: c } if c == chunk),
                "byte {i}: {err:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// known-answer tests

fn unhex(s: &str) -> [u8; 32] {
    hex::decode_array(s).unwrap()
}

fn unhex_vec(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn kat_hkdf_sha256_rfc5869() {
    // Test case 1.
    let ikm = [0x0bu8; 22];
    let salt = unhex_vec("000102030405060708090a0b0c");
    let info = unhex_vec("f0f1f2f3f4f5f6f7f8f9");
    let okm =
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865";
    struct L42;
    impl ring::hkdf::KeyType for L42 {
        fn len(&self) -> usize {
            42
        }
    }
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &salt).extract(&ikm);
    let mut out = [0u8; 42];
    prk.expand(&[&info], L42).unwrap().fill(&mut out).unwrap();
    assert_eq!(hex::encode(&out), okm);
    // The envelope's KDF (32 bytes) is the prefix of the same output.
    assert_eq!(hex::encode(&envelope::hkdf_sha256(&salt, &ikm, &info).unwrap()[..]), okm[..64]);
    // Test case 3: empty salt and info.
    assert_eq!(
        hex::encode(&envelope::hkdf_sha256(&[], &ikm, &[]).unwrap()[..]),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
    );
}

#[test]
fn kat_ed25519_rfc8032() {
    let cases = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];
    for (secret, public, msg, sig) in cases {
        let k = DeviceSigningKey::from_seed(unhex(secret)).unwrap();
        assert_eq!(hex::encode(k.public().as_bytes()), public);
        let msg = unhex_vec(msg);
        let s = k.sign(&msg);
        assert_eq!(hex::encode(&s), sig);
        assert!(DevicePublicKey::from_bytes(unhex(public)).verify(&msg, &s));
        let mut bad = s;
        bad[0] ^= 1;
        assert!(!k.public().verify(&msg, &bad));
    }
}

#[test]
fn kat_x25519_rfc7748() {
    let alice = Identity::from_bytes(unhex(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    ));
    let bob = Identity::from_bytes(unhex(
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    ));
    assert_eq!(
        hex::encode(alice.recipient().as_bytes()),
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    );
    assert_eq!(
        hex::encode(bob.recipient().as_bytes()),
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    );
    // ring's ephemeral agreement and x25519-dalek agree on the shared secret of §6.1.
    let shared = x25519_dalek::x25519(
        unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        *bob.recipient().as_bytes(),
    );
    assert_eq!(
        hex::encode(&shared),
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    );
}

// ---------------------------------------------------------------------------------------------
// test vectors (docs/envelope.md)

pub struct Vector {
    pub identity: Vec<Identity>,
    pub device: DeviceSigningKey,
    pub payload: Vec<u8>,
    pub envelope: Vec<u8>,
}

fn seq(start: u8) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (i, x) in b.iter_mut().enumerate() {
        *x = start.wrapping_add(i as u8);
    }
    b
}

/// The vectors, built from fixed keys and seeded randomness exactly as the document says.
fn vector(n: u8) -> Vector {
    let identity: Vec<Identity> = match n {
        1 => vec![Identity::from_bytes(seq(0x01))],
        _ => vec![Identity::from_bytes(seq(0x01)), Identity::from_bytes(seq(0x41))],
    };
    let device = DeviceSigningKey::from_seed(seq(0x81)).unwrap();
    let payload: Vec<u8> = match n {
        1 => b"SafeHome evidence test vector 1\n".to_vec(),
        _ => (0..70_000u32).map(|i| (i % 251) as u8).collect(),
    };
    let info = EvidenceInfo {
        evidence_id: format!("00000000-0000-4000-8000-00000000000{n}"),
        content_type: if n == 1 { "text/plain".into() } else { "application/octet-stream".into() },
        captured_at_ms: Some(1_700_000_000_000),
        gps: (n == 1).then_some(GpsPoint {
            latitude: 16.0544,
            longitude: 108.2022,
            altitude_m: Some(12.5),
            time_ms: None,
        }),
        original_sha256: None,
        width: None,
        height: None,
    };
    let recipients: Vec<RecipientKey> = identity.iter().map(Identity::recipient).collect();
    let e = SeededEntropy::new(u64::from(n));
    let (envelope, _) = envelope::seal_bytes(
        &payload,
        info,
        &recipients,
        &device,
        1_700_000_060_000,
        Randomness::Injected(&e),
    )
    .unwrap();
    Vector { identity, device, payload, envelope }
}

fn doc() -> String {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/envelope.md");
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The text of the fenced block after the marker `<!-- name -->`, without whitespace.
fn doc_block(doc: &str, name: &str) -> String {
    let marker = format!("<!-- {name} -->");
    let at = doc.find(&marker).unwrap_or_else(|| panic!("docs/envelope.md lacks {marker}"));
    let rest = &doc[at + marker.len()..];
    let start = rest.find("```").unwrap() + 3;
    let rest = &rest[start..];
    let rest = &rest[rest.find('\n').unwrap() + 1..];
    let end = rest.find("```").unwrap();
    rest[..end].chars().filter(|c| !c.is_whitespace()).collect()
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b).as_ref())
}

/// Print the vectors (run with `--ignored --nocapture` to regenerate the document's blocks).
#[test]
#[ignore]
fn print_vectors() {
    for n in [1u8, 2] {
        let v = vector(n);
        println!("vector {n}");
        for id in &v.identity {
            println!("identity {}\nrecipient {}", id.to_text().as_str(), id.recipient());
        }
        println!("device key {}\ndevice {}", v.device.to_text().as_str(), v.device.public());
        let h = envelope::read_header(&mut &v.envelope[..]).unwrap();
        println!("header+signature len {}", h.raw.len() + 64);
        let hx = hex::encode(&v.envelope);
        if n == 1 {
            for line in hx.as_bytes().chunks(64) {
                println!("{}", std::str::from_utf8(line).unwrap());
            }
        } else {
            for line in hex::encode(&v.envelope[..h.raw.len() + 64]).as_bytes().chunks(64) {
                println!("{}", std::str::from_utf8(line).unwrap());
            }
            println!("len {} sha256 {}", v.envelope.len(), sha_hex(&v.envelope));
        }
        let (_, o) = envelope::open_bytes(&v.envelope, &v.identity[0], None).unwrap();
        println!("{}", String::from_utf8(o.metadata.to_json()).unwrap());
    }
}

#[test]
fn published_test_vectors_match_the_code() {
    let doc = doc();
    // Vector 1: the whole envelope.
    let v = vector(1);
    assert_eq!(doc_block(&doc, "vector-1-identity"), v.identity[0].to_text().as_str());
    assert_eq!(doc_block(&doc, "vector-1-recipient"), v.identity[0].recipient().to_string());
    assert_eq!(doc_block(&doc, "vector-1-device-key"), v.device.to_text().as_str());
    assert_eq!(doc_block(&doc, "vector-1-device"), v.device.public().to_string());
    assert_eq!(doc_block(&doc, "vector-1-envelope"), hex::encode(&v.envelope), "vector 1 envelope");
    let (p, o) =
        envelope::open_bytes(&v.envelope, &v.identity[0], Some(&v.device.public())).unwrap();
    assert_eq!(p, v.payload);
    let meta: String = String::from_utf8(o.metadata.to_json()).unwrap();
    assert_eq!(doc_block(&doc, "vector-1-metadata"), meta.replace(' ', ""));

    // Vector 2: two recipients, two chunks; header and signature in full, then the digest.
    let v = vector(2);
    let h = envelope::read_header(&mut &v.envelope[..]).unwrap();
    let head = &v.envelope[..h.raw.len() + SIGNATURE_LEN];
    assert_eq!(doc_block(&doc, "vector-2-header"), hex::encode(head), "vector 2 header");
    assert_eq!(
        doc_block(&doc, "vector-2-envelope-sha256"),
        format!("{}:{}", v.envelope.len(), sha_hex(&v.envelope))
    );
    for id in &v.identity {
        assert_eq!(envelope::open_bytes(&v.envelope, id, None).unwrap().0, v.payload);
    }
}

// ---------------------------------------------------------------------------------------------
// properties

fn interesting_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..2000,
        (0usize..4).prop_flat_map(|k| (k * CHUNK_SIZE).saturating_sub(2)..k * CHUNK_SIZE + 3),
        0usize..300_000,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn seal_open_round_trip(len in interesting_len(), n in 1usize..4, seed in any::<u64>(), salt in any::<u8>()) {
        let t = team(seed, n);
        let p = payload(len, salt);
        let (env, h) = seal(&t, &p, seed ^ 0xABCD);
        prop_assert_eq!(env.len() as u64, envelope::envelope_len(h, len as u64));
        for id in &t.ids {
            let (out, o) = envelope::open_bytes(&env, id, Some(&t.device.public())).unwrap();
            prop_assert_eq!(&out, &p);
            prop_assert_eq!(o.metadata.plaintext_len, len as u64);
        }
        let v = envelope::verify(&env[..], Some(&t.device.public())).unwrap();
        prop_assert_eq!(v.recipients, n);
    }

    #[test]
    fn streaming_writes_in_any_pieces_give_the_same_envelope(
        len in interesting_len(),
        pieces in proptest::collection::vec(1usize..100_000, 1..8),
    ) {
        let t = team(60, 1);
        let p = payload(len, 9);
        let (whole, _) = seal(&t, &p, 600);
        let e = SeededEntropy::new(600);
        let req = SealRequest {
            recipients: &t.recipients,
            device: &t.device,
            info: info(),
            sealed_at_ms: 1_700_000_001_000,
            plaintext_len: len as u64,
            plaintext_sha256: ring::digest::digest(&ring::digest::SHA256, &p).as_ref().try_into().unwrap(),
        };
        let mut out = Vec::new();
        let mut w = envelope::EnvelopeWriter::new(req, Randomness::Injected(&e), &mut out).unwrap();
        let mut rest = &p[..];
        let mut i = 0;
        while !rest.is_empty() {
            let k = pieces[i % pieces.len()].min(rest.len());
            w.update(&rest[..k]).unwrap();
            rest = &rest[k..];
            i += 1;
        }
        w.finish().unwrap();
        prop_assert_eq!(out, whole);
    }

    #[test]
    fn any_truncation_or_extension_is_refused(len in 0usize..200_000, cut in any::<prop::sample::Index>(), extra in 1usize..100) {
        let t = team(61, 1);
        let p = payload(len, 10);
        let (env, _) = seal(&t, &p, 610);
        let at = cut.index(env.len());
        prop_assert!(open(&env[..at], &t.ids[0]).is_err());
        let mut longer = env.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        prop_assert!(matches!(open(&longer, &t.ids[0]), Err(EnvelopeError::TrailingData)));
    }
}
