//! PostgreSQL: many instances on one database; writes serialise on advisory locks.

use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, Postgres};

use super::Dialect;
use crate::PgStore;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

impl Dialect for Postgres {
    const BEGIN_WRITE: Option<&'static str> = None;
    const WRITES_SERIALISED: bool = false;

    async fn lock_key<'a>(conn: &'a mut PgConnection, key: &'a str) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The constraint's name: `users_phone_key`.
    fn unique_violation(err: &dyn DatabaseError) -> &str {
        err.constraint().unwrap_or("")
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// PostgreSQL has its own tools for consistent online copies; the command says which.
    async fn backup(_conn: &mut PgConnection, _dest: &std::path::Path) -> anyhow::Result<()> {
        anyhow::bail!(
            "the store is PostgreSQL: back it up with its own tools, for example \
             `pg_dump --format=custom --file=smsauth.dump \"$DATABASE_URL\"`, and restore with \
             `pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" smsauth.dump`"
        )
    }

    const PUBLIC_VERIFIER: &'static str = "(options::jsonb #>> '{public,verifier}')";
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and runs pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<PgStore> {
        let pool = crate::Conns::Pool(crate::pool_options::<Postgres>(16).connect(url).await?);
        PgStore::migrated(pool.clone(), pool).await
    }
}
