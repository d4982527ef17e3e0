//! Test fixtures that live inside the repository, for every crate's tests and benchmarks.
//!
//! Real files sit in `testdata/photos/` (sources and licences in its README). Inputs that serve
//! as well when made in code are made here: a truncated photo, a decompression bomb. Nothing
//! reads anything outside the repository, so a fresh clone passes its tests; a missing fixture
//! is a loud failure, never a skipped test.
//!
//! [`layers`] checks a crate's module layering from its source, for the crates' layering tests.
// A test-only crate: its helpers panic to fail the test that called them.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};

pub mod layers;
pub mod pg_scratch;

/// The folder of photo fixtures (`testdata/photos`).
pub fn photos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("photos")
}

/// The folder of XLSForm fixtures (`testdata/xlsforms`): pyxform's test spreadsheets, each with
/// pyxform's reading of it (`NAME.expected.json`).
///
/// # Panics
/// When the folder is missing: the repository is incomplete.
pub fn xlsforms_dir() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("xlsforms");
    assert!(p.is_dir(), "XLSForm fixtures missing from the repository: {}", p.display());
    p
}

/// The path of a photo fixture, relative to `photos/`, e.g. `camera/DSCN0010.jpg`.
///
/// # Panics
/// When the file is missing: the repository is incomplete, and a test must not pass without it.
pub fn photo(rel: &str) -> PathBuf {
    let p = photos_dir().join(rel);
    assert!(p.is_file(), "photo fixture missing from the repository: {}", p.display());
    p
}

/// The bytes of a photo fixture.
///
/// # Panics
/// When the file is missing or unreadable.
pub fn read_photo(rel: &str) -> Vec<u8> {
    let p = photo(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("photo fixture {} unreadable: {e}", p.display()))
}

/// The first half of the 8 MP camera photo (`camera/jolla.jpg`): a JPEG cut off in its pixel
/// data, as an interrupted copy or a full disk leaves it.
pub fn truncated_jpeg() -> Vec<u8> {
    let mut b = read_photo("camera/jolla.jpg");
    b.truncate(b.len() / 2);
    b
}

/// A well-formed PNG that declares `width` x `height` 8-bit grey pixels but carries only a few
/// bytes of pixel data: a decoder that trusts the header would allocate `width * height` bytes.
/// Every limit must refuse it from the header, before any pixel buffer exists.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    // bit depth 8, colour type 0 (grey), deflate, adaptive filtering, no interlace
    ihdr.extend([8, 0, 0, 0, 0]);
    push_chunk(&mut png, b"IHDR", &ihdr);
    // A zlib stream of one stored (uncompressed) block holding the first row's filter byte and
    // 15 zero pixels: valid, and far short of what the header promises.
    let mut idat = vec![0x78, 0x01, 0x01, 16, 0, !16u8, 0xFF];
    idat.extend([0u8; 16]);
    idat.extend(adler32(&[0u8; 16]).to_be_bytes());
    push_chunk(&mut png, b"IDAT", &idat);
    push_chunk(&mut png, b"IEND", &[]);
    png
}

fn push_chunk(out: &mut Vec<u8>, ty: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend(len.to_be_bytes());
    let start = out.len();
    out.extend(ty);
    out.extend(data);
    let crc = crc32(&out[start..]);
    out.extend(crc.to_be_bytes());
}

