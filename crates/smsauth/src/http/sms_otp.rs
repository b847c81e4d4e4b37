//! `smsOTP:publicCreate`, `smsOTP:create` and the legacy `verifications:create` (SPEC §3.2, §6.3).

use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use smsauth_core::service::send_code::{Issued, SendRequest};

use serde::Deserialize;

use super::extract::{Body, Caller, Ctx};
use super::{ApiResult, AppState, data};

fn issued(i: Issued) -> Response {
    data(json!({ "id": i.id, "expiresAt": i.expires_at }))
}

/// `{action, verifier, uuid}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SendCodeBody {
    /// `auth:signIn`, `verifiers:bind` or `verifiers:unbind`.
    action: Option<String>,
    /// The verifier to send through (the SMS authenticator's one for sign-in).
    verifier: Option<String>,
    /// The phone number to send to.
    uuid: Option<String>,
}

/// The legacy `{type, phone}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LegacySendBody {
    /// `auth:signIn` or `auth:signUp` (legacy form).
    #[serde(rename = "type")]
    kind: Option<String>,
    /// The phone number to send to.
    phone: Option<String>,
}

fn request(ctx: &Ctx, body: SendCodeBody) -> SendRequest {
    ctx.note_phone(body.uuid.as_deref());
    SendRequest {
        action: body.action,
        verifier: body.verifier,
        uuid: body.uuid,
        client_ip: ctx.client_ip.to_string(),
        locale: ctx.locale.as_str().to_string(),
    }
}

pub async fn public_create(
    State(app): State<AppState>,
    ctx: Ctx,
    Body(body): Body<SendCodeBody>,
) -> ApiResult<Response> {
    let req = request(&ctx, body);
    Ok(issued(app.core.send_code(req, None).await?))
}

pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    Caller(me): Caller,
    Body(body): Body<SendCodeBody>,
) -> ApiResult<Response> {
    let req = request(&ctx, body);
    Ok(issued(app.core.send_code(req, Some(&me.user)).await?))
}

/// `{type: "auth:signIn", phone}` through the default SMS verifier.
pub async fn legacy_create(
    State(app): State<AppState>,
    ctx: Ctx,
    Body(body): Body<LegacySendBody>,
) -> ApiResult<Response> {
    ctx.note_phone(body.phone.as_deref());
    let out = app
        .core
        .send_code_legacy(
            body.kind,
            body.phone,
            ctx.client_ip.to_string(),
            ctx.locale.as_str().to_string(),
        )
        .await?;
    Ok(issued(out))
}
