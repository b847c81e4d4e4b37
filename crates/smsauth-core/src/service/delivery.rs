//! Delivering one code: routing by destination country, failover to fallback verifiers on
//! transient failures, and a circuit breaker per verifier (issue: no peer offers this).
//!
//! A verifier's options may hold `routes` (`{"CN": "<verifier>", …}`: which verifier's provider
//! sends to that region) and `fallbacks` (`["<verifier>", …]`: tried in order when the one
//! before fails transiently). The chain for a message is the routed verifier (or the verifier
//! itself) followed by that verifier's fallbacks. Failover happens only on timeouts, connection
//! errors and 5xx answers, never after "invalid receiver" or "rate limited", and only while the
//! request's time budget lasts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Core, ServiceError};
use crate::domain::phone::Phone;
use crate::domain::verifier::Verifier;
use crate::ports::sms::{Accepted, SendError, SmsMessage, SmsSender};

/// Breaker and budget settings.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// Consecutive transient failures after which a verifier's provider is skipped.
    pub breaker_failures: u32,
    /// How long it is skipped before one trial request is let through.
    pub breaker_open_secs: i64,
    /// Total time one send request may spend across providers.
    pub budget: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            breaker_failures: 5,
            breaker_open_secs: 30,
            budget: Duration::from_secs(8),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Breaker {
    consecutive: u32,
    open_until: Option<DateTime<Utc>>,
}

/// Per-verifier circuit breakers, in this process (each instance learns on its own; a provider
/// outage is seen by all of them quickly enough).
#[derive(Debug, Default)]
pub struct CircuitBreakers {
    state: Mutex<HashMap<String, Breaker>>,
}

impl CircuitBreakers {
    /// Whether `name` may be tried at `now`: closed, or open long enough for a trial.
    pub fn allows(&self, name: &str, now: DateTime<Utc>) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .get(name)
            .and_then(|b| b.open_until)
            .is_none_or(|until| until <= now)
    }

    pub fn record(
        &self,
        name: &str,
        transient_failure: bool,
        s: &DeliverySettings,
        now: DateTime<Utc>,
    ) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let b = state.entry(name.to_string()).or_default();
        if !transient_failure {
            *b = Breaker::default();
            return;
        }
        b.consecutive = b.consecutive.saturating_add(1);
        if b.consecutive >= s.breaker_failures {
            b.open_until = Some(now + chrono::Duration::seconds(s.breaker_open_secs));
            tracing::warn!(
                verifier = name,
                failures = b.consecutive,
                "circuit breaker open: provider skipped"
            );
        }
    }
}

/// How long each verifier's sends usually take (an exponentially weighted mean), so that a send
/// that is answered without calling a provider (SPEC §15.1 `sendWithoutAccount`) takes as long
/// as one that calls it, and timing does not tell which phones have an account.
#[derive(Debug, Default)]
pub struct ProviderLatency {
    means: Mutex<HashMap<String, f64>>,
}

impl ProviderLatency {
    pub fn observe(&self, verifier: &str, took: Duration) {
        let secs = took.as_secs_f64().min(2.0);
        let mut means = self.means.lock().unwrap_or_else(|e| e.into_inner());
        let mean = means.entry(verifier.to_string()).or_insert(secs);
        *mean = 0.9 * *mean + 0.1 * secs;
    }

    /// Zero until one send through `verifier` was measured.
    pub fn typical(&self, verifier: &str) -> Duration {
        let means = self.means.lock().unwrap_or_else(|e| e.into_inner());
        Duration::from_secs_f64(means.get(verifier).copied().unwrap_or(0.0))
    }
}

/// One step of a delivery chain.
struct Hop {
    name: String,
    /// The provider type, for the metrics.
    provider: String,
    sender: Arc<dyn SmsSender>,
}

