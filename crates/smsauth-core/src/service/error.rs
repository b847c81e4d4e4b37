//! The outcomes of use-cases that a caller must be told about. One enum serves all use-cases
//! because the wire codes are shared (`InvalidReceiver` is an answer of send, verify and bind
//! alike); `Unavailable` and `Unexpected` are the only variants that become 5xx.

use crate::ports::store::{Conflict, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid action")]
    InvalidAction,
    #[error("invalid verifier")]
    InvalidVerifier,
    #[error("verifier has no usable provider")]
    InvalidProvider,
    #[error("invalid receiver")]
    InvalidReceiver,
    #[error("a live code exists")]
    LiveCode { retry_after_secs: i64 },
    #[error("send limit reached")]
    SendLimited {
        retry_after_secs: i64,
        limit: crate::ports::counters::Counted,
    },
    #[error("delivery receipt not authenticated")]
    ReceiptUnauthenticated,
    #[error("destination not allowed by the SMS policy")]
    DestinationNotAllowed,
    #[error("provider rate limited")]
    ProviderRateLimited,
    #[error("provider failed")]
    SendFailed,
    #[error("invalid verification code")]
    InvalidCode,
    #[error("too many failed attempts")]
    TooManyAttempts { retry_after_secs: Option<i64> },
    #[error("too many failed password sign-ins for this account")]
    PasswordThrottled { retry_after_secs: i64 },
    #[error("too many verifications from this client")]
    VerifyLimited { retry_after_secs: i64 },
    #[error("authenticator not found or disabled")]
    AuthenticatorNotFound,
    #[error("phone not registered")]
    PhoneNotRegistered,
    #[error("account missing")]
    InvalidAccount,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("sign-up disabled")]
    SignUpDisabled,
    /// A field of the request is missing or unusable; `code` is the stable error code and
    /// `field` the wire name of the field.
    #[error("invalid field {field}")]
    Invalid { code: &'static str, field: String },
    #[error("empty token")]
    EmptyToken,
    #[error("invalid token")]
    InvalidToken,
    #[error("user does not exist")]
    NotExistUser,
    #[error("blocked token")]
    BlockedToken,
    #[error("expired session")]
    ExpiredSession,
    #[error("token renewal failed")]
    TokenRenewFailed,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("conflict {0:?}")]
    Conflict(Conflict),
    #[error("verifier not bound")]
    NotBound,
    #[error("dependency unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ServiceError {
    /// The variant's name (`InvalidCode`), for the audit log: stable, and never a value.
    pub fn reason(&self) -> String {
        let debug = format!("{self:?}");
        debug
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("Error")
            .to_string()
    }

    pub fn invalid(code: &'static str, field: impl Into<String>) -> ServiceError {
        ServiceError::Invalid {
            code,
            field: field.into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(c) => ServiceError::Conflict(c),
            StoreError::Unavailable(e) => ServiceError::Unavailable(e),
        }
    }
}
