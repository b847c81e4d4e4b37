//! `SessionStore` on SQLite: issued tokens, renewals and the blacklist.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::ports::store::{Renewal, Session, SessionStore, StoreResult};
use uuid::Uuid;

use crate::{PgStore, from_ms, map_err, ms};

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(&self, s: Session, purge_before: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM issued_tokens WHERE user_id = $1 AND sign_in_at < $2")
            .bind(s.user_id)
            .bind(ms(purge_before))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO issued_tokens (id, jti, issued_at, sign_in_at, user_id, authenticator,
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(s.id.to_string())
        .bind(s.jti.to_string())
        .bind(ms(s.issued_at))
        .bind(ms(s.sign_in_at))
        .bind(s.user_id)
        .bind(&s.authenticator)
        .bind(ms(s.issued_at))
        .bind(ms(s.issued_at))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn renew(
        &self,
        old: Uuid,
        fresh: Uuid,
        now: DateTime<Utc>,
        window_secs: i64,
    ) -> StoreResult<Renewal> {
        let mut tx = self.locked_tx(&format!("renew:{old}")).await?;
        let earlier: Option<(String, i64)> =
            sqlx::query_as("SELECT new_jti, renewed_at FROM token_renewals WHERE old_jti = $1")
                .bind(old.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        if let Some((new_jti, renewed_at)) = earlier {
            let within = ms(now) - renewed_at <= window_secs * 1000;
            return Ok(match (within, Uuid::parse_str(&new_jti)) {
                (true, Ok(jti)) => Renewal::Renewed {
                    jti,
                    issued_at: from_ms(renewed_at),
                },
                _ => Renewal::Refused,
            });
        }
        let done = sqlx::query(
            "UPDATE issued_tokens SET jti = $1, issued_at = $2, updated_at = $3 WHERE jti = $4",
        )
        .bind(fresh.to_string())
        .bind(ms(now))
        .bind(ms(now))
        .bind(old.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Ok(Renewal::Refused);
        }
        // Whole seconds: the renewed token's `iat` is in seconds and must be reproducible from
        // this row by every concurrent request.
        let renewed_at = now.timestamp() * 1000;
        sqlx::query(
            "INSERT INTO token_renewals (old_jti, new_jti, renewed_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(old.to_string())
        .bind(fresh.to_string())
        .bind(renewed_at)
        .bind(ms(now))
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Renewal::Renewed {
            jti: fresh,
            issued_at: from_ms(renewed_at),
        })
    }

    async fn blacklist(&self, jti: Uuid, expires_at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO token_blacklist (jti, expires_at, created_at, updated_at)
             VALUES ($1, $2, $2, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti.to_string())
        .bind(ms(expires_at))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn is_blacklisted(&self, jti: Uuid) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM token_blacklist WHERE jti = $1")
            .bind(jti.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(n > 0)
    }

    async fn end_session(&self, jti: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM issued_tokens WHERE jti = $1")
            .bind(jti.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn end_user_sessions(&self, user_id: i64, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM issued_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let done =
            sqlx::query("UPDATE users SET sessions_revoked_at = $1, updated_at = $2 WHERE id = $3")
                .bind(ms(now))
                .bind(ms(now))
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(smsauth_core::ports::store::StoreError::NotFound);
        }
        tx.commit().await.map_err(map_err)
    }

    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("DELETE FROM token_blacklist WHERE expires_at < $1")
            .bind(ms(now))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        // Renewal markers matter for the idempotency window only; keep an hour for diagnosis.
        sqlx::query("DELETE FROM token_renewals WHERE renewed_at < $1")
            .bind(ms(now) - 3_600_000)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
