//! Use-cases. Each module owns one capability; all share [`Core`] (the ports and settings) and
//! [`ServiceError`] (the meaningful outcomes the HTTP layer turns into documented answers).

pub mod admin;
pub mod audit;
pub mod bindings;
pub mod configuration;
pub mod delivery;
pub mod error;
pub mod oidc;
pub mod pumping;
pub mod receipts;
pub mod refusals;
pub mod send_code;
pub mod sessions;
pub mod sign_in;
pub mod sms_policy;
pub mod verify_code;

use std::sync::Arc;

use crate::domain::otp::CodeHasher;
use crate::domain::phone::Region;
use crate::domain::sms_policy::SmsPolicy;
use crate::ports::audit::AuditStore;
use crate::ports::clock::Clock;
use crate::ports::counters::SendCounters;
use crate::ports::limits::RateCounter;
use crate::ports::oidc::OidcStore;
use crate::ports::otp_store::{OtpStore, SendLimits, ThrottlePolicy};
use crate::ports::sms::SmsProviderFactory;
use crate::ports::store::{ConfigStore, SessionStore, UserStore};
use crate::ports::telemetry::Telemetry;
use crate::ports::tokens::TokenCodec;

pub use error::ServiceError;

/// Settings the use-cases need, already validated by the configuration layer.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub default_region: Option<Region>,
    pub code_digits: u8,
    pub code_ttl_secs: i64,
    pub send_limits: SendLimits,
    pub verify_per_ip_5min: u32,
    pub throttle: ThrottlePolicy,
    /// Per-account password guessing (SPEC §5.6).
    pub password_throttle: ThrottlePolicy,
    /// The SMS policy until an administrator saves one (`[sms_policy]`, SPEC §15.1).
    pub sms_policy: SmsPolicy,
    /// Days the audit log keeps an event (SPEC §15.5).
    pub audit_retention_days: i64,
    /// Seconds during which concurrent renewals of one token get the same new token.
    pub renew_window_secs: i64,
    pub delivery: delivery::DeliverySettings,
}

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            default_region: None,
            code_digits: 6,
            code_ttl_secs: 120,
            send_limits: SendLimits {
                per_phone_hour: 5,
                per_phone_day: 10,
                per_ip_hour: 20,
                global_hour: 1000,
            },
            verify_per_ip_5min: 30,
            throttle: ThrottlePolicy::default(),
            password_throttle: ThrottlePolicy::password(),
            sms_policy: SmsPolicy::default(),
            audit_retention_days: 90,
            renew_window_secs: 10,
            delivery: delivery::DeliverySettings::default(),
        }
    }
}

/// The ports and settings every use-case runs against.
#[derive(Clone)]
pub struct Core {
    pub users: Arc<dyn UserStore>,
    pub config: Arc<dyn ConfigStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub otps: Arc<dyn OtpStore>,
    /// OpenID Provider clients, consents and codes (SPEC §16).
    pub oidc: Arc<dyn OidcStore>,
    pub providers: Arc<dyn SmsProviderFactory>,
    pub counters: Arc<dyn RateCounter>,
    /// Send limits, budgets and pumping windows (SPEC §15.6): Redis when configured, else
    /// the store.
    pub send_counters: Arc<dyn SendCounters>,
    pub audit: Arc<audit::AuditSink>,
    pub audit_store: Arc<dyn AuditStore>,
    pub provider_latency: Arc<delivery::ProviderLatency>,
    /// Send counters this instance has seen full, until they free up.
    pub refusals: Arc<refusals::KnownRefusals>,
    pub tokens: Arc<dyn TokenCodec>,
    pub clock: Arc<dyn Clock>,
    pub hasher: CodeHasher,
    pub settings: CoreSettings,
    /// Per-verifier provider health, shared by all requests of this process.
    pub breakers: Arc<delivery::CircuitBreakers>,
    /// Where outcomes and timings are reported (the metrics).
    pub telemetry: Arc<dyn Telemetry>,
    /// The same user and configuration ports without their caches (`crate::cache`).
    pub uncached: Uncached,
}

/// Ports read past the caches, for the reads a write is built on: a change merged over a cached
/// value that another instance has just replaced would write the old value back for good, and a
/// guard on a user's roles must see a promotion made elsewhere. Where no cache is configured
/// these are the same ports as [`Core`]'s.
#[derive(Clone)]
pub struct Uncached {
    pub users: Arc<dyn UserStore>,
    pub config: Arc<dyn ConfigStore>,
}

impl Core {
    /// Runs a store call and reports how long it took.
    pub(crate) async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = T>,
    ) -> T {
        let started = std::time::Instant::now();
        let out = call.await;
        self.telemetry
            .store_call(operation, started.elapsed().as_secs_f64());
        out
    }
}
