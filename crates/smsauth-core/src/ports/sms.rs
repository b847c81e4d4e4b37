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
    /// The time from the injected clock, for request signatures.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// How a send failed, in the three classes the API distinguishes (SPEC §3.2).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the provider refused the receiver number")]
    InvalidReceiver,
    #[error("the provider rate-limited the request")]
    RateLimited,
    /// Timeout, connection failure or a 5xx: another provider may succeed, so routing fails
    /// over on this one only.
    #[error("the provider is unavailable: {0}")]
    Transient(String),
    /// The provider refused the request for a reason that retrying elsewhere would not fix
    /// (bad credentials, unknown template, …).
    #[error("the provider failed: {0}")]
    Failed(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }
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
    /// The provider's settings schema (`[{name, type, required, secret}]`) for admin forms.
    fn schema(&self, provider: &str) -> Option<serde_json::Value>;
    /// Names of settings that are secrets (masked on read).
    fn secret_fields(&self, provider: &str) -> Vec<&'static str>;
    /// Builds a sender; `None` when the provider type is unknown or the settings are unusable.
    fn build(
        &self,
        provider: &str,
        settings: &serde_json::Value,
    ) -> Option<std::sync::Arc<dyn SmsSender>>;
}
