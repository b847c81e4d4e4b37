//! The HTTP surface: NocoBase-style action routes under `/api`, health endpoints and JWKS.
//! Handlers are thin: they read the request, call a use-case and wrap the answer in `{data}`.

mod authenticators;
mod error;
pub mod extract;
pub mod health;
pub mod limits;
pub mod metrics;
mod sessions;
mod sms_otp;
mod token_policy;
mod users;
mod verifiers;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::json;
use smsauth_core::service::Core;
use tower_http::cors::{Any, CorsLayer};

pub use error::{ApiError, ApiResult};

use crate::i18n::{self, Locale};
use extract::RenewedToken;

/// Largest accepted request body on `/api` (SPEC §8).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// HTTP-only settings.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    pub trusted_proxies: Vec<IpAddr>,
    /// `/.well-known/jwks.json` body; `None` when tokens use HS256.
    pub jwks: Option<serde_json::Value>,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub http: Arc<HttpSettings>,
    /// What `/readyz` checks, in order.
    pub readiness: Arc<Vec<Arc<dyn health::Probe>>>,
    pub metrics: Arc<metrics::Metrics>,
    pub limits: limits::RequestLimits,
}

/// `{"data": value}`.
pub fn data(value: impl serde::Serialize) -> Response {
    axum::Json(json!({ "data": value })).into_response()
}

/// Every action answers GET and POST alike (SPEC §1).
fn action<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState> + Clone,
    T: 'static,
{
    get(handler.clone()).post(handler)
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/authenticators:publicList",
            action(authenticators::public_list),
        )
        .route(
            "/api/authenticators:listTypes",
            action(authenticators::list_types),
        )
        .route("/api/authenticators:list", action(authenticators::list))
        .route("/api/authenticators:get", action(authenticators::get_one))
        .route("/api/authenticators:create", action(authenticators::create))
        .route("/api/authenticators:update", action(authenticators::update))
        .route(
            "/api/authenticators:destroy",
            action(authenticators::destroy),
        )
        .route("/api/authenticators:move", action(authenticators::move_one))
        .route("/api/smsOTP:publicCreate", action(sms_otp::public_create))
        .route("/api/smsOTP:create", action(sms_otp::create))
        .route("/api/verifications:create", action(sms_otp::legacy_create))
        .route("/api/smsOTPProviders:list", action(verifiers::providers))
        .route("/api/auth:signIn", action(sessions::sign_in))
        .route("/api/auth:signUp", action(sessions::sign_up))
        .route("/api/auth:check", action(sessions::check))
        .route("/api/auth:signOut", action(sessions::sign_out))
        .route(
            "/api/auth:changePassword",
            action(sessions::change_password),
        )
        .route("/api/verifiers:listTypes", action(verifiers::list_types))
        .route(
            "/api/verifiers:listByScene",
            action(verifiers::list_by_scene),
        )
        .route("/api/verifiers:list", action(verifiers::list))
        .route("/api/verifiers:get", action(verifiers::get_one))
        .route("/api/verifiers:create", action(verifiers::create))
        .route("/api/verifiers:update", action(verifiers::update))
        .route("/api/verifiers:destroy", action(verifiers::destroy))
        .route("/api/verifiers:listByUser", action(verifiers::list_by_user))
        .route(
            "/api/verifiers:listForVerify",
            action(verifiers::list_for_verify),
        )
        .route("/api/verifiers:bind", action(verifiers::bind))
        .route("/api/verifiers:unbind", action(verifiers::unbind))
        .route(
            "/api/tokenControlConfig:get",
            action(token_policy::get_policy),
        )
        .route(
            "/api/tokenControlConfig:update",
            action(token_policy::update_policy),
        )
        .route("/api/users:list", action(users::list))
        .route("/api/users:get", action(users::get_one))
        .route("/api/users:create", action(users::create))
        .route("/api/users:update", action(users::update))
        .route("/api/users:destroy", action(users::destroy))
        .route("/api/users:revokeSessions", action(users::revoke_sessions))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new()
        .merge(api)
        .merge(crate::ui::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/jwks.json", get(health::jwks))
        .route("/metrics", get(metrics::scrape))
        .fallback(|| async { ApiError::not_found() })
        // A panic is a bug; the client still gets the envelope (500 INTERNAL_ERROR) and the
        // server keeps serving.
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(
            state.limits.clone(),
            limits::body_deadline,
        ))
        .layer(middleware::from_fn_with_state(
            state.limits.clone(),
            limits::shed,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), envelope))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(Any)
                .expose_headers([header::HeaderName::from_static("x-new-token")]),
        )
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Writes the `{"errors":[{message, code}]}` envelope in the request's locale for every error
/// answer (ours and the framework's: 404, 405, 413), and `X-New-Token` after a renewal.
async fn envelope(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let locale = Locale::negotiate(req.headers(), req.uri().query());
    let action = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().trim_start_matches("/api/").to_string());
    let renewed = RenewedToken::default();
    req.extensions_mut().insert(renewed.clone());
    let mut resp = next.run(req).await;
    if let Some(token) = renewed.0.lock().unwrap_or_else(|e| e.into_inner()).take()
        && let Ok(v) = HeaderValue::from_str(&token)
    {
        resp.headers_mut().insert("x-new-token", v);
    }
    let status = resp.status();
    let is_error = status.is_client_error() || status.is_server_error();
    if let Some(action) = action.filter(|a| a.contains(':')) {
        let seconds = started.elapsed().as_secs_f64();
        let err = resp.extensions().get::<ApiError>();
        let fallback = is_error.then(|| ApiError::new(status, "HTTP_ERROR"));
        app.metrics
            .observe(&action, err.or(fallback.as_ref()), seconds);
    }
    if !is_error {
        return resp;
    }
    let err = resp
        .extensions()
        .get::<ApiError>()
        .cloned()
        .unwrap_or_else(|| {
            let code = match status {
                StatusCode::NOT_FOUND => "NOT_FOUND",
                StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
                StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
                s if s.is_client_error() => "BAD_REQUEST",
                _ => "INTERNAL_ERROR",
            };
            ApiError::new(status, code)
        });
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
