//! Direct access to the server's store for what the API must not be used for: a fresh
//! PostgreSQL database per run (created and dropped), and bulk seeding of users (with their
//! default role and, once the bench's SMS authenticator exists, its links) and of old code
//! records, as large `INSERT … SELECT` statements over a generated series in a few big
//! transactions. The statements follow the schema in
//! crates/smsauth-store-sql/migrations/{sqlite,postgres}; phone numbers are built in SQL exactly
//! as [`crate::phones::phone`] builds them.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

mod sql;

/// Rows per statement (and transaction) when seeding.
const BATCH: u64 = 500_000;

/// Old records end this long before now, so that every one of them is expired.
const OLD_CODES_END_MS: i64 = 10 * 60 * 1000;

/// They spread over the day before that: the server keeps records 25 hours, so these stay in
/// the store (older ones would be deleted by the server's first purge, at start-up).
const OLD_CODES_SPAN_MS: i64 = 24 * 3600 * 1000 - OLD_CODES_END_MS;

/// A connection pool to the server's store.
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Milliseconds since the Unix epoch, the unit of every time column.
#[allow(clippy::disallowed_methods)]
fn now_ms() -> i64 {
    // The Clock port (ARCHITECTURE §7) governs the server's rules; the bench writes rows that
    // must look old to the server's real clock, so it reads the real clock too.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Creates a fresh database on the PostgreSQL server of `admin_url`; returns its URL and name.
pub async fn create_database(admin_url: &str) -> anyhow::Result<(String, String)> {
    let name = format!("smsauth_bench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(admin_url)
        .await
        .context("cannot connect to --database-url")?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .context("cannot create the bench database")?;
    admin.close().await?;
    let (path, query) = match admin_url.split_once('?') {
        Some((p, q)) => (p, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let base = path
        .rsplit_once('/')
        .map(|(b, _)| b)
        .filter(|b| b.contains("//") && !b.ends_with('/'))
        .unwrap_or(path);
    Ok((format!("{base}/{name}{query}"), name))
}

/// Drops a database made by [`create_database`].
pub async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(admin_url).await?;
    let forced = sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    if forced.is_err() {
        // PostgreSQL before 13 has no FORCE; the servers are stopped by now anyway.
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
            .execute(&mut admin)
            .await?;
    }
    admin.close().await?;
    Ok(())
}

impl Db {
    /// Opens the SQLite file of a migrated store, tuned for bulk writes on this connection only.
    pub async fn sqlite(path: &Path) -> anyhow::Result<Db> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("synchronous", "OFF")
            .pragma("cache_size", "-262144")
            .pragma("temp_store", "MEMORY")
            .busy_timeout(Duration::from_secs(60));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Db::Sqlite(pool))
    }

    pub async fn postgres(url: &str) -> anyhow::Result<Db> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .context("cannot connect to the bench database")?;
        Ok(Db::Postgres(pool))
    }

    pub async fn close(self) {
        match self {
            Db::Sqlite(p) => {
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&p)
                    .await;
                p.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }

    async fn max_user_id(&self) -> anyhow::Result<i64> {
        let sql = "SELECT COALESCE(MAX(id), 0) FROM users";
        Ok(match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
        })
    }

    async fn default_role(&self) -> anyhow::Result<String> {
        let sql = "SELECT name FROM roles WHERE is_default = TRUE ORDER BY name LIMIT 1";
        let role: Option<String> = match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_optional(p).await?,
        };
        Ok(role.unwrap_or_else(|| "member".into()))
    }

    /// Inserts users `phone(0..n)` (nickname = phone, as an SMS sign-up makes them) with the
    /// default role.
    pub async fn seed_users(&self, n: u64) -> anyhow::Result<()> {
        let role = self.default_role().await?;
        let now = now_ms();
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            let before = self.max_user_id().await?;
            let (lo, hi) = (start as i64, end as i64);
            match self {
                Db::Sqlite(p) => {
                    let mut tx = p.begin().await?;
                    sqlx::query(sql::SQLITE_USERS)
                        .bind(lo)
                        .bind(hi)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .context("seeding users")?;
                    sqlx::query(sql::SQLITE_ROLES)
                        .bind(before)
                        .bind(&role)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .context("seeding users_roles")?;
                    tx.commit().await?;
                }
                Db::Postgres(p) => {
                    let mut tx = p.begin().await?;
                    sqlx::query(sql::PG_USERS)
                        .bind(lo)
                        .bind(hi)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .context("seeding users")?;
                    sqlx::query(sql::PG_ROLES)
                        .bind(before)
                        .bind(&role)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .context("seeding users_roles")?;
                    tx.commit().await?;
                }
            }
            start = end;
        }
        Ok(())
    }

    /// Links every user with a phone to the SMS authenticator `authenticator`, as their first
    /// SMS sign-in would have (`users_authenticators.uuid` = the phone).
    pub async fn link_users(&self, authenticator: &str) -> anyhow::Result<()> {
        let now = now_ms();
        let max = self.max_user_id().await?;
        let mut lo = 0;
        while lo < max {
            let hi = lo + BATCH as i64;
            match self {
                Db::Sqlite(p) => {
                    sqlx::query(sql::SQLITE_LINKS)
                        .bind(authenticator)
                        .bind(now)
                        .bind(lo)
                        .bind(hi)
                        .execute(p)
                        .await
                        .context("linking users to the authenticator")?;
                }
                Db::Postgres(p) => {
                    sqlx::query(sql::PG_LINKS)
                        .bind(authenticator)
                        .bind(now)
                        .bind(lo)
                        .bind(hi)
                        .execute(p)
                        .await
                        .context("linking users to the authenticator")?;
                }
            }
            lo = hi;
        }
        Ok(())
    }

    /// Inserts `m` old code records for `verifier`, to receivers `phone(0..receivers)`, from
    /// 16M client addresses, spread over the day before now. The table's secondary indexes are
    /// dropped first and built again after (their definitions read from the catalogue), which
    /// is several times faster than keeping them up to date row by row.
    pub async fn seed_codes(&self, m: u64, receivers: u64, verifier: &str) -> anyhow::Result<()> {
        let indexes = self.secondary_indexes("otp_records").await?;
        for (name, _) in &indexes {
            self.execute(format!("DROP INDEX {name}")).await?;
        }
        let tag = format!("{:08x}", uuid::Uuid::new_v4().as_u128() as u32);
        let from = now_ms() - OLD_CODES_END_MS - OLD_CODES_SPAN_MS;
        let receivers = receivers.max(1) as i64;
        let mut start = 0;
        while start < m {
            let end = (start + BATCH).min(m);
            let (lo, hi) = (start as i64, end as i64);
            macro_rules! insert {
                ($pool:expr, $sql:expr) => {
                    sqlx::query($sql)
                        .bind(lo)
                        .bind(hi)
                        .bind(&tag)
                        .bind(receivers)
                        .bind(verifier)
                        .bind(from)
                        .bind(OLD_CODES_SPAN_MS)
                        .bind(m as i64)
                        .execute($pool)
                        .await
                        .context("seeding otp_records")?
                };
            }
            match self {
                Db::Sqlite(p) => {
                    insert!(p, sql::SQLITE_CODES);
                }
                Db::Postgres(p) => {
                    insert!(p, sql::PG_CODES);
                }
            }
            start = end;
        }
        for (_, definition) in &indexes {
            self.execute(definition.clone()).await?;
        }
        Ok(())
    }

    /// Name and `CREATE INDEX` statement of every index of `table` that no constraint owns.
    async fn secondary_indexes(&self, table: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(match self {
            Db::Sqlite(p) => {
                sqlx::query_as::<_, (String, String)>(
                    "SELECT name, sql FROM sqlite_master
                 WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
                )
                .bind(table)
                .fetch_all(p)
                .await?
            }
            Db::Postgres(p) => {
                sqlx::query_as::<_, (String, String)>(
                    "SELECT indexname::text, indexdef FROM pg_indexes
                 WHERE tablename = $1 AND schemaname = current_schema()
                   AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                )
                .bind(table)
                .fetch_all(p)
                .await?
            }
        })
    }

    async fn execute(&self, statement: String) -> anyhow::Result<()> {
        let sql = AssertSqlSafe(statement);
        match self {
            Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(drop)?,
            Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(drop)?,
        }
        Ok(())
    }

    /// `ANALYZE` after seeding users on PostgreSQL, so its planner knows the table sizes at
    /// once rather than after autovacuum gets to them.
    pub async fn analyze(&self) -> anyhow::Result<()> {
        if let Db::Postgres(_) = self {
            self.execute("ANALYZE".into()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phones::phone;

    #[tokio::test]
    async fn sqlite_builds_the_same_phones_as_the_bench() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, nickname TEXT, phone TEXT,
                 created_at INTEGER, updated_at INTEGER)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let ranges = [0..3, 9_999_999..10_000_002, 59_999_998..60_000_000];
        for r in ranges.clone() {
            sqlx::query(sql::SQLITE_USERS)
                .bind(r.start as i64)
                .bind(r.end as i64)
                .bind(0i64)
                .execute(&pool)
                .await
                .unwrap();
        }
        let stored: Vec<String> = sqlx::query_scalar("SELECT phone FROM users ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        let expected: Vec<String> = ranges.into_iter().flatten().map(phone).collect();
        assert_eq!(stored, expected);
    }
}
