//! The HTTP surface: NocoBase-style action routes under `/api`, health endpoints and JWKS.
//! Handlers are thin: they read the request, call a use-case and wrap the answer in `{data}`.

mod admin_audit;
mod authenticators;
mod error;
pub mod extract;
pub mod health;
pub mod layers;
pub mod limits;
pub mod metrics;
mod oidc;
mod oidc_clients;
pub mod openapi;
mod sessions;
mod sms_defences;
mod sms_otp;
mod token_policy;
mod users;
mod verifiers;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::json;
use smsauth_core::service::Core;
use tower_http::cors::{Any, CorsLayer};

pub use error::{ApiError, ApiResult};

/// Largest accepted request body on `/api` (SPEC §8).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// HTTP-only settings.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    pub trusted_proxies: Vec<IpAddr>,
    /// `/.well-known/jwks.json` body; `None` when tokens use HS256.
    pub jwks: Option<serde_json::Value>,
    /// `public_url` (no trailing `/`): what providers' signed receipts were addressed to.
    pub public_url: String,
    /// `cors.allowed_origins`; empty means any origin (`*`).
    pub cors_origins: Vec<header::HeaderValue>,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Behind an `Arc`: the state is cloned for every request, and `Core` holds a dozen `Arc`s and
    /// the settings.
    pub core: Arc<Core>,
    pub http: Arc<HttpSettings>,
    /// What `/readyz` checks, in order.
    pub readiness: Arc<Vec<Arc<dyn health::Probe>>>,
    /// Set once a shutdown began: `/readyz` answers 503 so load balancers stop sending.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    pub metrics: Arc<metrics::Metrics>,
    pub limits: limits::RequestLimits,
    /// The OpenID Provider's signing keys (SPEC §16).
    pub oidc: Arc<crate::oidc_keys::OidcKeys>,
}

/// `{"data": value}`.
pub fn data(value: impl serde::Serialize) -> Response {
    axum::Json(json!({ "data": value })).into_response()
}

/// A router that remembers the paths it was given, so the API tests can hold the OpenAPI
/// document ([`openapi::ROUTES`]) to what is really served.
pub struct Routes<S = AppState> {
    pub router: Router<S>,
    pub paths: Vec<&'static str>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Routes<S> {
        Routes {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    pub fn route(mut self, path: &'static str, handler: MethodRouter<S>) -> Routes<S> {
        self.paths.push(path);
        self.router = self.router.route(path, handler);
        self
    }

    pub fn merge(mut self, other: Routes<S>) -> Routes<S> {
        self.paths.extend(other.paths);
        self.router = self.router.merge(other.router);
        self
    }
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes::new()
    }
}

/// Every action answers GET and POST alike (SPEC §1).
fn action<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState> + Clone,
    T: 'static,
{
    get(handler.clone()).post(handler)
}

/// A signed-in caller's action: the token is checked (`layers::authenticate`) only once the
/// method matched, so a wrong method still answers 405.
fn signed_in<H, T>(state: &AppState, handler: H) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState> + Clone,
    T: 'static,
{
    action(handler).route_layer(middleware::from_fn_with_state(
        state.clone(),
        layers::authenticate,
    ))
}

/// An administrator's write: signed in, and recorded in the audit log
/// (`admin_audit::audit_write`) once it succeeded.
fn admin_write<H, T>(state: &AppState, handler: H) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState> + Clone,
    T: 'static,
{
    action(handler)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            admin_audit::audit_write,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            layers::authenticate,
        ))
}

/// Actions anyone may call.
fn public_routes() -> Routes {
    Routes::new()
        .route(
            "/api/authenticators:publicList",
            action(authenticators::public_list),
        )
        .route("/api/smsOTP:publicCreate", action(sms_otp::public_create))
        .route("/api/verifications:create", action(sms_otp::legacy_create))
        .route("/api/auth:signIn", action(sessions::sign_in))
        .route("/api/auth:signUp", action(sessions::sign_up))
        .route(
            "/api/smsDelivery:report/{verifier}",
            action(sms_defences::delivery_report),
        )
}

