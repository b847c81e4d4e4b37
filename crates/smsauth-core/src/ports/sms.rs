//! The SMS provider port: one message out, one of three meaningful outcomes back; and the
//! delivery receipts a provider later pushes about it (SPEC §15.3).

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

/// What a provider answered when it took a message: its id for the message, when it gives one
/// (Twilio `sid`, Aliyun `BizId`, Tencent `SerialNo`, the webhook's `{"id"}`), so that a later
/// delivery receipt can be matched to the code it is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    pub message_id: Option<String>,
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, message: &SmsMessage) -> Result<Accepted, SendError>;
}

/// A delivery receipt request as it reached the server, before it is trusted.
#[derive(Debug, Clone)]
pub struct ReceiptRequest<'a> {
    /// The full URL the provider requested (public URL, path and query), as Twilio signs it.
    pub url: &'a str,
    /// Query parameters, decoded, in their order.
    pub query: &'a [(String, String)],
    /// Headers with lower-case names.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The final state a receipt reports. Intermediate states (queued, sending) are not receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Delivered,
    Undelivered,
}

/// One message's receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The id the provider answered at send time ([`Accepted::message_id`]).
    pub message_id: String,
    pub state: DeliveryState,
    /// The provider's error code for an undelivered message.
    pub error_code: Option<String>,
}

/// An authenticated batch of receipts and what to answer the provider (each documents its own
/// acknowledgement body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptBatch {
    pub receipts: Vec<Receipt>,
    pub ack_content_type: &'static str,
    pub ack_body: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReceiptError {
    /// Missing or wrong signature or token: 401, nothing changes.
    #[error("the receipt is not authenticated")]
    Unauthenticated,
    /// Authenticated, but not in the provider's documented form: 400.
    #[error("the receipt is malformed: {0}")]
    Malformed(String),
    /// The provider type sends no receipts (console) or the settings cannot check them.
    #[error("this provider has no delivery receipts")]
    Unsupported,
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
    /// Authenticates and parses a delivery receipt pushed by `provider` configured with
    /// `settings` (the verifier's, `{{$env.…}}` already expanded).
    fn receipts(
        &self,
        provider: &str,
        settings: &serde_json::Value,
        request: &ReceiptRequest<'_>,
    ) -> Result<ReceiptBatch, ReceiptError>;
}
