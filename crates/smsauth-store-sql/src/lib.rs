//! The smsauth store ports on SQL: one implementation, [`SqlStore<DB>`], for SQLite (the
//! embedded default) and PostgreSQL (several instances). Every statement is written once with
//! `$N` placeholders and portable SQL; what really differs between the two databases (how a
//! write transaction is serialised, how a unique violation names its column, the migrations,
//! one JSON expression) lives in [`dialect`].
//!
//! Every rule that must hold under concurrency is enforced here in one transaction opened by
//! `write_tx` ([`Dialect::lock_key`]) or in one guarded statement, never by a read in the core followed by
//! a write.
//!
//! The generic impl blocks repeat one `where` clause: sqlx cannot express "any backend whose
//! connection is an executor and whose types encode" as a single bound (launchbadge/sqlx#483,
//! #3150), so each impl block states the bounds its statements need, and [`Value`] bundles the
//! encode, decode and type bounds of a column type.

mod audit;
mod config;
mod conns;
mod counters;
pub mod dialect;
mod oidc;
mod otp;
mod rows;
mod sessions;
mod users;

use std::sync::Arc;

use smsauth_core::ports::audit::AuditStore;
use smsauth_core::ports::counters::SendCounters;
use smsauth_core::ports::oidc::OidcStore;
use smsauth_core::ports::otp_store::OtpStore;
use smsauth_core::ports::store::{ConfigStore, SessionStore, StoreError, UserStore};
use sqlx::pool::PoolOptions;
use sqlx::{Connection, Database, Decode, Encode, Executor, IntoArguments, Type};

use conns::{Conn, Conns, WriteTx};

pub use dialect::Dialect;
pub(crate) use rows::{from_ms, ms};

/// A column type: encodable as a parameter, decodable from a row, in `DB`.
pub trait Value<DB: Database>: for<'q> Encode<'q, DB> + Type<DB> + for<'r> Decode<'r, DB> {}
impl<DB: Database, T> Value<DB> for T where
    T: for<'q> Encode<'q, DB> + Type<DB> + for<'r> Decode<'r, DB>
{
}

/// The store on one database. Cheap to clone; all clones share the pools.
///
/// Reads use `pool`; every write (each write transaction and each single-statement write) uses
/// `writer`. On SQLite, which has one writer per file, `writer` is one connection held for the
/// process's life (`conns.rs`): a writer waits its turn in a fair queue instead of sleeping and
/// retrying inside `busy_timeout` against the readers, which kept the p99 of sends near
/// 100 ms. On PostgreSQL both are the same sqlx pool.
#[derive(Debug)]
pub struct SqlStore<DB: Database> {
    pool: Conns<DB>,
    writer: Conns<DB>,
}

impl<DB: Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
            writer: self.writer.clone(),
        }
    }
}

/// The store on SQLite.
pub type SqliteStore = SqlStore<sqlx::Sqlite>;
/// The store on PostgreSQL.
pub type PgStore = SqlStore<sqlx::Postgres>;

/// The store ports of one backend, as the core takes them.
pub struct Ports {
    pub users: Arc<dyn UserStore>,
    pub config: Arc<dyn ConfigStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub otps: Arc<dyn OtpStore>,
    /// Send counters in the store, for deployments without Redis.
    pub counters: Arc<dyn SendCounters>,
    pub audit: Arc<dyn AuditStore>,
    pub oidc: Arc<dyn OidcStore>,
}

/// What is true of every stored database: the same ports, readiness and housekeeping, whichever
/// backend is behind them. The binary holds one of these, chosen once from the URL.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    fn ports(&self) -> Ports;
    /// A real write (SPEC §9): a full disk, a read-only file or a lost connection fail it.
    async fn probe(&self) -> Result<(), StoreError>;
    /// Deletes rows no rule can consult any more.
    async fn purge(&self, now: chrono::DateTime<chrono::Utc>);
    async fn close(&self);
    /// A consistent online copy into the new file `dest` (SQLite), or why not (PostgreSQL).
    async fn backup(&self, dest: &std::path::Path) -> anyhow::Result<()>;
}

/// Opens the store named by `url` (`postgres://…`), or the SQLite file `sqlite_path` when there
/// is none, and runs pending migrations.
pub async fn open(
    url: Option<&str>,
    sqlite_path: &std::path::Path,
) -> anyhow::Result<Arc<dyn Store>> {
    match url {
        Some(url) => Ok(Arc::new(PgStore::connect(url).await?)),
        None => Ok(Arc::new(SqliteStore::open(sqlite_path).await?)),
    }
}

#[async_trait::async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Dialect,
    SqlStore<DB>: UserStore
        + ConfigStore
        + SessionStore
        + OtpStore
        + SendCounters
        + AuditStore
        + OidcStore
        + 'static,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: Value<DB>,
{
    fn ports(&self) -> Ports {
        let shared = Arc::new(self.clone());
        Ports {
            users: shared.clone(),
            config: shared.clone(),
            sessions: shared.clone(),
            otps: shared.clone(),
            counters: shared.clone(),
            audit: shared.clone(),
            oidc: shared,
        }
    }

    async fn probe(&self) -> Result<(), StoreError> {
        let mut tx = self.write_tx(None).await?;
        sqlx::query(
            "INSERT INTO readiness_probe (id, writes) VALUES (1, 1)
             ON CONFLICT (id) DO UPDATE SET writes = readiness_probe.writes + 1",
        )
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn purge(&self, now: chrono::DateTime<chrono::Utc>) {
        if let Err(e) = OtpStore::purge(self, now).await {
            tracing::warn!(error = %e, "purging OTP records failed");
        }
        if let Err(e) = SessionStore::purge(self, now).await {
            tracing::warn!(error = %e, "purging the token blacklist failed");
        }
        if let Err(e) = OidcStore::purge_codes(self, now).await {
            tracing::warn!(error = %e, "purging authorization codes failed");
        }
    }

    async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    async fn backup(&self, dest: &std::path::Path) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await?;
        DB::backup(&mut conn, dest).await
    }
}

