//! `/oidc/authorize` (OIDC Core §3.1.2, RFC 6749 §4.1, PKCE RFC 7636, RFC 9207), the consent
//! interaction behind `/oidc/consent`, and `/oidc/session`, through which `/signin` opens the
//! provider's browser session.
//!
//! Order of checks (RFC 6749 §4.1.2.1): the client and its redirect URI first, answered on our
//! own error page when wrong, since redirecting to an unverified URI would make us an open
//! redirector; every later error goes back to the application with `error`, `state` and `iss`.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use smsauth_core::domain::authenticator::AuthType;
use smsauth_core::domain::oidc::{OidcClient, parse_scope};
use smsauth_core::service::oidc::CodeRequest;
use smsauth_core::service::sessions::Authenticated;

use super::pages::{PageError, error_page};
use super::{session_cookie, set_cookie};
use crate::http::extract::{Ctx, Params};
use crate::http::{ApiError, ApiResult, AppState, data};
use crate::i18n::Locale;

/// Longest accepted `state` and `nonce`: generous for relying parties that pack data into
/// `state`, bounded so that a code row stays small.
const MAX_PARAM_LEN: usize = 2048;

/// A checked authorization request.
pub(super) struct AuthzRequest {
    pub client: OidcClient,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scopes: Vec<&'static str>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    /// Internal: set when `prompt=login` sent the user to sign in, so that only a sign-in
    /// after this time (unix seconds) counts.
    pub auth_after: Option<i64>,
    /// The parameters as received, to send the user back here after sign-in and consent.
    pub params: HashMap<String, String>,
}

/// Why a request was refused.
pub(super) enum Refusal {
    Page(PageError),
    /// An OAuth error for the application, at its (verified) redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: &'static str,
    },
}

