//! Request-level limits (SPEC §15.7): at most `max_in_flight` requests are served at once (the
//! rest get 503 with `Retry-After` at once rather than queueing until they time out), and a
//! request body must arrive whole within the body deadline, which bounds how slowly a client may
//! trickle it (64 KiB in 30 s by default).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::{ApiError, MAX_BODY_BYTES};

/// Shared by every request of the process.
#[derive(Clone)]
pub struct RequestLimits {
    in_flight: Arc<Semaphore>,
    body_timeout: Duration,
    metrics: Arc<super::metrics::Metrics>,
}

impl RequestLimits {
    pub fn new(
        max_in_flight: usize,
        body_timeout: Duration,
        metrics: Arc<super::metrics::Metrics>,
    ) -> RequestLimits {
        RequestLimits {
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
            body_timeout,
            metrics,
        }
    }
}

/// Sheds load: beyond `max_in_flight` requests, 503 `SERVICE_UNAVAILABLE` with `Retry-After`.
pub async fn shed(State(limits): State<RequestLimits>, req: Request, next: Next) -> Response {
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        limits.metrics.shed.inc();
        let mut err = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE");
        err.retry_after = Some(1);
        return err.into_response();
    };
    let _counted = InFlight::enter(&limits.metrics.in_flight);
    next.run(req).await
}

/// Counts a request in `smsauth_http_requests_in_flight` until it is answered or dropped (a
/// client that goes away mid-request must not leave the gauge high).
struct InFlight(prometheus_client::metrics::gauge::Gauge);

impl InFlight {
    fn enter(gauge: &prometheus_client::metrics::gauge::Gauge) -> InFlight {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Reads the whole body (at most [`MAX_BODY_BYTES`]) before routing, within the body deadline.
/// A body still arriving at the deadline is cut with 408 and the connection is closed.
pub async fn body_deadline(
    State(limits): State<RequestLimits>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let read = axum::body::to_bytes(body, MAX_BODY_BYTES);
    let bytes = match tokio::time::timeout(limits.body_timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let too_large = e.into_inner().is::<http_body_util::LengthLimitError>();
            return if too_large {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").into_response()
            } else {
                closing(ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST"))
            };
        }
        Err(_) => {
            return closing(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
            ));
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// An error after which the connection cannot be reused (the rest of the body is unread).
fn closing(err: ApiError) -> Response {
    let mut resp = err.into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
