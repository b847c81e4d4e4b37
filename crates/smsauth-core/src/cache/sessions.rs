//! Token states, cached: every signed-in request asks whether its token is blacklisted and
//! still its session's current one. Every write that can change a token's state forgets it; the
//! writes that end sessions they cannot name by token (a reuse detected on renewal, ending all of
//! a user's sessions, purging) forget every cached state.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ClearOnDrop, Maps};
use crate::ports::store::{Renewal, Session, SessionStore, StoreResult, TokenState};

pub struct CachedSessions {
    inner: Arc<dyn SessionStore>,
    maps: Arc<Maps>,
}

impl CachedSessions {
    pub(crate) fn new(inner: Arc<dyn SessionStore>, maps: Arc<Maps>) -> Self {
        CachedSessions { inner, maps }
    }
}

#[async_trait]
impl SessionStore for CachedSessions {
    async fn insert_session(
        &self,
        session: Session,
        purge_before: DateTime<Utc>,
    ) -> StoreResult<()> {
        // The purged sessions are older than the session lifetime, which the token check
        // refuses before it looks at their state (a longer lifetime set later empties this
        // cache: `CachedConfig::set_token_policy`); the new token has no cached state yet.
        self.inner.insert_session(session, purge_before).await
    }

    async fn renew(
        &self,
        old: Uuid,
        fresh: Uuid,
        now: DateTime<Utc>,
        window_secs: i64,
    ) -> StoreResult<Renewal> {
        // Until the answer says otherwise, assume the worst: a reuse ends the whole session,
        // whose current token is not `old`, and an abandoned renewal may have committed.
        let guard = ClearOnDrop(|| self.maps.tokens.clear());
        let out = self.inner.renew(old, fresh, now, window_secs).await;
        if let Ok(Renewal::Renewed { .. }) = &out {
            std::mem::forget(guard);
            self.maps.tokens.remove(&old);
        } else {
            drop(guard);
        }
        out
    }

    async fn blacklist(&self, jti: Uuid, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let _clear = ClearOnDrop(|| self.maps.tokens.remove(&jti));
        self.inner.blacklist(jti, expires_at).await
    }

    async fn token_state(&self, jti: Uuid) -> StoreResult<TokenState> {
        super::read_through(&self.maps.tokens, jti, self.inner.token_state(jti)).await
    }

    async fn session(&self, jti: Uuid) -> StoreResult<Option<Session>> {
        self.inner.session(jti).await
    }

    async fn end_session(&self, jti: Uuid) -> StoreResult<()> {
        // The sessions started from this one have other token ids.
        let _clear = ClearOnDrop(|| self.maps.tokens.clear());
        self.inner.end_session(jti).await
    }

    async fn end_session_by_id(&self, id: Uuid) -> StoreResult<()> {
        let _clear = ClearOnDrop(|| self.maps.tokens.clear());
        self.inner.end_session_by_id(id).await
    }

    async fn end_user_sessions(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        // The user's revocation time changes too.
        let _clear = ClearOnDrop(|| {
            self.maps.users.remove(&user_id);
            self.maps.tokens.clear();
        });
        self.inner.end_user_sessions(user_id, now).await
    }

    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()> {
        let _clear = ClearOnDrop(|| self.maps.tokens.clear());
        self.inner.purge(now).await
    }
}
