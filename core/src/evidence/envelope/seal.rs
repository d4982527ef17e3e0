//! Sealing: [`Sealing`] (the checks, randomness, stanzas and keys, then the signed header once
//! the payload's hash is known), the streaming [`EnvelopeWriter`], and the sealers of a payload
//! behind a `Read` ([`seal`](fn@seal), [`seal_seekable`]) or in memory ([`seal_bytes`]).

use std::io::{self, Read, Seek, SeekFrom, Write};

use ring::aead::{Aad, LessSafeKey, Nonce};
use ring::agreement;
use ring::digest;
use ring::rand::SystemRandom;
use zeroize::Zeroizing;

use super::format::{
    CHUNK_SHIFT, CHUNK_SIZE, EnvelopeError, FIXED_HEADER_LEN, LABEL_METADATA, LABEL_PAYLOAD, MAGIC,
    MAX_METADATA_LEN, MAX_PAYLOAD_LEN, MAX_RECIPIENTS, Randomness, SIGNATURE_LEN, STANZA_LEN,
    SUITE, Signer, TAG_LEN, VERSION, ZERO_NONCE, aead_key, chunk_count, chunk_nonce, envelope_len,
    hkdf_sha256, signed_message, wrap_key,
};
use super::lane::{self, Batch, Lane};
use super::read::read_full;
use crate::evidence::keys::{DevicePublicKey, RecipientKey};
use crate::evidence::meta::{EvidenceInfo, EvidenceMetadata};

/// Everything needed to seal one payload.
pub struct SealRequest<'a> {
    pub recipients: &'a [RecipientKey],
    pub device: &'a dyn Signer,
    pub info: EvidenceInfo,
    /// When sealing happens (from the injected clock).
    pub sealed_at_ms: i64,
    /// The payload's exact length and SHA-256: they are sealed in the header, which is written
    /// first; the writer checks the payload against them as it streams.
    pub plaintext_len: u64,
    pub plaintext_sha256: [u8; 32],
}

/// Everything needed to seal one payload into a seekable output ([`seal_seekable`]), which
/// computes the payload's SHA-256 while it encrypts: the length must be known (it fixes the
/// header's size), the hash need not be.
pub struct SeekableSealRequest<'a> {
    pub recipients: &'a [RecipientKey],
    pub device: &'a dyn Signer,
    pub info: EvidenceInfo,
    /// When sealing happens (from the injected clock).
    pub sealed_at_ms: i64,
    /// The payload's exact length: a shorter or longer input is `LengthMismatch`.
    pub plaintext_len: u64,
    /// The payload's SHA-256, if the caller knows it (the photo pipeline returns it): checked
    /// against the hash of the bytes actually sealed (`HashMismatch`) before the header is
    /// written.
    pub expect_sha256: Option<[u8; 32]>,
}

/// What sealing produced.
#[derive(Debug, Clone)]
pub struct SealSummary {
    pub envelope_len: u64,
    pub header_len: usize,
    pub chunks: u64,
    /// SHA-256 of header and signature: names the envelope before its payload is written.
    pub header_sha256: [u8; 32],
    pub metadata: EvidenceMetadata,
}

/// The part of sealing that does not depend on the payload's hash: the checks, the randomness
/// (file key, salt, then one ephemeral key per stanza, always in that order), the stanzas, the
/// keys and the header's length. [`Sealing::header`] then builds and signs the header once the
/// hash is known — first for the streaming writer, last for the seekable one; both give the
/// same bytes.
pub(super) struct Sealing<'a> {
    device: &'a dyn Signer,
    device_key: DevicePublicKey,
    info: EvidenceInfo,
    sealed_at_ms: i64,
    plaintext_len: u64,
    salt: [u8; 16],
    stanzas: Vec<u8>,
    meta_key: LessSafeKey,
    pub(super) payload_key: LessSafeKey,
    /// Length of the sealed metadata (JSON and tag).
    sealed_meta_len: usize,
    header_len: usize,
}

