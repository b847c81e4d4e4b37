//! The OpenID Provider's use-cases (SPEC §16): client administration, consent, authorization
//! codes and grants. The protocol (request parsing, JWTs, redirects) is the HTTP layer's; this
//! module owns what is stored and every rule about it.
//!
//! A grant is a session (`issued_tokens`) whose authenticator is `oidc:<client_id>` and whose
//! parent is the provider's browser session it was authorised in. Access and refresh tokens
//! carry the session's current `jti`; a refresh renews it with no grace window, so a refresh
//! token works once and an old one presented again ends the grant (OAuth 2.0 Security BCP,
//! RFC 9700 §4.14.2). Ending the browser session, signing out everywhere, a password change
//! or the user's deletion end the grants with every other session, and the codes not yet
//! redeemed: a grant is only created while its browser session lives.

use chrono::{Duration, Utc};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{Core, ServiceError};
use crate::domain::oidc::{AuthCode, OidcClient, OidcClientDraft, Redemption, covers};
use crate::domain::user::User;
use crate::ports::store::{Renewal, Session};

/// Authorization codes live 60 s (SPEC §16; RFC 6749 §4.1.2 recommends at most 10 minutes).
pub const CODE_TTL_SECS: i64 = 60;

/// The authenticator name of the grants issued to a client.
pub fn grant_authenticator(client_id: &str) -> String {
    format!("oidc:{client_id}")
}

/// A client with its secret, which is shown once (on creation or rotation) and never stored.
#[derive(Debug, Clone)]
pub struct ClientWithSecret {
    pub client: OidcClient,
    pub secret: Option<String>,
}

/// What the authorization endpoint asks a code for.
#[derive(Debug, Clone)]
pub struct CodeRequest {
    pub client_id: String,
    pub user_id: i64,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: chrono::DateTime<Utc>,
    pub amr: String,
    pub sid: Uuid,
}

/// A redeemed code and the grant session made for it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub code: AuthCode,
    /// The grant session's current token id.
    pub jti: Uuid,
    pub issued_at: chrono::DateTime<Utc>,
}

/// Why a presented code gave nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    Unknown,
    Expired,
    Replayed,
    /// The browser session it was issued in has ended.
    SessionEnded,
}

/// Hex of `n` bytes from the OS CSPRNG.
pub fn random_hex(n: usize) -> Result<String, ServiceError> {
    use rand::TryRng;
    let mut buf = vec![0u8; n];
    rand::rngs::SysRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| anyhow::anyhow!("the OS random generator failed: {e}"))?;
    Ok(hex::encode(buf))
}

// Registering an application decides where users' identities are sent: authentication
// configuration, root's alone like authenticators (SPEC §6.5).
use super::configuration::require_root;

fn invalid(field: &'static str) -> ServiceError {
    ServiceError::invalid("INVALID_OIDC_CLIENT", field)
}

impl Core {
    pub async fn oidc_clients(&self) -> Result<Vec<OidcClient>, ServiceError> {
        Ok(self.oidc.clients().await?)
    }

