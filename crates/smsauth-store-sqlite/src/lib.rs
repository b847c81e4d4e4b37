//! SQLite implementation of the smsauth store ports: one file in the data directory, WAL mode,
//! migrations embedded and run at start-up.
//!
//! Every write that must be atomic runs in `BEGIN IMMEDIATE`, which takes SQLite's write lock at
//! the start of the transaction: two transactions can then never both read a state and both act
//! on it, and none fails half-way with `SQLITE_BUSY` on lock upgrade.

mod config;
mod otp;
mod sessions;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use smsauth_core::ports::store::{Conflict, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Sqlite, SqlitePool, Transaction};

/// The store. Cheap to clone; all clones share one pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs pending migrations.
    pub async fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        private_files(path)?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            // A connection whose COMMIT failed (a full disk, an I/O error) can still be inside
            // its transaction; handed out again, every later BEGIN on it fails and the server
            // never heals. Such a connection is closed instead of returned (SPEC §9).
            .after_release(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options)
            .await?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations").run(&self.pool).await?;
        Ok(())
    }

    /// A cheap query, for readiness checks.
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

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }
}

/// The database holds password hashes and phone numbers: it is created with mode 0600, and an
/// existing file (and its WAL and shared-memory files) readable by others is narrowed to 0600.
/// SQLite gives the WAL and `-shm` files it creates the mode of the database file.
fn private_files(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| anyhow::anyhow!("cannot create the database {}: {e}", path.display()))?;
        let mut names = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            names.push(name.into());
        }
        for name in names {
            let Ok(meta) = std::fs::metadata(&name) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %name.display(), "database file was readable by others; now 0600");
                std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", name.display()))?;
            }
        }
    }
    Ok(())
}

/// `NotFound` when a write touched no row (the key did not exist).
pub(crate) fn found(done: sqlx::sqlite::SqliteQueryResult) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) use smsauth_store_rows::{from_ms, ms};

/// Maps sqlx errors to the store's vocabulary. Unique violations name the field so the API can
/// say which value is taken; everything else is "unavailable" and never reaches the client.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let msg = db.message();
        let field = ["username", "email", "phone", "name", "uuid", "user_id"]
            .into_iter()
            .find(|f| msg.contains(&format!(".{f}")))
            .unwrap_or("value");
        return StoreError::Conflict(Conflict::Duplicate(field));
    }
    if matches!(e, sqlx::Error::RowNotFound) {
        return StoreError::NotFound;
    }
    StoreError::Unavailable(e.into())
}
