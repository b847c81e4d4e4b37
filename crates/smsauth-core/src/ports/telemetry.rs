//! What the use-cases report for the operator's metrics (SPEC §17): SMS outcomes, refusals,
//! code checks and the time spent in providers and in the store. Labels are bounded by
//! construction: provider types, ISO country codes, verifier names and fixed outcome names,
//! never a phone number or a user id.

/// What became of one SMS the server was asked to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsOutcome {
    Sent,
    Failed,
    /// Refused before any provider was called.
    Blocked,
    /// A receipt said it reached the phone (SPEC §15.3).
    Delivered,
    /// A receipt said it did not.
    Undelivered,
}

/// Why a send was refused before any provider was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
    /// A send limit (SPEC §8).
    Limit,
    /// The destination country is not allowed.
    Country,
    /// The number's type (landline, premium rate, …) is not allowed (SPEC §15.1).
    NumberType,
    /// A daily SMS budget is spent (SPEC §15.1).
    Budget,
    /// Pumping detection blocked the prefix or country (SPEC §15.2).
    Pumping,
}

/// What a code check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    Success,
    WrongCode,
    /// No live code for the phone (never sent, expired or used).
    NoCode,
    /// The code had too many wrong attempts.
    Exhausted,
    /// The phone is in its wrong-code back-off.
    Blocked,
}

impl SmsOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsOutcome::Sent => "sent",
            SmsOutcome::Failed => "failed",
            SmsOutcome::Blocked => "blocked",
            SmsOutcome::Delivered => "delivered",
            SmsOutcome::Undelivered => "undelivered",
        }
    }
}

impl BlockReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::Limit => "limit",
            BlockReason::Country => "country",
            BlockReason::NumberType => "numberType",
            BlockReason::Budget => "budget",
            BlockReason::Pumping => "pumping",
        }
    }
}

impl VerifyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyOutcome::Success => "success",
            VerifyOutcome::WrongCode => "wrong_code",
            VerifyOutcome::NoCode => "no_code",
            VerifyOutcome::Exhausted => "exhausted",
            VerifyOutcome::Blocked => "blocked",
        }
    }
}

/// Receives the reports; every method has a no-op default.
pub trait Telemetry: Send + Sync {
    /// `provider` is the provider type (`twilio`), `country` an ISO code or `unknown`.
    fn sms(&self, _provider: &str, _country: &str, _outcome: SmsOutcome) {}
    fn sms_blocked(&self, _reason: BlockReason) {}
    fn verification(&self, _country: &str, _outcome: VerifyOutcome) {}
    /// One call to a provider and how long it took.
    fn provider_call(&self, _provider: &str, _ok: bool, _seconds: f64) {}
    /// A verifier's circuit breaker opened (`true`) or closed.
    fn breaker(&self, _verifier: &str, _open: bool) {}
    /// One store operation (`otp_issue`, `token_state`, …) and how long it took.
    fn store_call(&self, _operation: &'static str, _seconds: f64) {}
}

/// Reports nowhere.
#[derive(Debug, Default)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {}
