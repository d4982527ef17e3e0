#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Sealing and opening stream with bounded memory: a 64 MiB payload goes through each (the
//! streaming sealer, the seekable one, the reader, keyless verification) while no single read
//! or write exceeds one chunk and the process's peak resident memory (VmHWM, reset before each
//! phase) grows by less than 8 MiB — the hashing thread and its batches included. This binary
//! holds one test only, so that nothing else runs in the process while memory is measured.

use std::io::{self, Read, Seek, SeekFrom, Write};

use safehome_core::clock::SeededEntropy;
use safehome_core::evidence::envelope::{
    self, CHUNK_SIZE, Randomness, SealRequest, SeekableSealRequest, Sink, TAG_LEN,
};
use safehome_core::evidence::{DeviceSigningKey, EvidenceInfo, Identity};

const LEN: u64 = 64 << 20;
const BUDGET_KB: u64 = 8 * 1024;

/// A deterministic payload generated on the fly, block by block.
struct Pattern {
    block: Vec<u8>,
    pos: u64,
    len: u64,
    max_request: usize,
}

impl Pattern {
    fn new(len: u64) -> Self {
        let block = (0..CHUNK_SIZE).map(|i| (i * 131 + 17) as u8).collect();
        Pattern { block, pos: 0, len, max_request: 0 }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.max_request = self.max_request.max(buf.len());
        let left = (self.len - self.pos) as usize;
        let off = (self.pos % CHUNK_SIZE as u64) as usize;
        let n = buf.len().min(left).min(CHUNK_SIZE - off);
        buf[..n].copy_from_slice(&self.block[off..off + n]);
        // Make every block differ.
        if off == 0 && n >= 8 {
            buf[..8].copy_from_slice(&(self.pos / CHUNK_SIZE as u64).to_le_bytes());
        }
        self.pos += n as u64;
        Ok(n)
    }
}

struct CountingWriter<W> {
    inner: W,
    total: u64,
    max_write: usize,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.max_write = self.max_write.max(b.len());
        let n = self.inner.write(b)?;
        self.total += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Seek> Seek for CountingWriter<W> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

struct CountingReader<R> {
    inner: R,
    max_request: usize,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.max_request = self.max_request.max(b.len());
        self.inner.read(b)
    }
}

/// A sink that keeps nothing: it hashes what it is given.
struct HashSink {
    hasher: ring::digest::Context,
    total: u64,
    max_write: usize,
    committed: bool,
}

impl Write for HashSink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.max_write = self.max_write.max(b.len());
        self.hasher.update(b);
        self.total += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for HashSink {
    fn commit(&mut self) -> io::Result<()> {
        self.committed = true;
        Ok(())
    }
    fn discard(&mut self) {}
}

fn status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reset the peak-RSS counter (Linux: writing 5 to clear_refs) and return the current RSS.
fn reset_peak() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kb("VmRSS:")
}

fn peak_growth_kb(baseline: Option<u64>) -> Option<u64> {
    Some(status_kb("VmHWM:")?.saturating_sub(baseline?))
}

