//! Liveness, readiness and the JWKS document.

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState};

/// Something readiness depends on (the store).
#[async_trait]
pub trait Probe: Send + Sync {
    async fn ready(&self) -> bool;
}

pub async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

pub async fn readyz(State(app): State<AppState>) -> Response {
    if app.readiness.ready().await {
        axum::Json(json!({ "status": "ready" })).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").into_response()
    }
}

pub async fn jwks(State(app): State<AppState>) -> Response {
    match &app.http.jwks {
        Some(doc) => axum::Json(doc.clone()).into_response(),
        None => axum::Json(json!({ "keys": [] })).into_response(),
    }
}
