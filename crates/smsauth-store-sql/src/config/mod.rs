//! `ConfigStore` authenticators, verifiers and the token policy.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::domain::authenticator::{Authenticator, AuthenticatorDraft};
use smsauth_core::domain::sms_policy::SmsPolicy;
use smsauth_core::domain::test_number::{TestNumber, TestNumberDraft};
use smsauth_core::domain::token_policy::TokenPolicy;
use smsauth_core::domain::verifier::{VERIFICATION_TYPE_SMS_OTP, Verifier, VerifierDraft};
use smsauth_core::ports::store::{ConfigStore, Conflict, StoreError, StoreResult};

use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::{Dialect, SqlStore, Value, map_err, ms};

mod queries;
mod sms;

/// Every configuration write takes this lock: the last-enabled-authenticator rule, the single
/// default verifier and the in-use check each read one row set and then write another.
const CONFIG_LOCK: &str = "config";

use crate::rows::{AUTH_COLUMNS, AuthenticatorRow, VERIFIER_COLUMNS, VerifierRow, json_text};

#[async_trait]
impl<DB> ConfigStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    i64: Value<DB>,
    bool: Value<DB>,
    String: Value<DB>,
    Vec<u8>: Value<DB>,
    Option<i64>: Value<DB>,
    Option<String>: Value<DB>,
{
    async fn authenticators(&self) -> StoreResult<Vec<Authenticator>> {
        let rows: Vec<AuthenticatorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {AUTH_COLUMNS} FROM authenticators ORDER BY sort, id"
        )))
        .fetch_all(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        crate::rows::all(rows)
    }

    async fn authenticator(&self, id: i64) -> StoreResult<Option<Authenticator>> {
        let mut conn = self.read_conn().await?;
        Self::authenticator_by_id(&mut conn, id).await
    }

    async fn authenticator_by_name(&self, name: &str) -> StoreResult<Option<Authenticator>> {
        let row: Option<AuthenticatorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {AUTH_COLUMNS} FROM authenticators WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn create_authenticator(
        &self,
        d: AuthenticatorDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Authenticator> {
        let mut tx = self.write_tx(Some(CONFIG_LOCK)).await?;
        let options = d.options.unwrap_or_else(|| serde_json::json!({}));
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO authenticators (name, auth_type, title, description, enabled, sort,
                 options, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(sort), 0) + 1 FROM authenticators),
                 $6, $7, $8) RETURNING id",
        )
        .bind(d.name.unwrap_or_default())
        .bind(d.auth_type.map(|t| t.as_str()).unwrap_or_default())
        .bind(d.title)
        .bind(d.description)
        .bind(d.enabled.unwrap_or(false))
        .bind(json_text(&options))
        .bind(ms(now))
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let created = Self::authenticator_by_id(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(created)
    }

    async fn update_authenticator(
        &self,
        id: i64,
        d: AuthenticatorDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Authenticator> {
        let mut tx = self.write_tx(Some(CONFIG_LOCK)).await?;
        let current = Self::authenticator_by_id(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if d.enabled == Some(false)
            && current.enabled
            && Self::enabled_others(&mut tx, id).await? == 0
        {
            return Err(StoreError::Conflict(Conflict::LastAuthenticator));
        }
        sqlx::query(
            "UPDATE authenticators SET name = $1, auth_type = $2, title = $3, description = $4,
                 enabled = $5, options = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(d.name.unwrap_or(current.name))
        .bind(d.auth_type.unwrap_or(current.auth_type).as_str())
        .bind(d.title.or(current.title))
        .bind(d.description.or(current.description))
        .bind(d.enabled.unwrap_or(current.enabled))
        .bind(json_text(&d.options.unwrap_or(current.options)))
        .bind(ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let updated = Self::authenticator_by_id(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(updated)
    }

    async fn delete_authenticator(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.write_tx(Some(CONFIG_LOCK)).await?;
        let current = Self::authenticator_by_id(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if current.enabled && Self::enabled_others(&mut tx, id).await? == 0 {
            return Err(StoreError::Conflict(Conflict::LastAuthenticator));
        }
        sqlx::query("DELETE FROM authenticators WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn move_authenticator(
        &self,
        source: i64,
        target: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx(Some(CONFIG_LOCK)).await?;
        let mut ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM authenticators ORDER BY sort, id")
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err::<DB>)?;
        let from = ids
            .iter()
            .position(|&i| i == source)
            .ok_or(StoreError::NotFound)?;
        let to = ids
            .iter()
            .position(|&i| i == target)
            .ok_or(StoreError::NotFound)?;
        let moved = ids.remove(from);
        ids.insert(to, moved);
        for (pos, id) in ids.iter().enumerate() {
            sqlx::query(
                "UPDATE authenticators SET sort = $1, updated_at = $2 WHERE id = $3 AND sort <> $4",
            )
            .bind(pos as i64 + 1)
            .bind(ms(now))
            .bind(id)
            .bind(pos as i64 + 1)
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        }
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn verifiers(&self) -> StoreResult<Vec<Verifier>> {
        let rows: Vec<VerifierRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VERIFIER_COLUMNS} FROM verifiers ORDER BY created_at, name"
        )))
        .fetch_all(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        crate::rows::all(rows)
    }

    async fn verifier(&self, name: &str) -> StoreResult<Option<Verifier>> {
        let mut conn = self.read_conn().await?;
        Self::verifier_by_name(&mut conn, name).await
    }

    async fn default_sms_verifier(&self) -> StoreResult<Option<Verifier>> {
        let rows: Vec<VerifierRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VERIFIER_COLUMNS} FROM verifiers WHERE verification_type = $1
             ORDER BY is_default DESC, name LIMIT 2"
        )))
        .bind(VERIFICATION_TYPE_SMS_OTP)
        .fetch_all(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        let mut rows: Vec<Verifier> = crate::rows::all(rows)?;
        // The default one, else the only one; with several and no default there is no choice.
        Ok(match rows.len() {
            1 => rows.pop(),
            2 if rows[0].is_default => Some(rows.swap_remove(0)),
            _ => None,
        })
    }

    async fn create_verifier(&self, d: VerifierDraft, now: DateTime<Utc>) -> StoreResult<Verifier> {
        let mut tx = self.write_tx(Some(CONFIG_LOCK)).await?;
        let name = d.name.unwrap_or_default();
        let vtype = d
            .verification_type
            .unwrap_or_else(|| VERIFICATION_TYPE_SMS_OTP.into());
        if d.is_default == Some(true) {
            Self::clear_default(&mut tx, &vtype, &name).await?;
        }
        sqlx::query(
            "INSERT INTO verifiers (name, title, description, verification_type, is_default,
                 options, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&name)
        .bind(d.title)
        .bind(d.description)
        .bind(&vtype)
        .bind(d.is_default.unwrap_or(false))
        .bind(json_text(&d.options.unwrap_or_default()))
        .bind(ms(now))
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let created = Self::verifier_by_name(&mut tx, &name)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(created)
    }

    async fn update_verifier(
        &self,
        name: &str,
        d: VerifierDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<Verifier> {
        let mut tx = self.write_tx(Some(CONFIG_LOCK)).await?;
        let current = Self::verifier_by_name(&mut tx, name)
            .await?
            .ok_or(StoreError::NotFound)?;
        if d.is_default == Some(true) {
            Self::clear_default(&mut tx, &current.verification_type, name).await?;
        }
        sqlx::query(
            "UPDATE verifiers SET title = $1, description = $2, is_default = $3, options = $4,
                 updated_at = $5 WHERE name = $6",
        )
        .bind(d.title.or(current.title))
        .bind(d.description.or(current.description))
        .bind(d.is_default.unwrap_or(current.is_default))
        .bind(json_text(&d.options.unwrap_or(current.options)))
        .bind(ms(now))
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let updated = Self::verifier_by_name(&mut tx, name)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(updated)
    }

    async fn delete_verifier(&self, name: &str) -> StoreResult<()> {
        let mut tx = self.write_tx(Some(CONFIG_LOCK)).await?;
        let user: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM authenticators WHERE {} = $1 ORDER BY sort LIMIT 1",
            DB::PUBLIC_VERIFIER
        )))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        if let Some(auth) = user {
            return Err(StoreError::Conflict(Conflict::VerifierInUse(auth)));
        }
        let done = sqlx::query("DELETE FROM verifiers WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        if DB::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn token_policy(&self) -> StoreResult<TokenPolicy> {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT token_ttl, session_ttl, renew_limit FROM token_policy WHERE id = 1",
        )
        .fetch_optional(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(row
            .map(|(token_ttl, session_ttl, renew_limit)| TokenPolicy {
                token_ttl,
                session_ttl,
                renew_limit,
            })
            .unwrap_or_default())
    }

    async fn set_token_policy(&self, p: TokenPolicy, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO token_policy (id, token_ttl, session_ttl, renew_limit, created_at, updated_at)
             VALUES (1, $1, $2, $3, $4, $4)
             ON CONFLICT (id) DO UPDATE SET token_ttl = $1, session_ttl = $2, renew_limit = $3,
                 updated_at = $4",
        )
        .bind(p.token_ttl)
        .bind(p.session_ttl)
        .bind(p.renew_limit)
        .bind(ms(now))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn sms_policy(&self) -> StoreResult<Option<SmsPolicy>> {
        self.load_sms_policy().await
    }

    async fn set_sms_policy(&self, policy: &SmsPolicy, now: DateTime<Utc>) -> StoreResult<()> {
        self.save_sms_policy(policy, now).await
    }

    async fn test_numbers(&self) -> StoreResult<Vec<TestNumber>> {
        self.load_test_numbers().await
    }

    async fn create_test_number(
        &self,
        draft: TestNumberDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<TestNumber> {
        self.insert_test_number(draft, now).await
    }

    async fn update_test_number(
        &self,
        id: i64,
        draft: TestNumberDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<TestNumber> {
        self.change_test_number(id, draft, now).await
    }

    async fn delete_test_number(&self, id: i64) -> StoreResult<()> {
        self.remove_test_number(id).await
    }
}
