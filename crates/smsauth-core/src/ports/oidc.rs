//! The OpenID Provider's storage (SPEC §16): clients, consents and authorization codes. The
//! grants themselves are sessions of [`super::store::SessionStore`], so that every way of ending
//! a session ends them too.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::store::StoreResult;
use crate::domain::oidc::{AuthCode, OidcClient, Redemption};

#[async_trait]
pub trait OidcStore: Send + Sync {
    async fn clients(&self) -> StoreResult<Vec<OidcClient>>;
    async fn client(&self, client_id: &str) -> StoreResult<Option<OidcClient>>;
    async fn create_client(&self, client: &OidcClient) -> StoreResult<()>;
    /// Replaces every field but `client_id` and `created_at`; `NotFound` when there is none.
    async fn update_client(&self, client: &OidcClient) -> StoreResult<()>;
    /// Deletes the client, its consents and codes, and ends every grant issued to it.
    async fn delete_client(&self, client_id: &str) -> StoreResult<()>;

    /// The scopes the user allowed the client, space-separated.
    async fn consent(&self, user_id: i64, client_id: &str) -> StoreResult<Option<String>>;
    async fn save_consent(
        &self,
        user_id: i64,
        client_id: &str,
        scope: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn insert_code(&self, code: &AuthCode) -> StoreResult<()>;
    /// Consumes the code in one guarded statement, so that of any number of concurrent
    /// presentations on any number of instances exactly one gets [`Redemption::Fresh`]; that
    /// one is told to create the grant session `grant`. A later presentation marks the code
    /// replayed and ends that session. Expiry is the caller's check (it needs the code's
    /// client to answer).
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        grant: Uuid,
    ) -> StoreResult<Redemption>;
    /// Whether the code was replayed, asked once the grant session exists: a replay that came
    /// between the consumption and the session's creation found nothing to end.
    async fn code_replayed(&self, code_hash: &str) -> StoreResult<bool>;
    /// Deletes codes that expired before `before`, except redeemed ones whose grant still
    /// lives (a late replay must still end it).
    async fn purge_codes(&self, before: DateTime<Utc>) -> StoreResult<()>;
}
