//! `tokenControlConfig:get/update` (`filterByTk=token-policy-config`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use smsauth_core::service::configuration::TokenPolicyChange;

use super::extract::{Admin, Values};
use super::{ApiError, ApiResult, AppState, data};

const KEY: &str = "token-policy-config";

pub async fn get_policy(State(app): State<AppState>, _: Admin) -> ApiResult<Response> {
    let policy = app.core.token_policy().await?;
    Ok(data(json!({ "key": KEY, "config": policy.to_config() })))
}

/// Accepts `{config:{..}}` (NocoBase's form) or the three fields at the top level. Missing
/// fields keep their current value.
pub async fn update_policy(
    State(app): State<AppState>,
    Admin(me): Admin,
    values: Values,
) -> ApiResult<Response> {
    let invalid = |field: &str| {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_TOKEN_POLICY").param("field", field)
    };
    // `config` is the policy object; anything else there (a string, an array) is a client bug
    // that must be refused rather than read as "no change" (SPEC §15.7).
    let src = match values.0.get("config") {
        None => &values.0,
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(invalid("config")),
    };
    let field = |k: &str| -> ApiResult<Option<String>> {
        match src.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(k)),
        }
    };
    let change = TokenPolicyChange {
        token_expiration_time: field("tokenExpirationTime")?,
        session_expiration_time: field("sessionExpirationTime")?,
        expired_token_renew_limit: field("expiredTokenRenewLimit")?,
    };
    let policy = app.core.update_token_policy(&me.user, change).await?;
    Ok(data(json!({ "key": KEY, "config": policy.to_config() })))
}
