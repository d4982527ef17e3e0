//! SHA-256 beside the thread that encrypts or decrypts.
//!
//! The envelope binds the payload's SHA-256 into the signed header, so every seal and every open
//! hashes the whole payload. SHA-256 is inherently sequential and, even with the SHA extensions,
//! slower than AES-256-GCM, so the hash runs on a helper thread while the calling thread reads,
//! encrypts or decrypts and writes. Work moves between them in [`Batch`]es of a few chunks, in
//! order, through bounded channels: at most `depth` batches exist, so memory stays bounded
//! whatever the payload's size. The reader and the writer never leave the calling thread (they
//! need not be `Send`); the helper sees only the batches.
//!
//! When no thread can be started (or the payload is small, where a thread costs more than it
//! saves) the lane hashes inline, with the same interface.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use ring::digest;

use super::{CHUNK_SIZE, EnvelopeError, TAG_LEN};

/// Bytes of one chunk slot: a full chunk and its tag, as it lies in the envelope.
pub(super) const SLOT: usize = CHUNK_SIZE + TAG_LEN;
/// Chunks per batch handed to the helper thread (512 KiB: the hand-over costs nothing against
/// the ~0.35 ms the helper spends hashing one).
pub(super) const BATCH_CHUNKS: usize = 8;
/// Batches in existence at once when hashing on a helper thread: ~2 MiB of buffers.
pub(super) const DEPTH: usize = 4;
/// Payloads smaller than this are hashed inline (a thread costs ~50 µs to start).
pub(super) const PARALLEL_MIN: u64 = 1 << 20;

/// Whether a payload of `len` bytes is worth a helper thread on this machine.
pub(super) fn worth_a_thread(len: u64) -> bool {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    len >= PARALLEL_MIN
        && *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) > 1
}

/// A few consecutive chunks, each in its own [`SLOT`] (plaintext first, room for the tag after).
pub(super) struct Batch {
    pub buf: Vec<u8>,
    /// Slots in use.
    pub chunks: usize,
    /// Plaintext bytes in the last slot in use (every earlier slot holds a full chunk).
    pub tail: usize,
    /// STREAM counter of the first slot.
    pub first: u64,
    /// Leading slots already sealed in place by the helper thread (see [`Lane::start`]).
    pub sealed: usize,
}

impl Batch {
    pub fn new(slots: usize) -> Self {
        Batch { buf: vec![0u8; slots * SLOT], chunks: 0, tail: 0, first: 0, sealed: 0 }
    }
    pub fn capacity(&self) -> usize {
        self.buf.len() / SLOT
    }
    pub fn plain_len(&self, j: usize) -> usize {
        if j + 1 == self.chunks { self.tail } else { CHUNK_SIZE }
    }
    /// Slot `j`, whole.
    pub fn slot_mut(&mut self, j: usize) -> &mut [u8] {
        &mut self.buf[j * SLOT..(j + 1) * SLOT]
    }
    /// The plaintext of slot `j`.
    fn plain(&self, j: usize) -> &[u8] {
        &self.buf[j * SLOT..j * SLOT + self.plain_len(j)]
    }
    fn hash_into(&self, ctx: &mut digest::Context) {
        for j in 0..self.chunks {
            ctx.update(self.plain(j));
        }
    }
}

/// The hashing lane: batches go in with [`Lane::send`] and come back, hashed and in order, from
/// [`Lane::recv`]; [`Lane::finish`] gives the SHA-256 of everything sent.
pub(super) enum Lane<'scope> {
    Thread {
        to_hash: Option<SyncSender<Batch>>,
        hashed: Receiver<Batch>,
        helper: ScopedJoinHandle<'scope, [u8; 32]>,
    },
    Inline {
        ctx: digest::Context,
        hashed: VecDeque<Batch>,
    },
}

fn lane_stopped() -> EnvelopeError {
    EnvelopeError::Crypto("hashing thread stopped")
}

