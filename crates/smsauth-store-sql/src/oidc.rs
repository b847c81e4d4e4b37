//! `OidcStore`: OpenID Provider clients, consents and authorization codes (SPEC §16).
//!
//! A code is consumed by one guarded `UPDATE … WHERE consumed_at IS NULL`: whichever
//! presentation's statement runs first, on whichever instance, gets the row; every other one
//! finds it consumed and ends the grant it produced.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::domain::oidc::{AuthCode, IdTokenAlg, OidcClient, Redemption};
use smsauth_core::ports::oidc::OidcStore;
use smsauth_core::ports::store::{StoreError, StoreResult};
use sqlx::{ColumnIndex, Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use crate::rows::json_text;
use crate::{Dialect, SqlStore, Value, found, from_ms, map_err, ms};

const CLIENT_COLUMNS: &str = "client_id, name, secret_hash, redirect_uris, \
     post_logout_redirect_uris, public, first_party, id_token_alg, created_at, updated_at";
const CODE_COLUMNS: &str = "code_hash, client_id, user_id, redirect_uri, scope, nonce, \
     code_challenge, auth_time, amr, sid, expires_at";

fn corrupt(what: String) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("unreadable row: {what}"))
}

#[derive(FromRow)]
struct ClientRow {
    client_id: String,
    name: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    public: bool,
    first_party: bool,
    id_token_alg: String,
    created_at: i64,
    updated_at: i64,
}

fn uri_list(id: &str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("oidc client {id}: uris: {e}")))
}

impl TryFrom<ClientRow> for OidcClient {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        Ok(OidcClient {
            redirect_uris: uri_list(&r.client_id, &r.redirect_uris)?,
            post_logout_redirect_uris: uri_list(&r.client_id, &r.post_logout_redirect_uris)?,
            id_token_alg: IdTokenAlg::parse(&r.id_token_alg).ok_or_else(|| {
                corrupt(format!(
                    "oidc client {}: alg {}",
                    r.client_id, r.id_token_alg
                ))
            })?,
            client_id: r.client_id,
            name: r.name,
            secret_hash: r.secret_hash,
            public: r.public,
            first_party: r.first_party,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

#[derive(FromRow)]
struct CodeRow {
    code_hash: String,
    client_id: String,
    user_id: i64,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    auth_time: i64,
    amr: String,
    sid: String,
    expires_at: i64,
}

impl TryFrom<CodeRow> for AuthCode {
    type Error = StoreError;
    fn try_from(r: CodeRow) -> Result<Self, StoreError> {
        Ok(AuthCode {
            sid: Uuid::parse_str(&r.sid).map_err(|e| corrupt(format!("oidc code sid: {e}")))?,
            code_hash: r.code_hash,
            client_id: r.client_id,
            user_id: r.user_id,
            redirect_uri: r.redirect_uri,
            scope: r.scope,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            auth_time: from_ms(r.auth_time)?,
            amr: r.amr,
            expires_at: from_ms(r.expires_at)?,
        })
    }
}

fn uris(v: &[String]) -> String {
    json_text(&serde_json::json!(v))
}

#[async_trait]
impl<DB> OidcStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    i64: Value<DB>,
    bool: Value<DB>,
    String: Value<DB>,
    Option<i64>: Value<DB>,
    Option<String>: Value<DB>,
{
    async fn clients(&self) -> StoreResult<Vec<OidcClient>> {
        let rows: Vec<ClientRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY created_at, client_id"
        )))
        .fetch_all(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        crate::rows::all(rows)
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<OidcClient>> {
        let row: Option<ClientRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE client_id = $1"
        )))
        .bind(client_id.to_string())
        .fetch_optional(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        row.map(OidcClient::try_from).transpose()
    }