    pub async fn oidc_client(&self, client_id: &str) -> Result<OidcClient, ServiceError> {
        self.oidc
            .client(client_id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    fn new_secret(&self) -> Result<(String, String), ServiceError> {
        let secret = random_hex(32)?;
        let hash = self.hasher.secret_hash("client", &secret);
        Ok((secret, hash))
    }

    pub async fn create_oidc_client(
        &self,
        actor: &User,
        draft: OidcClientDraft,
    ) -> Result<ClientWithSecret, ServiceError> {
        require_root(actor)?;
        let v = draft.validate(None).map_err(|e| invalid(e.field))?;
        let now = self.clock.now();
        let (secret, secret_hash) = if v.public {
            (None, None)
        } else {
            let (s, h) = self.new_secret()?;
            (Some(s), Some(h))
        };
        let client = OidcClient {
            client_id: format!("oc_{}", random_hex(12)?),
            name: v.name,
            secret_hash,
            redirect_uris: v.redirect_uris,
            post_logout_redirect_uris: v.post_logout_redirect_uris,
            public: v.public,
            first_party: v.first_party,
            id_token_alg: v.id_token_alg,
            created_at: now,
            updated_at: now,
        };
        self.oidc.create_client(&client).await?;
        Ok(ClientWithSecret { client, secret })
    }

    /// Changes a client. Turning a public client confidential makes it a secret (returned
    /// once); turning a confidential one public drops its secret.
    pub async fn update_oidc_client(
        &self,
        actor: &User,
        client_id: &str,
        draft: OidcClientDraft,
    ) -> Result<ClientWithSecret, ServiceError> {
        require_root(actor)?;
        let mut client = self.oidc_client(client_id).await?;
        let v = draft
            .validate(Some(&client))
            .map_err(|e| invalid(e.field))?;
        let mut secret = None;
        if v.public {
            client.secret_hash = None;
        } else if client.secret_hash.is_none() {
            let (s, h) = self.new_secret()?;
            secret = Some(s);
            client.secret_hash = Some(h);
        }
        client.name = v.name;
        client.redirect_uris = v.redirect_uris;
        client.post_logout_redirect_uris = v.post_logout_redirect_uris;
        client.public = v.public;
        client.first_party = v.first_party;
        client.id_token_alg = v.id_token_alg;
        client.updated_at = self.clock.now();
        self.oidc.update_client(&client).await?;
        Ok(ClientWithSecret { client, secret })
    }

    /// A new secret for a confidential client; the old one stops working at once.
    pub async fn rotate_oidc_secret(
        &self,
        actor: &User,
        client_id: &str,
    ) -> Result<ClientWithSecret, ServiceError> {
        require_root(actor)?;
        let mut client = self.oidc_client(client_id).await?;
        if client.public {
            return Err(invalid("public"));
        }
        let (secret, hash) = self.new_secret()?;
        client.secret_hash = Some(hash);
        client.updated_at = self.clock.now();
        self.oidc.update_client(&client).await?;
        Ok(ClientWithSecret {
            client,
            secret: Some(secret),
        })
    }

    pub async fn delete_oidc_client(
        &self,
        actor: &User,
        client_id: &str,
    ) -> Result<(), ServiceError> {
        require_root(actor)?;
        self.oidc.delete_client(client_id).await?;
        // The grants' token states may be cached (`crate::cache`).
        self.sessions.purge(self.clock.now()).await?;
        Ok(())
    }

    /// Whether `secret` is the client's, compared in constant time (a keyed hash of each, so
    /// the comparison leaks nothing about the stored one either).
    pub fn oidc_secret_matches(&self, client: &OidcClient, secret: &str) -> bool {
        let Some(stored) = &client.secret_hash else {
            return false;
        };
        let given = self.hasher.secret_hash("client", secret);
        bool::from(given.as_bytes().ct_eq(stored.as_bytes()))
    }

    /// Whether the user already allowed the client every scope of `scopes`.
    pub async fn oidc_consented(
        &self,
        user_id: i64,
        client_id: &str,
        scopes: &[&str],
    ) -> Result<bool, ServiceError> {
        Ok(self
            .oidc
            .consent(user_id, client_id)
            .await?
            .is_some_and(|granted| covers(&granted, scopes)))
    }

    /// Records the user's consent to `scopes`, added to what was allowed before.
    pub async fn save_oidc_consent(
        &self,
        user_id: i64,
        client_id: &str,
        scopes: &[&str],
    ) -> Result<(), ServiceError> {
        let before = self.oidc.consent(user_id, client_id).await?;
        let mut all: Vec<String> = before
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        for s in scopes {
            if !all.iter().any(|a| a == s) {
                all.push((*s).to_string());
            }
        }
        self.oidc
            .save_consent(user_id, client_id, &all.join(" "), self.clock.now())
            .await?;
        self.event("oidc.consent")
            .user(user_id)
            .detail(serde_json::json!({ "clientId": client_id, "scope": all.join(" ") }))
            .record()
            .await;
        Ok(())
    }

    /// Issues an authorization code (256 bits from the OS CSPRNG, stored as a keyed hash).
    pub async fn issue_oidc_code(&self, r: CodeRequest) -> Result<String, ServiceError> {
        let code = random_hex(32)?;
        let now = self.clock.now();
        let stored = AuthCode {
            code_hash: self.hasher.secret_hash("code", &code),
            client_id: r.client_id,
            user_id: r.user_id,
            redirect_uri: r.redirect_uri,
            scope: r.scope,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            auth_time: r.auth_time,
            amr: r.amr,
            sid: r.sid,
            expires_at: now + Duration::seconds(CODE_TTL_SECS),
        };
        self.oidc.insert_code(&stored).await?;
        Ok(code)
    }

    /// Consumes a presented code. Of concurrent presentations exactly one succeeds; a
    /// presentation after that ends the grant the first one received.
    pub async fn take_oidc_code(
        &self,
        code: &str,
    ) -> Result<Result<(AuthCode, Uuid), CodeRefusal>, ServiceError> {
        if code.is_empty() || code.len() > 256 {
            return Ok(Err(CodeRefusal::Unknown));
        }
        let hash = self.hasher.secret_hash("code", code);
        let grant = Uuid::new_v4();
        let now = self.clock.now();
        match self.oidc.redeem_code(&hash, now, grant).await? {
            Redemption::Unknown => Ok(Err(CodeRefusal::Unknown)),
            Redemption::Replayed => {
                tracing::warn!("an authorization code was presented twice; its grant was ended");
                // The grant's token states may be cached.
                self.sessions.purge(now).await?;
                Ok(Err(CodeRefusal::Replayed))
            }
            Redemption::Fresh(c) if c.expires_at <= now => Ok(Err(CodeRefusal::Expired)),
            Redemption::Fresh(c) => Ok(Ok((*c, grant))),
        }
    }

    /// Creates the grant session for a consumed (and checked) code.
    pub async fn start_oidc_grant(
        &self,
        code: AuthCode,
        grant: Uuid,
    ) -> Result<Result<Grant, CodeRefusal>, ServiceError> {
        let now = self.clock.now();
        let policy = self.config.token_policy().await?;
        let jti = Uuid::new_v4();
        let session = Session {
            id: grant,
            jti,
            user_id: code.user_id,
            authenticator: grant_authenticator(&code.client_id),
            issued_at: now,
            sign_in_at: code.auth_time,
            parent: Some(code.sid),
        };
        match self
            .sessions
            .insert_session(session, now - Duration::seconds(policy.session_ttl))
            .await
        {
            Ok(()) => {}
            // The browser session the code was issued in has ended since (sign-out, logout,
            // revocation, a password change): the code ended with it.
            Err(crate::ports::store::StoreError::NotFound) => {
                return Ok(Err(CodeRefusal::SessionEnded));
            }
            Err(e) => return Err(e.into()),
        }
        if self.oidc.code_replayed(&code.code_hash).await? {
            self.sessions.end_session(jti).await?;
            return Ok(Err(CodeRefusal::Replayed));
        }
        self.event("oidc.grant")
            .user(code.user_id)
            .detail(serde_json::json!({ "clientId": code.client_id, "scope": code.scope }))
            .record()
            .await;
        Ok(Ok(Grant {
            code,
            jti,
            issued_at: now,
        }))
    }

    /// Checks that a token of a grant (an access or refresh token, by its `jti`) still holds:
    /// its session is live and this is its current token, the user exists, and nothing voided
    /// the user's tokens since `iat`. Returns the user.
    pub async fn oidc_grant_user(
        &self,
        user_id: i64,
        jti: Uuid,
        iat: i64,
        auth_time: i64,
    ) -> Result<Option<User>, ServiceError> {
        let Some(user) = self.users.user(user_id).await? else {
            return Ok(None);
        };
        let state = self.sessions.token_state(jti).await?;
        if state.blacklisted || !state.current {
            return Ok(None);
        }
        let void_before = [user.password_changed_at, user.sessions_revoked_at]
            .into_iter()
            .flatten()
            .max();
        if void_before.is_some_and(|t| iat < t.timestamp()) {
            return Ok(None);
        }
        let policy = self.config.token_policy().await?;
        if self.clock.now().timestamp() - auth_time > policy.session_ttl {
            return Ok(None);
        }
        Ok(Some(user))
    }

    /// Rotates a grant's refresh token: the old `jti` stops working, and presenting it again
    /// later ends the grant (no grace window: a refresh token is used by one client, never by
    /// concurrent tabs).
    pub async fn refresh_oidc_grant(
        &self,
        jti: Uuid,
    ) -> Result<Option<(Uuid, chrono::DateTime<Utc>)>, ServiceError> {
        let renewal = self
            .sessions
            .renew(jti, Uuid::new_v4(), self.clock.now(), 0)
            .await?;
        Ok(match renewal {
            Renewal::Renewed { jti, issued_at } => Some((jti, issued_at)),
            Renewal::Refused => None,
            Renewal::Reused => {
                tracing::warn!("a rotated refresh token was presented again; its grant was ended");
                None
            }
        })
    }

    /// Ends the grant whose current token is `jti` (revocation).
    pub async fn end_oidc_grant(&self, user_id: i64, jti: Uuid) -> Result<(), ServiceError> {
        self.sessions.end_session(jti).await?;
        self.event("session.revoked")
            .user(user_id)
            .detail(serde_json::json!({ "by": "oidcRevoke" }))
            .record()
            .await;
        Ok(())
    }

    /// Ends the provider's browser session `sid` and every grant authorised in it.
    pub async fn end_oidc_browser_session(
        &self,
        user_id: Option<i64>,
        sid: Uuid,
    ) -> Result<(), ServiceError> {
        self.sessions.end_session_by_id(sid).await?;
        let mut event = self.event("session.revoked");
        if let Some(id) = user_id {
            event = event.user(id);
        }
        event
            .detail(serde_json::json!({ "by": "oidcLogout" }))
            .record()
            .await;
        Ok(())
    }

    /// The session whose current token is `jti`.
    pub async fn session_of(&self, jti: Uuid) -> Result<Option<Session>, ServiceError> {
        Ok(self.sessions.session(jti).await?)
    }
}
