//! Key helpers for tests and provisioning.

use safehome_core::clock::SystemEntropy;
use safehome_core::evidence::keys::Identity;

use crate::errors::ApiError;
use crate::guard::guard;
use crate::records::RecipientIdentity;

/// A new recipient key pair (X25519) in its text forms. **For tests and provisioning tools
/// only**: in production the organisation's archive key and each supervisor's key are made
/// off the phone (`safehome keys` in the CLI) and only the public `recipient` reaches devices
/// through `ProfileSession.addRecipient`. The `identity` opens everything sealed to it.
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
