//! Users by id, cached: `auth:check` and every signed-in request read the caller with their
//! roles. Every write that can change a user forgets that user; the writes that end sessions
//! (a password change, a deletion, an update that may change roles or the password) also forget
//! every cached token state, since the sessions they delete are what makes a token current.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ClearOnDrop, Maps};
use crate::domain::user::{User, UserDraft};
use crate::ports::store::{BoundVerifier, PageRequest, StoreResult, UserFilter, UserStore};

pub struct CachedUsers {
    inner: Arc<dyn UserStore>,
    maps: Arc<Maps>,
}

impl CachedUsers {
    pub(crate) fn new(inner: Arc<dyn UserStore>, maps: Arc<Maps>) -> Self {
        CachedUsers { inner, maps }
    }

    fn forget(&self, id: i64) {
        self.maps.users.remove(&id);
    }

    fn forget_with_sessions(&self, id: i64) {
        self.maps.users.remove(&id);
        self.maps.tokens.clear();
    }
}

#[async_trait]
impl UserStore for CachedUsers {
    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        let ticket = match self.maps.users.get(&id) {
            Ok(hit) => return Ok(Some(hit)),
            Err(ticket) => ticket,
        };
        // Only users that exist are kept: ids are handed out by the store, so an id that is
        // unknown now may belong to a user created a moment later.
        let user = self.inner.user(id).await?;
        if let Some(u) = &user {
            self.maps.users.insert(ticket, id, u.clone());
        }
        Ok(user)
    }

    async fn user_by_phone(&self, e164: &str) -> StoreResult<Option<User>> {
        self.inner.user_by_phone(e164).await
    }

    async fn user_by_account(&self, account: &str) -> StoreResult<Option<(User, Option<String>)>> {
        self.inner.user_by_account(account).await
    }

    async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>> {
        self.inner.password_hash(user_id).await
    }

    async fn linked_user(&self, authenticator: &str, uuid: &str) -> StoreResult<Option<User>> {
        self.inner.linked_user(authenticator, uuid).await
    }

    async fn link(
        &self,
        authenticator: &str,
        user_id: i64,
        uuid: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _clear = ClearOnDrop(|| self.forget(user_id));
        self.inner.link(authenticator, user_id, uuid, now).await
    }

    async fn sign_up_by_phone(
        &self,
        authenticator: &str,
        e164: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        // A new user, or the one a concurrent sign-up made: neither changes a cached user.
        self.inner.sign_up_by_phone(authenticator, e164, now).await
    }

    async fn create_user(&self, draft: UserDraft, now: DateTime<Utc>) -> StoreResult<User> {
        self.inner.create_user(draft, now).await
    }

    async fn update_user(
        &self,
        id: i64,
        draft: UserDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        let _clear = ClearOnDrop(|| self.forget_with_sessions(id));
        self.inner.update_user(id, draft, now).await
    }

    async fn delete_user(&self, id: i64) -> StoreResult<()> {
        let _clear = ClearOnDrop(|| self.forget_with_sessions(id));
        self.inner.delete_user(id).await
    }

    async fn list_users(
        &self,
        filter: UserFilter,
        page: PageRequest,
    ) -> StoreResult<(Vec<User>, u64)> {
        self.inner.list_users(filter, page).await
    }

    async fn set_password(&self, user_id: i64, hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let _clear = ClearOnDrop(|| self.forget_with_sessions(user_id));
        self.inner.set_password(user_id, hash, now).await
    }

    async fn has_role_holder(&self, role: &str) -> StoreResult<bool> {
        self.inner.has_role_holder(role).await
    }

    async fn bound_verifiers(&self, user_id: i64) -> StoreResult<Vec<BoundVerifier>> {
        self.inner.bound_verifiers(user_id).await
    }

    async fn bind_verifier(
        &self,
        verifier: &str,
        user_id: i64,
        uuid: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let _clear = ClearOnDrop(|| self.forget(user_id));
        self.inner.bind_verifier(verifier, user_id, uuid, now).await
    }

    async fn unbind_verifier(&self, verifier: &str, user_id: i64) -> StoreResult<()> {
        let _clear = ClearOnDrop(|| self.forget(user_id));
        self.inner.unbind_verifier(verifier, user_id).await
    }
}
