//! Profile PINs: PBKDF2-HMAC-SHA256 with a random salt (600,000 iterations, OWASP 2025), keyed
//! by the data key, and the policy of delays and lockout after failed attempts.
//!
//! The stored verifier is `HMAC-SHA256(pin key, "safehome/pin/v2" ‖ profile id ‖ PBKDF2(PIN))`
//! with the pin key derived from the data key: the database file alone gives nothing to test
//! guesses against, and a verifier copied to another profile does not verify there.

use std::num::NonZeroU32;

use ring::rand::{SecureRandom, SystemRandom};
use ring::{hmac, pbkdf2};

use super::CryptoError;

pub const PIN_ITERATIONS: u32 = 600_000;

/// A stored PIN verifier: salt, PBKDF2 iterations and the keyed verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinHash {
    pub salt: [u8; 16],
    pub iterations: u32,
    pub verifier: [u8; 32],
}

impl PinHash {
    /// A verifier of `pin` for profile `profile_id`, under `key` (`KeyHierarchy::pin_verifier`).
    pub fn new(
        pin: &str,
        iterations: u32,
        key: &hmac::Key,
        profile_id: &str,
    ) -> Result<PinHash, CryptoError> {
        let mut salt = [0u8; 16];
        SystemRandom::new().fill(&mut salt).map_err(|_| CryptoError::Random)?;
        let iterations = iterations.max(1);
        let stretched = stretch(pin, &salt, iterations);
        Ok(PinHash { salt, iterations, verifier: keyed(key, profile_id, &stretched) })
    }

    /// Whether `pin` is the PIN of profile `profile_id` (the final comparison in constant time).
    pub fn verify(&self, pin: &str, key: &hmac::Key, profile_id: &str) -> bool {
        let stretched = stretch(pin, &self.salt, self.iterations);
        hmac::verify(key, &keyed_message(profile_id, &stretched), &self.verifier).is_ok()
    }

    /// Key a verifier stored before verifiers were keyed (schema v6 and older held the bare
    /// PBKDF2 output): the result equals what [`PinHash::new`] gives for the same PIN and salt.
    pub fn key_legacy(
        salt: [u8; 16],
        iterations: u32,
        pbkdf2_output: &[u8; 32],
        key: &hmac::Key,
        profile_id: &str,
    ) -> PinHash {
        PinHash { salt, iterations, verifier: keyed(key, profile_id, pbkdf2_output) }
    }
}

fn stretch(pin: &str, salt: &[u8; 16], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, nonzero(iterations), salt, pin.as_bytes(), &mut out);
    out
}

fn keyed_message(profile_id: &str, stretched: &[u8; 32]) -> Vec<u8> {
    let mut m = b"safehome/pin/v2".to_vec();
    m.extend(u32::try_from(profile_id.len()).unwrap_or(u32::MAX).to_be_bytes());
    m.extend_from_slice(profile_id.as_bytes());
    m.extend_from_slice(stretched);
    m
}

fn keyed(key: &hmac::Key, profile_id: &str, stretched: &[u8; 32]) -> [u8; 32] {
    let tag = hmac::sign(key, &keyed_message(profile_id, stretched));
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Delays and lockout after failed attempts: free retries first, then a doubling wait, then a
/// lockout that only a supervisor can lift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPolicy {
    pub free_attempts: u32,
    pub first_delay_ms: i64,
    pub max_delay_ms: i64,
    pub lockout_after: u32,
}

impl Default for PinPolicy {
    fn default() -> Self {
        PinPolicy {
            free_attempts: 3,
            first_delay_ms: 30_000,
            max_delay_ms: 15 * 60_000,
            lockout_after: 10,
        }
    }
}

impl PinPolicy {
    /// How long to wait after `failures` consecutive failures before the next attempt.
    pub fn delay_after(&self, failures: u32) -> i64 {
        if failures < self.free_attempts {
            return 0;
        }
        let doublings = (failures - self.free_attempts).min(20);
        self.first_delay_ms.saturating_mul(1i64 << doublings).min(self.max_delay_ms)
    }

    pub fn locks_out(&self, failures: u32) -> bool {
        failures >= self.lockout_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_and_policy() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
        let other = hmac::Key::new(hmac::HMAC_SHA256, &[8; 32]);
        let h = PinHash::new("2468", 1000, &key, "p1").unwrap();
        assert!(h.verify("2468", &key, "p1"));
        assert!(!h.verify("2469", &key, "p1"));
        // Useless without the key, and bound to its profile.
        assert!(!h.verify("2468", &other, "p1"));
        assert!(!h.verify("2468", &key, "p2"));
        // A legacy bare PBKDF2 output keys to the same verifier.
        let bare = stretch("2468", &h.salt, 1000);
        assert_eq!(PinHash::key_legacy(h.salt, 1000, &bare, &key, "p1"), h);
        let p = PinPolicy::default();
        assert_eq!(p.delay_after(2), 0);
        assert_eq!(p.delay_after(3), 30_000);
        assert_eq!(p.delay_after(4), 60_000);
        assert_eq!(p.delay_after(9), 15 * 60_000);
        assert!(!p.locks_out(9));
        assert!(p.locks_out(10));
    }
}
