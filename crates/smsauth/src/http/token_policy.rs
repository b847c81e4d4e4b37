//! `tokenControlConfig:get/update` (`filterByTk=token-policy-config`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use smsauth_core::service::configuration::TokenPolicyChange;

use super::extract::{Admin, Values};
use super::{ApiError, ApiResult, AppState, data};

const KEY: &str = "token-policy-config";

pub async fn get_policy(State(app): State<AppState>, _: Admin) -> ApiResult<Response> {
    let policy = app.core.token_policy().await?;
    Ok(data(json!({ "key": KEY, "config": policy.to_config() })))
}

/// The three durations (`30m`, `12h`, `7d`); a missing or null one keeps its current value.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyFields {
    /// Lifetime of one token.
    token_expiration_time: Option<String>,
    /// Lifetime of a session (the chain of renewed tokens).
    session_expiration_time: Option<String>,
    /// How long after expiry a token may still be renewed.
    expired_token_renew_limit: Option<String>,
}

/// `{config: {..}}` (NocoBase's form) or the three fields at the top level.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPolicyBody {
    /// The policy; when present, the top-level fields are ignored.
    config: Option<PolicyFields>,
    /// Lifetime of one token (when `config` is absent).
    token_expiration_time: Option<String>,
    /// Lifetime of a session (when `config` is absent).
    session_expiration_time: Option<String>,
    /// Renewal window after expiry (when `config` is absent).
    expired_token_renew_limit: Option<String>,
}

/// A wrongly typed field (`{"config":"x"}`, a number for a duration) is refused with
/// `INVALID_TOKEN_POLICY` naming it, never read as "no change" (SPEC §15.7).
pub async fn update_policy(
    State(app): State<AppState>,
    Admin(me): Admin,
    values: Values,
) -> ApiResult<Response> {
    let body: TokenPolicyBody = serde_path_to_error::deserialize(values.0).map_err(|e| {
        let path = e.path().to_string();
        let field = path.rsplit('.').next().unwrap_or(&path).to_string();
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_TOKEN_POLICY").param("field", field)
    })?;
    let f = body.config.unwrap_or(PolicyFields {
        token_expiration_time: body.token_expiration_time,
        session_expiration_time: body.session_expiration_time,
        expired_token_renew_limit: body.expired_token_renew_limit,
    });
    let change = TokenPolicyChange {
        token_expiration_time: f.token_expiration_time,
        session_expiration_time: f.session_expiration_time,
        expired_token_renew_limit: f.expired_token_renew_limit,
    };
    let policy = app.core.update_token_policy(&me.user, change).await?;
    Ok(data(json!({ "key": KEY, "config": policy.to_config() })))
}