fn names(options: &Value, key: &str) -> Vec<String> {
    options
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Core {
    /// The verifier that sends to `phone`: the `routes` entry for its region, else `verifier`.
    async fn routed(&self, verifier: &Verifier, phone: &Phone) -> Result<Verifier, ServiceError> {
        let target = phone.region().and_then(|r| {
            verifier
                .options
                .get("routes")?
                .get(r)?
                .as_str()
                .map(str::to_string)
        });
        match target {
            Some(name) if name != verifier.name => match self.sms_verifier_named(Some(&name)).await
            {
                Ok(v) => Ok(v),
                Err(ServiceError::InvalidVerifier) => {
                    tracing::error!(verifier = %verifier.name, route = %name, "route names a missing verifier; sending directly");
                    Ok(verifier.clone())
                }
                Err(e) => Err(e),
            },
            _ => Ok(verifier.clone()),
        }
    }

    async fn chain(
        &self,
        primary: Verifier,
        first: Arc<dyn SmsSender>,
    ) -> Result<Vec<Hop>, ServiceError> {
        let mut hops = vec![Hop {
            name: primary.name.clone(),
            provider: primary.provider().unwrap_or("unknown").to_string(),
            sender: first,
        }];
        for name in names(&primary.options, "fallbacks") {
            match self.sms_verifier_named(Some(&name)).await {
                Ok(v) => match self.sender_for(&v) {
                    Ok(sender) => hops.push(Hop {
                        name,
                        provider: v.provider().unwrap_or("unknown").to_string(),
                        sender,
                    }),
                    Err(_) => {
                        tracing::error!(fallback = %name, "fallback verifier has no usable provider; skipped")
                    }
                },
                Err(ServiceError::InvalidVerifier) => {
                    tracing::error!(fallback = %name, "fallback verifier is missing; skipped")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(hops)
    }

    /// Sends `message` through the chain for `verifier`. `sender` is the verifier's own
    /// provider, already built (its misconfiguration is reported before anything else).
    /// Answers which verifier's provider took it, and what that provider said.
    pub(super) async fn deliver(
        &self,
        verifier: &Verifier,
        sender: Arc<dyn SmsSender>,
        message: &SmsMessage,
    ) -> Result<(String, Accepted), SendError> {
        let routed = self
            .routed(verifier, &message.to)
            .await
            .map_err(|e| SendError::Failed(e.to_string()))?;
        let first = if routed.name == verifier.name {
            sender
        } else {
            self.sender_for(&routed)
                .map_err(|e| SendError::Failed(e.to_string()))?
        };
        let hops = self
            .chain(routed, first)
            .await
            .map_err(|e| SendError::Failed(e.to_string()))?;
        let s = self.settings.delivery;
        let started = Instant::now();
        let mut last =
            SendError::Transient("every provider is skipped by its circuit breaker".into());
        for hop in hops {
            let now = self.clock.now();
            if !self.breakers.allows(&hop.name, now) {
                continue;
            }
            let Some(remaining) = s
                .budget
                .checked_sub(started.elapsed())
                .filter(|d| !d.is_zero())
            else {
                break;
            };
            let call = Instant::now();
            let result = match tokio::time::timeout(remaining, hop.sender.send(message)).await {
                Ok(r) => r,
                Err(_) => Err(SendError::Transient("send budget exhausted".into())),
            };
            self.telemetry.provider_call(
                &hop.provider,
                result.is_ok(),
                call.elapsed().as_secs_f64(),
            );
            let transient = matches!(&result, Err(e) if e.is_transient());
            self.breakers
                .record(&hop.name, transient, &s, self.clock.now());
            self.telemetry.breaker(
                &hop.name,
                !self.breakers.allows(&hop.name, self.clock.now()),
            );
            match result {
                Ok(accepted) => {
                    if hop.name != verifier.name {
                        tracing::info!(verifier = %verifier.name, via = %hop.name, to = %message.to, "sent through another verifier");
                    }
                    return Ok((hop.name, accepted));
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(verifier = %hop.name, to = %message.to, error = %e, "transient send failure; trying the next provider");
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}
