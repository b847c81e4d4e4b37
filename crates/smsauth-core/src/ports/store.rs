//! Storage ports. Durable data (users, configuration, sessions) and fast-changing data (codes,
//! throttles) are separate traits so that an operator can put them in different stores.
//!
//! Every rule that must hold under concurrency (one live code per phone, one consumption per
//! code, one user per phone, the last enabled authenticator) is enforced inside the store, in
//! one transaction or one guarded statement, never by a read in the service followed by a write.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::authenticator::{Authenticator, AuthenticatorDraft};
use crate::domain::otp::{CodeHash, OtpAction};
use crate::domain::token_policy::TokenPolicy;
use crate::domain::user::{User, UserDraft};
use crate::domain::verifier::{Verifier, VerifierDraft};

/// What a store can report. Rule violations are data, not failures: the HTTP layer turns each
/// into its documented 4xx.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("store unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A unique field is taken (`username`, `email`, `phone`, `name`).
    Duplicate(&'static str),
    /// The change would leave no enabled authenticator.
    LastAuthenticator,
    /// The verifier is named by this authenticator.
    VerifierInUse(String),
    /// The user has already bound this verifier.
    AlreadyBound,
    /// A role named in a user draft does not exist.
    UnknownRole,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A page request and its answer.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Substring of the E.164 phone, username, email or nickname.
    pub search: Option<String>,
}

