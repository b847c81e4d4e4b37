//! `UserStore` users, their roles, authenticator links and bound verifiers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::domain::user::{User, UserDraft};
use smsauth_core::ports::store::{
    BoundVerifier, Conflict, PageRequest, StoreError, StoreResult, UserFilter, UserStore,
};

use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::rows::{USER_COLUMNS, UserRow, none_if_empty};
use crate::{Dialect, SqlStore, Value, found, map_err, ms};

mod queries;

#[async_trait]
impl<DB> UserStore for SqlStore<DB>
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
    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        let mut conn = self.read_conn().await?;
        Self::user_where(&mut conn, "id = $1", id).await
    }

    async fn user_by_phone(&self, e164: &str) -> StoreResult<Option<User>> {
        let mut conn = self.read_conn().await?;
        Self::user_where(&mut conn, "phone = $1", e164.to_string()).await
    }

    async fn user_by_account(&self, account: &str) -> StoreResult<Option<(User, Option<String>)>> {
        let mut conn = self.read_conn().await?;
        let Some(user) = Self::user_where(
            &mut conn,
            "username = $1 OR email = $1",
            account.to_string(),
        )
        .await?
        else {
            return Ok(None);
        };
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user.id)
                .fetch_one(&mut *conn)
                .await
                .map_err(map_err::<DB>)?;
        Ok(Some((user, hash)))
    }

    async fn password_hash(&self, user_id: i64) -> StoreResult<Option<String>> {
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *self.read_conn().await?)
                .await
                .map_err(map_err::<DB>)?;
        Ok(hash.flatten())
    }

    async fn linked_user(&self, authenticator: &str, uuid: &str) -> StoreResult<Option<User>> {
        let mut conn = self.read_conn().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT user_id FROM users_authenticators WHERE authenticator = $1 AND uuid = $2",
        )
        .bind(authenticator)
        .bind(uuid)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err::<DB>)?;
        match id {
            Some(id) => Self::user_where(&mut conn, "id = $1", id).await,
            None => Ok(None),
        }
    }

    async fn link(
        &self,
        authenticator: &str,
        user_id: i64,
        uuid: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // Every sign-in of a known user links again; usually the link is already there, and a
        // read (which takes no write lock) saves a write transaction. `(authenticator, uuid)`
        // and `(authenticator, user_id)` are both unique, so a row naming this user and this
        // uuid is the whole answer.
        let holder: Option<i64> = sqlx::query_scalar(
            "SELECT user_id FROM users_authenticators WHERE authenticator = $1 AND uuid = $2",
        )
        .bind(authenticator)
        .bind(uuid)
        .fetch_optional(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        if holder == Some(user_id) {
            return Ok(());
        }
        let mut tx = self.write_tx(None).await?;
        // Another user may hold this uuid for the authenticator (a phone moved between users);
        // the users.phone match is authoritative, so the stale link goes.
        sqlx::query("DELETE FROM users_authenticators WHERE authenticator = $1 AND uuid = $2 AND user_id <> $3")
            .bind(authenticator)
            .bind(uuid)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        sqlx::query(
            "INSERT INTO users_authenticators (authenticator, user_id, uuid, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (authenticator, user_id) DO UPDATE SET uuid = excluded.uuid,
                 updated_at = excluded.updated_at",
        )
        .bind(authenticator)
        .bind(user_id)
        .bind(uuid)
        .bind(ms(now))
        .bind(ms(now))
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn sign_up_by_phone(
        &self,
        authenticator: &str,
        e164: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        let now = ms(now);
        let mut tx = self.write_tx(Some(&format!("phone:{e164}"))).await?;
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (nickname, phone, created_at, updated_at) VALUES ($1, $1, $2, $2)
             ON CONFLICT (phone) DO NOTHING RETURNING id",
        )
        .bind(e164)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let id = match inserted {
            Some(id) => {
                Self::set_roles(&mut tx, id, None, now).await?;
                id
            }
            None => sqlx::query_scalar("SELECT id FROM users WHERE phone = $1")
                .bind(e164)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err::<DB>)?,
        };
        sqlx::query(
            "INSERT INTO users_authenticators (authenticator, user_id, uuid, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(authenticator)
        .bind(id)
        .bind(e164)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let user = Self::user_where(&mut tx, "id = $1", id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(user)
    }

    async fn create_user(&self, draft: UserDraft, now: DateTime<Utc>) -> StoreResult<User> {
        let now = ms(now);
        let mut tx = self.write_tx(None).await?;
        let has_password = draft.password_hash.is_some();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (nickname, username, email, phone, password_hash,
                 password_changed_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(none_if_empty(draft.nickname))
        .bind(none_if_empty(draft.username))
        .bind(none_if_empty(draft.email))
        .bind(none_if_empty(draft.phone))
        .bind(draft.password_hash)
        .bind(has_password.then_some(now))
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        Self::set_roles(&mut tx, id, draft.roles.as_deref(), now).await?;
        let user = Self::user_where(&mut tx, "id = $1", id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(user)
    }

    async fn update_user(
        &self,
        id: i64,
        draft: UserDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        let now = ms(now);
        let mut tx = self.write_tx(None).await?;
        // `Some("")` clears a field, `None` leaves it alone.
        let password_changed = draft.password_hash.is_some();
        let clear = |v: &Option<String>| v.as_deref() == Some("");
        let result = sqlx::query(
            "UPDATE users SET
                 nickname = CASE WHEN $1 THEN NULL ELSE COALESCE($2, nickname) END,
                 username = CASE WHEN $3 THEN NULL ELSE COALESCE($4, username) END,
                 email    = CASE WHEN $5 THEN NULL ELSE COALESCE($6, email) END,
                 phone    = CASE WHEN $7 THEN NULL ELSE COALESCE($8, phone) END,
                 password_hash = COALESCE($9, password_hash),
                 password_changed_at = CASE WHEN $9 IS NULL THEN password_changed_at ELSE $10 END,
                 updated_at = $10
             WHERE id = $11",
        )
        .bind(clear(&draft.nickname))
        .bind(none_if_empty(draft.nickname.clone()))
        .bind(clear(&draft.username))
        .bind(none_if_empty(draft.username.clone()))
        .bind(clear(&draft.email))
        .bind(none_if_empty(draft.email.clone()))
        .bind(clear(&draft.phone))
        .bind(none_if_empty(draft.phone.clone()))
        .bind(draft.password_hash)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        if DB::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound);
        }
        if password_changed {
            sqlx::query("DELETE FROM issued_tokens WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_err::<DB>)?;
        }
        if let Some(roles) = draft.roles.as_deref() {
            Self::set_roles(&mut tx, id, Some(roles), now).await?;
        }
        let user = Self::user_where(&mut tx, "id = $1", id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(user)
    }

    async fn delete_user(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        found::<DB>(done)
    }

    async fn list_users(
        &self,
        filter: UserFilter,
        page: PageRequest,
    ) -> StoreResult<(Vec<User>, u64)> {
        let mut conn = self.read_conn().await?;
        let pattern = filter
            .search
            .map(|s| format!("%{}%", crate::rows::like_escaped(&s)));
        const WHERE: &str =
            "($1 IS NULL OR phone LIKE $1 ESCAPE '\\' OR username LIKE $1 ESCAPE '\\'
             OR email LIKE $1 ESCAPE '\\' OR nickname LIKE $1 ESCAPE '\\')";
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM users WHERE {WHERE}"
        )))
        .bind(pattern.clone())
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err::<DB>)?;
        let rows: Vec<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {WHERE} ORDER BY id LIMIT $2 OFFSET $3"
        )))
        .bind(pattern)
        .bind(i64::from(page.page_size))
        .bind(i64::from(page.page.saturating_sub(1)) * i64::from(page.page_size))
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err::<DB>)?;
        let mut users = Vec::with_capacity(rows.len());
        for row in rows {
            let roles = Self::roles_of(&mut conn, row.id).await?;
            users.push(row.into_user(roles)?);
        }
        Ok((users, count.max(0) as u64))
    }

    /// Sets the hash and ends every session of the user in one transaction: tokens issued
    /// before a password change stop working at once, not at the next whole second (SPEC §5.5).
    async fn set_password(&self, user_id: i64, hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.write_tx(None).await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2
             WHERE id = $3",
        )
        .bind(hash)
        .bind(ms(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        found::<DB>(done)?;
        sqlx::query("DELETE FROM issued_tokens WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn has_role_holder(&self, role: &str) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users_roles WHERE role_name = $1")
            .bind(role)
            .fetch_one(&mut *self.read_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        Ok(n > 0)
    }

    async fn bound_verifiers(&self, user_id: i64) -> StoreResult<Vec<BoundVerifier>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT verifier, uuid FROM users_verifiers WHERE user_id = $1 ORDER BY verifier",
        )
        .bind(user_id)
        .fetch_all(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(rows
            .into_iter()
            .map(|(verifier, uuid)| BoundVerifier { verifier, uuid })
            .collect())
    }

    async fn bind_verifier(
        &self,
        verifier: &str,
        user_id: i64,
        uuid: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users_verifiers (verifier, user_id, uuid, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(verifier)
        .bind(user_id)
        .bind(uuid)
        .bind(ms(now))
        .bind(ms(now))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(|e| match map_err::<DB>(e) {
            StoreError::Conflict(_) => StoreError::Conflict(Conflict::AlreadyBound),
            other => other,
        })?;
        Ok(())
    }

    async fn unbind_verifier(&self, verifier: &str, user_id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM users_verifiers WHERE verifier = $1 AND user_id = $2")
            .bind(verifier)
            .bind(user_id)
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        found::<DB>(done)
    }
}
