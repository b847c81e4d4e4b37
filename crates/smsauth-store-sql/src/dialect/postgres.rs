//! PostgreSQL: many instances on one database; writes serialise on advisory locks.

use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Pool, Postgres, Transaction};

use super::{Dialect, UNIQUE_FIELDS};
use crate::PgStore;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

impl Dialect for Postgres {
    async fn begin_write<'a>(
        pool: &'a Pool<Self>,
        key: Option<&'a str>,
    ) -> Result<Transaction<'static, Self>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        if let Some(key) = key {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// PostgreSQL names the constraint: `users_phone_key` → `phone`; a primary key is a name.
    fn unique_field(err: &dyn DatabaseError) -> &'static str {
        let constraint = err.constraint().unwrap_or("");
        if constraint.ends_with("_pkey") {
            return "name";
        }
        UNIQUE_FIELDS
            .into_iter()
            .find(|f| constraint.contains(&format!("_{f}")))
            .unwrap_or("value")
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    async fn migrate(pool: &Pool<Self>) -> anyhow::Result<()> {
        MIGRATOR.run(pool).await?;
        Ok(())
    }

    const PUBLIC_VERIFIER: &'static str = "(options::jsonb #>> '{public,verifier}')";
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
}
