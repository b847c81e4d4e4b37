//! The SMS provider port: one message out, one of three meaningful outcomes back.

use async_trait::async_trait;

use crate::domain::otp::{OtpAction, OtpCode};
use crate::domain::phone::Phone;

/// Everything a provider may need to deliver one code.
#[derive(Debug, Clone)]
pub struct SmsMessage {
    pub to: Phone,
    pub code: OtpCode,
    pub action: OtpAction,
    pub verifier: String,
    pub locale: String,
    /// Lifetime of the code in seconds, for templates that mention it.
    pub ttl_secs: i64,
}

/// How a send failed, in the three classes the API distinguishes (SPEC §3.2).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the provider refused the receiver number")]
    InvalidReceiver,
    #[error("the provider rate-limited the request")]
    RateLimited,
    #[error("the provider failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError>;
}

/// Builds senders from a verifier's `options` (`provider` type name and `settings`).
pub trait SmsProviderFactory: Send + Sync {
    /// Registered provider types as `(name, title)`.
    fn provider_types(&self) -> Vec<(String, String)>;
    /// Checks settings against the provider's schema; `Err` names the missing or bad field.
    fn validate(&self, provider: &str, settings: &serde_json::Value) -> Result<(), String>;
    /// Names of settings that are secrets (masked on read).
    fn secret_fields(&self, provider: &str) -> Vec<&'static str>;
    /// Builds a sender; `None` when the provider type is unknown or the settings are unusable.
    fn build(
        &self,
        provider: &str,
        settings: &serde_json::Value,
    ) -> Option<std::sync::Arc<dyn SmsSender>>;
}