/// CRC-32 (ISO-HDLC, as PNG uses), bit by bit: fixtures are small.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// Write the synthetic inputs to `dir` as files, for tests that hand the command line or the
/// bindings a path: `truncated-half.jpg` and `bomb-20000x20000.png`. Returns `dir`.
///
/// # Panics
/// When `dir` cannot be written.
pub fn write_synthetic(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for (name, bytes) in [
        ("truncated-half.jpg", truncated_jpeg()),
        ("bomb-20000x20000.png", png_bomb(20_000, 20_000)),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    dir.to_path_buf()
}

/// `bytes` damaged as a fuzzer would: each `(at, x)` XORs `x` into the byte at `at` (modulo
/// the length), then `cut` (modulo the length + 1) truncates it. The property tests of the fuzz
/// targets' bodies run on inputs made this way from valid seeds.
pub fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for &(at, x) in flips {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
    }
    if let Some(c) = cut {
        let keep = c % (bytes.len() + 1);
        bytes.truncate(keep);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_adler_match_their_check_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn the_bomb_declares_its_size_in_a_valid_ihdr() {
        let b = png_bomb(1, 50_000_000);
        assert_eq!(&b[12..16], b"IHDR");
        assert_eq!(&b[16..24], &[0, 0, 0, 1, 0x02, 0xFA, 0xF0, 0x80]);
        assert!(b.len() < 100, "{}", b.len());
        assert!(b.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND's CRC");
    }
}

/// A zip archive posing as an .xlsx whose one entry, `xl/worksheets/sheet1.xml`, inflates to
/// `unpacked` zero bytes from about `unpacked / 160` bytes of deflate (one fixed-Huffman block:
/// a literal zero, then length-258 copies at distance 1). The header declares `declared` bytes
/// (the truth, or a lie to get past a reader that trusts it); the CRC is not computed, since a
/// bounded reader stops long before the end where it would be checked.
pub fn zip_bomb(unpacked: u64, declared: u32) -> Vec<u8> {
    let mut bits = BitWriter::default();
    bits.push(1, 1); // BFINAL
    bits.push(0b01, 2); // BTYPE = fixed Huffman
    bits.push_code(0x30, 8); // literal 0
    for _ in 0..unpacked.saturating_sub(1) / 258 {
        bits.push_code(0b1100_0101, 8); // length code 285 = 258
        bits.push_code(0, 5); // distance code 0 = 1
    }
    bits.push_code(0, 7); // end of block
    let data = bits.finish();
    let name = b"xl/worksheets/sheet1.xml";
    let size = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let mut zip = Vec::new();
    // Local file header: version 20, no flags, deflate, no time, CRC 0.
    zip.extend(b"PK\x03\x04");
    zip.extend([20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
    zip.extend(0u32.to_le_bytes());
    zip.extend(size(data.len()).to_le_bytes());
    zip.extend(declared.to_le_bytes());
    zip.extend((name.len() as u16).to_le_bytes());
    zip.extend(0u16.to_le_bytes());
    zip.extend(name);
    zip.extend(&data);
    let central = zip.len();
    zip.extend(b"PK\x01\x02");
    zip.extend([20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
    zip.extend(0u32.to_le_bytes());
    zip.extend(size(data.len()).to_le_bytes());
    zip.extend(declared.to_le_bytes());
    zip.extend((name.len() as u16).to_le_bytes());
    zip.extend([0u8; 8]); // extra length, comment length, disk number, internal attributes
    zip.extend(0u32.to_le_bytes()); // external attributes
    zip.extend(0u32.to_le_bytes()); // local header offset
    zip.extend(name);
    let dir_len = zip.len() - central;
    zip.extend(b"PK\x05\x06");
    zip.extend([0u8; 4]);
    zip.extend(1u16.to_le_bytes());
    zip.extend(1u16.to_le_bytes());
    zip.extend(size(dir_len).to_le_bytes());
    zip.extend(size(central).to_le_bytes());
    zip.extend(0u16.to_le_bytes());
    zip
}

/// Deflate's bit order: fields least significant bit first, Huffman codes most significant first.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn push(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    fn push_code(&mut self, code: u64, count: u32) {
        let reversed = (0..count).fold(0, |r, i| r | ((code >> i) & 1) << (count - 1 - i));
        self.push(reversed, count);
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A third-party peer of the interoperability tests: `$var` when set (scripts/test.sh sets it),
/// else what the repository's `script` prints after installing the peer into build/ (the Python
/// of `scripts/python-env.sh`, the engine directory of `scripts/odk-engine.sh`).
///
/// # Panics
/// When the script fails: the test needs the peer and must not pass without it.
pub fn peer(var: &str, script: &str) -> String {
    if let Ok(p) = std::env::var(var) {
        return p;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(script);
    let out = std::process::Command::new("bash")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{script} failed (its peer is needed for this test): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
