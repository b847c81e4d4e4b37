//! The authentication configuration, cached: read by every sign-in page, every send and every
//! token check, written by root a few times a year. Any write empties the whole configuration
//! cache (a verifier change can change which one is the default; a move renumbers every
//! authenticator), so no derived answer can go stale.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ClearOnDrop, Maps, read_through};
use crate::domain::authenticator::{Authenticator, AuthenticatorDraft};
use crate::domain::sms_policy::SmsPolicy;
use crate::domain::test_number::{TestNumber, TestNumberDraft};
use crate::domain::token_policy::TokenPolicy;
use crate::domain::verifier::{Verifier, VerifierDraft};
use crate::ports::store::{ConfigStore, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Authenticators,
    Authenticator(i64),
    AuthenticatorByName(String),
    Verifiers,
    Verifier(String),
    DefaultSmsVerifier,
    TokenPolicy,
    SmsPolicy,
    TestNumbers,
}

#[derive(Clone)]
pub(crate) enum Value {
    Authenticators(Vec<Authenticator>),
    Authenticator(Option<Authenticator>),
    Verifiers(Vec<Verifier>),
    Verifier(Option<Verifier>),
    TokenPolicy(TokenPolicy),
    SmsPolicy(Option<SmsPolicy>),
    TestNumbers(Vec<TestNumber>),
}

pub struct CachedConfig {
    inner: Arc<dyn ConfigStore>,
    maps: Arc<Maps>,
}

impl CachedConfig {
    pub(crate) fn new(inner: Arc<dyn ConfigStore>, maps: Arc<Maps>) -> Self {
        CachedConfig { inner, maps }
    }

    async fn read<F>(&self, key: Key, load: F) -> StoreResult<Value>
    where
        F: std::future::Future<Output = StoreResult<Value>>,
    {
        read_through(&self.maps.config, key, load).await
    }

    /// Runs a write, then forgets every cached configuration answer, whatever the outcome (a
    /// failed or abandoned write may still have committed).
    async fn write<T>(
        &self,
        write: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let _clear = ClearOnDrop(|| self.maps.config.clear());
        write.await
    }
}

/// A cached answer of another kind than its key asks for cannot happen (each key is stored with
/// its own kind); it is reported as unavailable rather than trusted.
fn mismatch() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("configuration cache holds a wrong kind"))
}

#[async_trait]
impl ConfigStore for CachedConfig {
    async fn authenticators(&self) -> StoreResult<Vec<Authenticator>> {
        let load = async { self.inner.authenticators().await.map(Value::Authenticators) };
        match self.read(Key::Authenticators, load).await? {
            Value::Authenticators(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn authenticator(&self, id: i64) -> StoreResult<Option<Authenticator>> {
        let load = async { self.inner.authenticator(id).await.map(Value::Authenticator) };
        match self.read(Key::Authenticator(id), load).await? {
            Value::Authenticator(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn authenticator_by_name(&self, name: &str) -> StoreResult<Option<Authenticator>> {
        let load = async {
            self.inner
                .authenticator_by_name(name)
                .await
                .map(Value::Authenticator)
        };
        match self
            .read(Key::AuthenticatorByName(name.to_string()), load)
            .await?
        {
            Value::Authenticator(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn create_authenticator(
        &self,
        draft: AuthenticatorDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Authenticator> {
        self.write(self.inner.create_authenticator(draft, now))
            .await
    }

    async fn update_authenticator(
        &self,
        id: i64,
        draft: AuthenticatorDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Authenticator> {
        self.write(self.inner.update_authenticator(id, draft, now))
            .await
    }

    async fn delete_authenticator(&self, id: i64) -> StoreResult<()> {
        self.write(self.inner.delete_authenticator(id)).await
    }

    async fn move_authenticator(
        &self,
        source: i64,
        target: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(self.inner.move_authenticator(source, target, now))
            .await
    }

    async fn verifiers(&self) -> StoreResult<Vec<Verifier>> {
        let load = async { self.inner.verifiers().await.map(Value::Verifiers) };
        match self.read(Key::Verifiers, load).await? {
            Value::Verifiers(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn verifier(&self, name: &str) -> StoreResult<Option<Verifier>> {
        let load = async { self.inner.verifier(name).await.map(Value::Verifier) };
        match self.read(Key::Verifier(name.to_string()), load).await? {
            Value::Verifier(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn default_sms_verifier(&self) -> StoreResult<Option<Verifier>> {
        let load = async { self.inner.default_sms_verifier().await.map(Value::Verifier) };
        match self.read(Key::DefaultSmsVerifier, load).await? {
            Value::Verifier(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn create_verifier(
        &self,
        draft: VerifierDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Verifier> {
        self.write(self.inner.create_verifier(draft, now)).await
    }

    async fn update_verifier(
        &self,
        name: &str,
        draft: VerifierDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Verifier> {
        self.write(self.inner.update_verifier(name, draft, now))
            .await
    }

    async fn delete_verifier(&self, name: &str) -> StoreResult<()> {
        self.write(self.inner.delete_verifier(name)).await
    }

    async fn token_policy(&self) -> StoreResult<TokenPolicy> {
        let load = async { self.inner.token_policy().await.map(Value::TokenPolicy) };
        match self.read(Key::TokenPolicy, load).await? {
            Value::TokenPolicy(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn set_token_policy(&self, policy: TokenPolicy, now: DateTime<Utc>) -> StoreResult<()> {
        // A longer session lifetime would make sessions purged under the shorter one look
        // current again to a cached token state.
        let _clear = ClearOnDrop(|| self.maps.tokens.clear());
        self.write(self.inner.set_token_policy(policy, now)).await
    }

    async fn sms_policy(&self) -> StoreResult<Option<SmsPolicy>> {
        let load = async { self.inner.sms_policy().await.map(Value::SmsPolicy) };
        match self.read(Key::SmsPolicy, load).await? {
            Value::SmsPolicy(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn set_sms_policy(&self, policy: &SmsPolicy, now: DateTime<Utc>) -> StoreResult<()> {
        self.write(self.inner.set_sms_policy(policy, now)).await
    }

    async fn test_numbers(&self) -> StoreResult<Vec<TestNumber>> {
        let load = async { self.inner.test_numbers().await.map(Value::TestNumbers) };
        match self.read(Key::TestNumbers, load).await? {
            Value::TestNumbers(v) => Ok(v),
            _ => Err(mismatch()),
        }
    }

    async fn create_test_number(
        &self,
        draft: TestNumberDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<TestNumber> {
        self.write(self.inner.create_test_number(draft, now)).await
    }

    async fn update_test_number(
        &self,
        id: i64,
        draft: TestNumberDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<TestNumber> {
        self.write(self.inner.update_test_number(id, draft, now))
            .await
    }

    async fn delete_test_number(&self, id: i64) -> StoreResult<()> {
        self.write(self.inner.delete_test_number(id)).await
    }
}
