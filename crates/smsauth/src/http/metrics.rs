//! Prometheus metrics (`GET /metrics`, switched on by `metrics.enabled`; docs/metrics.md lists
//! them): answers per action and error code, refusals per send limit, latency per action, SMS
//! and code checks by country and outcome, provider and store latency, load shedding. Every
//! label comes from a fixed set or from the operator's configuration (provider types, verifier
//! names, ISO country codes), never from a phone number, a user id or an address.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use secrecy::ExposeSecret;

use smsauth_core::ports::telemetry::{BlockReason, SmsOutcome, Telemetry, VerifyOutcome};

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SmsLabels {
    provider: String,
    country: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerificationLabels {
    country: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerifierLabels {
    verifier: String,
}

/// Country labels are ISO codes from the phone-number metadata; anything else is `unknown`,
/// so the label set stays bounded whatever the input.
fn country_label(country: &str) -> String {
    if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
        country.to_string()
    } else {
        "unknown".to_string()
    }
}

/// Provider types and verifier names come from the configuration; they are cut short anyway.
fn bounded(name: &str) -> String {
    name.chars().take(64).collect()
}

/// A family of latency histograms.
fn histograms<L: Clone + std::hash::Hash + Eq>() -> Family<L, Histogram, fn() -> Histogram> {
    Family::new_with_constructor(latency_histogram)
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
    sms: Family<SmsLabels, Counter>,
    blocked: Family<ReasonLabels, Counter>,
    verifications: Family<VerificationLabels, Counter>,
    provider_latency: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    store_latency: Family<OperationLabels, Histogram, fn() -> Histogram>,
    breaker_open: Family<VerifierLabels, Gauge>,
    /// Requests being served now, and those refused by `http.max_in_flight`.
    pub in_flight: Gauge,
    pub shed: Counter,
    /// `metrics.token`: when set, scrapers must send it as a bearer token.
    token: Option<secrecy::SecretString>,
    enabled: bool,
}

impl Metrics {
    pub fn new(
        enabled: bool,
        token: Option<secrecy::SecretString>,
        limits: &smsauth_core::ports::otp_store::SendLimits,
    ) -> Arc<Metrics> {
        let mut m = Metrics {
            registry: Registry::with_prefix("smsauth"),
            responses: Family::default(),
            limit_refusals: Family::default(),
            latency: histograms(),
            sms: Family::default(),
            blocked: Family::default(),
            verifications: Family::default(),
            provider_latency: histograms(),
            store_latency: histograms(),
            breaker_open: Family::default(),
            in_flight: Gauge::default(),
            shed: Counter::default(),
            token,
            enabled,
        };
        let registry = &mut m.registry;
        registry.register(
            "api_responses",
            "API answers by action and error code (OK for success)",
            m.responses.clone(),
        );
        registry.register(
            "send_limit_refusals",
            "Codes refused by a send limit, by limit (phone_hour, phone_day, ip_hour, global_hour)",
            m.limit_refusals.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "API request duration by action",
            m.latency.clone(),
        );
        registry.register(
            "sms",
            "SMS by provider type, destination country and outcome (sent, failed, blocked)",
            m.sms.clone(),
        );
        registry.register(
            "sms_blocked",
            "Sends refused before any provider call, by reason (limit, country)",
            m.blocked.clone(),
        );
        registry.register(
            "verifications",
            "Code checks by country and outcome (success, wrong_code, no_code, exhausted, blocked)",
            m.verifications.clone(),
        );
        registry.register(
            "provider_request_duration_seconds",
            "Time of each SMS provider call, by provider type and outcome (ok, error)",
            m.provider_latency.clone(),
        );
        registry.register(
            "store_operation_duration_seconds",
            "Time of store operations on the request path, by operation",
            m.store_latency.clone(),
        );
        registry.register(
            "provider_breaker_open",
            "1 while a verifier's provider is skipped by its circuit breaker",
            m.breaker_open.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "Requests being served",
            m.in_flight.clone(),
        );
        registry.register(
            "http_shed",
            "Requests refused with 503 because http.max_in_flight were being served",
            m.shed.clone(),
        );
        let configured = Family::<LimitLabels, Gauge>::default();
        for (name, value) in [
            ("phone_hour", limits.per_phone_hour),
            ("phone_day", limits.per_phone_day),
            ("ip_hour", limits.per_ip_hour),
            ("global_hour", limits.global_hour),
        ] {
            configured
                .get_or_create(&LimitLabels {
                    limit: name.to_string(),
                })
                .set(i64::from(value));
        }
        registry.register(
            "limit",
            "Configured value of each send limit (0 = off)",
            configured,
        );
        Arc::new(m)
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

/// Counts and times every action (`/api/<resource>:<action>`) and OpenID Provider endpoint
/// (`/oidc/token` …) by its answer's code.
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
        .filter(|a| a.contains(':') || a.starts_with("/oidc/"));
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

impl Telemetry for Metrics {
    fn sms(&self, provider: &str, country: &str, outcome: SmsOutcome) {
        self.sms
            .get_or_create(&SmsLabels {
                provider: bounded(provider),
                country: country_label(country),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    fn sms_blocked(&self, reason: BlockReason) {
        self.blocked
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    fn verification(&self, country: &str, outcome: VerifyOutcome) {
        self.verifications
            .get_or_create(&VerificationLabels {
                country: country_label(country),
                outcome: outcome.as_str(),
            })
            .inc();
    }

    fn provider_call(&self, provider: &str, ok: bool, seconds: f64) {
        self.provider_latency
            .get_or_create(&ProviderLabels {
                provider: bounded(provider),
                outcome: if ok { "ok" } else { "error" },
            })
            .observe(seconds);
    }

    fn breaker(&self, verifier: &str, open: bool) {
        self.breaker_open
            .get_or_create(&VerifierLabels {
                verifier: bounded(verifier),
            })
            .set(i64::from(open));
    }

    fn store_call(&self, operation: &'static str, seconds: f64) {
        self.store_latency
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }
}
