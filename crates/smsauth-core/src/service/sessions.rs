//! Sessions and tokens (SPEC §5.2–5.4): issuing a token at sign-in, checking a presented token in
//! the documented order, renewing an expired one, and signing out.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::{Core, ServiceError};
use crate::domain::user::User;
use crate::ports::store::{Renewal, Session};
use crate::ports::tokens::Claims;

/// A request's authenticated caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub claims: Claims,
    /// Set when the presented token was expired and has been renewed; the HTTP layer returns it
    /// in `X-New-Token`.
    pub renewed: Option<String>,
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl Core {
    /// Creates a session row and signs its first token.
    pub async fn start_session(
        &self,
        user: &User,
        authenticator: &str,
    ) -> Result<String, ServiceError> {
        let now = self.clock.now();
        let policy = self.config.token_policy().await?;
        let claims = Claims {
            user_id: user.id,
            iat: now.timestamp(),
            exp: now.timestamp() + policy.token_ttl,
            sign_in_time: millis(now),
            jti: Uuid::new_v4(),
        };
        let session = Session {
            id: Uuid::new_v4(),
            jti: claims.jti,
            user_id: user.id,
            authenticator: authenticator.to_string(),
            issued_at: now,
            sign_in_at: now,
            parent: None,
        };
        let oldest = now - Duration::seconds(policy.session_ttl);
        self.timed(
            "session_create",
            self.sessions.insert_session(session, oldest),
        )
        .await?;
        Ok(self.tokens.sign(&claims)?)
    }

    /// Checks a token in the order of SPEC §5.3 and renews it when it is expired but still
    /// within the renew limit.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Authenticated, ServiceError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(ServiceError::EmptyToken)?;
        let claims = self
            .tokens
            .verify(token)
            .ok_or(ServiceError::InvalidToken)?;
        let user = self
            .users
            .user(claims.user_id)
            .await?
            .ok_or(ServiceError::NotExistUser)?;
        let state = self
            .timed("token_state", self.sessions.token_state(claims.jti))
            .await?;
        if state.blacklisted {
            return Err(ServiceError::BlockedToken);
        }
        let now = self.clock.now();
        let policy = self.config.token_policy().await?;
        if millis(now) - claims.sign_in_time > policy.session_ttl * 1000 {
            return Err(ServiceError::ExpiredSession);
        }
        // Tokens from before a password change or a revocation are void. `iat` has whole
        // seconds only, so this catches the earlier seconds; the exact cut is the session row,
        // which the change deleted in the same transaction (checked next, and by `renew`).
        let void_before = [user.password_changed_at, user.sessions_revoked_at]
            .into_iter()
            .flatten()
            .max();
        if let Some(t) = void_before
            && claims.iat < t.timestamp()
        {
            return Err(ServiceError::InvalidToken);
        }
        if claims.exp > now.timestamp() {
            // An unexpired token is always its session's current one (only expired tokens are
            // renewed), so a token that is not current belongs to an ended session.
            if !state.current {
                return Err(ServiceError::InvalidToken);
            }
            return Ok(Authenticated {
                user,
                claims,
                renewed: None,
            });
        }
        if now.timestamp() - claims.exp > policy.renew_limit {
            return Err(ServiceError::ExpiredSession);
        }
        let renewal = self
            .sessions
            .renew(
                claims.jti,
                Uuid::new_v4(),
                now,
                self.settings.renew_window_secs,
            )
            .await?;
        let (jti, issued_at) = match renewal {
            Renewal::Renewed { jti, issued_at } => (jti, issued_at),
            Renewal::Refused => return Err(ServiceError::TokenRenewFailed),
            Renewal::Reused => {
                tracing::warn!(
                    user_id = claims.user_id,
                    "a renewed token was presented after its grace window; session ended"
                );
                return Err(ServiceError::TokenRenewFailed);
            }
        };
        // Tokens are a pure function of their claims (EdDSA and HMAC signatures are
        // deterministic), so every request that gets the same (jti, issued_at) signs the same
        // token: concurrent renewals agree without storing the token itself.
        let fresh = Claims {
            user_id: claims.user_id,
            iat: issued_at.timestamp(),
            exp: issued_at.timestamp() + policy.token_ttl,
            sign_in_time: claims.sign_in_time,
            jti,
        };
        let token = self.tokens.sign(&fresh)?;
        Ok(Authenticated {
            user,
            claims: fresh,
            renewed: Some(token),
        })
    }

    /// Revokes the presented token until its expiry and ends its session.
    pub async fn sign_out(&self, claims: &Claims) -> Result<(), ServiceError> {
        let exp = Utc
            .timestamp_opt(claims.exp, 0)
            .single()
            .unwrap_or_else(|| self.clock.now());
        // Keep the entry past `exp` by the renew limit: an expired token may still be renewable.
        let policy = self.config.token_policy().await?;
        self.sessions
            .blacklist(claims.jti, exp + Duration::seconds(policy.renew_limit))
            .await?;
        self.sessions.end_session(claims.jti).await?;
        self.event("session.revoked")
            .user(claims.user_id)
            .detail(serde_json::json!({ "by": "signOut" }))
            .record()
            .await;
        Ok(())
    }
}