impl<'a> Sealing<'a> {
    pub(super) fn begin(
        recipients: &[RecipientKey],
        device: &'a dyn Signer,
        info: EvidenceInfo,
        sealed_at_ms: i64,
        plaintext_len: u64,
        rand: Randomness<'_>,
    ) -> Result<Self, EnvelopeError> {
        let n = recipients.len();
        if n == 0 || n > MAX_RECIPIENTS {
            return Err(EnvelopeError::BadRecipientCount(n));
        }
        if plaintext_len > MAX_PAYLOAD_LEN {
            return Err(EnvelopeError::PayloadTooLarge(plaintext_len));
        }
        let device_key = device.public_key();
        // The hash is written as 64 hex digits whatever its value, so any hash gives the
        // metadata's length; `header` checks that the real one gives the same.
        let meta_json_len =
            EvidenceMetadata::new(info.clone(), sealed_at_ms, plaintext_len, [0u8; 32], device_key)
                .to_json()
                .len();
        if meta_json_len > MAX_METADATA_LEN {
            return Err(EnvelopeError::MetadataTooLarge(meta_json_len));
        }

        let rng = SystemRandom::new();
        let mut file_key = Zeroizing::new([0u8; 32]);
        rand.fill(&rng, &mut file_key[..])?;
        let mut salt = [0u8; 16];
        rand.fill(&rng, &mut salt)?;
        let mut stanzas = Vec::with_capacity(n * STANZA_LEN);
        for (index, r) in recipients.iter().enumerate() {
            let (share, wrapped) = make_stanza(r, &file_key, rand, &rng).map_err(|e| match e {
                EnvelopeError::Crypto(_) => EnvelopeError::BadRecipient { index },
                other => other,
            })?;
            stanzas.extend_from_slice(&share);
            stanzas.extend_from_slice(&wrapped);
        }
        let meta_key = aead_key(&hkdf_sha256(&salt, &file_key[..], LABEL_METADATA)?[..])?;
        let payload_key = aead_key(&hkdf_sha256(&salt, &file_key[..], LABEL_PAYLOAD)?[..])?;
        let sealed_meta_len = meta_json_len + TAG_LEN;
        Ok(Sealing {
            device,
            device_key,
            info,
            sealed_at_ms,
            plaintext_len,
            salt,
            header_len: FIXED_HEADER_LEN + stanzas.len() + sealed_meta_len,
            stanzas,
            meta_key,
            payload_key,
            sealed_meta_len,
        })
    }

    /// The header for a payload whose SHA-256 is `sha`, its signature, and the summary.
    pub(super) fn header(
        &self,
        sha: [u8; 32],
    ) -> Result<(Vec<u8>, [u8; 64], SealSummary), EnvelopeError> {
        let metadata = EvidenceMetadata::new(
            self.info.clone(),
            self.sealed_at_ms,
            self.plaintext_len,
            sha,
            self.device_key,
        );
        let mut sealed = Zeroizing::new(metadata.to_json());
        if sealed.len() + TAG_LEN != self.sealed_meta_len {
            return Err(EnvelopeError::Crypto("metadata length changed"));
        }
        let n = self.stanzas.len() / STANZA_LEN;
        let mut header = Vec::with_capacity(self.header_len);
        header.extend_from_slice(&MAGIC);
        header.push(VERSION);
        header.push(SUITE);
        header.push(CHUNK_SHIFT);
        header.push(0);
        header.extend_from_slice(&(n as u16).to_be_bytes());
        header.extend_from_slice(&(self.sealed_meta_len as u32).to_be_bytes());
        header.extend_from_slice(&self.plaintext_len.to_be_bytes());
        header.extend_from_slice(&self.salt);
        header.extend_from_slice(self.device_key.as_bytes());
        header.extend_from_slice(&self.stanzas);
        let tag = self
            .meta_key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(ZERO_NONCE),
                Aad::empty(),
                &mut sealed[..],
            )
            .map_err(|_| EnvelopeError::Crypto("seal metadata"))?;
        header.extend_from_slice(&sealed);
        header.extend_from_slice(tag.as_ref());

