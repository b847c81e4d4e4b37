//! `verifiers:*` and `smsOTPProviders:list`: admin CRUD with masked secrets (SPEC §6.2) and the
//! user centre's bind/unbind (SPEC §6.4).

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use smsauth_core::domain::phone::mask;
use smsauth_core::domain::verifier::{VERIFICATION_TYPE_SMS_OTP, VerifierDraft};

use serde::Deserialize;
use serde_json::Map;

use super::extract::{Admin, Body, Caller, Ctx, Params};
use super::{ApiResult, AppState, data};

const SMS_OTP_TITLE: &str = "SMS OTP";

fn types() -> Value {
    json!([{ "name": VERIFICATION_TYPE_SMS_OTP, "title": SMS_OTP_TITLE }])
}

pub async fn list_types(_: Admin) -> ApiResult<Response> {
    Ok(data(types()))
}

pub async fn providers(State(app): State<AppState>, _: Admin) -> ApiResult<Response> {
    let list: Vec<Value> = app
        .core
        .provider_types()
        .into_iter()
        .map(
            |(name, title, settings)| json!({ "name": name, "title": title, "settings": settings }),
        )
        .collect();
    Ok(data(list))
}

/// Verifiers usable by a scene; `auth-sms` (the only scene with verifiers) lists `sms-otp` ones.
pub async fn list_by_scene(
    State(app): State<AppState>,
    _: Admin,
    params: Params,
) -> ApiResult<Response> {
    let scene_ok = matches!(params.get("scene"), None | Some("auth-sms"));
    let verifiers: Vec<Value> = if scene_ok {
        app.core
            .sms_verifiers()
            .await?
            .into_iter()
            .map(|v| json!({ "name": v.name, "title": v.title }))
            .collect()
    } else {
        Vec::new()
    };
    Ok(data(
        json!({ "verifiers": verifiers, "availableTypes": types() }),
    ))
}

pub async fn list(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    let all = app.core.verifiers().await?;
    super::users::paged(all, &params)
}

pub async fn get_one(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    Ok(data(app.core.verifier(params.tk()?).await?))
}

/// A verifier's fields; `options` must be an object (`{provider, settings, ..}`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifierBody {
    /// Unique name, `^[a-zA-Z0-9_-]{1,64}$`.
    name: Option<String>,
    /// Title.
    title: Option<String>,
    /// Free text.
    description: Option<String>,
    /// `sms-otp`.
    verification_type: Option<String>,
    /// Used when a request names no verifier.
    is_default: Option<bool>,
    /// `{provider, settings: {..}, routes?, fallbacks?}`; masked secrets (`******`) keep their stored value.
    options: Option<Map<String, Value>>,
}

fn draft(b: VerifierBody) -> VerifierDraft {
    VerifierDraft {
        name: b.name,
        title: b.title,
        description: b.description,
        verification_type: b.verification_type,
        is_default: b.is_default,
        options: b.options.map(Value::Object),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BindBody {
    /// The verifier to bind.
    verifier: Option<String>,
    /// The phone number.
    uuid: Option<String>,
    /// The code sent by `smsOTP:create` with action `verifiers:bind`.
    code: Option<String>,
}

/// `unbindVerifier` defaults to `verifier`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnbindBody {
    /// The bound verifier.
    verifier: Option<String>,
    /// The verifier to unbind (defaults to `verifier`).
    unbind_verifier: Option<String>,
    /// The code sent to the bound number.
    code: Option<String>,
}

pub async fn create(
    State(app): State<AppState>,
    Admin(me): Admin,
    Body(b): Body<VerifierBody>,
) -> ApiResult<Response> {
    Ok(data(app.core.create_verifier(&me.user, draft(b)).await?))
}

pub async fn update(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
    Body(b): Body<VerifierBody>,
) -> ApiResult<Response> {
    let (name, d) = (params.tk()?, draft(b));
    Ok(data(app.core.update_verifier(&me.user, name, d).await?))
}

pub async fn destroy(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
) -> ApiResult<Response> {
    app.core.delete_verifier(&me.user, params.tk()?).await?;
    Ok(data(Value::Null))
}

/// Every SMS verifier with whether the caller has bound it and the masked number.
pub async fn list_by_user(State(app): State<AppState>, Caller(me): Caller) -> ApiResult<Response> {
    let bound = app.core.bound_verifiers(&me.user).await?;
    let list: Vec<Value> = app
        .core
        .sms_verifiers()
        .await?
        .into_iter()
        .map(|v| {
            let b = bound.iter().find(|b| b.verifier == v.name);
            json!({
                "name": v.name,
                "title": v.title,
                "description": v.description,
                "verificationType": v.verification_type,
                "verificationTypeTitle": SMS_OTP_TITLE,
                "boundInfo": { "bound": b.is_some(), "publicInfo": b.map(|b| mask(&b.uuid)) },
            })
        })
        .collect();
    Ok(data(list))
}

/// The caller's bound verifiers that can prove identity in `scene` (`unbind-verifier`).
pub async fn list_for_verify(
    State(app): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Response> {
    let bound = app.core.bound_verifiers(&me.user).await?;
    let list: Vec<Value> = app
        .core
        .sms_verifiers()
        .await?
        .into_iter()
        .filter_map(|v| {
            let b = bound.iter().find(|b| b.verifier == v.name)?;
            Some(json!({
                "name": v.name,
                "title": v.title,
                "verificationType": v.verification_type,
                "boundInfo": { "bound": true, "publicInfo": mask(&b.uuid) },
            }))
        })
        .collect();
    Ok(data(list))
}

pub async fn bind(
    State(app): State<AppState>,
    ctx: Ctx,
    Caller(me): Caller,
    Body(b): Body<BindBody>,
) -> ApiResult<Response> {
    ctx.note_phone(b.uuid.as_deref());
    let (verifier, uuid, code) = (b.verifier, b.uuid, b.code);
    let ip = ctx.client_ip.to_string();
    app.core
        .bind_phone(
            &me.user,
            verifier.as_deref(),
            uuid.as_deref(),
            code.as_deref(),
            &ip,
        )
        .await?;
    Ok(data(Value::Null))
}

/// `{verifier, unbindVerifier, code}`: the code was sent (action `verifiers:unbind`) to the
/// phone bound through `verifier`; `unbindVerifier` (default: the same) is removed.
pub async fn unbind(
    State(app): State<AppState>,
    ctx: Ctx,
    Caller(me): Caller,
    Body(b): Body<UnbindBody>,
) -> ApiResult<Response> {
    let (verifier, target, code) = (b.verifier, b.unbind_verifier, b.code);
    let ip = ctx.client_ip.to_string();
    app.core
        .unbind_phone(
            &me.user,
            verifier.as_deref(),
            target.as_deref(),
            code.as_deref(),
            &ip,
        )
        .await?;
    Ok(data(Value::Null))
}
