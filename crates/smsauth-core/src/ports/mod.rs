//! Ports: the traits through which use-cases reach storage, SMS gateways, time and counters.
//! Implementations live in other crates and are handed to the services as `Arc<dyn Trait>`.

pub mod audit;
pub mod clock;
pub mod counters;
pub mod limits;
pub mod oidc;
pub mod otp_store;
pub mod sms;
pub mod store;
pub mod telemetry;
pub mod tokens;