        let signature = self.device.sign(&signed_message(&header));
        let mut h = digest::Context::new(&digest::SHA256);
        h.update(&header);
        h.update(&signature);
        let mut header_sha256 = [0u8; 32];
        header_sha256.copy_from_slice(h.finish().as_ref());
        let summary = SealSummary {
            envelope_len: envelope_len(header.len(), self.plaintext_len),
            header_len: header.len(),
            chunks: chunk_count(self.plaintext_len),
            header_sha256,
            metadata,
        };
        Ok((header, signature, summary))
    }
}

/// A streaming envelope writer: the header is written by [`EnvelopeWriter::new`], the payload
/// through [`EnvelopeWriter::update`] (or `Write`), and [`EnvelopeWriter::finish`] writes the final
/// chunk once the payload matched its declared length and hash. Memory: one chunk.
///
/// For a whole payload behind a `Read`, [`seal`] (any output) and [`seal_seekable`] (a file) do
/// the same and hash on a second thread.
pub struct EnvelopeWriter<W: Write> {
    out: W,
    key: LessSafeKey,
    buf: Vec<u8>,
    filled: usize,
    counter: u64,
    chunks: u64,
    written: u64,
    hasher: digest::Context,
    summary: SealSummary,
}

impl<W: Write> EnvelopeWriter<W> {
    /// Build, sign and write the header.
    pub fn new(
        req: SealRequest<'_>,
        rand: Randomness<'_>,
        mut out: W,
    ) -> Result<Self, EnvelopeError> {
        let (s, summary) = begin_with_known_hash(req, rand, &mut out)?;
        Ok(EnvelopeWriter {
            out,
            key: s.payload_key,
            buf: vec![0u8; CHUNK_SIZE + TAG_LEN],
            filled: 0,
            counter: 0,
            chunks: summary.chunks,
            written: 0,
            hasher: digest::Context::new(&digest::SHA256),
            summary,
        })
    }

