//! `auth:*`: sign-in, sign-up, check, sign-out and password change (SPEC §3.3–3.5).

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use smsauth_core::service::sign_in::{PasswordChange, SignInRequest, SignUpRequest};

use super::extract::{Caller, Ctx, Values};
use super::layers::RenewedToken;
use super::{ApiResult, AppState, data};

/// Both kinds of sign-in share one body: `{uuid|phone, code}` for SMS, `{account|email|username,
/// password}` for passwords (the second name of each is NocoBase's legacy form).
pub async fn sign_in(State(app): State<AppState>, ctx: Ctx, values: Values) -> ApiResult<Response> {
    let req = SignInRequest {
        phone: values.str("uuid")?.or(values.str("phone")?),
        code: values.str("code")?,
        account: values
            .str("account")?
            .or(values.str("email")?)
            .or(values.str("username")?),
        password: values.str("password")?,
    };
    let ip = ctx.client_ip.to_string();
    let signed = app.core.sign_in(&ctx.authenticator, &req, &ip).await?;
    Ok(data(json!({ "user": signed.user, "token": signed.token })))
}

pub async fn sign_up(State(app): State<AppState>, ctx: Ctx, values: Values) -> ApiResult<Response> {
    let req = SignUpRequest {
        username: values.str("username")?,
        email: values.str("email")?,
        password: values.str("password")?,
        confirm_password: values
            .str("confirm_password")?
            .or(values.str("confirmPassword")?),
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
    values: Values,
) -> ApiResult<Response> {
    let change = PasswordChange {
        old_password: values.str("oldPassword")?,
        new_password: values.str("newPassword")?,
        confirm_password: values.str("confirmPassword")?,
    };
    let token = app.core.change_password(&me.user, &change).await?;
    let mut resp = data(json!({ "token": &token }));
    resp.extensions_mut().insert(RenewedToken(token));
    Ok(resp)
}
