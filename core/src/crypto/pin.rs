//! Profile PINs: PBKDF2-HMAC-SHA256 with a random salt (600,000 iterations, OWASP 2025), and the
//! policy of delays and lockout after failed attempts.

use std::num::NonZeroU32;

use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

use super::CryptoError;

pub const PIN_ITERATIONS: u32 = 600_000;

/// A stored PIN verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinHash {
    pub salt: [u8; 16],
    pub iterations: u32,
    pub hash: [u8; 32],
}

impl PinHash {
    pub fn new(pin: &str, iterations: u32) -> Result<PinHash, CryptoError> {
        let mut salt = [0u8; 16];
        SystemRandom::new().fill(&mut salt).map_err(|_| CryptoError::Random)?;
        let iterations = iterations.max(1);
        let mut hash = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            nonzero(iterations),
            &salt,
            pin.as_bytes(),
            &mut hash,
        );
        Ok(PinHash { salt, iterations, hash })
    }

    /// Constant-time comparison of `pin` against the stored hash.
    pub fn verify(&self, pin: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            nonzero(self.iterations),
            &self.salt,
            pin.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }
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
        let h = PinHash::new("2468", 1000).unwrap();
        assert!(h.verify("2468"));
        assert!(!h.verify("2469"));
        let p = PinPolicy::default();
        assert_eq!(p.delay_after(2), 0);
        assert_eq!(p.delay_after(3), 30_000);
        assert_eq!(p.delay_after(4), 60_000);
        assert_eq!(p.delay_after(9), 15 * 60_000);
        assert!(!p.locks_out(9));
        assert!(p.locks_out(10));
    }
}