fn pkce_challenge_ok(c: &str) -> bool {
    // RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters.
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks an authorization request against the registered client.
pub(super) async fn check(
    app: &AppState,
    params: HashMap<String, String>,
) -> Result<AuthzRequest, Refusal> {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id = get("client_id").ok_or(Refusal::Page(PageError::UnknownClient))?;
    let client = match app.core.oidc_client(client_id).await {
        Ok(c) => c,
        Err(smsauth_core::service::ServiceError::NotFound) => {
            return Err(Refusal::Page(PageError::UnknownClient));
        }
        Err(_) => return Err(Refusal::Page(PageError::Unavailable)),
    };
    let redirect_uri = get("redirect_uri")
        .filter(|u| client.redirect_uris.iter().any(|r| r == u))
        .ok_or(Refusal::Page(PageError::BadRedirect))?
        .to_string();
    let state = get("state").map(str::to_string);
    let refuse = |error: &'static str, description: &'static str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone().filter(|s| s.len() <= MAX_PARAM_LEN),
        error,
        description,
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_PARAM_LEN) {
        return Err(refuse("invalid_request", "state is too long"));
    }
    if get("request").is_some() {
        return Err(refuse(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if get("request_uri").is_some() {
        return Err(refuse(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match get("response_type") {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if !matches!(get("response_mode"), None | Some("query")) {
        return Err(refuse(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let scopes = parse_scope(get("scope").unwrap_or(""));
    if !scopes.contains(&"openid") {
        return Err(refuse("invalid_scope", "scope must include openid"));
    }
    let nonce = get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_PARAM_LEN) {
        return Err(refuse("invalid_request", "nonce is too long"));
    }
    let code_challenge = get("code_challenge").map(str::to_string);
    match (code_challenge.as_deref(), get("code_challenge_method")) {
        (None, None) if client.public => {
            return Err(refuse(
                "invalid_request",
                "PKCE (code_challenge with S256) is required for public clients",
            ));
        }
        (None, None) => {}
        (None, Some(_)) => {
            return Err(refuse("invalid_request", "code_challenge is missing"));
        }
        // RFC 7636 §4.3 defaults a missing method to `plain`, which is not offered.
        (Some(_), m) if m != Some("S256") => {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        (Some(c), _) if !pkce_challenge_ok(c) => {
            return Err(refuse("invalid_request", "code_challenge is malformed"));
        }
        _ => {}
    }
    let prompt: Vec<String> = get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if prompt
        .iter()
        .any(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(refuse("invalid_request", "unknown prompt value"));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(refuse(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let number = |k: &str| -> Result<Option<i64>, Refusal> {
        match get(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| {
                    refuse(
                        "invalid_request",
                        "max_age must be a whole number of seconds",
                    )
                }),
        }
    };
    let max_age = number("max_age")?;
    // `auth_after` is ours (see `decide_authorization`); with `prompt=login` a client-sent one
    // would let it skip the fresh sign-in, so it counts only without.
    let auth_after = number("auth_after")?.filter(|_| !prompt.iter().any(|p| p == "login"));
    Ok(AuthzRequest {
        client,
        redirect_uri,
        state,
        nonce,
        scopes,
        code_challenge,
        prompt,
        max_age,
        auth_after,
        params,
    })
}

/// `redirect_uri` with `pairs` added to its query (it may have one already).
pub(super) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{encoded}")
}

/// A 302 to the application with an error (RFC 6749 §4.1.2.1) and the issuer (RFC 9207).
fn error_redirect(app: &AppState, refusal: Refusal, locale: Locale) -> Response {
    match refusal {
        Refusal::Page(why) => error_page(locale, why),
        Refusal::Redirect {
            redirect_uri,
            state,
            error,
            description,
        } => {
            let mut pairs = vec![
                ("error", error),
                ("error_description", description),
                ("iss", app.http.public_url.as_str()),
            ];
            if let Some(s) = &state {
                pairs.push(("state", s));
            }
            found(&with_query(&redirect_uri, &pairs))
        }
    }
}

/// 302 Found, the redirect of RFC 6749 §4.1.2 and what every relying party expects (never 307,
/// which would repeat a POSTed form at the application: RFC 9700 §4.12).
pub(super) fn found(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The browser session, if the request has a live one; a renewed token comes back as the
/// cookie to set.
pub(super) async fn browser_session(
    app: &AppState,
    headers: &HeaderMap,
) -> Option<(Authenticated, Option<HeaderValue>)> {
    let token = session_cookie(headers)?;
    let auth = app.core.authenticate(Some(&token)).await.ok()?;
    let renewed = match &auth.renewed {
        Some(t) => Some(set_cookie(app, t, cookie_age(app).await)),
        None => None,
    };
    Some((auth, renewed))
}

/// How long the browser keeps the cookie: the session lifetime; the server decides validity.
async fn cookie_age(app: &AppState) -> i64 {
    app.core
        .config
        .token_policy()
        .await
        .map(|p| p.session_ttl)
        .unwrap_or(86_400)
}

/// The first of the relying party's `ui_locales` (OIDC Core §3.1.2.1, space-separated BCP 47
/// tags in order of preference) that the pages speak.
fn ui_locale(params: &HashMap<String, String>) -> Option<String> {
    params
        .get("ui_locales")?
        .split(' ')
        .find_map(Locale::from_tag)
        .map(|l| l.as_str().to_string())
}

/// The query string of `params`, to come back to `/oidc/authorize` with.
fn query_of(params: &HashMap<String, String>) -> String {
    let mut pairs: Vec<(&String, &String)> = params.iter().collect();
    pairs.sort();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// What the authorization endpoint decided for a checked request and a session. A renewed
/// session token goes back as the cookie whatever the answer: the browser must not keep
/// presenting the old one, whose reuse after the grace window would end the session.
async fn proceed(
    app: &AppState,
    req: AuthzRequest,
    session: Option<(Authenticated, Option<HeaderValue>)>,
    locale: Locale,
) -> Response {
    let (session, renewed) = match session {
        Some((auth, renewed)) => (Some(auth), renewed),
        None => (None, None),
    };
    let mut resp = decide_authorization(app, req, session, locale).await;
    if let Some(c) = renewed {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

async fn decide_authorization(
    app: &AppState,
    req: AuthzRequest,
    session: Option<Authenticated>,
    locale: Locale,
) -> Response {
    let now = app.core.clock.now().timestamp();
    let wants_login = req.prompt.iter().any(|p| p == "login");
    let too_old = |auth: &Authenticated| {
        let auth_time = auth.claims.sign_in_time / 1000;
        req.auth_after.is_some_and(|t| auth_time < t)
            || req.max_age.is_some_and(|m| now - auth_time > m)
    };
    let session = session.filter(|auth| !wants_login && !too_old(auth));
    let Some(auth) = session else {
        if req.prompt.iter().any(|p| p == "none") {
            return error_redirect(
                app,
                Refusal::Redirect {
                    redirect_uri: req.redirect_uri,
                    state: req.state,
                    error: "login_required",
                    description: "the user is not signed in",
                },
                locale,
            );
        }
        // `prompt=login` and a `max_age` the session is older than become "signed in after
        // now", so that coming back here after the sign-in does not ask again (a fresh SMS
        // sign-in takes longer than `max_age=0`).
        let mut params = req.params.clone();
        if wants_login || req.max_age.is_some() {
            params.remove("prompt");
            params.remove("max_age");
            params.insert("auth_after".into(), now.to_string());
        }
        let back = format!("/oidc/authorize?{}", query_of(&params));
        let mut pairs = vec![("redirect", back.as_str())];
        let locale = ui_locale(&req.params);
        if let Some(l) = &locale {
            pairs.push(("locale", l));
        }
        let target = format!(
            "/signin?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        );
        return found(&target);
    };
    let wants_consent = req.prompt.iter().any(|p| p == "consent");
    let consented = req.client.first_party
        || (!wants_consent
            && app
                .core
                .oidc_consented(auth.user.id, &req.client.client_id, &req.scopes)
                .await
                .unwrap_or(false));
    if !consented {
        if req.prompt.iter().any(|p| p == "none") {
            return error_redirect(
                app,
                Refusal::Redirect {
                    redirect_uri: req.redirect_uri,
                    state: req.state,
                    error: "consent_required",
                    description: "the user has not allowed this application yet",
                },
                locale,
            );
        }
        let mut params = req.params.clone();
        params.remove("prompt");
        if let Some(l) = ui_locale(&req.params) {
            params.insert("locale".into(), l);
        }
        return found(&format!("/oidc/consent?{}", query_of(&params)));
    }
    match issue_code(app, &req, &auth).await {
        Ok(code) => {
            let mut pairs = vec![
                ("code", code.as_str()),
                ("iss", app.http.public_url.as_str()),
            ];
            if let Some(s) = &req.state {
                pairs.push(("state", s));
            }
            found(&with_query(&req.redirect_uri, &pairs))
        }
        Err(e) => {
            tracing::warn!(error = %e, "issuing an authorization code failed");
            error_redirect(
                app,
                Refusal::Redirect {
                    redirect_uri: req.redirect_uri.clone(),
                    state: req.state.clone(),
                    error: "temporarily_unavailable",
                    description: "the server cannot issue a code now; try again",
                },
                locale,
            )
        }
    }
}

async fn issue_code(
    app: &AppState,
    req: &AuthzRequest,
    auth: &Authenticated,
) -> Result<String, smsauth_core::service::ServiceError> {
    let session = app
        .core
        .session_of(auth.claims.jti)
        .await?
        .ok_or(smsauth_core::service::ServiceError::InvalidToken)?;
    // RFC 8176: `sms` for a code sent by SMS, `pwd` for a password.
    let amr = match app
        .core
        .config
        .authenticator_by_name(&session.authenticator)
        .await?
        .map(|a| a.auth_type)
    {
        Some(AuthType::Sms) => "sms",
        _ => "pwd",
    };
    let auth_time = chrono::DateTime::from_timestamp_millis(auth.claims.sign_in_time)
        .unwrap_or(session.sign_in_at);
    app.core
        .issue_oidc_code(CodeRequest {
            client_id: req.client.client_id.clone(),
            user_id: auth.user.id,
            redirect_uri: req.redirect_uri.clone(),
            scope: req.scopes.join(" "),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            auth_time,
            amr: amr.to_string(),
            sid: session.id,
        })
        .await
}

/// `GET /oidc/authorize`.
pub async fn authorize(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Params(params): Params,
) -> Response {
    authorize_with(app, ctx.locale, headers, params).await
}

/// `POST /oidc/authorize` (OIDC Core §3.1.2.1: form-encoded parameters).
pub async fn authorize_form(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    authorize_with(app, ctx.locale, headers, params).await
}

async fn authorize_with(
    app: AppState,
    locale: Locale,
    headers: HeaderMap,
    params: HashMap<String, String>,
) -> Response {
    match check(&app, params).await {
        Err(refusal) => error_redirect(&app, refusal, locale),
        Ok(req) => {
            let session = browser_session(&app, &headers).await;
            proceed(&app, req, session, locale).await
        }
    }
}

/// A request of the consent page, refused in the API's envelope.
fn interaction_error(refusal: Refusal) -> ApiError {
    let key = match refusal {
        Refusal::Page(PageError::Unavailable) => {
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").retry(5);
        }
        Refusal::Page(PageError::UnknownClient) => "oidc.error.unknownClient",
        Refusal::Page(PageError::BadRedirect) => "oidc.error.badRedirect",
        Refusal::Redirect { .. } => "oidc.invalidRequest",
    };
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST").with_key(key)
}

fn no_session() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "NO_SESSION").with_key("oidc.noSession")
}

/// `data` for the consent page: never cached (it names the user), with a renewed session
/// cookie when there is one.
fn private(value: serde_json::Value, renewed: Option<HeaderValue>) -> Response {
    let mut resp = data(value);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = renewed {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// `GET /oidc/interaction?<authorize query>`: what the consent page shows.
pub async fn interaction(
    State(app): State<AppState>,
    headers: HeaderMap,
    Params(params): Params,
) -> ApiResult<Response> {
    let req = check(&app, params).await.map_err(interaction_error)?;
    let (auth, renewed) = browser_session(&app, &headers)
        .await
        .ok_or_else(no_session)?;
    let u = &auth.user;
    Ok(private(
        json!({
            "client": { "clientId": req.client.client_id, "name": req.client.name },
            "scopes": req.scopes,
            "user": { "id": u.id, "nickname": u.nickname, "username": u.username, "phone": u.phone },
        }),
        renewed,
    ))
}

/// `GET /oidc/client?<authorize query>`: the application's name, for the sign-in page to say
/// where the user is going. Answered only for a request the authorization endpoint would take.
pub async fn client_info(
    State(app): State<AppState>,
    Params(params): Params,
) -> ApiResult<Response> {
    let req = check(&app, params).await.map_err(interaction_error)?;
    Ok(data(
        json!({ "clientId": req.client.client_id, "name": req.client.name }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct Decision {
    query: String,
    allow: bool,
}

/// `POST /oidc/interaction` `{query, allow}`: the user's answer on the consent page.
///
/// Cross-site request forgery is refused twice over: the body must be JSON (a cross-site form
/// cannot send that, and a cross-site `fetch` of it needs a CORS preflight that never allows
/// credentials), and an `Origin` other than the issuer's is refused (OWASP CSRF Prevention
/// Cheat Sheet, "verifying origin with standard headers").
pub async fn decide(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_JSON",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !same_origin(origin, &app.http.public_url, &headers)
    {
        return Err(ApiError::forbidden());
    }
    let d: Decision = serde_json::from_slice(&body)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON"))?;
    let params: HashMap<String, String> =
        serde_urlencoded::from_str(&d.query).map_err(|_| ApiError::field("query"))?;
    let req = check(&app, params).await.map_err(interaction_error)?;
    let (auth, renewed) = browser_session(&app, &headers)
        .await
        .ok_or_else(no_session)?;
    if !d.allow {
        let mut pairs = vec![
            ("error", "access_denied"),
            (
                "error_description",
                "the user did not allow the application",
            ),
            ("iss", app.http.public_url.as_str()),
        ];
        if let Some(s) = &req.state {
            pairs.push(("state", s));
        }
        return Ok(private(
            json!({ "redirect": with_query(&req.redirect_uri, &pairs) }),
            renewed,
        ));
    }
    app.core
        .save_oidc_consent(auth.user.id, &req.client.client_id, &req.scopes)
        .await?;
    let mut params = req.params;
    params.remove("prompt");
    Ok(private(
        json!({ "redirect": format!("/oidc/authorize?{}", query_of(&params)) }),
        renewed,
    ))
}

/// Whether `origin` is the issuer's, or the origin the request was addressed to (a server
/// reached by another name than `public_url`, as in development).
pub(super) fn same_origin(origin: &str, public_url: &str, headers: &HeaderMap) -> bool {
    let issuer_origin = public_url
        .split_once("://")
        .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or("")))
        .unwrap_or_default();
    if origin == issuer_origin {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    host.is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}"))
}

/// How old a sign-in may be when `/signin` hands its token over: the page does it right after
/// the sign-in, so an older token is one that leaked, not one the user just made.
const HANDOVER_SECS: i64 = 120;

/// `POST /oidc/session` with `Authorization: Bearer <token>`: `/signin` hands over the token of
/// a fresh sign-in, which becomes the provider's browser session cookie. A session of another
/// user that the cookie held is ended (the browser switched accounts); one of the same user
/// stays, with the grants authorised in it, until it expires or is revoked.
pub async fn open_session(State(app): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = crate::http::layers::bearer(
        &headers,
        &axum::http::Method::POST,
        &"/".parse().unwrap_or_default(),
    );
    let auth = app.core.authenticate(token.as_deref()).await?;
    let age = app.core.clock.now().timestamp_millis() - auth.claims.sign_in_time;
    if age > HANDOVER_SECS * 1000 {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "INVALID_TOKEN"));
    }
    if let Some((old, _)) = browser_session(&app, &headers).await
        && old.user.id != auth.user.id
        && let Err(e) = app.core.sign_out(&old.claims).await
    {
        tracing::warn!(error = %e, "ending the replaced browser session failed");
    }
    let token = auth.renewed.clone().or(token).unwrap_or_default();
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&app, &token, cookie_age(&app).await),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
