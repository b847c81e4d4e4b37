//! `users:*`: user administration. Password hashes are never part of a response.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use smsauth_core::ports::store::{PageRequest, UserFilter};
use smsauth_core::service::admin::UserInput;

use serde::Deserialize;

use super::extract::{Admin, Body, Params};
use super::{ApiError, ApiResult, AppState, data};

/// `{data, meta}` for a list already in memory (small tables: authenticators, verifiers).
pub fn paged<T: Serialize>(all: Vec<T>, params: &Params) -> ApiResult<Response> {
    let (page, page_size) = params.page()?;
    let count = all.len() as u64;
    let items: Vec<T> = all
        .into_iter()
        .skip(((page - 1) * page_size) as usize)
        .take(page_size as usize)
        .collect();
    Ok(list_response(items, count, page, page_size))
}

pub fn list_response<T: Serialize>(
    items: Vec<T>,
    count: u64,
    page: u32,
    page_size: u32,
) -> Response {
    let total_page = count.div_ceil(u64::from(page_size));
    axum::Json(json!({
        "data": items,
        "meta": { "count": count, "page": page, "pageSize": page_size, "totalPage": total_page },
    }))
    .into_response()
}

/// `filter` may be NocoBase's JSON filter; the search term is taken from `phone`, `username`,
/// `email` or `nickname` (`{"phone":{"$includes":"8000"}}` or a plain value), or from `search`.
fn search_term(params: &Params) -> ApiResult<Option<String>> {
    if let Some(s) = params.get("search").filter(|s| !s.is_empty()) {
        return Ok(Some(s.to_string()));
    }
    let Some(raw) = params.get("filter").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let filter: Value = serde_json::from_str(raw).map_err(|_| ApiError::field("filter"))?;
    let term = ["phone", "username", "email", "nickname"]
        .iter()
        .find_map(|k| {
            let v = filter.get(*k)?;
            v.as_str()
                .or_else(|| v.as_object()?.values().find_map(Value::as_str))
                .map(str::to_string)
        });
    Ok(term)
}

pub async fn list(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    let (page, page_size) = params.page()?;
    let filter = UserFilter {
        search: search_term(&params)?,
    };
    let (users, count) = app
        .core
        .admin_users(filter, PageRequest { page, page_size })
        .await?;
    Ok(list_response(users, count, page, page_size))
}

pub async fn get_one(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    Ok(data(app.core.admin_user(params.id()?).await?))
}

/// A user's fields; `roles` are names, or `{name}` objects as NocoBase's form sends them.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserBody {
    /// Display name.
    nickname: Option<String>,
    /// Unique username.
    username: Option<String>,
    /// Unique email.
    email: Option<String>,
    /// Unique phone number (stored as E.164).
    phone: Option<String>,
    /// A new password (8 to 64 characters); ends the user's sessions.
    password: Option<String>,
    /// Role names (`member`, `admin`, `root`), or `{name}` objects. Granting or taking `root` is root's alone.
    roles: Option<Vec<RoleRef>>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum RoleRef {
    Name(String),
    Object { name: String },
}

fn input(b: UserBody) -> UserInput {
    UserInput {
        nickname: b.nickname,
        username: b.username,
        email: b.email,
        phone: b.phone,
        password: b.password,
        roles: b.roles.map(|roles| {
            roles
                .into_iter()
                .map(|r| match r {
                    RoleRef::Name(name) | RoleRef::Object { name } => name,
                })
                .collect()
        }),
    }
}

pub async fn create(
    State(app): State<AppState>,
    Admin(me): Admin,
    Body(b): Body<UserBody>,
) -> ApiResult<Response> {
    Ok(data(app.core.admin_create_user(&me.user, input(b)).await?))
}

pub async fn update(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
    Body(b): Body<UserBody>,
) -> ApiResult<Response> {
    let (id, input) = (params.id()?, input(b));
    Ok(data(app.core.admin_update_user(&me.user, id, input).await?))
}

/// `users:revokeSessions?filterByTk=<id>`: signs the user out everywhere.
pub async fn revoke_sessions(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
) -> ApiResult<Response> {
    app.core
        .admin_revoke_sessions(&me.user, params.id()?)
        .await?;
    Ok(data(Value::Null))
}

pub async fn destroy(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
) -> ApiResult<Response> {
    app.core.admin_delete_user(&me.user, params.id()?).await?;
    Ok(data(Value::Null))
}
