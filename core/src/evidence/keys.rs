//! Keys for sealed evidence, and their text form.
//!
//! - A **recipient** (`shrecip1…`) is an X25519 public key: the organisation's archive key or a
//!   supervisor's key. Envelopes are sealed to recipients.
//! - An **identity** (`SH-IDENTITY-1…`) is the matching X25519 secret key; it opens envelopes.
//! - A **device key** (`SH-DEVICE-KEY-1…`) is an Ed25519 signing key (its 32-byte seed) that
//!   signs every envelope a phone seals; its public half is the **device** (`shdevice1…`).
//!
//! The text form is Bech32 (BIP-173): the prefix names the kind of key, so a recipient pasted
//! where an identity belongs is refused by name, and the checksum catches mistyped characters.
//! Secrets are written in capitals (as age does) so that they stand out. See `docs/envelope.md`.

use std::fmt;
use std::str::FromStr;

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use zeroize::{Zeroize, Zeroizing};

use super::bech32::{self, Bech32Error};
use crate::clock::Entropy;

/// The kinds of key text this module reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Recipient,
    Identity,
    Device,
    DeviceKey,
    /// The team server's Ed25519 public key (it signs receipts and team configurations).
    Server,
}

impl KeyKind {
    /// The Bech32 human-readable prefix (lower case).
    pub const fn prefix(self) -> &'static str {
        match self {
            KeyKind::Recipient => "shrecip",
            KeyKind::Identity => "sh-identity-",
            KeyKind::Device => "shdevice",
            KeyKind::DeviceKey => "sh-device-key-",
            KeyKind::Server => "shserver",
        }
    }
    const fn is_secret(self) -> bool {
        matches!(self, KeyKind::Identity | KeyKind::DeviceKey)
    }
    fn from_prefix(p: &str) -> Option<KeyKind> {
        [
            KeyKind::Recipient,
            KeyKind::Identity,
            KeyKind::Device,
            KeyKind::DeviceKey,
            KeyKind::Server,
        ]
        .into_iter()
        .find(|k| k.prefix() == p)
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Recipient => "recipient public key",
            KeyKind::Identity => "recipient identity (secret key)",
            KeyKind::Device => "device public key",
            KeyKind::DeviceKey => "device signing key",
            KeyKind::Server => "server public key",
        })
    }
}

/// Why a key is refused. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not a SafeHome key: {0}")]
    Encoding(#[from] Bech32Error),
    #[error("expected a {expected}, found a {found}")]
    WrongKind { expected: KeyKind, found: KeyKind },
    #[error("expected a {expected}, found unknown prefix `{prefix}`")]
    UnknownPrefix { expected: KeyKind, prefix: String },
    #[error("a {kind} is 32 bytes, this one is {len}")]
    BadLength { kind: KeyKind, len: usize },
    #[error("a secret key must be written in capitals, a public key in lower case")]
    WrongCase { kind: KeyKind },
    #[error("the recipient key is a low-order X25519 point")]
    LowOrderPoint,
    #[error("not a valid Ed25519 key")]
    InvalidEd25519,
}

fn decode_key(text: &str, expected: KeyKind) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let text = text.trim();
    let (prefix, data) = bech32::decode(text)?;
    let mut data = Zeroizing::new(data);
    match KeyKind::from_prefix(&prefix) {
        Some(k) if k == expected => {}
        Some(found) => return Err(KeyError::WrongKind { expected, found }),
        None => return Err(KeyError::UnknownPrefix { expected, prefix }),
    }
    let upper = text.bytes().any(|c| c.is_ascii_uppercase());
    if upper != expected.is_secret() {
        return Err(KeyError::WrongCase { kind: expected });
    }
    let mut out = Zeroizing::new([0u8; 32]);
    if data.len() != 32 {
        return Err(KeyError::BadLength { kind: expected, len: data.len() });
    }
    out.copy_from_slice(&data);
    data.zeroize();
    Ok(out)
}

fn encode_key(kind: KeyKind, bytes: &[u8; 32]) -> String {
    bech32::encode(kind.prefix(), bytes, kind.is_secret())
}

