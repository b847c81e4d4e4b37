//! Verifiers: configured ways to prove control of a phone (SPEC §6.2).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub const VERIFICATION_TYPE_SMS_OTP: &str = "sms-otp";

/// What a masked secret looks like on the wire; sending it back keeps the stored value.
pub const SECRET_MASK: &str = "******";

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Verifier {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub verification_type: String,
    pub is_default: bool,
    pub options: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Verifier {
    /// `options.provider`, the provider type name.
    pub fn provider(&self) -> Option<&str> {
        self.options.get("provider").and_then(Value::as_str)
    }

    /// `options.settings` (an empty object when absent).
    pub fn settings(&self) -> Value {
        self.options
            .get("settings")
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()))
    }
}

/// A verifier name: `^[a-zA-Z0-9_-]{1,64}$`. Names appear in URLs and logs, so the alphabet
/// is closed.
pub fn valid_verifier_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Debug, Clone, Default)]
pub struct VerifierDraft {
    pub name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub verification_type: Option<String>,
    pub is_default: Option<bool>,
    pub options: Option<Value>,
}