    /// Add payload bytes. More than the declared length is refused.
    pub fn update(&mut self, mut data: &[u8]) -> Result<(), EnvelopeError> {
        let declared = self.summary.metadata.plaintext_len;
        if self.written + data.len() as u64 > declared {
            return Err(EnvelopeError::LengthMismatch {
                declared,
                actual: self.written + data.len() as u64,
            });
        }
        self.hasher.update(data);
        self.written += data.len() as u64;
        while !data.is_empty() {
            let take = (CHUNK_SIZE - self.filled).min(data.len());
            self.buf[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            // A full chunk is sealed at once unless it is the last one, which waits for finish().
            if self.filled == CHUNK_SIZE && self.counter + 1 < self.chunks {
                self.seal_chunk(false)?;
            }
        }
        Ok(())
    }

    fn seal_chunk(&mut self, last: bool) -> Result<(), EnvelopeError> {
        let n = self.filled;
        let tag = self
            .key
            .seal_in_place_separate_tag(
                chunk_nonce(self.counter, last),
                Aad::empty(),
                &mut self.buf[..n],
            )
            .map_err(|_| EnvelopeError::Crypto("seal chunk"))?;
        self.buf[n..n + TAG_LEN].copy_from_slice(tag.as_ref());
        self.out.write_all(&self.buf[..n + TAG_LEN])?;
        self.counter += 1;
        self.filled = 0;
        Ok(())
    }

    /// Check the payload against its declared length and hash, write the final chunk, flush.
    /// On error the output lacks its final chunk and will never open.
    pub fn finish(mut self) -> Result<SealSummary, EnvelopeError> {
        let declared = self.summary.metadata.plaintext_len;
        if self.written != declared {
            return Err(EnvelopeError::LengthMismatch { declared, actual: self.written });
        }
        let hasher = std::mem::replace(&mut self.hasher, digest::Context::new(&digest::SHA256));
        if hasher.finish().as_ref() != self.summary.metadata.plaintext_sha256 {
            return Err(EnvelopeError::HashMismatch);
        }
        self.seal_chunk(true)?;
        self.out.flush()?;
        Ok(self.summary)
    }
}

impl<W: Write> Write for EnvelopeWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.update(data).map_err(io::Error::other)?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One stanza: a fresh ephemeral X25519 share and the file key wrapped for `recipient`.
fn make_stanza(
    recipient: &RecipientKey,
    file_key: &[u8; 32],
    rand: Randomness<'_>,
    rng: &SystemRandom,
) -> Result<([u8; 32], [u8; 48]), EnvelopeError> {
    let (share, key) = match rand {
        Randomness::System => {
            let eph = agreement::EphemeralPrivateKey::generate(&agreement::X25519, rng)
                .map_err(|_| EnvelopeError::Crypto("ephemeral key"))?;
            let public = eph.compute_public_key().map_err(|_| EnvelopeError::Crypto("public"))?;
            let mut share = [0u8; 32];
            share.copy_from_slice(public.as_ref());
            let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, recipient.as_bytes());
            // ring refuses an all-zero shared secret (a low-order recipient key).
            let key = agreement::agree_ephemeral(eph, &peer, |shared| {
                wrap_key(shared, &share, recipient.as_bytes())
            })
            .map_err(|_| EnvelopeError::Crypto("x25519 agreement"))??;
            (share, key)
        }
        Randomness::Injected(e) => {
            let mut secret = Zeroizing::new([0u8; 32]);
            e.fill(&mut secret[..]);
            let eph = x25519_dalek::StaticSecret::from(*secret);
            let share = *x25519_dalek::PublicKey::from(&eph).as_bytes();
            let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(*recipient.as_bytes()));
            if !shared.was_contributory() {
                return Err(EnvelopeError::Crypto("x25519 agreement"));
            }
            (share, wrap_key(shared.as_bytes(), &share, recipient.as_bytes())?)
        }
    };
    let mut wrapped = [0u8; 48];
    wrapped[..32].copy_from_slice(file_key);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(ZERO_NONCE),
            Aad::empty(),
            &mut wrapped[..32],
        )
        .map_err(|_| EnvelopeError::Crypto("wrap"))?;
    wrapped[32..].copy_from_slice(tag.as_ref());
    Ok((share, wrapped))
}

/// Encrypt the `plain_len` bytes at the start of `slot` in place as chunk `counter` and put the
/// tag after them; returns the chunk as it lies in the envelope.
fn seal_slot<'b>(
    key: &LessSafeKey,
    counter: u64,
    last: bool,
    slot: &'b mut [u8],
    plain_len: usize,
) -> Result<&'b [u8], EnvelopeError> {
    let tag = key
        .seal_in_place_separate_tag(
            chunk_nonce(counter, last),
            Aad::empty(),
            &mut slot[..plain_len],
        )
        .map_err(|_| EnvelopeError::Crypto("seal chunk"))?;
    slot[plain_len..plain_len + TAG_LEN].copy_from_slice(tag.as_ref());
    Ok(&slot[..plain_len + TAG_LEN])
}

/// Seal the slots of `b` from `b.sealed` up to `to` (exclusive) in place, counting them in
/// `b.sealed` as they are done (of a payload of `chunks` chunks).
fn seal_upto(
    key: &LessSafeKey,
    chunks: u64,
    b: &mut Batch,
    to: usize,
) -> Result<(), EnvelopeError> {
    while b.sealed < to {
        let j = b.sealed;
        let counter = b.first + j as u64;
        let plain_len = b.plain_len(j);
        seal_slot(key, counter, counter + 1 == chunks, b.slot_mut(j), plain_len)?;
        b.sealed += 1;
    }
    Ok(())
}