/// Whether an X25519 public value is of low order (its shared secret with anyone is all zeros).
pub(crate) fn is_low_order(point: &[u8; 32]) -> bool {
    // Clamped scalars are multiples of the cofactor, so any low-order point maps to zero.
    let scalar = [0x42u8; 32];
    x25519_dalek::x25519(scalar, *point) == [0u8; 32]
}

/// An X25519 public key that envelopes are sealed to.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecipientKey([u8; 32]);

impl RecipientKey {
    /// From raw bytes; low-order points (including all zeros) are refused.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        if is_low_order(&bytes) {
            return Err(KeyError::LowOrderPoint);
        }
        Ok(RecipientKey(bytes))
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for RecipientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_key(KeyKind::Recipient, &self.0))
    }
}

impl fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecipientKey({self})")
    }
}

impl FromStr for RecipientKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        RecipientKey::from_bytes(*decode_key(s, KeyKind::Recipient)?)
    }
}

/// An X25519 secret key that opens envelopes sealed to its [`RecipientKey`].
pub struct Identity {
    secret: x25519_dalek::StaticSecret,
}

impl Identity {
    /// A new identity from the given randomness (production: [`crate::clock::SystemEntropy`]).
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        entropy.fill(&mut bytes[..]);
        Identity::from_bytes(*bytes)
    }
    /// From the 32 secret bytes (clamped by X25519 on use).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Identity { secret: x25519_dalek::StaticSecret::from(bytes) }
    }
    /// The public key to seal to.
    pub fn recipient(&self) -> RecipientKey {
        RecipientKey(*x25519_dalek::PublicKey::from(&self.secret).as_bytes())
    }
    /// The `SH-IDENTITY-1…` text. Keep it secret.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(encode_key(KeyKind::Identity, self.secret.as_bytes()))
    }
    /// X25519 with a peer's public value; `None` when the result is all zeros (a low-order point).
    pub(crate) fn agree(&self, peer: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        let shared = self.secret.diffie_hellman(&x25519_dalek::PublicKey::from(*peer));
        if !shared.was_contributory() {
            return None;
        }
        Some(Zeroizing::new(*shared.as_bytes()))
    }
}

impl FromStr for Identity {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Ok(Identity::from_bytes(*decode_key(s, KeyKind::Identity)?))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity(for {})", self.recipient())
    }
}

/// An Ed25519 public key naming the device that sealed an envelope.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DevicePublicKey([u8; 32]);

impl DevicePublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DevicePublicKey(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0).verify(message, signature).is_ok()
    }
}

impl fmt::Display for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_key(KeyKind::Device, &self.0))
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({self})")
    }
}

impl FromStr for DevicePublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Ok(DevicePublicKey(*decode_key(s, KeyKind::Device)?))
    }
}

/// The team server's Ed25519 public key: receipts and team configurations are signed by it, and
/// a device pins it when it enrolls. Its text form is `shserver1…`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerPublicKey([u8; 32]);

impl ServerPublicKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ServerPublicKey(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0).verify(message, signature).is_ok()
    }
}

impl fmt::Display for ServerPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode_key(KeyKind::Server, &self.0))
    }
}

impl fmt::Debug for ServerPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerPublicKey({self})")
    }
}

impl FromStr for ServerPublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Ok(ServerPublicKey(*decode_key(s, KeyKind::Server)?))
    }
}

/// A device's Ed25519 signing key (the server's signing key is the same kind of key). On the
/// phone it is kept sealed under the data key (issue:
/// crypto); here it is held in memory and its seed is wiped on drop.
pub struct DeviceSigningKey {
    seed: Zeroizing<[u8; 32]>,
    pair: Ed25519KeyPair,
}

impl DeviceSigningKey {
    /// A new signing key from the given randomness. (ring accepts every 32-byte seed; the
    /// `Result` only carries its API's error through.)
    pub fn generate(entropy: &dyn Entropy) -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        entropy.fill(&mut seed[..]);
        DeviceSigningKey::from_seed(*seed)
    }
    /// From the 32-byte RFC 8032 secret key (seed).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, KeyError> {
        let seed = Zeroizing::new(seed);
        let pair =
            Ed25519KeyPair::from_seed_unchecked(&seed[..]).map_err(|_| KeyError::InvalidEd25519)?;
        Ok(DeviceSigningKey { seed, pair })
    }
    pub fn public(&self) -> DevicePublicKey {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.pair.public_key().as_ref());
        DevicePublicKey(b)
    }
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
    /// The `SH-DEVICE-KEY-1…` text. Keep it secret.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(encode_key(KeyKind::DeviceKey, &self.seed))
    }
}

