//! Verifiers: configured ways to prove control of a phone (SPEC §6.2).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub const VERIFICATION_TYPE_SMS_OTP: &str = "sms-otp";

/// What a masked secret looks like on the wire; sending it back keeps the stored value.
pub const SECRET_MASK: &str = "******";

/// `Debug` shows the provider and which settings exist, never their values: provider settings
/// hold secrets (keys, tokens), and a verifier ends up in logs and panics like any value.
#[derive(Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings: Vec<&str> = self
            .options
            .get("settings")
            .and_then(Value::as_object)
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("Verifier")
            .field("name", &self.name)
            .field("verification_type", &self.verification_type)
            .field("is_default", &self.is_default)
            .field("provider", &self.provider())
            .field("settings", &format_args!("{settings:?} (values hidden)"))
            .finish_non_exhaustive()
    }
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

/// `Debug` hides `options`, which carries provider secrets.
#[derive(Clone, Default)]
pub struct VerifierDraft {
    pub name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub verification_type: Option<String>,
    pub is_default: Option<bool>,
    pub options: Option<Value>,
}

impl std::fmt::Debug for VerifierDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierDraft")
            .field("name", &self.name)
            .field("verification_type", &self.verification_type)
            .field("is_default", &self.is_default)
            .finish_non_exhaustive()
    }
}
