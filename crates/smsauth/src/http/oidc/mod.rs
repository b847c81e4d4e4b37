//! The OpenID Provider's endpoints (SPEC §16): discovery, authorization with the sign-in and
//! consent pages, token, userinfo, revocation and RP-initiated logout.
//!
//! The provider's browser session is a session of the NocoBase API (SPEC §5) whose token lives
//! in an `HttpOnly` cookie scoped to `/oidc`: `/signin` hands a fresh token over
//! (`POST /oidc/session`) instead of keeping it in page storage, so every rule of §5 (expiry,
//! renewal, sign-out, revocation) holds for it unchanged, and the grants issued in it are
//! sessions started from it, which end with it.

mod authorize;
mod logout;
mod pages;
mod token;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use smsauth_core::domain::oidc::SCOPES;

use super::layers::OwnErrorBody;
use super::{AppState, Routes};

/// The browser session cookie.
pub const COOKIE: &str = "smsauth_op";

/// Every claim an ID token or userinfo answer may hold.
const CLAIMS: [&str; 18] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "sid",
    "azp",
    "phone_number",
    "phone_number_verified",
    "nickname",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
];

pub fn routes() -> Routes {
    Routes::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route(
            "/oidc/authorize",
            get(authorize::authorize).post(authorize::authorize_form),
        )
        .route(
            "/oidc/interaction",
            get(authorize::interaction).post(authorize::decide),
        )
        .route("/oidc/consent", get(pages::consent_page))
        .route("/oidc/client", get(authorize::client_info))
        .route("/oidc/session", post(authorize::open_session))
        .route("/oidc/token", post(token::token))
        .route("/oidc/userinfo", get(token::userinfo).post(token::userinfo))
        .route("/oidc/revoke", post(token::revoke))
        .route(
            "/oidc/logout",
            get(logout::logout).post(logout::logout_form),
        )
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3).
async fn discovery(State(app): State<AppState>) -> Response {
    let iss = &app.http.public_url;
    let body = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oidc/authorize"),
        "token_endpoint": format!("{iss}/oidc/token"),
        "userinfo_endpoint": format!("{iss}/oidc/userinfo"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{iss}/oidc/revoke"),
        "end_session_endpoint": format!("{iss}/oidc/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": SCOPES,
        "claims_supported": CLAIMS,
        "subject_types_supported": ["public"],
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": crate::i18n::Locale::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2): `{"error", "error_description"}`, never cached.
pub(crate) fn oauth_error(status: StatusCode, error: &'static str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if error == "invalid_client" {
        // RFC 6749 §5.2: a 401 names the scheme the client may authenticate with.
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"smsauth\""),
        );
    }
    resp.extensions_mut().insert(OwnErrorBody);
    // For the metrics: the OAuth error is the answer's code (`invalid_grant` …).
    resp.extensions_mut()
        .insert(crate::http::ApiError::new(status, error));
    resp
}

/// The value of the browser session cookie, if the request carries one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for the browser session: only for `/oidc`, never readable by scripts, sent on
/// top-level navigations from relying parties (`Lax`) but not on their cross-site requests, and
/// only over TLS when the issuer is https.
pub(crate) fn set_cookie(app: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let secure = if app.http.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value =
        format!("{COOKIE}={token}; Path=/oidc; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&value)
        .unwrap_or_else(|_| HeaderValue::from_static("smsauth_op=; Path=/oidc; Max-Age=0"))
}

pub(crate) fn clear_cookie(app: &AppState) -> HeaderValue {
    set_cookie(app, "", 0)
}