impl FromStr for DeviceSigningKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        DeviceSigningKey::from_seed(*decode_key(s, KeyKind::DeviceKey)?)
    }
}

impl fmt::Debug for DeviceSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceSigningKey(for {})", self.public())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::clock::SeededEntropy;

    #[test]
    fn text_round_trips() {
        let e = SeededEntropy::new(7);
        let id = Identity::generate(&e);
        let r = id.recipient();
        let dk = DeviceSigningKey::generate(&e).unwrap();
        let dp = dk.public();
        assert!(r.to_string().starts_with("shrecip1"));
        assert!(id.to_text().starts_with("SH-IDENTITY-1"));
        assert!(dp.to_string().starts_with("shdevice1"));
        assert!(dk.to_text().starts_with("SH-DEVICE-KEY-1"));
        assert_eq!(r.to_string().parse::<RecipientKey>().unwrap(), r);
        assert_eq!(id.to_text().parse::<Identity>().unwrap().recipient(), r);
        assert_eq!(dp.to_string().parse::<DevicePublicKey>().unwrap(), dp);
        assert_eq!(dk.to_text().parse::<DeviceSigningKey>().unwrap().public(), dp);
        // Surrounding whitespace (a key file's newline) is fine.
        assert_eq!(format!(" {r}\n").parse::<RecipientKey>().unwrap(), r);
    }

    #[test]
    fn wrong_kind_case_and_typos_are_refused() {
        let e = SeededEntropy::new(8);
        let id = Identity::generate(&e);
        let r = id.recipient().to_string();
        assert_eq!(
            id.to_text().parse::<RecipientKey>().unwrap_err(),
            KeyError::WrongKind { expected: KeyKind::Recipient, found: KeyKind::Identity }
        );
        assert_eq!(
            r.parse::<Identity>().unwrap_err(),
            KeyError::WrongKind { expected: KeyKind::Identity, found: KeyKind::Recipient }
        );
        assert_eq!(
            r.to_ascii_uppercase().parse::<RecipientKey>().unwrap_err(),
            KeyError::WrongCase { kind: KeyKind::Recipient }
        );
        let mut typo = r.clone().into_bytes();
        let i = typo.len() - 10;
        typo[i] = if typo[i] == b'q' { b'p' } else { b'q' };
        assert_eq!(
            String::from_utf8(typo).unwrap().parse::<RecipientKey>().unwrap_err(),
            KeyError::Encoding(Bech32Error::BadChecksum)
        );
        let short = bech32::encode("shrecip", &[1u8; 31], false);
        assert_eq!(
            short.parse::<RecipientKey>().unwrap_err(),
            KeyError::BadLength { kind: KeyKind::Recipient, len: 31 }
        );
        let other = bech32::encode("age", &[1u8; 32], false);
        assert!(matches!(other.parse::<RecipientKey>(), Err(KeyError::UnknownPrefix { .. })));
    }

    #[test]
    fn low_order_recipients_are_refused() {
        assert_eq!(RecipientKey::from_bytes([0u8; 32]).unwrap_err(), KeyError::LowOrderPoint);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(RecipientKey::from_bytes(one).unwrap_err(), KeyError::LowOrderPoint);
        let zero_text = bech32::encode("shrecip", &[0u8; 32], false);
        assert_eq!(zero_text.parse::<RecipientKey>().unwrap_err(), KeyError::LowOrderPoint);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let e = SeededEntropy::new(9);
        let id = Identity::generate(&e);
        let dk = DeviceSigningKey::generate(&e).unwrap();
        assert!(!format!("{id:?}").contains("SH-IDENTITY"));
        assert!(!format!("{dk:?}").contains("SH-DEVICE-KEY"));
    }
}
