//! The router's middleware, one job each. Outermost first, as `router` stacks them:
//! `metrics::record` (counts and times every action), [`error_body`] (the envelope on every
//! error), [`new_token_header`] (a renewed token as `X-New-Token`), [`locale`] (the request's
//! language, negotiated once), the request limits, and on the routes of signed-in callers
//! [`authenticate`]. They talk through extensions: the locale and a renewal travel on the
//! response, the caller on the request.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState};
use crate::i18n::{self, Locale};

/// A token renewed while answering (SPEC §5.4), as a response extension.
#[derive(Debug, Clone)]
pub struct RenewedToken(pub String);

/// Negotiates the request's locale once (`X-Locale`, `?locale=`, `Accept-Language`) and
/// carries it on the request, for handlers, and on the response, for [`error_body`].
pub async fn locale(mut req: Request, next: Next) -> Response {
    let locale = Locale::negotiate(req.headers(), req.uri().query());
    req.extensions_mut().insert(locale);
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(locale);
    resp
}

/// Writes the `{"errors":[{message, code}]}` envelope in the request's locale for every error
/// answer: ours (an [`ApiError`] extension) and the framework's (404, 405, 413 …).
pub async fn error_body(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let locale = resp
        .extensions()
        .get::<Locale>()
        .copied()
        .unwrap_or_default();
    let err = resp
        .extensions()
        .get::<ApiError>()
        .cloned()
        .unwrap_or_else(|| ApiError::new(status, framework_code(status)));
    let message = i18n::message(err.key, locale, &err.params);
    let body = json!({ "errors": [{ "message": message, "code": err.code }] }).to_string();
    let (mut parts, _) = resp.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// The code of an error the framework answered by itself.
pub fn framework_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        s if s.is_client_error() => "BAD_REQUEST",
        _ => "INTERNAL_ERROR",
    }
}

/// Sends a [`RenewedToken`] response extension as `X-New-Token`, which NocoBase's client picks
/// up (and CORS exposes).
pub async fn new_token_header(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if let Some(RenewedToken(token)) = resp.extensions_mut().remove::<RenewedToken>()
        && let Ok(v) = HeaderValue::from_str(&token)
    {
        resp.headers_mut().insert("x-new-token", v);
    }
    resp
}

/// The presented token: `Authorization: Bearer …` (a bare token is accepted, as NocoBase's
/// client may send it), else `?token=` on GET.
pub fn bearer(headers: &HeaderMap, method: &Method, uri: &Uri) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let token = match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest,
            None if v.eq_ignore_ascii_case("bearer") => "",
            _ => v,
        };
        return Some(token.trim().to_string()).filter(|t| !t.is_empty() && t != "null");
    }
    if method == Method::GET {
        return serde_urlencoded::from_str::<HashMap<String, String>>(uri.query()?)
            .ok()?
            .remove("token");
    }
    None
}

/// On the routes of signed-in callers: checks the token (SPEC §5.3), refuses with its 401, or
/// puts the caller on the request and a renewal on the response.
pub async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = bearer(req.headers(), req.method(), req.uri());
    let auth = match app.core.authenticate(token.as_deref()).await {
        Ok(auth) => auth,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let renewed = auth.renewed.clone();
    req.extensions_mut().insert(auth);
    let mut resp = next.run(req).await;
    if let Some(token) = renewed {
        resp.extensions_mut().insert(RenewedToken(token));
    }
    resp
}