impl<'scope> Lane<'scope> {
    /// A lane on a helper thread in `scope` if `threaded` and a thread can be started, else
    /// inline. At most `depth` batches may be outstanding (sent and not yet received).
    ///
    /// `spare` is work the helper may take over from the calling thread: it is called on a
    /// batch just hashed when no other batch is waiting to be hashed — the helper is ahead, so
    /// the calling thread (reading and writing files) is the slower one. Sealing passes the
    /// chunk encryption, so the two threads share the work whichever side I/O or hashing
    /// makes the slower. The inline lane never calls it.
    pub fn start<'env, F>(
        scope: &'scope Scope<'scope, 'env>,
        threaded: bool,
        depth: usize,
        mut spare: F,
    ) -> Self
    where
        F: FnMut(&mut Batch) + Send + 'scope,
    {
        if threaded {
            let (to_hash, inbox) = sync_channel::<Batch>(depth);
            let (outbox, hashed) = sync_channel::<Batch>(depth);
            let helper = move || {
                let mut ctx = digest::Context::new(&digest::SHA256);
                let mut waiting: Option<Batch> = None;
                loop {
                    let mut batch = match waiting.take() {
                        Some(b) => b,
                        None => match inbox.recv() {
                            Ok(b) => b,
                            Err(_) => break,
                        },
                    };
                    batch.hash_into(&mut ctx);
                    match inbox.try_recv() {
                        Ok(next) => waiting = Some(next),
                        Err(TryRecvError::Empty) => spare(&mut batch),
                        Err(TryRecvError::Disconnected) => {}
                    }
                    if outbox.send(batch).is_err() {
                        break;
                    }
                }
                let mut out = [0u8; 32];
                out.copy_from_slice(ctx.finish().as_ref());
                out
            };
            let spawned = std::thread::Builder::new()
                .name("safehome-sha256".into())
                .spawn_scoped(scope, helper);
            if let Ok(helper) = spawned {
                return Lane::Thread { to_hash: Some(to_hash), hashed, helper };
            }
        }
        Lane::Inline { ctx: digest::Context::new(&digest::SHA256), hashed: VecDeque::new() }
    }

    /// Hand over a batch whose slots hold plaintext; its plaintext must not change until
    /// [`Lane::recv`] returns it.
    pub fn send(&mut self, batch: Batch) -> Result<(), EnvelopeError> {
        match self {
            Lane::Thread { to_hash: Some(tx), .. } => tx.send(batch).map_err(|_| lane_stopped()),
            Lane::Thread { to_hash: None, .. } => Err(lane_stopped()),
            Lane::Inline { ctx, hashed } => {
                batch.hash_into(ctx);
                hashed.push_back(batch);
                Ok(())
            }
        }
    }

    /// The oldest batch sent and not yet received, once hashed (waits for the helper).
    pub fn recv(&mut self) -> Result<Batch, EnvelopeError> {
        match self {
            Lane::Thread { hashed, .. } => hashed.recv().map_err(|_| lane_stopped()),
            Lane::Inline { hashed, .. } => hashed.pop_front().ok_or_else(lane_stopped),
        }
    }

    /// The SHA-256 of every batch sent, in order.
    pub fn finish(self) -> Result<[u8; 32], EnvelopeError> {
        match self {
            Lane::Thread { to_hash, hashed, helper } => {
                drop(to_hash);
                // Batches not received are dropped; the helper never blocks on them (the
                // channel holds `depth`).
                let digest = helper.join().map_err(|_| lane_stopped());
                drop(hashed);
                digest
            }
            Lane::Inline { ctx, .. } => {
                let mut out = [0u8; 32];
                out.copy_from_slice(ctx.finish().as_ref());
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn filled(first: u64, chunks: usize, tail: usize) -> Batch {
        let mut b = Batch::new(chunks);
        b.first = first;
        b.chunks = chunks;
        b.tail = tail;
        for (i, x) in b.buf.iter_mut().enumerate() {
            *x = (i as u64 * 7 + first) as u8;
        }
        b
    }

    /// Both kinds of lane hash exactly the plaintext of the slots in use, in order, and hand
    /// the batches back in order.
    #[test]
    fn thread_and_inline_lanes_agree_with_a_plain_hash() {
        let batches = [(0u64, 3usize, CHUNK_SIZE), (3, 2, 10), (5, 1, 0)];
        let mut expected = digest::Context::new(&digest::SHA256);
        for &(first, chunks, tail) in &batches {
            let b = filled(first, chunks, tail);
            for j in 0..b.chunks {
                expected.update(b.plain(j));
            }
        }
        let expected = expected.finish();
        for threaded in [false, true] {
            let got = std::thread::scope(|s| {
                let mut lane = Lane::start(s, threaded, 2, |_: &mut Batch| {});
                let mut firsts = Vec::new();
                for &(first, chunks, tail) in &batches[..2] {
                    lane.send(filled(first, chunks, tail)).unwrap();
                }
                firsts.push(lane.recv().unwrap().first);
                let (first, chunks, tail) = batches[2];
                lane.send(filled(first, chunks, tail)).unwrap();
                firsts.push(lane.recv().unwrap().first);
                firsts.push(lane.recv().unwrap().first);
                assert_eq!(firsts, [0, 3, 5]);
                lane.finish().unwrap()
            });
            assert_eq!(&got[..], expected.as_ref(), "threaded: {threaded}");
        }
    }

    /// A lane abandoned with batches in flight (an error on the caller's side) stops its
    /// thread: the scope ends instead of waiting forever.
    #[test]
    fn an_abandoned_lane_stops_its_thread() {
        std::thread::scope(|s| {
            let mut lane = Lane::start(s, true, 2, |_: &mut Batch| {});
            assert!(matches!(lane, Lane::Thread { .. }));
            lane.send(filled(0, 2, 5)).unwrap();
            lane.send(filled(2, 2, 5)).unwrap();
            drop(lane);
        });
        // Finishing without receiving every batch is fine too.
        let d = std::thread::scope(|s| {
            let mut lane = Lane::start(s, true, 2, |_: &mut Batch| {});
            lane.send(filled(0, 1, 5)).unwrap();
            lane.send(filled(1, 1, 5)).unwrap();
            lane.finish()
        });
        assert!(d.is_ok());
    }
}