/// Read exactly `len` payload bytes from `input` (a shorter or longer input is
/// `LengthMismatch`), hash them on a [`Lane`] and write the sealed chunks to `out`, one `write`
/// of at most a chunk and its tag at a time; every read asks for at most one chunk. Returns the
/// payload's SHA-256.
///
/// The calling thread reads and writes; the helper thread hashes and, whenever it is ahead
/// (the calling thread is slowed by I/O), also encrypts the batch it just hashed, so file to
/// file the two threads share the encryption, and in memory the helper only hashes.
///
/// With `hold_final`, the final chunk is sealed and written only once the hash matched it
/// (`HashMismatch` otherwise): the streaming writer's guarantee that a payload that is not the
/// declared one leaves an envelope that can never open.
pub(super) fn seal_payload<R: Read, W: Write>(
    key: &LessSafeKey,
    len: u64,
    input: &mut R,
    out: &mut W,
    hold_final: Option<&[u8; 32]>,
) -> Result<[u8; 32], EnvelopeError> {
    let chunks = chunk_count(len);
    let threaded = lane::worth_a_thread(len);
    let (slots, depth) = if threaded { (lane::BATCH_CHUNKS, lane::DEPTH) } else { (1, 1) };
    let holds_final = |b: &Batch| hold_final.is_some() && b.first + b.chunks as u64 == chunks;
    // The helper's share: every slot of a batch it just hashed, but a held final chunk.
    // (An error leaves the rest to the calling thread, which reports it.)
    let spare = |b: &mut Batch| {
        let to = b.chunks - usize::from(holds_final(b));
        let _ = seal_upto(key, chunks, b, to);
    };
    std::thread::scope(|scope| {
        let mut lane = Lane::start(scope, threaded, depth, spare);
        let mut pool: Vec<Batch> = Vec::with_capacity(depth);
        let mut outstanding = 0usize;
        let mut next = 0u64;
        let mut read = 0u64;
        let mut held: Option<Batch> = None;
        loop {
            // Read ahead: keep the hashing lane fed with up to `depth` batches.
            while outstanding < depth && next < chunks {
                let left = usize::try_from(chunks - next).unwrap_or(usize::MAX);
                let mut b = pool.pop().unwrap_or_else(|| Batch::new(slots.min(left)));
                b.first = next;
                b.chunks = 0;
                b.sealed = 0;
                while b.chunks < b.capacity() && next < chunks {
                    let plain_len = (len - read).min(CHUNK_SIZE as u64) as usize;
                    let j = b.chunks;
                    let got = read_full(input, &mut b.slot_mut(j)[..plain_len])?;
                    read += got as u64;
                    if got < plain_len {
                        return Err(EnvelopeError::LengthMismatch { declared: len, actual: read });
                    }
                    b.chunks += 1;
                    b.tail = plain_len;
                    next += 1;
                }
                if next == chunks {
                    // Nothing may follow the declared length.
                    let mut probe = [0u8; 1];
                    let extra = read_full(input, &mut probe)?;
                    if extra > 0 {
                        return Err(EnvelopeError::LengthMismatch {
                            declared: len,
                            actual: len + extra as u64,
                        });
                    }
                }
                lane.send(b)?;
                outstanding += 1;
            }
            if outstanding == 0 {
                break;
            }
            // The oldest batch, hashed (and maybe sealed by the helper): seal the rest, write.
            let mut b = lane.recv()?;
            outstanding -= 1;
            let held_back = holds_final(&b);
            let free = b.chunks - usize::from(held_back);
            seal_upto(key, chunks, &mut b, free)?;
            for j in 0..free {
                let start = j * lane::SLOT;
                out.write_all(&b.buf[start..start + b.plain_len(j) + TAG_LEN])?;
            }
            if held_back {
                held = Some(b);
            } else {
                pool.push(b);
            }
        }
        let sha = lane.finish()?;
        if let Some(expected) = hold_final {
            if sha != *expected {
                return Err(EnvelopeError::HashMismatch);
            }
            let Some(mut b) = held else {
                return Err(EnvelopeError::Crypto("final chunk missing"));
            };
            let j = b.chunks - 1;
            let plain_len = b.plain_len(j);
            out.write_all(seal_slot(key, chunks - 1, true, b.slot_mut(j), plain_len)?)?;
        }
        Ok(sha)
    })
}

