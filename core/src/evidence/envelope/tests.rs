//! Unit tests of the envelope's internals (black-box tests: `tests/evidence_envelope.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{self, Read};

use ring::aead::Aad;

use super::format::{aead_key, chunk_nonce};
use super::seal::{Sealing, seal_in_memory, seal_payload};
use super::*;
use crate::clock::{Entropy, SeededEntropy};
use crate::evidence::keys::{DeviceSigningKey, Identity};
use crate::evidence::meta::EvidenceInfo;

fn info() -> EvidenceInfo {
    EvidenceInfo {
        evidence_id: "00000000-0000-4000-8000-000000000001".into(),
        content_type: "application/octet-stream".into(),
        ..EvidenceInfo::default()
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

#[test]
fn round_trip_both_randomness_paths() {
    let e = SeededEntropy::new(1);
    let id = Identity::generate(&e);
    let device = DeviceSigningKey::generate(&e).unwrap();
    for len in [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE] {
        let p = payload(len);
        for rand in [Randomness::System, Randomness::Injected(&e)] {
            let (env, s) = seal_bytes(&p, info(), &[id.recipient()], &device, 5, rand).unwrap();
            assert_eq!(env.len() as u64, s.envelope_len);
            assert_eq!(s.chunks, chunk_count(len as u64));
            let (out, opened) = open_bytes(&env, &id, Some(&device.public())).unwrap();
            assert_eq!(out, p);
            assert_eq!(opened.metadata.plaintext_len, len as u64);
            let v = verify(&env[..], Some(&device.public())).unwrap();
            assert_eq!(v.envelope_len, env.len() as u64);
            assert_eq!(v.header_sha256, s.header_sha256);
        }
    }
}

/// An attacker who holds the payload key (a recipient) re-flags the full final chunk as
/// non-final and appends an empty final chunk: the signed length still names the old final
/// chunk, which no longer authenticates as final.
#[test]
fn empty_final_chunk_after_data_is_refused_even_with_the_key() {
    let e = SeededEntropy::new(2);
    let id = Identity::generate(&e);
    let device = DeviceSigningKey::generate(&e).unwrap();
    let p = payload(2 * CHUNK_SIZE);
    let seed = 77;
    let (env, s) = seal_bytes(
        &p,
        info(),
        &[id.recipient()],
        &device,
        5,
        Randomness::Injected(&SeededEntropy::new(seed)),
    )
    .unwrap();
    // The injected stream gives the file key, then the salt.
    let replay = SeededEntropy::new(seed);
    let mut file_key = [0u8; 32];
    let mut salt = [0u8; 16];
    replay.fill(&mut file_key);
    replay.fill(&mut salt);
    let key = aead_key(&hkdf_sha256(&salt, &file_key, LABEL_PAYLOAD).unwrap()[..]).unwrap();
    let body = s.header_len + SIGNATURE_LEN;
    let c1 = body + CHUNK_SIZE + TAG_LEN;
    // Sanity: the derived key opens the real final chunk.
    let mut real = env[c1..].to_vec();
    assert!(key.open_in_place(chunk_nonce(1, true), Aad::empty(), &mut real).is_ok());

    let mut chunk1 = p[CHUNK_SIZE..].to_vec();
    let tag =
        key.seal_in_place_separate_tag(chunk_nonce(1, false), Aad::empty(), &mut chunk1).unwrap();
    chunk1.extend_from_slice(tag.as_ref());
    let mut empty = Vec::new();
    let tag =
        key.seal_in_place_separate_tag(chunk_nonce(2, true), Aad::empty(), &mut empty).unwrap();
    empty.extend_from_slice(tag.as_ref());
    let mut forged = env[..c1].to_vec();
    forged.extend_from_slice(&chunk1);
    forged.extend_from_slice(&empty);
    match open_bytes(&forged, &id, None) {
        Err(EnvelopeError::ChunkAuthFailed { chunk: 1 }) => {}
        other => panic!("{other:?}"),
    }
}

/// A sealer that signs a hash the payload does not have (it holds both the device key and
/// the file key, so every chunk authenticates) is caught at the end: `HashMismatch`, and
/// nothing is committed — for payloads hashed inline and on the helper thread alike.
#[test]
fn a_sealed_hash_that_the_payload_does_not_have_is_refused() {
    let e = SeededEntropy::new(4);
    let id = Identity::generate(&e);
    let device = DeviceSigningKey::generate(&e).unwrap();
    for len in [10, 3 * CHUNK_SIZE, 2 << 20] {
        let p = payload(len);
        let s =
            Sealing::begin(&[id.recipient()], &device, info(), 5, len as u64, Randomness::System)
                .unwrap();
        let mut wrong = crate::evidence::photo::sha256(&p);
        wrong[31] ^= 1;
        let (header, signature, _) = s.header(wrong).unwrap();
        let mut env = header;
        env.extend_from_slice(&signature);
        let sha = seal_payload(&s.payload_key, len as u64, &mut &p[..], &mut env, None).unwrap();
        assert_eq!(sha, crate::evidence::photo::sha256(&p));
        let mut sink = MemorySink::new();
        let r = open(&env[..], &id, None, &mut sink);
        assert!(matches!(r, Err(EnvelopeError::HashMismatch)), "{len}: {r:?}");
        assert!(sink.into_committed().is_none());
        // Keyless verification cannot tell: it never sees the plaintext.
        assert!(verify(&env[..], Some(&device.public())).is_ok());
    }
}

/// A reader slow enough that the helper thread is always ahead, so it seals every batch it
/// hashes (but a held final chunk): the bytes are those of a sealer that does all the
/// encryption on one thread.
#[test]
fn chunks_sealed_by_the_helper_are_the_same_bytes() {
    struct Slow<'a>(&'a [u8]);
    impl Read for Slow<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(std::time::Duration::from_micros(300));
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let len = (1 << 20) + 3 * CHUNK_SIZE + 17;
    let p = payload(len);
    let key = aead_key(&[9u8; 32]).unwrap();
    let mut expected = vec![0u8; envelope_len(0, len as u64) as usize - SIGNATURE_LEN];
    let sha = seal_in_memory(&key, &p, &mut expected).unwrap();
    for hold in [None, Some(&sha)] {
        let mut out = Vec::new();
        let got = seal_payload(&key, len as u64, &mut Slow(&p), &mut out, hold).unwrap();
        assert_eq!(got, sha);
        assert!(out == expected, "hold_final: {}", hold.is_some());
    }
}

#[test]
fn writer_refuses_wrong_length_or_hash() {
    let e = SeededEntropy::new(3);
    let id = Identity::generate(&e);
    let device = DeviceSigningKey::generate(&e).unwrap();
    let r = [id.recipient()];
    let req = |len, sha| SealRequest {
        recipients: &r,
        device: &device,
        info: info(),
        sealed_at_ms: 0,
        plaintext_len: len,
        plaintext_sha256: sha,
    };
    let p = payload(10);
    let sha = crate::evidence::photo::sha256(&p);
    let mut w = EnvelopeWriter::new(req(9, sha), Randomness::Injected(&e), Vec::new()).unwrap();
    assert!(matches!(w.update(&p), Err(EnvelopeError::LengthMismatch { declared: 9, actual: 10 })));
    let mut w = EnvelopeWriter::new(req(11, sha), Randomness::Injected(&e), Vec::new()).unwrap();
    w.update(&p).unwrap();
    assert!(matches!(w.finish(), Err(EnvelopeError::LengthMismatch { declared: 11, actual: 10 })));
    let mut w =
        EnvelopeWriter::new(req(10, [0u8; 32]), Randomness::Injected(&e), Vec::new()).unwrap();
    w.update(&p).unwrap();
    assert!(matches!(w.finish(), Err(EnvelopeError::HashMismatch)));
    assert!(matches!(
        EnvelopeWriter::new(
            SealRequest { recipients: &[], ..req(10, sha) },
            Randomness::System,
            Vec::new()
        ),
        Err(EnvelopeError::BadRecipientCount(0))
    ));
}
