//! `SessionStore`: issued tokens, renewals and the blacklist.
//!
//! A session is one `issued_tokens` row whose `jti` is its current token. Ending a session
//! deletes the row, which voids every token of it at once (SPEC §5.5): the current one fails
//! `token_state`, and the ones it was renewed from fail `renew`, which answers only while the
//! session still exists.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::ports::store::{
    Renewal, Session, SessionStore, StoreError, StoreResult, TokenState,
};
use uuid::Uuid;

use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::{Dialect, SqlStore, Value, from_ms, map_err, ms};

#[async_trait]
impl<DB> SessionStore for SqlStore<DB>
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
    async fn insert_session(&self, s: Session, purge_before: DateTime<Utc>) -> StoreResult<()> {
        // Two statements, no transaction. The purge comes first: a session started from a
        // parent signed in before `purge_before` (an OIDC grant) must meet the foreign key of a
        // parent already gone, not be inserted and then purged with it. A purge that fails is
        // housekeeping left for the next sign-in; the insert is whole on its own.
        if let Err(e) =
            sqlx::query("DELETE FROM issued_tokens WHERE user_id = $1 AND sign_in_at < $2")
                .bind(s.user_id)
                .bind(ms(purge_before))
                .execute(&mut *self.write_conn().await?)
                .await
        {
            tracing::warn!(error = %e, "older sessions of the user not purged");
        }
        sqlx::query(
            "INSERT INTO issued_tokens (id, jti, issued_at, sign_in_at, user_id, authenticator,
                 created_at, updated_at, parent_id) VALUES ($1, $2, $3, $4, $5, $6, $3, $3, $7)",
        )
        .bind(s.id.to_string())
        .bind(s.jti.to_string())
        .bind(ms(s.issued_at))
        .bind(ms(s.sign_in_at))
        .bind(s.user_id)
        .bind(&s.authenticator)
        .bind(s.parent.map(|p| p.to_string()))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(|e| match &e {
            // The parent session has ended (the foreign key of `parent_id`).
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            _ => map_err::<DB>(e),
        })?;
        Ok(())
    }

    async fn renew(
        &self,
        old: Uuid,
        fresh: Uuid,
        now: DateTime<Utc>,
        window_secs: i64,
    ) -> StoreResult<Renewal> {
        let mut tx = self.write_tx(Some(&format!("renew:{old}"))).await?;
        let earlier: Option<(String, i64, Option<String>)> = sqlx::query_as(
            "SELECT new_jti, renewed_at, session_id FROM token_renewals WHERE old_jti = $1",
        )
        .bind(old.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        if let Some((new_jti, renewed_at, session_id)) = earlier {
            let session = session_id.unwrap_or_default();
            // A window of 0 has no grace at all, whatever the clocks of the instances say
            // (OIDC refresh tokens).
            if window_secs == 0 || ms(now) - renewed_at > window_secs * 1000 {
                // A renewed token came back after its grace window: someone kept a copy. End
                // the session so that neither copy works any more (SPEC §5.5).
                sqlx::query("DELETE FROM issued_tokens WHERE id = $1 OR parent_id = $1")
                    .bind(&session)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err::<DB>)?;
                tx.commit().await.map_err(map_err::<DB>)?;
                return Ok(Renewal::Reused);
            }
            let live: Option<String> =
                sqlx::query_scalar("SELECT id FROM issued_tokens WHERE id = $1")
                    .bind(&session)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err::<DB>)?;
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(match (live, Uuid::parse_str(&new_jti)) {
                (Some(_), Ok(jti)) => Renewal::Renewed {
                    jti,
                    issued_at: from_ms(renewed_at)?,
                },
                _ => Renewal::Refused,
            });
        }
        let session: Option<String> = sqlx::query_scalar(
            "UPDATE issued_tokens SET jti = $1, issued_at = $2, updated_at = $2 WHERE jti = $3
             RETURNING id",
        )
        .bind(fresh.to_string())
        .bind(ms(now))
        .bind(old.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let Some(session) = session else {
            return Ok(Renewal::Refused);
        };
        // Whole seconds: the renewed token's `iat` is in seconds and must be reproducible from
        // this row by every concurrent request.
        let renewed_at = now.timestamp() * 1000;
        sqlx::query(
            "INSERT INTO token_renewals (old_jti, new_jti, renewed_at, session_id, created_at,
                 updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(old.to_string())
        .bind(fresh.to_string())
        .bind(renewed_at)
        .bind(&session)
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(Renewal::Renewed {
            jti: fresh,
            issued_at: from_ms(renewed_at)?,
        })
    }

    async fn blacklist(&self, jti: Uuid, expires_at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO token_blacklist (jti, expires_at, created_at, updated_at)
             VALUES ($1, $2, $2, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti.to_string())
        .bind(ms(expires_at))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn token_state(&self, jti: Uuid) -> StoreResult<TokenState> {
        let (blacklisted, current): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM token_blacklist WHERE jti = $1),
                    (SELECT COUNT(*) FROM issued_tokens WHERE jti = $1)",
        )
        .bind(jti.to_string())
        .fetch_one(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(TokenState {
            blacklisted: blacklisted > 0,
            current: current > 0,
        })
    }

    async fn session(&self, jti: Uuid) -> StoreResult<Option<Session>> {
        let row: Option<(String, i64, i64, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT id, issued_at, sign_in_at, user_id, authenticator, parent_id
             FROM issued_tokens WHERE jti = $1",
        )
        .bind(jti.to_string())
        .fetch_optional(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        let Some((id, issued_at, sign_in_at, user_id, authenticator, parent)) = row else {
            return Ok(None);
        };
        let uuid = |s: &str| {
            Uuid::parse_str(s)
                .map_err(|e| StoreError::Unavailable(anyhow::anyhow!("session id: {e}")))
        };
        Ok(Some(Session {
            id: uuid(&id)?,
            jti,
            user_id,
            authenticator,
            issued_at: from_ms(issued_at)?,
            sign_in_at: from_ms(sign_in_at)?,
            parent: parent.as_deref().map(uuid).transpose()?,
        }))
    }

    async fn end_session(&self, jti: Uuid) -> StoreResult<()> {
        // One statement: the session and the sessions started from it go together.
        sqlx::query(
            "DELETE FROM issued_tokens WHERE jti = $1
                 OR parent_id IN (SELECT id FROM issued_tokens WHERE jti = $1)",
        )
        .bind(jti.to_string())
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn end_session_by_id(&self, id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM issued_tokens WHERE id = $1 OR parent_id = $1")
            .bind(id.to_string())
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn end_user_sessions(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.write_tx(None).await?;
        sqlx::query("DELETE FROM issued_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        let done =
            sqlx::query("UPDATE users SET sessions_revoked_at = $1, updated_at = $1 WHERE id = $2")
                .bind(ms(now))
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err::<DB>)?;
        if DB::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("DELETE FROM token_blacklist WHERE expires_at < $1")
            .bind(ms(now))
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        // Renewal markers decide the grace window and recognise a reused token; a day covers
        // the longest renew limit an operator would set.
        sqlx::query("DELETE FROM token_renewals WHERE renewed_at < $1")
            .bind(ms(now) - 86_400_000)
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        Ok(())
    }
}