/// Pool settings every backend shares: a bounded wait for a connection, and no connection
/// handed out again while it is still inside a transaction. A connection whose COMMIT failed (a
/// full disk, an I/O error) can be left inside its transaction; reused, every later BEGIN on it
/// would fail and the server would never heal (SPEC §9), so it is closed instead.
pub(crate) fn pool_options<DB: Database>(max_connections: u32) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .after_release(|conn: &mut DB::Connection, _| {
            Box::pin(async move { Ok(!conn.is_in_transaction()) })
        })
}

impl<DB: Dialect> SqlStore<DB>
where
    DB::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut DB::Connection: sqlx::Acquire<'c, Database = DB>,
{
    /// The store on `pool` (reads) and `writer` (writes; the same pool where the database
    /// has no single-writer rule), migrated.
    pub(crate) async fn migrated(
        pool: Conns<DB>,
        writer: Conns<DB>,
    ) -> anyhow::Result<SqlStore<DB>> {
        let store = SqlStore { pool, writer };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.writer.acquire().await?;
        DB::migrator().run(&mut *conn).await?;
        Ok(())
    }
}

impl<DB: Dialect> SqlStore<DB> {
    /// A connection for reads.
    async fn read_conn(&self) -> Result<Conn<DB>, StoreError> {
        self.pool.acquire().await.map_err(map_err::<DB>)
    }

    /// The connection for a write outside a transaction (on SQLite, the one writer).
    async fn write_conn(&self) -> Result<Conn<DB>, StoreError> {
        self.writer.acquire().await.map_err(map_err::<DB>)
    }

    /// A write transaction; with a `key`, every decision about it is serialised against every
    /// other writer of the key, on every instance ([`Dialect::lock_key`]).
    async fn write_tx(&self, key: Option<&str>) -> Result<WriteTx<DB>, StoreError> {
        let conn = self.write_conn().await?;
        let mut tx = WriteTx::begin(conn, DB::BEGIN_WRITE)
            .await
            .map_err(map_err::<DB>)?;
        if let Some(key) = key {
            DB::lock_key(&mut tx, key).await.map_err(map_err::<DB>)?;
        }
        Ok(tx)
    }
}

/// `NotFound` when a write touched no row (the key did not exist).
pub(crate) fn found<DB: Dialect>(done: DB::QueryResult) -> Result<(), StoreError> {
    if DB::rows_affected(&done) == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Maps sqlx errors to the store's vocabulary. Unique violations name the field so the API can
/// say which value is taken; everything else is "unavailable" and never reaches the client.
pub(crate) fn map_err<DB: Dialect>(e: sqlx::Error) -> StoreError {
    use smsauth_core::ports::store::Conflict;
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict(Conflict::Duplicate(dialect::unique_field::<DB>(
            db.as_ref(),
        )));
    }
    if matches!(e, sqlx::Error::RowNotFound) {
        return StoreError::NotFound;
    }
    StoreError::Unavailable(e.into())
}

/// Connects to the store named like [`open`] without changing it, and says where its schema
/// stands (for `smsauth config check`).
pub async fn check(url: Option<&str>, sqlite_path: &std::path::Path) -> anyhow::Result<String> {
    use sqlx::migrate::Migrate;
    async fn applied<DB: Dialect>(conn: &mut DB::Connection) -> anyhow::Result<(usize, usize)>
    where
        DB::Connection: Migrate,
    {
        let known = DB::migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .count();
        // A fresh database has no migrations table yet.
        let done = conn
            .list_applied_migrations("_sqlx_migrations")
            .await
            .map(|v| v.len())
            .unwrap_or(0);
        Ok((done, known))
    }
    let describe = |kind: &str, (done, known): (usize, usize)| match known.saturating_sub(done) {
        0 => format!("{kind} reachable, schema up to date ({done} migrations)"),
        n => format!("{kind} reachable, {n} of {known} migrations pending (applied on start)"),
    };
    match url {
        Some(url) => {
            let options: sqlx::postgres::PgConnectOptions = url.parse()?;
            let mut conn = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                sqlx::ConnectOptions::connect(&options),
            )
            .await
            .map_err(|_| anyhow::anyhow!("no answer within 5 s"))??;
            let state = applied::<sqlx::Postgres>(&mut conn).await?;
            Ok(describe("PostgreSQL", state))
        }
        None if !sqlite_path.exists() => Ok(format!(
            "SQLite file {} does not exist yet; it is created on first start",
            sqlite_path.display()
        )),
        None => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(sqlite_path)
                .read_only(true);
            let mut conn = sqlx::ConnectOptions::connect(&options).await?;
            let state = applied::<sqlx::Sqlite>(&mut conn).await?;
            Ok(describe(
                &format!("SQLite {}", sqlite_path.display()),
                state,
            ))
        }
    }
}
