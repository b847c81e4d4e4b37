//! `authenticators:*`: the public list for the sign-in page and admin CRUD (SPEC §3.1, §6.1).

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use smsauth_core::domain::authenticator::{AuthType, AuthenticatorDraft};
use smsauth_core::service::ServiceError;

use serde::Deserialize;
use serde_json::Map;

use super::extract::{Admin, Body, Loose, Params};
use super::{ApiError, ApiResult, AppState, data};

/// Enabled authenticators with `options.public` flattened into `options`; private options never
/// leave the server.
pub async fn public_list(State(app): State<AppState>) -> ApiResult<Response> {
    let list: Vec<Value> = app
        .core
        .authenticators()
        .await?
        .into_iter()
        .filter(|a| a.enabled)
        .map(|a| {
            json!({
                "name": a.name,
                "authType": a.auth_type,
                "authTypeTitle": a.auth_type.title(),
                "title": a.title,
                "options": Value::Object(a.public_options()),
            })
        })
        .collect();
    Ok(data(list))
}

pub async fn list_types(_: Admin) -> ApiResult<Response> {
    let types: Vec<Value> = AuthType::ALL
        .iter()
        .map(|t| json!({ "name": t.as_str(), "title": t.title() }))
        .collect();
    Ok(data(types))
}

pub async fn list(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    let all = app.core.authenticators().await?;
    super::users::paged(all, &params)
}

pub async fn get_one(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    Ok(data(app.core.authenticator(params.id()?).await?))
}

/// An authenticator's fields; `options` must be an object (`{public: {..}, ..}`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorBody {
    /// Unique name, `^[a-zA-Z0-9_-]{1,64}$`; sent by clients as `X-Authenticator`.
    name: Option<String>,
    /// `Email/Password` or `SMS`.
    auth_type: Option<String>,
    /// Title shown on the sign-in page.
    title: Option<String>,
    /// Free text.
    description: Option<String>,
    /// Whether the authenticator can be used.
    enabled: Option<bool>,
    /// Type options: `{public: {verifier, autoSignup, allowSignUp, ..}}`.
    options: Option<Map<String, Value>>,
}

/// An unknown `authType` is refused here, at the edge: the core only sees known types.
fn draft(b: AuthenticatorBody) -> ApiResult<AuthenticatorDraft> {
    let auth_type = match b.auth_type.as_deref() {
        None => None,
        Some(name) => Some(
            AuthType::parse(name)
                .ok_or_else(|| ServiceError::invalid("INVALID_AUTH_TYPE", "authType"))?,
        ),
    };
    Ok(AuthenticatorDraft {
        name: b.name,
        auth_type,
        title: b.title,
        description: b.description,
        enabled: b.enabled,
        options: b.options.map(Value::Object),
    })
}

/// `{sourceId, targetId}` as NocoBase's sortable table sends them (numbers or strings).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveBody {
    /// The authenticator to move (a number or a numeric string).
    #[schema(schema_with = super::extract::loose_id)]
    source_id: Option<Loose<i64>>,
    /// The authenticator whose place it takes.
    #[schema(schema_with = super::extract::loose_id)]
    target_id: Option<Loose<i64>>,
}

pub async fn create(
    State(app): State<AppState>,
    Admin(me): Admin,
    Body(b): Body<AuthenticatorBody>,
) -> ApiResult<Response> {
    let created = app.core.create_authenticator(&me.user, draft(b)?).await?;
    Ok(data(created))
}

pub async fn update(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
    Body(b): Body<AuthenticatorBody>,
) -> ApiResult<Response> {
    let (id, d) = (params.id()?, draft(b)?);
    Ok(data(app.core.update_authenticator(&me.user, id, d).await?))
}

pub async fn destroy(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
) -> ApiResult<Response> {
    app.core
        .delete_authenticator(&me.user, params.id()?)
        .await?;
    Ok(data(Value::Null))
}

/// `authenticators:move`: `source` takes the place of `target`.
pub async fn move_one(
    State(app): State<AppState>,
    Admin(me): Admin,
    Body(b): Body<MoveBody>,
) -> ApiResult<Response> {
    let id = |v: Option<Loose<i64>>, key: &str| {
        v.and_then(|v| v.id()).ok_or_else(|| ApiError::field(key))
    };
    let (source, target) = (id(b.source_id, "sourceId")?, id(b.target_id, "targetId")?);
    app.core
        .move_authenticator(&me.user, source, target)
        .await?;
    Ok(data(Value::Null))
}
