//! SQLite: one file in the data directory, WAL mode, every atomic write in `BEGIN IMMEDIATE`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection};

use super::Dialect;
use crate::SqliteStore;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

impl Dialect for Sqlite {
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    const WRITES_SERIALISED: bool = true;

    /// The transaction holds the database's one write lock already.
    async fn lock_key<'a>(
        _conn: &'a mut SqliteConnection,
        _key: &'a str,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// The message: `UNIQUE constraint failed: users.phone`.
    fn unique_violation(err: &dyn DatabaseError) -> &str {
        err.message()
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// `VACUUM INTO` (one read transaction, so the copy is a snapshot), into a file created
    /// first with mode 0600 (the copy holds what the database holds), then checked by
    /// `PRAGMA integrity_check` on the copy.
    async fn backup(conn: &mut SqliteConnection, dest: &Path) -> anyhow::Result<()> {
        let mut create = std::fs::OpenOptions::new();
        create.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            create.mode(0o600);
        }
        create.open(dest).map_err(|e| {
            anyhow::anyhow!(
                "cannot create {}: {e} (a backup never overwrites a file)",
                dest.display()
            )
        })?;
        let target = dest
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
        if let Err(e) = sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&mut *conn)
            .await
        {
            let _ = std::fs::remove_file(dest);
            return Err(e.into());
        }
        let copy = SqliteConnectOptions::from_str("sqlite://")?
            .filename(dest)
            .read_only(true);
        let mut conn = sqlx::ConnectOptions::connect(&copy).await?;
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await?;
        sqlx::Connection::close(conn).await?;
        anyhow::ensure!(
            verdict == "ok",
            "the copy failed its integrity check: {verdict}"
        );
        Ok(())
    }

    const PUBLIC_VERIFIER: &'static str = "json_extract(options, '$.public.verifier')";
}

/// Read connections: reads run in parallel with the writer and with each other (WAL), one
/// thread each; more than the machine's cores would only add threads.
const READERS: usize = 4;

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
        // The writer first: it creates the file and switches it to WAL before readers open it.
        // Connections held for the process's life, not sqlx's pool (`conns.rs` says why).
        let writer = crate::conns::Held::open(options.clone(), 1).await?;
        let pool = crate::conns::Held::open(options, READERS).await?;
        let (pool, writer) = (crate::Conns::Held(pool), crate::Conns::Held(writer));
        SqliteStore::migrated(pool, writer).await
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
