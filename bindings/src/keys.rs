//! Key provisioning (feature `provisioning`): a generator of recipient key pairs for the test
//! harnesses and provisioning tools. App builds leave it out, so no app can make a private key
//! that opens evidence.

use safehome_core::clock::SystemEntropy;
use safehome_core::evidence::keys::Identity;

use crate::errors::ApiError;
use crate::guard::guard;

/// A new recipient key pair in its text forms (see `generateRecipientIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecipientIdentity {
    /// `shrecip1…`: the public key to add with `ProfileSession.addRecipient`.
    pub recipient: String,
    /// `SH-IDENTITY-1…`: the secret key that opens what is sealed to `recipient`. Keep it off
    /// the phone.
    pub identity: String,
}

/// A new recipient key pair (X25519) in its text forms. **For tests and provisioning tools
/// only** (feature `provisioning`): in production the organisation's archive key and each
/// supervisor's key are made off the phone (`safehome keys` in the CLI) and only the public
/// `recipient` reaches devices through `ProfileSession.addRecipient`. The `identity` opens
/// everything sealed to it.
#[uniffi::export]
pub fn generate_recipient_identity() -> Result<RecipientIdentity, ApiError> {
    guard(|| {
        let id = Identity::generate(&SystemEntropy::default());
        Ok(RecipientIdentity {
            recipient: id.recipient().to_string(),
            identity: id.to_text().as_str().to_string(),
        })
    })
}
