//! `tokenControlConfig:get/update` (`filterByTk=token-policy-config`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use smsauth_core::domain::token_policy::{TokenPolicy, TokenPolicyConfig};

use super::extract::{Admin, Root, Values};
use super::{ApiError, ApiResult, AppState, data};

const KEY: &str = "token-policy-config";

pub async fn get_policy(State(app): State<AppState>, _: Admin) -> ApiResult<Response> {
    let policy = app.core.config.token_policy().await?;
    Ok(data(json!({ "key": KEY, "config": policy.to_config() })))
}

/// Accepts `{config:{..}}` (NocoBase's form) or the three fields at the top level. Missing
/// fields keep their current value.
pub async fn update_policy(
    State(app): State<AppState>,
    _: Root,
    values: Values,
) -> ApiResult<Response> {
    let current = app.core.config.token_policy().await?.to_config();
    let invalid = |field: &str| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_TOKEN_POLICY").param("field", field)
    };
    // `config` is the policy object; anything else there (a string, an array) is a client bug
    // that must be refused rather than read as "no change" (SPEC §15.7).
    let src = match values.0.get("config") {
        None => &values.0,
        Some(v @ serde_json::Value::Object(_)) => v,
        Some(_) => return Err(invalid("config")),
    };
    let field = |k: &str, cur: &str| -> ApiResult<String> {
        match src.get(k) {
            None | Some(serde_json::Value::Null) => Ok(cur.to_string()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(invalid(k)),
        }
    };
    let config = TokenPolicyConfig {
        token_expiration_time: field("tokenExpirationTime", &current.token_expiration_time)?,
        session_expiration_time: field("sessionExpirationTime", &current.session_expiration_time)?,
        expired_token_renew_limit: field(
            "expiredTokenRenewLimit",
            &current.expired_token_renew_limit,
        )?,
    };
    let policy = TokenPolicy::from_config(&config).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_TOKEN_POLICY").param("field", e.to_string())
    })?;
    app.core
        .config
        .set_token_policy(policy, app.core.clock.now())
        .await?;
    Ok(data(json!({ "key": KEY, "config": policy.to_config() })))
}
