//! PostgreSQL implementation of the smsauth store ports, for running many instances on one
//! database. Schema and queries mirror the SQLite store; the conformance between the two is
//! kept by running the same API suite against both.
//!
//! Where SQLite serialises every write with `BEGIN IMMEDIATE`, this store takes a transaction-
//! scoped advisory lock on what the transaction decides about (the (action, phone) of a code,
//! the old token id of a renewal, the authenticator set), so concurrent instances serialise
//! exactly the operations that must not interleave and nothing else.

mod config;
mod otp;
mod sessions;
mod users;

use std::time::Duration;

use smsauth_core::ports::store::{Conflict, StoreError};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

/// The store. Cheap to clone; all clones share one pool.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and runs pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations").run(&self.pool).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(map_err)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A transaction holding the advisory lock for `key` until it ends.
    async fn locked_tx(&self, key: &str) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok(tx)
    }

    /// A plain transaction; used where unique constraints or row locks already decide.
    async fn write_tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(map_err)
    }
}

/// `NotFound` when a write touched no row (the key did not exist).
pub(crate) fn found(done: sqlx::postgres::PgQueryResult) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) use smsauth_store_rows::{from_ms, ms};

/// Maps sqlx errors to the store's vocabulary; unique violations name the field from the
/// constraint name (`users_phone_key` → `phone`).
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let constraint = db.constraint().unwrap_or("");
        let field = if constraint.ends_with("_pkey") {
            "name"
        } else {
            ["username", "email", "phone", "name", "uuid", "user_id"]
                .into_iter()
                .find(|f| constraint.contains(&format!("_{f}")))
                .unwrap_or("value")
        };
        return StoreError::Conflict(Conflict::Duplicate(field));
    }
    if matches!(e, sqlx::Error::RowNotFound) {
        return StoreError::NotFound;
    }
    StoreError::Unavailable(e.into())
}