/// Seal a payload read from `input` (of the declared length and hash) to `output`: the header
/// first, then the payload, chunk by chunk. The payload is hashed on a second thread while this
/// one encrypts, and the final chunk is written only once the payload matched the declared
/// length and hash. Any `Write` will do; for a file, [`seal_seekable`] needs no hash in advance.
pub fn seal<R: Read, W: Write>(
    req: SealRequest<'_>,
    rand: Randomness<'_>,
    mut input: R,
    mut output: W,
) -> Result<SealSummary, EnvelopeError> {
    let (plaintext_len, expect_sha256) = (req.plaintext_len, req.plaintext_sha256);
    let (s, summary) = begin_with_known_hash(req, rand, &mut output)?;
    seal_payload(&s.payload_key, plaintext_len, &mut input, &mut output, Some(&expect_sha256))?;
    output.flush()?;
    Ok(summary)
}

/// Start sealing a payload whose length and SHA-256 are known: the signed header goes out first.
fn begin_with_known_hash<'a, W: Write>(
    req: SealRequest<'a>,
    rand: Randomness<'_>,
    out: &mut W,
) -> Result<(Sealing<'a>, SealSummary), EnvelopeError> {
    let s = Sealing::begin(
        req.recipients,
        req.device,
        req.info,
        req.sealed_at_ms,
        req.plaintext_len,
        rand,
    )?;
    let (header, signature, summary) = s.header(req.plaintext_sha256)?;
    out.write_all(&header)?;
    out.write_all(&signature)?;
    Ok((s, summary))
}

/// Seal a payload read from `input` into a seekable `output` (a file; not opened for append)
/// in one pass, without knowing its SHA-256 first: the header's length is known in advance, so
/// the payload is encrypted at its place after the header while a second thread hashes it, and
/// the header — sealed metadata with the hash, signature — is written last, at the position
/// `output` had on entry. The bytes are those [`seal`] and [`seal_bytes`] give for the same
/// payload and randomness. `output` is left at the envelope's end.
///
/// If sealing fails (a short or long input, a hash that differs from `expect_sha256`, an I/O
/// error) the header is never written, so what was written is not an envelope; to leave
/// nothing at all behind, seal into a [`FileSink`](super::FileSink) and commit it on success.
pub fn seal_seekable<R: Read, W: Write + Seek>(
    req: SeekableSealRequest<'_>,
    rand: Randomness<'_>,
    mut input: R,
    mut output: W,
) -> Result<SealSummary, EnvelopeError> {
    let s = Sealing::begin(
        req.recipients,
        req.device,
        req.info,
        req.sealed_at_ms,
        req.plaintext_len,
        rand,
    )?;
    let start = output.stream_position()?;
    output.seek(SeekFrom::Start(start + (s.header_len + SIGNATURE_LEN) as u64))?;
    let sha = seal_payload(&s.payload_key, req.plaintext_len, &mut input, &mut output, None)?;
    if req.expect_sha256.is_some_and(|e| e != sha) {
        return Err(EnvelopeError::HashMismatch);
    }
    let (header, signature, summary) = s.header(sha)?;
    output.seek(SeekFrom::Start(start))?;
    output.write_all(&header)?;
    output.write_all(&signature)?;
    output.seek(SeekFrom::Start(start + summary.envelope_len))?;
    output.flush()?;
    Ok(summary)
}

