//! The data key and what is derived from it.

use ring::{aead, hkdf, hmac};

use super::column::ColumnCipher;

/// The 32-byte key the platform keystore holds for this device's database.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(bytes)
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        // Best effort: overwrite the key bytes before the memory is released.
        self.0 = [0u8; 32];
        std::hint::black_box(&self.0);
    }
}

/// Keys derived from the data key, each for one purpose.
pub struct KeyHierarchy {
    pub column: ColumnCipher,
    pub device_seal: ColumnCipher,
    pub audit_mac: hmac::Key,
    /// Keys the PIN verifiers: without the data key a stolen database file gives no way to
    /// test PIN guesses offline.
    pub pin_verifier: hmac::Key,
    /// Authenticates the security-relevant fields of a row (a profile's role, PIN verifier,
    /// failure counter and lockout): an edit without the data key is detected on read.
    pub row_mac: hmac::Key,
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(prk: &hkdf::Prk, info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let infos = [info];
    // Expanding 32 bytes from SHA-256 HKDF cannot fail (limit is 255 * 32).
    if let Ok(okm) = prk.expand(&infos, Len(32)) {
        let _ = okm.fill(&mut out);
    }
    out
}

impl KeyHierarchy {
    pub fn derive(data_key: &DataKey) -> KeyHierarchy {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"safehome/store/v1");
        let prk = salt.extract(&data_key.0);
        let column = derive(&prk, b"column-key");
        let seal = derive(&prk, b"device-key-seal");
        let mac = derive(&prk, b"audit-mac");
        let pin = derive(&prk, b"pin-verifier");
        let row = derive(&prk, b"row-mac");
        KeyHierarchy {
            column: ColumnCipher::new(&column),
            device_seal: ColumnCipher::new(&seal),
            audit_mac: hmac::Key::new(hmac::HMAC_SHA256, &mac),
            pin_verifier: hmac::Key::new(hmac::HMAC_SHA256, &pin),
            row_mac: hmac::Key::new(hmac::HMAC_SHA256, &row),
        }
    }

    /// The MAC of row `id` of `table` over `fields`, each length-prefixed so that no two field
    /// lists encode alike.
    pub fn mac_row(&self, table: &str, id: &str, fields: &[&[u8]]) -> [u8; 32] {
        let tag = hmac::sign(&self.row_mac, &row_message(table, id, fields));
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `mac` is the MAC of row `id` of `table` over `fields` (constant time).
    pub fn verify_row(&self, table: &str, id: &str, fields: &[&[u8]], mac: &[u8]) -> bool {
        hmac::verify(&self.row_mac, &row_message(table, id, fields), mac).is_ok()
    }
}

fn row_message(table: &str, id: &str, fields: &[&[u8]]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + fields.iter().map(|f| f.len() + 4).sum::<usize>());
    for part in [table.as_bytes(), id.as_bytes()].iter().chain(fields) {
        m.extend(u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        m.extend_from_slice(part);
    }
    m
}

/// AES-256-GCM key from raw bytes (always 32 bytes here, so construction cannot fail).
pub(super) fn aes_key(bytes: &[u8; 32]) -> Option<aead::LessSafeKey> {
    aead::UnboundKey::new(&aead::AES_256_GCM, bytes).ok().map(aead::LessSafeKey::new)
}
