//! `authenticators:*`: the public list for the sign-in page and admin CRUD (SPEC §3.1, §6.1).

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use smsauth_core::domain::authenticator::{AUTH_TYPES, AuthenticatorDraft, auth_type_title};

use super::extract::{Admin, Params, Values};
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
                "authTypeTitle": auth_type_title(&a.auth_type),
                "title": a.title,
                "options": Value::Object(a.public_options()),
            })
        })
        .collect();
    Ok(data(list))
}

pub async fn list_types(_: Admin) -> ApiResult<Response> {
    let types: Vec<Value> = AUTH_TYPES
        .iter()
        .map(|(name, title)| json!({ "name": name, "title": title }))
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

fn draft(values: &Values) -> ApiResult<AuthenticatorDraft> {
    Ok(AuthenticatorDraft {
        name: values.str("name")?,
        auth_type: values.str("authType")?,
        title: values.str("title")?,
        description: values.str("description")?,
        enabled: values.bool("enabled")?,
        options: values.object("options")?,
    })
}

pub async fn create(
    State(app): State<AppState>,
    Admin(me): Admin,
    values: Values,
) -> ApiResult<Response> {
    let created = app
        .core
        .create_authenticator(&me.user, draft(&values)?)
        .await?;
    Ok(data(created))
}

pub async fn update(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
    values: Values,
) -> ApiResult<Response> {
    let (id, d) = (params.id()?, draft(&values)?);
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

/// `authenticators:move` with `{sourceId, targetId}` as NocoBase's sortable table sends it.
pub async fn move_one(
    State(app): State<AppState>,
    Admin(me): Admin,
    values: Values,
) -> ApiResult<Response> {
    let id = |key: &str| -> ApiResult<i64> {
        match values.0.get(key) {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| ApiError::field(key)),
            Some(Value::String(s)) => s.parse().map_err(|_| ApiError::field(key)),
            _ => Err(ApiError::field(key)),
        }
    };
    let (source, target) = (id("sourceId")?, id("targetId")?);
    app.core
        .move_authenticator(&me.user, source, target)
        .await?;
    Ok(data(Value::Null))
}
