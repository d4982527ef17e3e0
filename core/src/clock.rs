//! Injected time and randomness, so that sessions, risk deadlines and tests are deterministic
//! where they need to be. Production uses the system clock and `ring`'s system random source.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Local offset from UTC in minutes (Vietnam: +420).
    fn utc_offset_minutes(&self) -> i32 {
        0
    }
}

/// The system clock with a fixed local offset (the platform passes the device's offset).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock {
    pub offset_minutes: i32,
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            // A clock set before 1970 is wrong; report the epoch rather than fail a survey.
            Err(_) => 0,
        }
    }
    fn utc_offset_minutes(&self) -> i32 {
        self.offset_minutes
    }
}

/// A clock that stands still until told to move: for tests, benchmarks and replay.
#[derive(Debug, Default)]
pub struct FixedClock {
    ms: std::sync::atomic::AtomicI64,
    offset_minutes: i32,
}

impl FixedClock {
    pub fn new(ms: i64, offset_minutes: i32) -> Self {
        FixedClock { ms: std::sync::atomic::AtomicI64::new(ms), offset_minutes }
    }
    /// Move the clock forward by `delta_ms`.
    pub fn advance(&self, delta_ms: i64) {
        self.ms.fetch_add(delta_ms, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn set(&self, ms: i64) {
        self.ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn utc_offset_minutes(&self) -> i32 {
        self.offset_minutes
    }
}

/// A source of random bytes.
pub trait Entropy: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's random source, through `ring`.
#[derive(Debug)]
pub struct SystemEntropy {
    rng: ring::rand::SystemRandom,
}

impl Default for SystemEntropy {
    fn default() -> Self {
        SystemEntropy { rng: ring::rand::SystemRandom::new() }
    }
}

impl Entropy for SystemEntropy {
    fn fill(&self, buf: &mut [u8]) {
        use ring::rand::SecureRandom;
        if self.rng.fill(buf).is_err() {
            // ring fails only when the OS source is unavailable; never hand out a predictable
            // "random" identifier silently, so mix in the time as a last resort.
            let t = SystemClock::default().now_ms().to_le_bytes();
            for (i, b) in buf.iter_mut().enumerate() {
                *b ^= t[i % t.len()].rotate_left(i as u32 % 8);
            }
        }
    }
}

/// Deterministic entropy for tests: a counter-based byte stream from a seed.
#[derive(Debug)]
pub struct SeededEntropy {
    state: std::sync::atomic::AtomicU64,
}

impl SeededEntropy {
    pub fn new(seed: u64) -> Self {
        SeededEntropy { state: std::sync::atomic::AtomicU64::new(seed) }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            // splitmix64: well distributed, trivially reproducible.
            let mut z = self
                .state
                .fetch_add(0x9E37_79B9_7F4A_7C15, std::sync::atomic::Ordering::SeqCst)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// A random (version 4) UUID string from `entropy`: the form of every id the core hands out.
pub fn new_uuid(entropy: &dyn Entropy) -> String {
    let mut b = [0u8; 16];
    entropy.fill(&mut b);
    uuid_v4(b)
}

/// 16 random bytes as a version 4 UUID string (`8-4-4-4-12` lower-case hex digits): the store's
/// ids and the forms' `uuid()` alike.
pub(crate) fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex = crate::hex::encode(&b);
    let mut out = String::with_capacity(36);
    for (i, c) in hex.chars().enumerate() {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_in_the_canonical_form() {
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = new_uuid(&SeededEntropy::new(1));
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{id}");
        assert_ne!(id, new_uuid(&SeededEntropy::new(2)));
    }
}