/// Seal bytes held in memory (a processed photo) and return the envelope. The payload is hashed
/// once (a borrowed slice cannot change, so there is nothing to check it against), its chunks
/// are encrypted straight into the envelope after the header's place, and the header is filled
/// in last.
pub fn seal_bytes(
    plaintext: &[u8],
    info: EvidenceInfo,
    recipients: &[RecipientKey],
    device: &dyn Signer,
    sealed_at_ms: i64,
    rand: Randomness<'_>,
) -> Result<(Vec<u8>, SealSummary), EnvelopeError> {
    let len = plaintext.len() as u64;
    let s = Sealing::begin(recipients, device, info, sealed_at_ms, len, rand)?;
    let body = s.header_len + SIGNATURE_LEN;
    let total = usize::try_from(envelope_len(s.header_len, len))
        .map_err(|_| EnvelopeError::PayloadTooLarge(len))?;
    let mut out = vec![0u8; total];
    let sha = seal_in_memory(&s.payload_key, plaintext, &mut out[body..])?;
    let (header, signature, summary) = s.header(sha)?;
    out[..s.header_len].copy_from_slice(&header);
    out[s.header_len..body].copy_from_slice(&signature);
    Ok((out, summary))
}

/// Encrypt `plaintext` into `payload` (exactly its sealed size) and return its SHA-256. From
/// 1 MiB up a helper thread hashes the whole payload while this thread encrypts chunks from
/// the front, then takes chunks from the back until the two meet: hashing and encrypting (and
/// the page faults of a fresh envelope) are shared between two cores.
pub(super) fn seal_in_memory(
    key: &LessSafeKey,
    plaintext: &[u8],
    payload: &mut [u8],
) -> Result<[u8; 32], EnvelopeError> {
    let chunks = chunk_count(plaintext.len() as u64);
    let seal_one = |counter: u64, piece: &[u8], slot: &mut [u8]| -> Result<(), EnvelopeError> {
        slot[..piece.len()].copy_from_slice(piece);
        seal_slot(key, counter, counter + 1 == chunks, slot, piece.len()).map(|_| ())
    };
    if !lane::worth_a_thread(plaintext.len() as u64) {
        if plaintext.is_empty() {
            seal_one(0, &[], payload)?;
        }
        for (counter, (piece, slot)) in
            plaintext.chunks(CHUNK_SIZE).zip(payload.chunks_mut(lane::SLOT)).enumerate()
        {
            seal_one(counter as u64, piece, slot)?;
        }
        return Ok(crate::evidence::photo::sha256(plaintext));
    }
    let jobs: std::collections::VecDeque<(u64, &[u8], &mut [u8])> = plaintext
        .chunks(CHUNK_SIZE)
        .zip(payload.chunks_mut(lane::SLOT))
        .enumerate()
        .map(|(i, (piece, slot))| (i as u64, piece, slot))
        .collect();
    let jobs = std::sync::Mutex::new(jobs);
    let work = |from_back: bool| -> Result<(), EnvelopeError> {
        loop {
            let job = {
                let mut q =
                    jobs.lock().map_err(|_| EnvelopeError::Crypto("sealing thread failed"))?;
                if from_back { q.pop_back() } else { q.pop_front() }
            };
            let Some((counter, piece, slot)) = job else { return Ok(()) };
            seal_one(counter, piece, slot)?;
        }
    };
    std::thread::scope(|scope| {
        let helper =
            std::thread::Builder::new().name("safehome-sha256".into()).spawn_scoped(scope, || {
                let sha = crate::evidence::photo::sha256(plaintext);
                work(true).map(|()| sha)
            });
        work(false)?;
        match helper {
            Ok(h) => h.join().map_err(|_| EnvelopeError::Crypto("hashing thread stopped"))?,
            Err(_) => Ok(crate::evidence::photo::sha256(plaintext)),
        }
    })
}
