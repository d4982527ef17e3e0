//! Column encryption: AES-256-GCM with a random 96-bit nonce and associated data binding the
//! value to its table, column and row, so a ciphertext copied to another row or column fails to
//! decrypt. Stored as `version (1) || nonce (12) || ciphertext || tag (16)`.

use ring::aead::{self, Aad, Nonce};
use ring::rand::{SecureRandom, SystemRandom};

use super::keys::aes_key;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("encrypted value in {table}.{column} does not decrypt (wrong key, moved or altered)")]
    Decrypt { table: &'static str, column: &'static str },
    #[error("the system random source failed")]
    Random,
    #[error("key material is malformed")]
    BadKey,
}

pub struct ColumnCipher {
    key: Option<aead::LessSafeKey>,
    rng: SystemRandom,
}

fn aad(table: &str, column: &str, row: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(table.len() + column.len() + row.len() + 2);
    a.extend_from_slice(table.as_bytes());
    a.push(b'|');
    a.extend_from_slice(column.as_bytes());
    a.push(b'|');
    a.extend_from_slice(row.as_bytes());
    a
}

impl ColumnCipher {
    pub fn new(key: &[u8; 32]) -> ColumnCipher {
        ColumnCipher { key: aes_key(key), rng: SystemRandom::new() }
    }

    pub fn encrypt(
        &self,
        table: &'static str,
        column: &'static str,
        row: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let key = self.key.as_ref().ok_or(CryptoError::BadKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(1 + NONCE_LEN);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(table, column, row)),
            &mut body,
        )
        .map_err(|_| CryptoError::BadKey)?;
        out.append(&mut body);
        Ok(out)
    }

    pub fn decrypt(
        &self,
        table: &'static str,
        column: &'static str,
        row: &str,
        stored: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let err = CryptoError::Decrypt { table, column };
        let key = self.key.as_ref().ok_or(CryptoError::BadKey)?;
        if stored.len() < 1 + NONCE_LEN + TAG_LEN || stored[0] != VERSION {
            return Err(err);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&stored[1..1 + NONCE_LEN]);
        let mut body = stored[1 + NONCE_LEN..].to_vec();
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(table, column, row)),
                &mut body,
            )
            .map_err(|_| err)?;
        Ok(plain.to_vec())
    }

    pub fn encrypt_str(
        &self,
        table: &'static str,
        column: &'static str,
        row: &str,
        text: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        self.encrypt(table, column, row, text.as_bytes())
    }

    pub fn decrypt_str(
        &self,
        table: &'static str,
        column: &'static str,
        row: &str,
        stored: &[u8],
    ) -> Result<String, CryptoError> {
        let bytes = self.decrypt(table, column, row, stored)?;
        String::from_utf8(bytes).map_err(|_| CryptoError::Decrypt { table, column })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding_to_row() {
        let c = ColumnCipher::new(&[7u8; 32]);
        let e = c.encrypt("households", "head_name", "h1", "Nguyễn Văn An".as_bytes()).unwrap();
        assert_eq!(c.decrypt_str("households", "head_name", "h1", &e).unwrap(), "Nguyễn Văn An");
        assert!(c.decrypt("households", "head_name", "h2", &e).is_err(), "moved to another row");
        assert!(c.decrypt("households", "village", "h1", &e).is_err(), "moved to another column");
        let other = ColumnCipher::new(&[8u8; 32]);
        assert!(other.decrypt("households", "head_name", "h1", &e).is_err(), "wrong key");
        let mut flipped = e.clone();
        flipped[20] ^= 1;
        assert!(c.decrypt("households", "head_name", "h1", &flipped).is_err());
        assert!(c.decrypt("households", "head_name", "h1", &e[..10]).is_err());
        let e2 = c.encrypt("households", "head_name", "h1", "Nguyễn Văn An".as_bytes()).unwrap();
        assert_ne!(e, e2, "fresh nonce every time");
    }
}
