//! `authenticators:*`: the public list for the sign-in page and admin CRUD (SPEC §3.1, §6.1).

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use smsauth_core::domain::authenticator::{
    AUTH_TYPES, Authenticator, AuthenticatorDraft, auth_type_title,
};

use super::extract::{Admin, Params, Root, Values};
use super::{ApiError, ApiResult, AppState, data};

/// Enabled authenticators with `options.public` flattened into `options`; private options never
/// leave the server.
pub async fn public_list(State(app): State<AppState>) -> ApiResult<Response> {
    let list: Vec<Value> = app
        .core
        .config
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
    let all = app.core.config.authenticators().await?;
    super::users::paged(all, &params)
}

async fn by_id(app: &AppState, params: &Params) -> ApiResult<Authenticator> {
    app.core
        .config
        .authenticator(params.id()?)
        .await?
        .ok_or_else(ApiError::not_found)
}

pub async fn get_one(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    Ok(data(by_id(&app, &params).await?))
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

pub async fn create(State(app): State<AppState>, _: Root, values: Values) -> ApiResult<Response> {
    let d = draft(&values)?;
    app.core.check_authenticator(&d, None).await?;
    let now = app.core.clock.now();
    Ok(data(app.core.config.create_authenticator(d, now).await?))
}

pub async fn update(
    State(app): State<AppState>,
    _: Root,
    params: Params,
    values: Values,
) -> ApiResult<Response> {
    let existing = by_id(&app, &params).await?;
    let mut d = draft(&values)?;
    // The type of an authenticator is fixed once created; its name only changes on purpose.
    d.auth_type = None;
    if let Some(name) = &d.name
        && !smsauth_core::domain::verifier::valid_verifier_name(name)
    {
        return Err(ApiError::from(
            smsauth_core::service::ServiceError::invalid("INVALID_NAME", "name"),
        ));
    }
    app.core.check_authenticator(&d, Some(&existing)).await?;
    let now = app.core.clock.now();
    Ok(data(
        app.core
            .config
            .update_authenticator(existing.id, d, now)
            .await?,
    ))
}

pub async fn destroy(State(app): State<AppState>, _: Root, params: Params) -> ApiResult<Response> {
    app.core.config.delete_authenticator(params.id()?).await?;
    Ok(data(Value::Null))
}

/// `authenticators:move` with `{sourceId, targetId}` as NocoBase's sortable table sends it.
pub async fn move_one(State(app): State<AppState>, _: Root, values: Values) -> ApiResult<Response> {
    let id = |key: &str| -> ApiResult<i64> {
        match values.0.get(key) {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| ApiError::field(key)),
            Some(Value::String(s)) => s.parse().map_err(|_| ApiError::field(key)),
            _ => Err(ApiError::field(key)),
        }
    };
    let (source, target) = (id("sourceId")?, id("targetId")?);
    let now = app.core.clock.now();
    app.core
        .config
        .move_authenticator(source, target, now)
        .await?;
    Ok(data(Value::Null))
}
