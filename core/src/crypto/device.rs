//! The device's Ed25519 signing key: generated once, stored sealed under the data key, used to
//! sign submissions (and evidence envelopes) so a supervisor can prove which device made them.

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use super::CryptoError;
use super::column::ColumnCipher;

pub struct DeviceKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl DeviceKey {
    pub fn generate() -> Result<DeviceKey, CryptoError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| CryptoError::Random)?;
        DeviceKey::from_pkcs8(doc.as_ref())
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<DeviceKey, CryptoError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| CryptoError::BadKey)?;
        Ok(DeviceKey { pair, pkcs8: pkcs8.to_vec() })
    }

    /// The key sealed for storage (row id binds it to the device record).
    pub fn seal(&self, cipher: &ColumnCipher, device_id: &str) -> Result<Vec<u8>, CryptoError> {
        cipher.encrypt("device", "signing_key", device_id, &self.pkcs8)
    }

    pub fn unseal(
        cipher: &ColumnCipher,
        device_id: &str,
        sealed: &[u8],
    ) -> Result<DeviceKey, CryptoError> {
        let pkcs8 = cipher.decrypt("device", "signing_key", device_id, sealed)?;
        DeviceKey::from_pkcs8(&pkcs8)
    }

    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    /// The ring key pair, for the evidence envelope's signature.
    pub fn key_pair(&self) -> &Ed25519KeyPair {
        &self.pair
    }
}

/// Verify an Ed25519 signature by a device public key.
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}
