//! Authentication configuration as administrators read and change it: authenticators,
//! verifiers and the token policy (SPEC §3, §6). Admins may read it (secrets masked); every
//! write is root's, because whoever decides how users prove who they are can sign in as anyone
//! (an admin who could point a verifier at their own gateway would read root's code). The rule
//! lives here, not in the HTTP layer, so no handler can forget it.

use super::{Core, ServiceError};
use crate::domain::authenticator::{Authenticator, AuthenticatorDraft};
use crate::domain::token_policy::{TokenPolicy, TokenPolicyConfig};
use crate::domain::user::User;
use crate::domain::verifier::{
    VERIFICATION_TYPE_SMS_OTP, Verifier, VerifierDraft, valid_verifier_name,
};

/// Fields of a token policy change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct TokenPolicyChange {
    pub token_expiration_time: Option<String>,
    pub session_expiration_time: Option<String>,
    pub expired_token_renew_limit: Option<String>,
}

/// Refuses anyone but root (SPEC §6.5).
pub(crate) fn require_root(actor: &User) -> Result<(), ServiceError> {
    if actor.is_root() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

impl Core {
    pub async fn authenticators(&self) -> Result<Vec<Authenticator>, ServiceError> {
        Ok(self.config.authenticators().await?)
    }

    pub async fn authenticator(&self, id: i64) -> Result<Authenticator, ServiceError> {
        self.config
            .authenticator(id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    pub async fn create_authenticator(
        &self,
        actor: &User,
        draft: AuthenticatorDraft,
    ) -> Result<Authenticator, ServiceError> {
        require_root(actor)?;
        self.check_authenticator(&draft, None).await?;
        Ok(self
            .config
            .create_authenticator(draft, self.clock.now())
            .await?)
    }

    /// The type of an authenticator is fixed once created; its name only changes on purpose and
    /// to a valid one.
    pub async fn update_authenticator(
        &self,
        actor: &User,
        id: i64,
        mut draft: AuthenticatorDraft,
    ) -> Result<Authenticator, ServiceError> {
        require_root(actor)?;
        let existing = self.authenticator(id).await?;
        draft.auth_type = None;
        if draft
            .name
            .as_deref()
            .is_some_and(|n| !valid_verifier_name(n))
        {
            return Err(ServiceError::invalid("INVALID_NAME", "name"));
        }
        self.check_authenticator(&draft, Some(&existing)).await?;
        Ok(self
            .config
            .update_authenticator(existing.id, draft, self.clock.now())
            .await?)
    }

    pub async fn delete_authenticator(&self, actor: &User, id: i64) -> Result<(), ServiceError> {
        require_root(actor)?;
        Ok(self.config.delete_authenticator(id).await?)
    }

    pub async fn move_authenticator(
        &self,
        actor: &User,
        source: i64,
        target: i64,
    ) -> Result<(), ServiceError> {
        require_root(actor)?;
        Ok(self
            .config
            .move_authenticator(source, target, self.clock.now())
            .await?)
    }

    /// Every verifier, secrets masked.
    pub async fn verifiers(&self) -> Result<Vec<Verifier>, ServiceError> {
        let all = self.config.verifiers().await?;
        Ok(all.into_iter().map(|v| self.masked_verifier(v)).collect())
    }

    /// The `sms-otp` verifiers, secrets masked (for the scenes and the user centre).
    pub async fn sms_verifiers(&self) -> Result<Vec<Verifier>, ServiceError> {
        let all = self.verifiers().await?;
        Ok(all
            .into_iter()
            .filter(|v| v.verification_type == VERIFICATION_TYPE_SMS_OTP)
            .collect())
    }

    /// One verifier, secrets masked.
    pub async fn verifier(&self, name: &str) -> Result<Verifier, ServiceError> {
        let v = self
            .config
            .verifier(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(self.masked_verifier(v))
    }

    pub async fn create_verifier(
        &self,
        actor: &User,
        draft: VerifierDraft,
    ) -> Result<Verifier, ServiceError> {
        require_root(actor)?;
        let draft = self.prepare_verifier(draft, None).await?;
        let created = self.config.create_verifier(draft, self.clock.now()).await?;
        Ok(self.masked_verifier(created))
    }

    /// A verifier's name is its key and does not change.
    pub async fn update_verifier(
        &self,
        actor: &User,
        name: &str,
        mut draft: VerifierDraft,
    ) -> Result<Verifier, ServiceError> {
        require_root(actor)?;
        let existing = self
            .uncached
            .config
            .verifier(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        draft.name = None;
        let draft = self.prepare_verifier(draft, Some(&existing)).await?;
        let updated = self
            .config
            .update_verifier(&existing.name, draft, self.clock.now())
            .await?;
        Ok(self.masked_verifier(updated))
    }

    pub async fn delete_verifier(&self, actor: &User, name: &str) -> Result<(), ServiceError> {
        require_root(actor)?;
        Ok(self.config.delete_verifier(name).await?)
    }

    /// The SMS provider types, each with its settings schema, for the verifier form.
    pub fn provider_types(&self) -> Vec<(String, String, Option<serde_json::Value>)> {
        self.providers
            .provider_types()
            .into_iter()
            .map(|(name, title)| {
                let schema = self.providers.schema(&name);
                (name, title, schema)
            })
            .collect()
    }

    pub async fn token_policy(&self) -> Result<TokenPolicy, ServiceError> {
        Ok(self.config.token_policy().await?)
    }

    /// Applies `change` over the current policy; the result must be valid as a whole (a token
    /// lives shorter than its session, every value positive).
    pub async fn update_token_policy(
        &self,
        actor: &User,
        change: TokenPolicyChange,
    ) -> Result<TokenPolicy, ServiceError> {
        require_root(actor)?;
        let current = self.uncached.config.token_policy().await?.to_config();
        let config = TokenPolicyConfig {
            token_expiration_time: change
                .token_expiration_time
                .unwrap_or(current.token_expiration_time),
            session_expiration_time: change
                .session_expiration_time
                .unwrap_or(current.session_expiration_time),
            expired_token_renew_limit: change
                .expired_token_renew_limit
                .unwrap_or(current.expired_token_renew_limit),
        };
        let policy = TokenPolicy::from_config(&config)
            .map_err(|e| ServiceError::invalid("INVALID_TOKEN_POLICY", e.to_string()))?;
        self.config
            .set_token_policy(policy, self.clock.now())
            .await?;
        Ok(policy)
    }
}
