//! The sealed evidence envelope: one file per piece of evidence, encrypted to the organisation's
//! archive key and the team's supervisors, signed by the device that sealed it. The exact bytes
//! are specified in `docs/envelope.md`; this is the reference implementation.
//!
//! ```text
//! header   magic, version, suite, chunk size, counts, payload length, salt, device key,
//!          one stanza per recipient (ephemeral X25519 share + wrapped file key),
//!          sealed metadata (JSON, AES-256-GCM under a key derived from the file key)
//! signature  Ed25519 by the device key over a label and the header
//! payload  64 KiB AES-256-GCM chunks, nonce = 88-bit counter || last-chunk flag (STREAM)
//! ```
//!
//! Writer and reader stream with bounded memory whatever the payload's size: one chunk, or for
//! payloads of 1 MiB and more a few batches of chunks shared with a helper thread that computes
//! the payload's SHA-256 while the calling thread encrypts or decrypts (`lane`). Sealers: the
//! streaming [`EnvelopeWriter`] and [`seal`](fn@seal) need the hash first and check the payload
//! against it before the final chunk; [`seal_seekable`] writes the payload first and the header
//! last, so it needs no hash in advance; [`seal_bytes`] hashes a buffer once. All give the same
//! bytes for the same randomness. A reader cannot know that the payload is whole until the final
//! chunk and the sealed SHA-256 verify, so [`open`](fn@open) writes into a [`Sink`] and calls
//! [`Sink::commit`] only then; on any failure it calls [`Sink::discard`]. [`FileSink`] writes to
//! a temporary file beside the destination and renames it into place on commit; [`MemorySink`]
//! hands its bytes out only after commit.
//!
//! The code follows the format's parts: `format` (constants, errors, randomness, signer, key
//! derivation and AEAD helpers), `seal`, `read` (header parsing and keyless verification),
//! `sink` and `open`; `lane` is the hashing helper thread.

mod format;
mod lane;
mod open;
mod read;
mod seal;
mod sink;
#[cfg(test)]
mod tests;

pub use format::{
    CHUNK_SHIFT, CHUNK_SIZE, EnvelopeError, FIXED_HEADER_LEN, LABEL_METADATA, LABEL_PAYLOAD,
    LABEL_SIGNATURE, LABEL_WRAP, MAGIC, MAX_METADATA_LEN, MAX_PAYLOAD_LEN, MAX_RECIPIENTS,
    Randomness, SIGNATURE_LEN, STANZA_LEN, SUITE, Signer, TAG_LEN, VERSION, chunk_count,
    envelope_len, hkdf_sha256, signed_message,
};
pub use open::{Opened, open, open_bytes};
pub use read::{Header, Verified, read_header, verify};
pub use seal::{
    EnvelopeWriter, SealRequest, SealSummary, SeekableSealRequest, seal, seal_bytes, seal_seekable,
};
pub use sink::{FileSink, MemorySink, Sink};
