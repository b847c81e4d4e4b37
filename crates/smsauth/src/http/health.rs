//! Liveness, readiness and the JWKS document.

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState};

/// Something readiness depends on (the store, Redis).
#[async_trait]
pub trait Probe: Send + Sync {
    /// The name `/readyz` reports when this dependency fails.
    fn name(&self) -> &'static str;
    async fn ready(&self) -> bool;
}

pub async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// 200 when every dependency answers (the store with a real write); else 503 naming the first
/// that does not, so an operator sees at once what to look at.
pub async fn readyz(State(app): State<AppState>) -> Response {
    if app.draining.load(std::sync::atomic::Ordering::SeqCst) {
        let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
            .with_key("ShuttingDown");
        err.retry_after = Some(1);
        return err.into_response();
    }
    for probe in app.readiness.iter() {
        if !probe.ready().await {
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE")
                .with_key("DependencyUnavailable")
                .param("dependency", probe.name())
                .into_response();
        }
    }
    axum::Json(json!({ "status": "ready" })).into_response()
}

pub async fn jwks(State(app): State<AppState>) -> Response {
    match &app.http.jwks {
        Some(doc) => axum::Json(doc.clone()).into_response(),
        None => axum::Json(json!({ "keys": [] })).into_response(),
    }
}
