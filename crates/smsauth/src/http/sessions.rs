//! `auth:*`: sign-in, sign-up, check, sign-out and password change (SPEC §3.3–3.5).

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use smsauth_core::service::sign_in::{PasswordChange, SignInRequest, SignUpRequest};

use serde::Deserialize;

use super::extract::{Body, Caller, Ctx};
use super::layers::RenewedToken;
use super::{ApiResult, AppState, data};

/// Both kinds of sign-in share one body: `{uuid|phone, code}` for SMS, `{account|email|username,
/// password}` for passwords (the second name of each is NocoBase's legacy form).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignInBody {
    /// SMS sign-in: the phone number (E.164, or national with the default region).
    uuid: Option<String>,
    /// NocoBase's legacy name for `uuid`.
    phone: Option<String>,
    /// SMS sign-in: the code that was sent.
    code: Option<String>,
    /// Password sign-in: username, email or phone.
    account: Option<String>,
    /// Legacy name for `account`.
    email: Option<String>,
    /// Legacy name for `account`.
    username: Option<String>,
    /// Password sign-in: the password.
    password: Option<String>,
}

/// `{username, email, password, confirm_password}` (also `confirmPassword`).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignUpBody {
    /// Username (letters, digits, `_`, `.`, `-`).
    username: Option<String>,
    /// Email address.
    email: Option<String>,
    /// Password, 8 to 64 characters.
    password: Option<String>,
    /// The password again (also accepted as `confirmPassword`).
    #[serde(alias = "confirmPassword")]
    confirm_password: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordBody {
    /// The current password.
    old_password: Option<String>,
    /// The new password, 8 to 64 characters.
    new_password: Option<String>,
    /// The new password again.
    confirm_password: Option<String>,
}

pub async fn sign_in(
    State(app): State<AppState>,
    ctx: Ctx,
    Body(b): Body<SignInBody>,
) -> ApiResult<Response> {
    let phone = b.uuid.or(b.phone);
    ctx.note_phone(phone.as_deref());
    let req = SignInRequest {
        phone,
        code: b.code,
        account: b.account.or(b.email).or(b.username),
        password: b.password,
    };
    let ip = ctx.client_ip.to_string();
    let signed = app.core.sign_in(&ctx.authenticator, &req, &ip).await?;
    Ok(data(json!({ "user": signed.user, "token": signed.token })))
}

pub async fn sign_up(
    State(app): State<AppState>,
    ctx: Ctx,
    Body(b): Body<SignUpBody>,
) -> ApiResult<Response> {
    let req = SignUpRequest {
        username: b.username,
        email: b.email,
        password: b.password,
        confirm_password: b.confirm_password,
    };
    Ok(data(app.core.sign_up(&ctx.authenticator, req).await?))
}

pub async fn check(Caller(me): Caller) -> ApiResult<Response> {
    Ok(data(me.user))
}

pub async fn sign_out(State(app): State<AppState>, Caller(me): Caller) -> ApiResult<Response> {
    app.core.sign_out(&me.claims).await?;
    Ok(data(Value::Null))
}

/// Answers with a fresh token (also in `X-New-Token`, which NocoBase's client picks up), since
/// every token issued before the change stops working.
pub async fn change_password(
    State(app): State<AppState>,
    Caller(me): Caller,
    Body(b): Body<ChangePasswordBody>,
) -> ApiResult<Response> {
    let change = PasswordChange {
        old_password: b.old_password,
        new_password: b.new_password,
        confirm_password: b.confirm_password,
    };
    let token = app.core.change_password(&me.user, &change).await?;
    let mut resp = data(json!({ "token": &token }));
    resp.extensions_mut().insert(RenewedToken(token));
    Ok(resp)
}
