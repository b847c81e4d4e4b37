//! The token policy (SPEC §5, `tokenControlConfig`): token lifetime, session lifetime and how long
//! after expiry a token may still be renewed.

use serde::{Deserialize, Serialize};

use super::duration::{format_duration, parse_duration};

/// Lifetimes in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    pub token_ttl: i64,
    pub session_ttl: i64,
    pub renew_limit: i64,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            token_ttl: 86_400,
            session_ttl: 7 * 86_400,
            renew_limit: 86_400,
        }
    }
}

/// The wire form, as NocoBase's admin page sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPolicyConfig {
    pub token_expiration_time: String,
    pub session_expiration_time: String,
    pub expired_token_renew_limit: String,
}

/// Which field of a policy update is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0} must be a duration such as 30m, 12h or 7d")]
    BadDuration(&'static str),
    #[error("the token lifetime must not exceed the session lifetime")]
    TokenLongerThanSession,
}

impl TokenPolicy {
    pub fn to_config(self) -> TokenPolicyConfig {
        TokenPolicyConfig {
            token_expiration_time: format_duration(self.token_ttl),
            session_expiration_time: format_duration(self.session_ttl),
            expired_token_renew_limit: format_duration(self.renew_limit),
        }
    }

    pub fn from_config(c: &TokenPolicyConfig) -> Result<TokenPolicy, PolicyError> {
        let p = TokenPolicy {
            token_ttl: parse_duration(&c.token_expiration_time)
                .ok_or(PolicyError::BadDuration("tokenExpirationTime"))?,
            session_ttl: parse_duration(&c.session_expiration_time)
                .ok_or(PolicyError::BadDuration("sessionExpirationTime"))?,
            renew_limit: parse_duration(&c.expired_token_renew_limit)
                .ok_or(PolicyError::BadDuration("expiredTokenRenewLimit"))?,
        };
        if p.token_ttl > p.session_ttl {
            return Err(PolicyError::TokenLongerThanSession);
        }
        Ok(p)
    }
}
