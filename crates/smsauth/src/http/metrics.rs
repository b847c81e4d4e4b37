//! Prometheus metrics (`GET /metrics`, switched on by `metrics.enabled`): answers per action and
//! error code, refusals per send limit (so a spent global budget is visible), and latency.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use secrecy::ExposeSecret;

use super::{ApiError, AppState};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    action: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    responses: Family<ResponseLabels, Counter>,
    limit_refusals: Family<LimitLabels, Counter>,
    latency: Family<ActionLabels, Histogram, fn() -> Histogram>,
    /// `metrics.token`: when set, scrapers must send it as a bearer token.
    token: Option<secrecy::SecretString>,
    enabled: bool,
}

impl Metrics {
    pub fn new(enabled: bool, token: Option<secrecy::SecretString>) -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("smsauth");
        let responses = Family::<ResponseLabels, Counter>::default();
        let limit_refusals = Family::<LimitLabels, Counter>::default();
        let latency = Family::<ActionLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "api_responses",
            "API answers by action and error code (OK for success)",
            responses.clone(),
        );
        registry.register(
            "send_limit_refusals",
            "Codes refused by a send limit, by limit (phone_hour, phone_day, ip_hour, global_hour)",
            limit_refusals.clone(),
        );
        registry.register(
            "api_request_duration_seconds",
            "API request duration by action",
            latency.clone(),
        );
        Arc::new(Metrics {
            registry,
            responses,
            limit_refusals,
            latency,
            token,
            enabled,
        })
    }

    /// Records one answer. `action` is a route, never raw input, so label sets stay bounded.
    pub fn observe(&self, action: &str, error: Option<&ApiError>, seconds: f64) {
        let code = error.map_or("OK", |e| e.code).to_string();
        self.responses
            .get_or_create(&ResponseLabels {
                action: action.to_string(),
                code,
            })
            .inc();
        if let Some(limit) = error.and_then(|e| e.limit) {
            self.limit_refusals
                .get_or_create(&LimitLabels {
                    limit: limit.to_string(),
                })
                .inc();
        }
        self.latency
            .get_or_create(&ActionLabels {
                action: action.to_string(),
            })
            .observe(seconds);
    }
}

/// Counts and times every action (`/api/<resource>:<action>`) by its answer's code.
pub async fn record(
    State(metrics): State<Arc<Metrics>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let action = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().trim_start_matches("/api/").to_string())
        .filter(|a| a.contains(':'));
    let resp = next.run(req).await;
    if let Some(action) = action {
        let status = resp.status();
        let fallback = (status.is_client_error() || status.is_server_error())
            .then(|| ApiError::new(status, super::layers::framework_code(status)));
        let err = resp.extensions().get::<ApiError>().or(fallback.as_ref());
        metrics.observe(&action, err, started.elapsed().as_secs_f64());
    }
    resp
}

pub async fn scrape(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let m = &app.metrics;
    if !m.enabled {
        return ApiError::not_found().into_response();
    }
    if let Some(token) = &m.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok =
            presented.is_some_and(|p| subtle_eq(p.as_bytes(), token.expose_secret().as_bytes()));
        if !ok {
            return ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "EMPTY_TOKEN")
                .into_response();
        }
    }
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, &m.registry).is_err() {
        return ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
        )
        .into_response();
    }
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}

/// Length-independent comparison of the scrape token.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    use aws_lc_rs::constant_time::verify_slices_are_equal;
    verify_slices_are_equal(a, b).is_ok()
}
