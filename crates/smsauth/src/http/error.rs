//! The one HTTP error type. Each use-case outcome maps to a status, a stable code and a message
//! key in one place (`From<ServiceError>`); `layers::error_body` renders the message in the
//! request's locale. 5xx causes are logged here and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use smsauth_core::ports::store::Conflict;
use smsauth_core::service::ServiceError;

/// An error on its way to the client. The body is written by [`super::layers::error_body`].
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    /// Catalogue key; usually the code itself.
    pub key: &'static str,
    pub params: Vec<(&'static str, String)>,
    pub retry_after: Option<i64>,
    /// For send-limit refusals, which limit (a metric label).
    pub limit: Option<&'static str>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str) -> ApiError {
        ApiError {
            status,
            code,
            key: code,
            params: Vec::new(),
            retry_after: None,
            limit: None,
        }
    }

    /// The same code with another message.
    pub fn with_key(mut self, key: &'static str) -> ApiError {
        self.key = key;
        self
    }

    fn keyed(status: StatusCode, code: &'static str, key: &'static str) -> ApiError {
        ApiError {
            key,
            ..ApiError::new(status, code)
        }
    }

    pub fn param(mut self, name: &'static str, value: impl ToString) -> ApiError {
        self.params.push((name, value.to_string()));
        self
    }

    pub(crate) fn retry(mut self, secs: i64) -> ApiError {
        self.retry_after = Some(secs.max(1));
        self
    }

    /// 400 for a field that is present but has the wrong type or shape.
    pub fn field(field: &str) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_FIELD").param("field", field)
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN")
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND")
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        use ServiceError as E;
        use StatusCode as S;
        match e {
            E::InvalidAction => ApiError::new(S::BAD_REQUEST, "INVALID_ACTION"),
            E::InvalidVerifier => ApiError::new(S::BAD_REQUEST, "INVALID_VERIFIER"),
            E::InvalidProvider => {
                tracing::error!("a verifier has no usable provider configuration");
                ApiError::new(S::INTERNAL_SERVER_ERROR, "INVALID_PROVIDER")
            }
            E::InvalidReceiver => ApiError::new(S::BAD_REQUEST, "InvalidReceiver"),
            E::LiveCode { retry_after_secs } => {
                ApiError::keyed(S::TOO_MANY_REQUESTS, "RateLimit", "RateLimitLive")
                    .param("time", retry_after_secs)
                    .retry(retry_after_secs)
            }
            E::SendLimited {
                retry_after_secs,
                limit,
            } => {
                let mut err = ApiError::keyed(S::TOO_MANY_REQUESTS, "RateLimit", "RateLimitSlow")
                    .retry(retry_after_secs);
                err.limit = Some(limit.as_str());
                err
            }
            E::VerifyLimited { retry_after_secs } => {
                ApiError::keyed(S::TOO_MANY_REQUESTS, "RateLimit", "RateLimitSlow")
                    .retry(retry_after_secs)
            }
            E::ProviderRateLimited => {
                ApiError::keyed(S::TOO_MANY_REQUESTS, "RateLimit", "RateLimitSlow").retry(60)
            }
            E::SendFailed => ApiError::new(S::BAD_GATEWAY, "SEND_FAILED"),
            E::DestinationNotAllowed => ApiError::new(S::BAD_REQUEST, "DESTINATION_NOT_ALLOWED"),
            E::ReceiptUnauthenticated => ApiError::new(S::UNAUTHORIZED, "RECEIPT_UNAUTHENTICATED"),
            E::InvalidCode => ApiError::new(S::BAD_REQUEST, "InvalidVerificationCode"),
            E::TooManyAttempts { retry_after_secs } => {
                let err = ApiError::new(S::TOO_MANY_REQUESTS, "TooManyAttempts");
                match retry_after_secs {
                    Some(s) => err.retry(s),
                    None => err,
                }
            }
            E::PasswordThrottled { retry_after_secs } => ApiError::keyed(
                S::TOO_MANY_REQUESTS,
                "TooManyAttempts",
                "TooManyPasswordAttempts",
            )
            .param("time", retry_after_secs.max(1))
            .retry(retry_after_secs),
            E::AuthenticatorNotFound => ApiError::new(S::BAD_REQUEST, "AUTHENTICATOR_NOT_FOUND"),
            E::PhoneNotRegistered => ApiError::new(S::UNAUTHORIZED, "PHONE_NOT_REGISTERED"),
            E::InvalidAccount => ApiError::new(S::BAD_REQUEST, "INVALID_ACCOUNT"),
            E::InvalidCredentials => ApiError::new(S::UNAUTHORIZED, "INVALID_CREDENTIALS"),
            E::SignUpDisabled => ApiError::new(S::FORBIDDEN, "SIGN_UP_DISABLED"),
            E::Invalid { code, field } => ApiError::new(S::BAD_REQUEST, code).param("field", field),
            E::EmptyToken => ApiError::new(S::UNAUTHORIZED, "EMPTY_TOKEN"),
            E::InvalidToken => ApiError::new(S::UNAUTHORIZED, "INVALID_TOKEN"),
            E::NotExistUser => ApiError::new(S::UNAUTHORIZED, "NOT_EXIST_USER"),
            E::BlockedToken => ApiError::new(S::UNAUTHORIZED, "BLOCKED_TOKEN"),
            E::ExpiredSession => ApiError::new(S::UNAUTHORIZED, "EXPIRED_SESSION"),
            E::TokenRenewFailed => ApiError::new(S::UNAUTHORIZED, "TOKEN_RENEW_FAILED"),
            E::Forbidden => ApiError::forbidden(),
            E::NotFound => ApiError::not_found(),
            E::Conflict(Conflict::Duplicate(field)) => {
                ApiError::new(S::BAD_REQUEST, "DUPLICATE").param("field", field)
            }
            E::Conflict(Conflict::LastAuthenticator) => {
                ApiError::new(S::BAD_REQUEST, "LAST_AUTHENTICATOR")
            }
            E::Conflict(Conflict::VerifierInUse(name)) => {
                ApiError::new(S::BAD_REQUEST, "VERIFIER_IN_USE").param("name", name)
            }
            E::Conflict(Conflict::AlreadyBound) => ApiError::new(S::BAD_REQUEST, "ALREADY_BOUND"),
            E::Conflict(Conflict::UnknownRole) => ApiError::field("roles"),
            E::NotBound => ApiError::new(S::BAD_REQUEST, "NOT_BOUND"),
            E::Unavailable(cause) => {
                tracing::error!(error = %cause, "storage unavailable");
                ApiError::new(S::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").retry(5)
            }
            E::Unexpected(cause) => {
                tracing::error!(error = ?cause, "unexpected error");
                ApiError::new(S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
            }
        }
    }
}

impl From<smsauth_core::ports::store::StoreError> for ApiError {
    fn from(e: smsauth_core::ports::store::StoreError) -> ApiError {
        ServiceError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp.extensions_mut().insert(self);
        resp
    }
}
