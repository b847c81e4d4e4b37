//! `oidcClients:*` (SPEC §16): the applications that may sign users in through the OpenID
//! Provider. Reading is for administrators, changing for root (as for authenticators); a
//! client secret is in the answer of `create` and `rotateSecret` only, and stored as a keyed
//! hash.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use smsauth_core::domain::oidc::{OidcClient, OidcClientDraft};
use smsauth_core::service::oidc::ClientWithSecret;

use super::extract::{Admin, Body, Params};
use super::users::paged;
use super::{ApiResult, AppState, data};

fn client_json(c: &OidcClient) -> Value {
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "clientId": c.client_id,
        "name": c.name,
        "redirectUris": c.redirect_uris,
        "postLogoutRedirectUris": c.post_logout_redirect_uris,
        "public": c.public,
        "firstParty": c.first_party,
        "idTokenSignedResponseAlg": c.id_token_alg.as_str(),
        "createdAt": time(c.created_at),
        "updatedAt": time(c.updated_at),
    })
}

/// The client, with its secret when one was just made: never stored by a cache on the way.
fn secret_answer(c: &ClientWithSecret) -> Response {
    let mut v = client_json(&c.client);
    if let Some(s) = &c.secret {
        v["clientSecret"] = json!(s);
    }
    let mut resp = data(v);
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}

/// A client's fields; on update, absent fields keep their value.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcClientBody {
    /// Shown on the consent page, 1–100 characters.
    name: Option<String>,
    /// Exact redirect URIs (absolute http/https, no fragment), 1–10.
    redirect_uris: Option<Vec<String>>,
    /// Exact URIs `/oidc/logout` may return to, 0–10.
    post_logout_redirect_uris: Option<Vec<String>>,
    /// A client without a secret (a single-page or native app); PKCE S256 is required.
    public: Option<bool>,
    /// Trusted by the operator: no consent page.
    first_party: Option<bool>,
    /// `RS256` (default) or `EdDSA`.
    id_token_signed_response_alg: Option<String>,
}

impl From<OidcClientBody> for OidcClientDraft {
    fn from(b: OidcClientBody) -> Self {
        OidcClientDraft {
            name: b.name,
            redirect_uris: b.redirect_uris,
            post_logout_redirect_uris: b.post_logout_redirect_uris,
            public: b.public,
            first_party: b.first_party,
            id_token_alg: b.id_token_signed_response_alg,
        }
    }
}

pub async fn list(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    let all: Vec<Value> = app
        .core
        .oidc_clients()
        .await?
        .iter()
        .map(client_json)
        .collect();
    paged(all, &params)
}

pub async fn get_one(State(app): State<AppState>, _: Admin, params: Params) -> ApiResult<Response> {
    Ok(data(client_json(
        &app.core.oidc_client(params.tk()?).await?,
    )))
}

pub async fn create(
    State(app): State<AppState>,
    Admin(me): Admin,
    Body(body): Body<OidcClientBody>,
) -> ApiResult<Response> {
    let c = app.core.create_oidc_client(&me.user, body.into()).await?;
    Ok(secret_answer(&c))
}

pub async fn update(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
    Body(body): Body<OidcClientBody>,
) -> ApiResult<Response> {
    let c = app
        .core
        .update_oidc_client(&me.user, params.tk()?, body.into())
        .await?;
    Ok(secret_answer(&c))
}

pub async fn rotate_secret(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
) -> ApiResult<Response> {
    let c = app.core.rotate_oidc_secret(&me.user, params.tk()?).await?;
    Ok(secret_answer(&c))
}

pub async fn destroy(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
) -> ApiResult<Response> {
    app.core.delete_oidc_client(&me.user, params.tk()?).await?;
    Ok(data(Value::Null))
}
