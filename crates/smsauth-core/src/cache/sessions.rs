//! Token states, cached: every signed-in request asks whether its token is blacklisted and
//! still its session's current one. Every write that can change a token's state forgets it; the
//! writes that end sessions they cannot name by token (a reuse detected on renewal, ending all of
//! a user's sessions, purging) forget every cached state.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Maps;
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
        // refuses before it looks at their state; the new token has no cached state yet.
        self.inner.insert_session(session, purge_before).await
    }

    async fn renew(
        &self,
        old: Uuid,
        fresh: Uuid,
        now: DateTime<Utc>,
        window_secs: i64,
    ) -> StoreResult<Renewal> {
        let out = self.inner.renew(old, fresh, now, window_secs).await;
        match &out {
            Ok(Renewal::Renewed { .. }) => self.maps.tokens.remove(&old),
            // A reuse ends the whole session, whose current token is not `old`.
            _ => self.maps.tokens.clear(),
        }
        out
    }

    async fn blacklist(&self, jti: Uuid, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let out = self.inner.blacklist(jti, expires_at).await;
        self.maps.tokens.remove(&jti);
        out
    }

    async fn token_state(&self, jti: Uuid) -> StoreResult<TokenState> {
        super::read_through(&self.maps.tokens, jti, self.inner.token_state(jti)).await
    }

    async fn end_session(&self, jti: Uuid) -> StoreResult<()> {
        let out = self.inner.end_session(jti).await;
        self.maps.tokens.remove(&jti);
        out
    }

    async fn end_user_sessions(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let out = self.inner.end_user_sessions(user_id, now).await;
        // The user's revocation time changed too.
        self.maps.users.remove(&user_id);
        self.maps.tokens.clear();
        out
    }

    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()> {
        let out = self.inner.purge(now).await;
        self.maps.tokens.clear();
        out
    }
}
