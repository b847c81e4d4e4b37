//! The OTP store port: issuing codes under the send limits, and consuming them under the
//! per-code and per-phone failure policy. Kept apart from the durable stores because codes and
//! counters are fast-changing data an operator may want in a different backend.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::store::StoreResult;
use crate::domain::otp::{CodeHash, OtpAction};

/// Send limits (SPEC §8), counted by [`super::counters::SendCounters`]. `0` switches one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    pub per_phone_hour: u32,
    pub per_phone_day: u32,
    pub per_ip_hour: u32,
    pub global_hour: u32,
}

/// A code to be recorded before the provider is called.
#[derive(Debug, Clone)]
pub struct NewOtp {
    pub id: Uuid,
    pub action: OtpAction,
    pub receiver: String,
    pub verifier: String,
    pub code_hash: CodeHash,
    pub expires_at: DateTime<Utc>,
    pub client_ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    Created,
    /// A `pending` or `sent` code for (action, receiver) has not expired yet.
    LiveCodeExists {
        expires_at: DateTime<Utc>,
    },
}

/// What became of a recorded code's SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// A provider took it: through which verifier, with the provider's message id.
    Sent {
        via: String,
        message_id: Option<String>,
    },
    /// Every provider failed.
    Failed,
    /// Nothing was sent, on purpose, and the code stands: `test` (a test number) or
    /// `suppressed` (no account, `sendWithoutAccount` off).
    NotSent(&'static str),
}

/// The code a delivery receipt was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptTarget {
    pub receiver: String,
    /// False when the record already had this final state (a provider retrying its push).
    pub changed: bool,
}

/// Per-phone failure policy (SPEC §4.2, NIST SP 800-63B rev 4 §3.2.2 rate limiting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Consecutive failures after which a delay starts.
    pub free_failures: u32,
    pub first_delay_secs: i64,
    pub max_delay_secs: i64,
    /// Failures per phone per 24 h after which verification stops until the window ends.
    pub daily_cap: u32,
    /// Wrong submissions one code survives before it is `exhausted`.
    pub per_code_attempts: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 5,
            first_delay_secs: 30,
            max_delay_secs: 3600,
            daily_cap: 100,
            per_code_attempts: 5,
        }
    }
}

/// The `phone_throttle` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneThrottle {
    pub consecutive_failures: u32,
    pub blocked_until: Option<DateTime<Utc>>,
    pub window_started_at: DateTime<Utc>,
    pub window_failures: u32,
}

impl ThrottlePolicy {
    /// Per-account password guessing (SPEC §5.6, NIST SP 800-63B rev 4 §3.2.2): 10 free
    /// failures, then 30 s doubling up to 15 min, at most 100 failures per 24 h. The same for
    /// existing and unknown accounts, so the throttle says nothing about which exist.
    pub fn password() -> ThrottlePolicy {
        ThrottlePolicy {
            free_failures: 10,
            first_delay_secs: 30,
            max_delay_secs: 900,
            daily_cap: 100,
            per_code_attempts: 0,
        }
    }

    /// The throttle state after one more failure at `now`. Pure, so every store applies the
    /// same arithmetic: after `free_failures` consecutive failures the delay is
    /// `first_delay · 2^(n − free_failures)` capped at `max_delay`; reaching the daily cap blocks
    /// until the 24-hour window ends.
    pub fn after_failure(&self, prev: Option<PhoneThrottle>, now: DateTime<Utc>) -> PhoneThrottle {
        let day = chrono::Duration::hours(24);
        let mut t = prev.unwrap_or(PhoneThrottle {
            consecutive_failures: 0,
            blocked_until: None,
            window_started_at: now,
            window_failures: 0,
        });
        if now - t.window_started_at >= day {
            t.window_started_at = now;
            t.window_failures = 0;
        }
        t.consecutive_failures = t.consecutive_failures.saturating_add(1);
        t.window_failures = t.window_failures.saturating_add(1);
        if t.consecutive_failures >= self.free_failures {
            let exp = (t.consecutive_failures - self.free_failures).min(20);
            let delay = self
                .first_delay_secs
                .saturating_mul(1i64 << exp)
                .min(self.max_delay_secs);
            t.blocked_until = Some(now + chrono::Duration::seconds(delay));
        }
        if t.window_failures >= self.daily_cap {
            t.blocked_until = Some(t.window_started_at + day);
        }
        t
    }
}

/// What one verification attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The code matched and is now `used`; exactly one concurrent attempt gets this.
    Consumed,
    /// Wrong code (or another verifier's code); counters were incremented before answering.
    Wrong,
    /// No usable code for (action, receiver): none issued, expired, used or superseded.
    NoLiveCode,
    /// The code has spent its attempts; a new one must be requested.
    Exhausted,
    /// The phone is in a back-off delay.
    Blocked { until: DateTime<Utc> },
}

/// One verification attempt, as the store needs it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub action: OtpAction,
    pub receiver: String,
    pub verifier: String,
    pub candidate: CodeHash,
}

#[async_trait]
pub trait OtpStore: Send + Sync {
    /// When the live code of (action, receiver) expires, if there is one: one read, for the
    /// cheap answer before any counter is touched.
    async fn live_code(
        &self,
        action: OtpAction,
        receiver: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    /// Atomically: supersede dead records for (action, receiver), refuse if a live one exists,
    /// insert `pending`.
    async fn issue(&self, new: NewOtp, now: DateTime<Utc>) -> StoreResult<IssueOutcome>;
    /// `pending` → `sent` or `send_failed`, with the delivery details.
    async fn mark_delivery(
        &self,
        id: Uuid,
        outcome: SendOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Records a delivery receipt on the code sent through verifier `via` with `message_id`;
    /// `None` for an id it does not know (purged, or never ours).
    async fn record_receipt(
        &self,
        via: &str,
        message_id: &str,
        delivered: bool,
        error_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ReceiptTarget>>;
    /// In one transaction: check the phone's throttle, find the live code, compare in constant
    /// time, then consume it with a guarded update or count the failure on code and phone.
    async fn attempt(
        &self,
        attempt: Attempt,
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<AttemptOutcome>;
    /// Counts one attempt against the failure throttle of (`scope`, `key`) **before** the
    /// attempt is evaluated, in one transaction, so concurrent guesses cannot all slip in ahead
    /// of the first recorded failure. Answers `Some(until)`, counting nothing, while the key is
    /// in a delay. A success must then call [`OtpStore::throttle_reset`].
    async fn throttle_attempt(
        &self,
        scope: &str,
        key: &str,
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    /// Forgets the failures of (`scope`, `key`) after a success.
    async fn throttle_reset(&self, scope: &str, key: &str) -> StoreResult<()>;
    /// Deletes records older than a day (and spent counters), in small batches.
    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn throttle_policy_doubles_and_caps() {
        let p = ThrottlePolicy::default();
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut t = None;
        let mut delays = Vec::new();
        for _ in 0..12 {
            let next = p.after_failure(t, now);
            delays.push(next.blocked_until.map(|u| (u - now).num_seconds()));
            t = Some(next);
        }
        assert_eq!(&delays[..4], &[None, None, None, None]);
        assert_eq!(
            &delays[4..],
            &[
                Some(30),
                Some(60),
                Some(120),
                Some(240),
                Some(480),
                Some(960),
                Some(1920),
                Some(3600)
            ]
        );
        // The daily cap blocks until the 24-hour window ends.
        let mut t = None;
        for _ in 0..100 {
            t = Some(p.after_failure(t, now));
        }
        assert_eq!(t.unwrap().blocked_until, Some(now + Duration::hours(24)));
    }
}
