//! Durable storage ports: users, configuration and sessions. Fast-changing data (codes,
//! throttles) has its own port in `otp_store`, so that an operator can put it elsewhere.
//!
//! Every rule that must hold under concurrency (one live code per phone, one consumption per
//! code, one user per phone, the last enabled authenticator) is enforced inside the store, in
//! one transaction or one guarded statement, never by a read in the service followed by a write.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::authenticator::{Authenticator, AuthenticatorDraft};
use crate::domain::sms_policy::SmsPolicy;
use crate::domain::test_number::{TestNumber, TestNumberDraft};
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

    /// The SMS policy an administrator saved; `None` until one did (the configured initial
    /// value applies).
    async fn sms_policy(&self) -> StoreResult<Option<SmsPolicy>>;
    async fn set_sms_policy(&self, policy: &SmsPolicy, now: DateTime<Utc>) -> StoreResult<()>;

    /// Every test number, expired ones included (they are ignored when matching).
    async fn test_numbers(&self) -> StoreResult<Vec<TestNumber>>;
    /// Refuses (`Duplicate("phone")`) a pattern that exists.
    async fn create_test_number(
        &self,
        draft: TestNumberDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<TestNumber>;
    async fn update_test_number(
        &self,
        id: i64,
        draft: TestNumberDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<TestNumber>;
    async fn delete_test_number(&self, id: i64) -> StoreResult<()>;
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
    /// The session this one was started from: an OIDC grant's browser session (SPEC §16).
    /// Ending a session ends the sessions started from it.
    pub parent: Option<Uuid>,
}

/// The answer to a renewal request for one expired token.
#[derive(Debug, Clone, PartialEq)]
pub enum Renewal {
    /// This request renewed it, or another did within the idempotency window: both get the same
    /// new token id and issue time, so they sign the same token.
    Renewed { jti: Uuid, issued_at: DateTime<Utc> },
    /// The session is gone (signed out, revoked), or there is no such token.
    Refused,
    /// The old token was renewed longer ago than the window and is presented again: it was
    /// copied, so the store has ended the whole session (SPEC §5.5) and the answer is a refusal.
    Reused,
}

/// What the store knows of one presented token id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenState {
    /// Signed out (`token_blacklist`).
    pub blacklisted: bool,
    /// The current token of a live session (`issued_tokens.jti`). A token that is not expired
    /// but not current belongs to a session that was ended: by a revocation, a password change
    /// or a sign-out of the token it was renewed into.
    pub current: bool,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session and purges the user's sessions signed in before `purge_before`.
    /// `NotFound` when the session's parent no longer exists.
    async fn insert_session(
        &self,
        session: Session,
        purge_before: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Replaces the session's current `jti` (`old`) by a fresh one, once; repeated requests
    /// within `window_secs` of the first renewal get the same answer while the session lives.
    /// `old` presented after the window ends the session (`Reused`); with a window of 0,
    /// any second presentation does.
    async fn renew(
        &self,
        old: Uuid,
        fresh: Uuid,
        now: DateTime<Utc>,
        window_secs: i64,
    ) -> StoreResult<Renewal>;
    async fn blacklist(&self, jti: Uuid, expires_at: DateTime<Utc>) -> StoreResult<()>;
    /// Blacklist and session state of `jti`, in one round trip (it is read on every request).
    async fn token_state(&self, jti: Uuid) -> StoreResult<TokenState>;
    /// The session whose current token is `jti`.
    async fn session(&self, jti: Uuid) -> StoreResult<Option<Session>>;
    /// Deletes the session whose current token is `jti` (sign-out), and the sessions started
    /// from it.
    async fn end_session(&self, jti: Uuid) -> StoreResult<()>;
    /// Deletes the session `id` and the sessions started from it.
    async fn end_session_by_id(&self, id: Uuid) -> StoreResult<()>;
    /// Ends every session of the user: every token issued before this call stops working.
    async fn end_user_sessions(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()>;
    /// Removes blacklist entries and renewal markers that can no longer matter.
    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()>;
}
