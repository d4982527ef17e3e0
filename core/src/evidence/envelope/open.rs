//! Opening with a recipient's identity: verify, unwrap the file key, decrypt and check the
//! metadata, then stream the authenticated payload into a [`Sink`], committed only once the
//! final chunk and the sealed SHA-256 verified.

use std::io::{Read, Write};

use ring::aead::{Aad, LessSafeKey, Nonce};
use zeroize::Zeroizing;

use super::format::{
    CHUNK_SIZE, EnvelopeError, LABEL_METADATA, LABEL_PAYLOAD, TAG_LEN, ZERO_NONCE, aead_key,
    chunk_count, chunk_nonce, hkdf_sha256, wrap_key,
};
use super::lane::{self, Batch, Lane};
use super::read::{Header, check_device, read_full, read_header};
use super::sink::{MemorySink, Sink};
use crate::evidence::keys::{DevicePublicKey, Identity};
use crate::evidence::meta::EvidenceMetadata;

/// What opening established, besides the payload written to the sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub metadata: EvidenceMetadata,
    pub device: DevicePublicKey,
    pub recipients: usize,
    pub envelope_len: u64,
}

/// Open an envelope with `identity`: verify the signature (and the signer, if `expect_device`),
/// unwrap the file key, decrypt and check the metadata, then stream the payload into `sink`,
/// authenticating every chunk; commit the sink only after the final chunk, the absence of
/// trailing data and the sealed SHA-256 all verified. On any error the sink is discarded.
pub fn open<R: Read, S: Sink>(
    r: R,
    identity: &Identity,
    expect_device: Option<&DevicePublicKey>,
    sink: &mut S,
) -> Result<Opened, EnvelopeError> {
    let result = open_inner(r, identity, expect_device, sink);
    match result {
        Ok(o) => match sink.commit() {
            Ok(()) => Ok(o),
            Err(e) => {
                sink.discard();
                Err(e.into())
            }
        },
        Err(e) => {
            sink.discard();
            Err(e)
        }
    }
}

/// Find the stanza this identity opens and unwrap the file key.
fn unwrap_file_key(
    header: &Header,
    identity: &Identity,
) -> Result<Zeroizing<[u8; 32]>, EnvelopeError> {
    let me = identity.recipient();
    for (stanza, (share, wrapped)) in header.stanzas.iter().enumerate() {
        let shared = identity.agree(share).ok_or(EnvelopeError::LowOrderPoint { stanza })?;
        let key = wrap_key(&shared[..], share, me.as_bytes())?;
        let mut buf = Zeroizing::new(*wrapped);
        if let Ok(plain) =
            key.open_in_place(Nonce::assume_unique_for_key(ZERO_NONCE), Aad::empty(), &mut buf[..])
        {
            let mut file_key = Zeroizing::new([0u8; 32]);
            file_key.copy_from_slice(plain);
            return Ok(file_key);
        }
    }
    Err(EnvelopeError::NotARecipient)
}

fn open_inner<R: Read, S: Sink>(
    mut r: R,
    identity: &Identity,
    expect_device: Option<&DevicePublicKey>,
    sink: &mut S,
) -> Result<Opened, EnvelopeError> {
    let header = read_header(&mut r)?;
    check_device(&header, expect_device)?;
    let file_key = unwrap_file_key(&header, identity)?;

    let meta_key = aead_key(&hkdf_sha256(&header.salt, &file_key[..], LABEL_METADATA)?[..])?;
    let mut meta = Zeroizing::new(header.raw[header.metadata_start..].to_vec());
    let plain = meta_key
        .open_in_place(Nonce::assume_unique_for_key(ZERO_NONCE), Aad::empty(), &mut meta[..])
        .map_err(|_| EnvelopeError::MetadataAuthFailed)?;
    let metadata: EvidenceMetadata =
        serde_json::from_slice(plain).map_err(|e| EnvelopeError::BadMetadata(e.to_string()))?;
    if metadata.device != header.device {
        return Err(EnvelopeError::DeviceKeyMismatch);
    }
    if metadata.plaintext_len != header.payload_len {
        return Err(EnvelopeError::MetadataMismatch("payload length"));
    }

    let key = aead_key(&hkdf_sha256(&header.salt, &file_key[..], LABEL_PAYLOAD)?[..])?;
    drop(file_key);
    let sha = open_payload(&key, header.payload_len, &mut r, sink)?;
    if sha != metadata.plaintext_sha256 {
        return Err(EnvelopeError::HashMismatch);
    }
    sink.flush()?;
    Ok(Opened {
        device: header.device,
        recipients: header.stanzas.len(),
        envelope_len: header.envelope_len(),
        metadata,
    })
}

/// Read, authenticate and decrypt the payload chunk by chunk (every read asks for at most one
/// chunk and its tag), writing each chunk's plaintext to `sink` once it authenticated, while a
/// [`Lane`] hashes the plaintext beside; then check that nothing follows the final chunk.
/// Returns the payload's SHA-256, which the caller compares with the sealed one.
fn open_payload<R: Read, W: Write>(
    key: &LessSafeKey,
    len: u64,
    r: &mut R,
    sink: &mut W,
) -> Result<[u8; 32], EnvelopeError> {
    let chunks = chunk_count(len);
    let threaded = lane::worth_a_thread(len);
    let (slots, depth) = if threaded { (lane::BATCH_CHUNKS, lane::DEPTH) } else { (1, 1) };
    std::thread::scope(|scope| {
        let mut lane = Lane::start(scope, threaded, depth, |_: &mut Batch| {});
        let mut outstanding = 0usize;
        let mut next = 0u64;
        let mut left = len;
        while next < chunks {
            let mut b = if outstanding < depth {
                let rest = usize::try_from(chunks - next).unwrap_or(usize::MAX);
                Batch::new(slots.min(rest))
            } else {
                outstanding -= 1;
                lane.recv()?
            };
            b.first = next;
            b.chunks = 0;
            while b.chunks < b.capacity() && next < chunks {
                let plain_len = left.min(CHUNK_SIZE as u64) as usize;
                let want = plain_len + TAG_LEN;
                let j = b.chunks;
                let slot = &mut b.slot_mut(j)[..want];
                if read_full(r, slot)? < want {
                    return Err(EnvelopeError::Truncated { section: "payload", chunk: Some(next) });
                }
                let last = next + 1 == chunks;
                let plain = key
                    .open_in_place(chunk_nonce(next, last), Aad::empty(), slot)
                    .map_err(|_| EnvelopeError::ChunkAuthFailed { chunk: next })?;
                sink.write_all(plain)?;
                b.chunks += 1;
                b.tail = plain_len;
                next += 1;
                left -= plain_len as u64;
            }
            lane.send(b)?;
            outstanding += 1;
        }
        let mut probe = [0u8; 1];
        if read_full(r, &mut probe)? > 0 {
            return Err(EnvelopeError::TrailingData);
        }
        lane.finish()
    })
}

/// Open an envelope held in memory; the payload is returned only if everything verified.
pub fn open_bytes(
    envelope: &[u8],
    identity: &Identity,
    expect_device: Option<&DevicePublicKey>,
) -> Result<(Vec<u8>, Opened), EnvelopeError> {
    // The payload is shorter than the envelope: one allocation, no regrowth.
    let mut sink = MemorySink { data: Vec::with_capacity(envelope.len()), committed: false };
    let opened = open(envelope, identity, expect_device, &mut sink)?;
    let data = sink.into_committed().ok_or(EnvelopeError::Crypto("sink not committed"))?;
    Ok((data, opened))
}
