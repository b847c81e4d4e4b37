//! Authenticators: the configured sign-in methods (SPEC §6.1).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// The authenticator types this server implements, by their NocoBase names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AuthType {
    #[serde(rename = "Email/Password")]
    Password,
    #[serde(rename = "SMS")]
    Sms,
}

impl AuthType {
    /// In the order `authenticators:listTypes` lists them.
    pub const ALL: [AuthType; 2] = [AuthType::Password, AuthType::Sms];

    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Password => "Email/Password",
            AuthType::Sms => "SMS",
        }
    }

    /// The display title.
    pub fn title(self) -> &'static str {
        match self {
            AuthType::Password => "Password",
            AuthType::Sms => "SMS",
        }
    }

    pub fn parse(name: &str) -> Option<AuthType> {
        AuthType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Authenticator {
    pub id: i64,
    pub name: String,
    pub auth_type: AuthType,
    pub title: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub sort: i64,
    pub options: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Authenticator {
    /// `options.public` as an object (empty when absent or not an object).
    pub fn public_options(&self) -> Map<String, Value> {
        self.options
            .get("public")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// The verifier an SMS authenticator names, if any (empty string counts as none).
    pub fn sms_verifier(&self) -> Option<String> {
        self.options
            .pointer("/public/verifier")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    pub fn auto_signup(&self) -> bool {
        self.options
            .pointer("/public/autoSignup")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn allow_sign_up(&self) -> bool {
        self.options
            .pointer("/public/allowSignUp")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Fields accepted on create/update.
#[derive(Debug, Clone, Default)]
pub struct AuthenticatorDraft {
    pub name: Option<String>,
    pub auth_type: Option<AuthType>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub options: Option<Value>,
}
