//! The router's middleware, one job each. Outermost first, as `router` stacks them:
//! [`request_log`] (the request id and one log line per request), `metrics::record` (counts
//! and times every action), [`error_body`] (the envelope on every
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

/// Marks an error answer whose body a protocol defines (OAuth 2.0's `{"error"}`, the OpenID
/// Provider's error page): [`error_body`] leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct OwnErrorBody;

/// Writes the `{"errors":[{message, code}]}` envelope in the request's locale for every error
/// answer: ours (an [`ApiError`] extension) and the framework's (404, 405, 413 …).
pub async fn error_body(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || resp.extensions().get::<OwnErrorBody>().is_some()
    {
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

/// What a handler adds to its request's log line: the phone number, masked.
#[derive(Debug, Clone, Default)]
pub struct RequestNote(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl RequestNote {
    pub fn phone(&self, raw: &str) {
        // Masked as stored numbers are (`+86*******8000`); garbage is cut short first, so a
        // log line never carries more than a few characters of what the client sent.
        let raw: String = raw.trim().chars().take(20).collect();
        let masked = smsauth_core::domain::phone::mask(&raw);
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(masked);
        }
    }

    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

/// The request's id: `X-Request-Id` when the client (or a proxy) sent a well-formed one,
/// else a new UUID.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// One line per request (SPEC §17): id, method, route (the matched pattern, never the query,
/// which may hold `?token=`), status, error code, latency, client address and the masked phone
/// a handler noted. Every other log line of the request carries the id through the span.
pub async fn request_log(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let id = request_id(req.headers());
    let note = RequestNote::default();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().chars().take(128).collect());
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let ip = super::extract::client_ip(peer, req.headers(), &app.http.trusted_proxies);
    req.extensions_mut().insert(note.clone());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", id = %id);
    let mut resp = next.run(req).instrument(span).await;
    let status = resp.status().as_u16();
    let code = resp.extensions().get::<ApiError>().map_or("", |e| e.code);
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let phone = note.take().unwrap_or_default();
    tracing::info!(
        target: "smsauth::request",
        id = %id,
        method = %method,
        route = %route,
        status,
        code,
        latency_ms = format_args!("{latency_ms:.2}"),
        ip = %ip,
        phone = %phone,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