/// A phone bound to a user through a verifier (`users_verifiers`).
#[derive(Debug, Clone, PartialEq)]
pub struct BoundVerifier {
    pub verifier: String,
    pub uuid: String,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn user(&self, id: i64) -> StoreResult<Option<User>>;
    async fn user_by_phone(&self, e164: &str) -> StoreResult<Option<User>>;
    /// A user by username or email, with the stored password hash.
    async fn user_by_account(&self, account: &str) -> StoreResult<Option<(User, Option<String>)>>;
    async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>>;
    async fn linked_user(&self, authenticator: &str, uuid: &str) -> StoreResult<Option<User>>;
    /// Upserts the `users_authenticators` link.
    async fn link(
        &self,
        authenticator: &str,
        user_id: i64,
        uuid: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Creates `{nickname: phone, phone}` with the default role and the link, or returns the
    /// user a concurrent sign-up created first: two concurrent first sign-ins give one user.
    async fn sign_up_by_phone(
        &self,
        authenticator: &str,
        e164: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User>;
    /// Creates a user; roles default to the default role.
    async fn create_user(&self, draft: UserDraft, now: DateTime<Utc>) -> StoreResult<User>;
    async fn update_user(&self, id: i64, draft: UserDraft, now: DateTime<Utc>)
    -> StoreResult<User>;
    async fn delete_user(&self, id: i64) -> StoreResult<()>;
    async fn list_users(
        &self,
        filter: UserFilter,
        page: PageRequest,
    ) -> StoreResult<(Vec<User>, u64)>;
    async fn set_password(&self, user_id: i64, hash: &str, now: DateTime<Utc>) -> StoreResult<()>;
    async fn has_role_holder(&self, role: &str) -> StoreResult<bool>;
    async fn bound_verifiers(&self, user_id: i64) -> StoreResult<Vec<BoundVerifier>>;
    async fn bind_verifier(
        &self,
        verifier: &str,
        user_id: i64,
        uuid: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn unbind_verifier(&self, verifier: &str, user_id: i64) -> StoreResult<()>;
}

#[async_trait]
pub trait ConfigStore: Send + Sync {
    async fn authenticators(&self) -> StoreResult<Vec<Authenticator>>;
    async fn authenticator(&self, id: i64) -> StoreResult<Option<Authenticator>>;
    async fn authenticator_by_name(&self, name: &str) -> StoreResult<Option<Authenticator>>;
    async fn create_authenticator(
        &self,
        draft: AuthenticatorDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Authenticator>;
    /// Refuses (`LastAuthenticator`) to disable the last enabled one.
    async fn update_authenticator(
        &self,
        id: i64,
        draft: AuthenticatorDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Authenticator>;
    /// Refuses (`LastAuthenticator`) to destroy the last enabled one.
    async fn delete_authenticator(&self, id: i64) -> StoreResult<()>;
    /// Moves `source` to the position of `target`, shifting the ones between.
    async fn move_authenticator(
        &self,
        source: i64,
        target: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn verifiers(&self) -> StoreResult<Vec<Verifier>>;
    async fn verifier(&self, name: &str) -> StoreResult<Option<Verifier>>;
    /// The `sms-otp` verifier marked default, else the only one (SPEC §6.3).
    async fn default_sms_verifier(&self) -> StoreResult<Option<Verifier>>;
    /// Creating or updating with `is_default` clears the flag on the others of the same type.
    async fn create_verifier(
        &self,
        draft: VerifierDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Verifier>;
    async fn update_verifier(
        &self,
        name: &str,
        draft: VerifierDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Verifier>;
    /// Refuses (`VerifierInUse`) while an authenticator names it.
    async fn delete_verifier(&self, name: &str) -> StoreResult<()>;

    async fn token_policy(&self) -> StoreResult<TokenPolicy>;
    async fn set_token_policy(&self, policy: TokenPolicy, now: DateTime<Utc>) -> StoreResult<()>;
}

/// One session (`issued_tokens`).
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub jti: Uuid,
    pub user_id: i64,
    pub authenticator: String,
    pub issued_at: DateTime<Utc>,
    pub sign_in_at: DateTime<Utc>,
}

/// The answer to a renewal request for one expired token.
#[derive(Debug, Clone, PartialEq)]
pub enum Renewal {
    /// This request renewed it, or another did within the idempotency window: both get the same
    /// new token id and issue time, so they sign the same token.
    Renewed { jti: Uuid, issued_at: DateTime<Utc> },
    /// The session is gone, or the old token was renewed longer ago than the window.
    Refused,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session and purges the user's sessions signed in before `purge_before`.
    async fn insert_session(
        &self,
        session: Session,
        purge_before: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Replaces the session's current `jti` (`old`) by a fresh one, once; repeated requests
    /// within `window_secs` of the first renewal get the same answer.
    async fn renew(
        &self,
        old: Uuid,
        fresh: Uuid,
        now: DateTime<Utc>,
        window_secs: i64,
    ) -> StoreResult<Renewal>;
    async fn blacklist(&self, jti: Uuid, expires_at: DateTime<Utc>) -> StoreResult<()>;
    async fn is_blacklisted(&self, jti: Uuid) -> StoreResult<bool>;
    /// Deletes the session whose current token is `jti` (sign-out).
    async fn end_session(&self, jti: Uuid) -> StoreResult<()>;
    /// Ends every session of the user: tokens issued before `now` stop working.
    async fn end_user_sessions(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    /// Removes blacklist entries and renewal markers that can no longer matter.
    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()>;
}

/// Send limits checked inside the issuing transaction (SPEC §8). `0` switches one off.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendLimit {
    PhoneHour,
    PhoneDay,
    IpHour,
    GlobalHour,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    Created,
    /// A `pending` or `sent` code for (action, receiver) has not expired yet.
    LiveCodeExists {
        expires_at: DateTime<Utc>,
    },
    LimitReached {
        limit: SendLimit,
        retry_after_secs: i64,
    },
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
    /// In one transaction: supersede dead records for (action, receiver), refuse if a live one
    /// exists, check the send limits, insert `pending`.
    async fn issue(
        &self,
        new: NewOtp,
        limits: SendLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<IssueOutcome>;
    /// `pending` → `sent` (true) or `send_failed` (false).
    async fn mark_delivery(&self, id: Uuid, sent: bool, now: DateTime<Utc>) -> StoreResult<()>;
    /// In one transaction: check the phone's throttle, find the live code, compare in constant
    /// time, then consume it with a guarded update or count the failure on code and phone.
    async fn attempt(
        &self,
        attempt: Attempt,
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<AttemptOutcome>;
    /// Deletes records older than the longest send-limit window.
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
