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
use sqlx::{Connection, Postgres, Transaction};

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
            // Never hand out a connection still inside a transaction whose end failed.
            .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
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

    /// A real write, for readiness: a full disk, a read-only file or a lost connection make it
    /// fail, where a `SELECT 1` would still answer (SPEC §9).
    pub async fn probe(&self) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO readiness_probe (id, writes) VALUES (1, 1)
             ON CONFLICT (id) DO UPDATE SET writes = readiness_probe.writes + 1",
        )
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
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
