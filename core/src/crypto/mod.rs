//! Cryptography of the phone's local data: the key hierarchy under the platform's data key,
//! column encryption, PIN hashing, and the device signing key. Primitives from `ring`.
//!
//! ```text
//! data key (32 bytes, Android Keystore / iOS Keychain)
//!   └─ HKDF-SHA256(salt "safehome/store/v1")
//!        ├─ info "column-key"      -> AES-256-GCM key for sensitive columns
//!        ├─ info "device-key-seal" -> AES-256-GCM key sealing the Ed25519 device key
//!        │                          (the key itself: `evidence::keys::DeviceSigningKey`)
//!        ├─ info "audit-mac"       -> HMAC-SHA256 key authenticating the audit chain head
//!        ├─ info "pin-verifier"    -> HMAC-SHA256 key over each PIN's PBKDF2 output
//!        └─ info "row-mac"         -> HMAC-SHA256 key over the security fields of a row
//! ```

mod column;
mod keys;
mod pin;

pub use column::{ColumnCipher, CryptoError};
pub use keys::{DataKey, KeyHierarchy};
pub use pin::{PIN_ITERATIONS, PinHash, PinPolicy};