    async fn create_client(&self, c: &OidcClient) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oidc_clients ({CLIENT_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(c.client_id.clone())
        .bind(c.name.clone())
        .bind(c.secret_hash.clone())
        .bind(uris(&c.redirect_uris))
        .bind(uris(&c.post_logout_redirect_uris))
        .bind(c.public)
        .bind(c.first_party)
        .bind(c.id_token_alg.as_str().to_string())
        .bind(ms(c.created_at))
        .bind(ms(c.updated_at))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn update_client(&self, c: &OidcClient) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE oidc_clients SET name = $2, secret_hash = $3, redirect_uris = $4,
                 post_logout_redirect_uris = $5, public = $6, first_party = $7,
                 id_token_alg = $8, updated_at = $9
             WHERE client_id = $1",
        )
        .bind(c.client_id.clone())
        .bind(c.name.clone())
        .bind(c.secret_hash.clone())
        .bind(uris(&c.redirect_uris))
        .bind(uris(&c.post_logout_redirect_uris))
        .bind(c.public)
        .bind(c.first_party)
        .bind(c.id_token_alg.as_str().to_string())
        .bind(ms(c.updated_at))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        found::<DB>(done)
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<()> {
        let mut tx = self.write_tx(None).await?;
        sqlx::query("DELETE FROM issued_tokens WHERE authenticator = $1")
            .bind(smsauth_core::service::oidc::grant_authenticator(client_id))
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        sqlx::query("DELETE FROM oidc_consents WHERE client_id = $1")
            .bind(client_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        sqlx::query("DELETE FROM oidc_codes WHERE client_id = $1")
            .bind(client_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        let done = sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1")
            .bind(client_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        found::<DB>(done)?;
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn consent(&self, user_id: i64, client_id: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT scope FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id.to_string())
            .fetch_optional(&mut *self.read_conn().await?)
            .await
            .map_err(map_err::<DB>)
    }

    async fn save_consent(
        &self,
        user_id: i64,
        client_id: &str,
        scope: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oidc_consents (user_id, client_id, scope, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, updated_at = $4",
        )
        .bind(user_id)
        .bind(client_id.to_string())
        .bind(scope.to_string())
        .bind(ms(now))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn insert_code(&self, c: &AuthCode) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO oidc_codes ({CODE_COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(c.code_hash.clone())
        .bind(c.client_id.clone())
        .bind(c.user_id)
        .bind(c.redirect_uri.clone())
        .bind(c.scope.clone())
        .bind(c.nonce.clone())
        .bind(c.code_challenge.clone())
        .bind(ms(c.auth_time))
        .bind(c.amr.clone())
        .bind(c.sid.to_string())
        .bind(ms(c.expires_at))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        grant: Uuid,
    ) -> StoreResult<Redemption> {
        let fresh: Option<CodeRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE oidc_codes SET consumed_at = $2, grant_id = $3
             WHERE code_hash = $1 AND consumed_at IS NULL RETURNING {CODE_COLUMNS}"
        )))
        .bind(code_hash.to_string())
        .bind(ms(now))
        .bind(grant.to_string())
        .fetch_optional(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        if let Some(row) = fresh {
            return Ok(Redemption::Fresh(Box::new(row.try_into()?)));
        }
        // Consumed before (or never issued). Mark it replayed first, then end the grant: the
        // first presentation checks the mark after creating the grant, so whichever order the
        // two run in, the grant does not survive.
        let replayed: Option<Option<String>> = sqlx::query_scalar(
            "UPDATE oidc_codes SET replayed_at = $2 WHERE code_hash = $1 RETURNING grant_id",
        )
        .bind(code_hash.to_string())
        .bind(ms(now))
        .fetch_optional(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        let Some(grant) = replayed else {
            return Ok(Redemption::Unknown);
        };
        if let Some(id) = grant {
            sqlx::query("DELETE FROM issued_tokens WHERE id = $1 OR parent_id = $1")
                .bind(id)
                .execute(&mut *self.write_conn().await?)
                .await
                .map_err(map_err::<DB>)?;
        }
        Ok(Redemption::Replayed)
    }

    async fn code_replayed(&self, code_hash: &str) -> StoreResult<bool> {
        // From the writer: on SQLite a read connection could lag behind its snapshot.
        let at: Option<Option<i64>> =
            sqlx::query_scalar("SELECT replayed_at FROM oidc_codes WHERE code_hash = $1")
                .bind(code_hash.to_string())
                .fetch_optional(&mut *self.write_conn().await?)
                .await
                .map_err(map_err::<DB>)?;
        Ok(matches!(at, Some(Some(_))))
    }

    async fn purge_codes(&self, before: DateTime<Utc>) -> StoreResult<()> {
        // A redeemed code stays while the grant it produced lives: presented again later, it
        // still ends that grant.
        sqlx::query(
            "DELETE FROM oidc_codes WHERE expires_at < $1
                 AND (grant_id IS NULL OR NOT EXISTS
                     (SELECT 1 FROM issued_tokens t WHERE t.id = oidc_codes.grant_id))",
        )
        .bind(ms(before))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }
}