/// Actions of signed-in callers (ACL "user" and "admin"; the handlers' extractors check the
/// role, the core checks root-only rules). The token is checked once, by `authenticate`.
fn signed_in_routes(state: &AppState) -> Routes {
    Routes::new()
        .route(
            "/api/authenticators:listTypes",
            signed_in(state, authenticators::list_types),
        )
        .route(
            "/api/authenticators:list",
            signed_in(state, authenticators::list),
        )
        .route(
            "/api/authenticators:get",
            signed_in(state, authenticators::get_one),
        )
        .route(
            "/api/authenticators:create",
            admin_write(state, authenticators::create),
        )
        .route(
            "/api/authenticators:update",
            admin_write(state, authenticators::update),
        )
        .route(
            "/api/authenticators:destroy",
            admin_write(state, authenticators::destroy),
        )
        .route(
            "/api/authenticators:move",
            admin_write(state, authenticators::move_one),
        )
        .route("/api/smsOTP:create", signed_in(state, sms_otp::create))
        .route(
            "/api/smsOTPProviders:list",
            signed_in(state, verifiers::providers),
        )
        .route("/api/auth:check", signed_in(state, sessions::check))
        .route("/api/auth:signOut", signed_in(state, sessions::sign_out))
        .route(
            "/api/auth:changePassword",
            signed_in(state, sessions::change_password),
        )
        .route(
            "/api/verifiers:listTypes",
            signed_in(state, verifiers::list_types),
        )
        .route(
            "/api/verifiers:listByScene",
            signed_in(state, verifiers::list_by_scene),
        )
        .route("/api/verifiers:list", signed_in(state, verifiers::list))
        .route("/api/verifiers:get", signed_in(state, verifiers::get_one))
        .route(
            "/api/verifiers:create",
            admin_write(state, verifiers::create),
        )
        .route(
            "/api/verifiers:update",
            admin_write(state, verifiers::update),
        )
        .route(
            "/api/verifiers:destroy",
            admin_write(state, verifiers::destroy),
        )
        .route(
            "/api/verifiers:listByUser",
            signed_in(state, verifiers::list_by_user),
        )
        .route(
            "/api/verifiers:listForVerify",
            signed_in(state, verifiers::list_for_verify),
        )
        .route("/api/verifiers:bind", signed_in(state, verifiers::bind))
        .route("/api/verifiers:unbind", signed_in(state, verifiers::unbind))
        .route(
            "/api/tokenControlConfig:get",
            signed_in(state, token_policy::get_policy),
        )
        .route(
            "/api/tokenControlConfig:update",
            admin_write(state, token_policy::update_policy),
        )
        .route("/api/users:list", signed_in(state, users::list))
        .route("/api/users:get", signed_in(state, users::get_one))
        .route("/api/users:create", admin_write(state, users::create))
        .route("/api/users:update", admin_write(state, users::update))
        .route("/api/users:destroy", admin_write(state, users::destroy))
        .route(
            "/api/users:revokeSessions",
            admin_write(state, users::revoke_sessions),
        )
        .route(
            "/api/smsPolicy:get",
            signed_in(state, sms_defences::policy_get),
        )
        .route(
            "/api/smsPolicy:update",
            admin_write(state, sms_defences::policy_update),
        )
        .route(
            "/api/smsTestNumbers:list",
            signed_in(state, sms_defences::test_numbers_list),
        )
        .route(
            "/api/smsTestNumbers:create",
            admin_write(state, sms_defences::test_numbers_create),
        )
        .route(
            "/api/smsTestNumbers:update",
            admin_write(state, sms_defences::test_numbers_update),
        )
        .route(
            "/api/smsTestNumbers:destroy",
            admin_write(state, sms_defences::test_numbers_destroy),
        )
        .route(
            "/api/smsGuard:status",
            signed_in(state, sms_defences::guard_status),
        )
        .route(
            "/api/smsGuard:unblock",
            admin_write(state, sms_defences::guard_unblock),
        )
        .route(
            "/api/auditLogs:list",
            signed_in(state, sms_defences::audit_list),
        )
        .route(
            "/api/oidcClients:list",
            signed_in(state, oidc_clients::list),
        )
        .route(
            "/api/oidcClients:get",
            signed_in(state, oidc_clients::get_one),
        )
        .route(
            "/api/oidcClients:create",
            admin_write(state, oidc_clients::create),
        )
        .route(
            "/api/oidcClients:update",
            admin_write(state, oidc_clients::update),
        )
        .route(
            "/api/oidcClients:rotateSecret",
            admin_write(state, oidc_clients::rotate_secret),
        )
        .route(
            "/api/oidcClients:destroy",
            admin_write(state, oidc_clients::destroy),
        )
}

/// Every request header of SPEC §1, named: `Access-Control-Allow-Headers: *` does not cover
/// `Authorization` (Fetch standard), so a wildcard would stop a cross-origin page from sending
/// its bearer token.
const CORS_HEADERS: [&str; 10] = [
    "authorization",
    "content-type",
    "x-authenticator",
    "x-locale",
    "x-role",
    "x-hostname",
    "x-timezone",
    "x-app",
    "x-with-acl-meta",
    "x-request-id",
];

/// CORS for the configured origins (SPEC §15.7). No credentials mode: the token is a bearer
/// header, never a cookie.
fn cors(origins: &[header::HeaderValue]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers(CORS_HEADERS.map(header::HeaderName::from_static))
        .expose_headers([
            header::HeaderName::from_static("x-new-token"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(std::time::Duration::from_secs(600));
    if origins.is_empty() {
        layer.allow_origin(Any)
    } else {
        layer.allow_origin(origins.to_vec())
    }
}

/// The whole HTTP surface and the paths it serves.
pub fn router(state: AppState) -> (Router, Vec<&'static str>) {
    let routes = public_routes()
        .merge(signed_in_routes(&state))
        .merge(
            Routes::new()
                .route("/healthz", get(health::healthz))
                .route("/readyz", get(health::readyz))
                .route("/.well-known/jwks.json", get(health::jwks))
                .route("/metrics", get(metrics::scrape))
                .route("/api/openapi.json", get(openapi::serve)),
        )
        .merge(oidc::routes())
        .merge(crate::ui::routes());
    let paths = routes.paths;
    let router = routes
        .router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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
        .layer(middleware::from_fn(layers::locale))
        .layer(middleware::from_fn(layers::new_token_header))
        .layer(middleware::from_fn(layers::error_body))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::record,
        ))
        .layer(cors(&state.http.cors_origins))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::request_log,
        ))
        .with_state(state);
    (router, paths)
}