#[test]
fn sixty_four_mebibytes_stream_through_in_bounded_memory() {
    let e = SeededEntropy::new(64);
    let id = Identity::generate(&e);
    let device = DeviceSigningKey::generate(&e).unwrap();

    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut p = Pattern::new(LEN);
    let mut buf = vec![0u8; CHUNK_SIZE];
    loop {
        let n = p.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let sha: [u8; 32] = hasher.finish().as_ref().try_into().unwrap();
    drop(buf);

    let path =
        std::env::temp_dir().join(format!("safehome-evidence-64m-{}.shev", std::process::id()));
    let recipients = [id.recipient()];

    // Seal.
    let base = reset_peak();
    let file = std::fs::File::create(&path).unwrap();
    let mut out = CountingWriter { inner: file, total: 0, max_write: 0 };
    let req = SealRequest {
        recipients: &recipients,
        device: &device,
        info: EvidenceInfo {
            evidence_id: "00000000-0000-4000-8000-000000000064".into(),
            content_type: "application/octet-stream".into(),
            ..EvidenceInfo::default()
        },
        sealed_at_ms: 0,
        plaintext_len: LEN,
        plaintext_sha256: sha,
    };
    let mut input = Pattern::new(LEN);
    let summary = envelope::seal(req, Randomness::Injected(&e), &mut input, &mut out).unwrap();
    let seal_growth = peak_growth_kb(base);
    assert_eq!(out.total, summary.envelope_len);
    assert!(input.max_request <= CHUNK_SIZE, "sealer asked for {} bytes", input.max_request);
    assert!(
        out.max_write <= (CHUNK_SIZE + TAG_LEN).max(summary.header_len),
        "sealer wrote {} bytes at once",
        out.max_write
    );
    drop(out);

    // Open.
    let base = reset_peak();
    let file = std::fs::File::open(&path).unwrap();
    let mut reader = CountingReader { inner: file, max_request: 0 };
    let mut sink = HashSink {
        hasher: ring::digest::Context::new(&ring::digest::SHA256),
        total: 0,
        max_write: 0,
        committed: false,
    };
    let opened = envelope::open(&mut reader, &id, Some(&device.public()), &mut sink).unwrap();
    let open_growth = peak_growth_kb(base);
    assert!(sink.committed);
    assert_eq!(sink.total, LEN);
    assert_eq!(sink.hasher.finish().as_ref(), &sha[..]);
    assert_eq!(opened.metadata.plaintext_len, LEN);
    assert!(sink.max_write <= CHUNK_SIZE, "reader handed out {} bytes at once", sink.max_write);
    assert!(
        reader.max_request <= CHUNK_SIZE + TAG_LEN,
        "reader asked for {} bytes at once",
        reader.max_request
    );

    // The seekable sealer: one pass, hash computed on the side, header written last.
    let path2 =
        std::env::temp_dir().join(format!("safehome-evidence-64m-{}-b.shev", std::process::id()));
    let base = reset_peak();
    let file = std::fs::File::create(&path2).unwrap();
    let mut out = CountingWriter { inner: file, total: 0, max_write: 0 };
    let req = SeekableSealRequest {
        recipients: &recipients,
        device: &device,
        info: EvidenceInfo {
            evidence_id: "00000000-0000-4000-8000-000000000064".into(),
            content_type: "application/octet-stream".into(),
            ..EvidenceInfo::default()
        },
        sealed_at_ms: 0,
        plaintext_len: LEN,
        expect_sha256: Some(sha),
    };
    let mut input = Pattern::new(LEN);
    let summary2 =
        envelope::seal_seekable(req, Randomness::Injected(&e), &mut input, &mut out).unwrap();
    let seekable_growth = peak_growth_kb(base);
    assert_eq!(out.total, summary2.envelope_len);
    assert_eq!(summary2.metadata.plaintext_sha256, sha);
    assert!(input.max_request <= CHUNK_SIZE, "sealer asked for {} bytes", input.max_request);
    assert!(
        out.max_write <= (CHUNK_SIZE + TAG_LEN).max(summary2.header_len),
        "sealer wrote {} bytes at once",
        out.max_write
    );
    drop(out);
    let v = envelope::verify(std::fs::File::open(&path2).unwrap(), Some(&device.public())).unwrap();
    assert_eq!(v.envelope_len, summary2.envelope_len);
    let mut sink = HashSink {
        hasher: ring::digest::Context::new(&ring::digest::SHA256),
        total: 0,
        max_write: 0,
        committed: false,
    };
    envelope::open(std::fs::File::open(&path2).unwrap(), &id, None, &mut sink).unwrap();
    assert!(sink.committed);
    assert_eq!(sink.hasher.finish().as_ref(), &sha[..]);
    std::fs::remove_file(&path2).unwrap();

    // Keyless verification streams too.
    let base = reset_peak();
    let v = envelope::verify(std::fs::File::open(&path).unwrap(), Some(&device.public())).unwrap();
    let verify_growth = peak_growth_kb(base);
    assert_eq!(v.envelope_len, summary.envelope_len);
    std::fs::remove_file(&path).unwrap();

    match (seal_growth, seekable_growth, open_growth, verify_growth) {
        (Some(s), Some(k), Some(o), Some(v)) => {
            println!(
                "peak RSS growth: seal {s} KiB, seekable seal {k} KiB, open {o} KiB, \
                 verify {v} KiB for 64 MiB"
            );
            assert!(s < BUDGET_KB, "sealing 64 MiB raised peak RSS by {s} KiB");
            assert!(k < BUDGET_KB, "seekable sealing of 64 MiB raised peak RSS by {k} KiB");
            assert!(o < BUDGET_KB, "opening 64 MiB raised peak RSS by {o} KiB");
            assert!(v < BUDGET_KB, "verifying 64 MiB raised peak RSS by {v} KiB");
        }
        _ => {
            if cfg!(target_os = "linux") {
                panic!("/proc/self/clear_refs and VmHWM are expected on Linux");
            }
            println!("peak RSS not measurable on this OS; read/write sizes checked only");
        }
    }
}
