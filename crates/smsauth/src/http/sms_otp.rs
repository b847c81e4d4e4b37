//! `smsOTP:publicCreate`, `smsOTP:create` and the legacy `verifications:create` (SPEC §3.2, §6.3).

use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use smsauth_core::service::send_code::{Issued, SendRequest};

use super::extract::{Caller, Ctx, Values};
use super::{ApiResult, AppState, data};

fn issued(i: Issued) -> Response {
    data(json!({ "id": i.id, "expiresAt": i.expires_at }))
}

fn request(ctx: &Ctx, values: &Values) -> ApiResult<SendRequest> {
    Ok(SendRequest {
        action: values.str("action")?,
        verifier: values.str("verifier")?,
        uuid: values.str("uuid")?,
        client_ip: ctx.client_ip.to_string(),
        locale: ctx.locale.as_str().to_string(),
    })
}

pub async fn public_create(
    State(app): State<AppState>,
    ctx: Ctx,
    values: Values,
) -> ApiResult<Response> {
    let req = request(&ctx, &values)?;
    Ok(issued(app.core.send_code(req, None).await?))
}

pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    Caller(me): Caller,
    values: Values,
) -> ApiResult<Response> {
    let req = request(&ctx, &values)?;
    Ok(issued(app.core.send_code(req, Some(&me.user)).await?))
}

/// `{type: "auth:signIn", phone}` through the default SMS verifier.
pub async fn legacy_create(
    State(app): State<AppState>,
    ctx: Ctx,
    values: Values,
) -> ApiResult<Response> {
    let out = app
        .core
        .send_code_legacy(
            values.str("type")?,
            values.str("phone")?,
            ctx.client_ip.to_string(),
            ctx.locale.as_str().to_string(),
        )
        .await?;
    Ok(issued(out))
}
