//! `/oidc/logout` (OpenID Connect RP-Initiated Logout 1.0): ends the provider's browser session
//! and every grant authorised in it, then returns to a registered `post_logout_redirect_uri`
//! with `state`, or shows the signed-out page.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde_json::Value;
use uuid::Uuid;

use super::authorize::{browser_session, found, with_query};
use super::clear_cookie;
use super::pages::{confirm_logout_page, signed_out_page};
use crate::http::AppState;
use crate::http::extract::{Ctx, Params};
use crate::i18n::Locale;

pub async fn logout(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Params(params): Params,
) -> Response {
    let mut params: Vec<(String, String)> = params.into_iter().collect();
    params.sort();
    logout_with(app, ctx.locale, headers, params, false).await
}

pub async fn logout_form(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Response {
    // The confirmation form is ours: it counts only when posted from our own pages, as the
    // browser says by `Origin` or by `Sec-Fetch-Site` (Fetch Metadata).
    let same_origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| super::authorize::same_origin(o, &app.http.public_url, &headers))
        || headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin");
    logout_with(app, ctx.locale, headers, params, same_origin).await
}

async fn logout_with(
    app: AppState,
    locale: Locale,
    headers: HeaderMap,
    params: Vec<(String, String)>,
    same_origin: bool,
) -> Response {
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    // The hint is usually expired by now (§2); its signature and issuer are what count.
    let hint = get("id_token_hint")
        .and_then(|t| app.oidc.verify_id_token(t))
        .filter(|c| c.get("iss").and_then(Value::as_str) == Some(app.http.public_url.as_str()));
    let hinted_sid = hint
        .as_ref()
        .and_then(|c| c.get("sid"))
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c.get("aud"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let client_id = match (hinted_client, get("client_id")) {
        (Some(h), Some(c)) if h != c => None,
        (Some(h), _) => Some(h),
        (None, c) => c.map(str::to_string),
    };
    let browser = browser_session(&app, &headers).await;
    let browser_sid = match &browser {
        Some((auth, _)) => app
            .core
            .session_of(auth.claims.jti)
            .await
            .ok()
            .flatten()
            .map(|s| s.id),
        None => None,
    };
    // Only a URI registered for the client, named by a valid hint or `client_id`, is followed.
    let registered = match (client_id, get("post_logout_redirect_uri")) {
        (Some(id), Some(uri)) => app
            .core
            .oidc_client(&id)
            .await
            .ok()
            .filter(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri))
            .map(|_| uri.to_string()),
        _ => None,
    };
    // §2: the user is asked unless the hint is an ID token of the session in this browser.
    // Without the question, any site could sign its visitors out of every application.
    let hint_is_this_session = hinted_sid.is_some() && hinted_sid == browser_sid;
    let something_to_end = browser.is_some() || hinted_sid.is_some();
    let confirmed = same_origin && get("confirm") == Some("yes");
    if something_to_end && !hint_is_this_session && !confirmed {
        return confirm_logout_page(locale, &params, registered.as_deref());
    }
    if let Some((auth, _)) = &browser
        && let Err(e) = app.core.sign_out(&auth.claims).await
    {
        tracing::warn!(error = %e, "ending the browser session at logout failed");
    }
    if let Some(sid) = hinted_sid.filter(|s| Some(*s) != browser_sid) {
        let user = hint
            .as_ref()
            .and_then(|c| c.get("sub"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        if let Err(e) = app.core.end_oidc_browser_session(user, sid).await {
            tracing::warn!(error = %e, "ending the hinted session at logout failed");
        }
    }
    let mut resp = match registered {
        Some(uri) => match get("state") {
            Some(state) => found(&with_query(&uri, &[("state", state)])),
            None => found(&uri),
        },
        None => signed_out_page(locale),
    };
    resp.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&app));
    resp
}
