//! Where the store's connections come from, and its write transactions.
//!
//! PostgreSQL uses sqlx's pool: connections over a network are made, tested and replaced as
//! needed. SQLite holds its connections for the life of the process instead ([`Held`]): one
//! writer, whose queue is a fair lock, and a few readers. sqlx runs every SQLite connection on
//! its own thread, and its pool pings a connection when it is handed back (and, by default,
//! before it is handed out), each ping one more trip to that thread and back; for a
//! single-statement read or write that was three hand-offs between threads instead of one, and
//! the hand-offs were most of the server's CPU (docs/benchmarks.md). A file in this process
//! does not go away like a server does; what the pool's checks were for is kept here: a
//! connection left inside a transaction (a COMMIT that failed on a full disk) is never handed
//! out again, it is replaced (SPEC §9).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{ConnectOptions, Connection, Database, Pool, SqlSafeStr};
// sqlx does not re-export the trait its `Transaction` is built on.
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

/// How long a caller waits for a held connection before the store answers unavailable.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connections of one kind (reads, or writes).
pub(crate) enum Conns<DB: Database> {
    Pool(Pool<DB>),
    Held(Arc<Held<DB>>),
}

impl<DB: Database> Clone for Conns<DB> {
    fn clone(&self) -> Self {
        match self {
            Conns::Pool(p) => Conns::Pool(p.clone()),
            Conns::Held(h) => Conns::Held(h.clone()),
        }
    }
}

impl<DB: Database> std::fmt::Debug for Conns<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conns::Pool(p) => write!(f, "Pool({})", p.size()),
            Conns::Held(h) => write!(f, "Held({})", h.conns.len()),
        }
    }
}

/// Connections opened once and kept. A caller first takes one of as many permits as there are
/// connections (callers queue for them first come, first served), so a free connection is
/// then always there to find.
pub(crate) struct Held<DB: Database> {
    /// `None` once closed.
    conns: Vec<Arc<Mutex<Option<DB::Connection>>>>,
    permits: Arc<Semaphore>,
    options: <DB::Connection as Connection>::Options,
    next: AtomicUsize,
}

/// One connection, for as long as it is held.
pub(crate) enum Conn<DB: Database> {
    Pooled(PoolConnection<DB>),
    /// The connection, then its permit: fields drop in this order, so the connection is free
    /// before the next caller is let in to look for it.
    Held(
        OwnedMappedMutexGuard<Option<DB::Connection>, DB::Connection>,
        #[expect(dead_code, reason = "held only to be released on drop")] OwnedSemaphorePermit,
    ),
}

impl<DB: Database> Deref for Conn<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        match self {
            Conn::Pooled(c) => c,
            Conn::Held(c, _) => c,
        }
    }
}

impl<DB: Database> DerefMut for Conn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Conn::Pooled(c) => c,
            Conn::Held(c, _) => c,
        }
    }
}

impl<DB: Database> Held<DB> {
    /// Opens `n` connections with `options`, one after the other (the first creates the file).
    pub(crate) async fn open(
        options: <DB::Connection as Connection>::Options,
        n: usize,
    ) -> Result<Arc<Held<DB>>, sqlx::Error> {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            conns.push(Arc::new(Mutex::new(Some(options.connect().await?))));
        }
        Ok(Arc::new(Held {
            permits: Arc::new(Semaphore::new(conns.len())),
            conns,
            options,
            next: AtomicUsize::new(0),
        }))
    }

    async fn acquire(
        &self,
    ) -> Result<
        (
            OwnedMappedMutexGuard<Option<DB::Connection>, DB::Connection>,
            OwnedSemaphorePermit,
        ),
        sqlx::Error,
    > {
        // As long as sqlx's pool waited (`pool_options`): a store that cannot keep up answers
        // 503 rather than letting requests pile up without bound.
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let n = self.conns.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let free = (0..n).find_map(|i| self.conns[(start + i) % n].clone().try_lock_owned().ok());
        // With a permit one is free; `lock` only covers a permit released a moment before its
        // connection's lock (it is not: `Conn` drops the lock first).
        let guard = match free {
            Some(guard) => guard,
            None => self.conns[start].clone().lock_owned().await,
        };
        let mut guard =
            OwnedMutexGuard::try_map(guard, Option::as_mut).map_err(|_| sqlx::Error::PoolClosed)?;
        let conn = &mut *guard;
        if DB::TransactionManager::get_transaction_depth(conn) > 0 {
            // A transaction dropped unfinished queues its rollback; wait for it to be done. A
            // failed ping is a connection whose thread has stopped (sqlx stops it when such a
            // rollback fails).
            let alive = conn.ping().await.is_ok();
            if !alive || DB::TransactionManager::get_transaction_depth(conn) > 0 {
                // Its rollback failed too: the connection stays inside a transaction for good,
                // and every later BEGIN on it would fail. A new one takes its place.
                tracing::warn!("a store connection was left inside a transaction; reopening it");
                let fresh = self.options.connect().await?;
                let old = std::mem::replace(conn, fresh);
                let _ = old.close_hard().await;
            }
        }
        Ok((guard, permit))
    }

    /// Waits for each connection's current user, then closes it; later acquires fail.
    async fn close(&self) {
        self.permits.close();
        for conn in &self.conns {
            if let Some(conn) = conn.lock().await.take() {
                let _ = conn.close().await;
            }
        }
    }
}

impl<DB: Database> Conns<DB> {
    pub(crate) async fn acquire(&self) -> Result<Conn<DB>, sqlx::Error> {
        match self {
            Conns::Pool(pool) => Ok(Conn::Pooled(pool.acquire().await?)),
            Conns::Held(held) => {
                let (conn, permit) = held.acquire().await?;
                Ok(Conn::Held(conn, permit))
            }
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Conns::Pool(pool) => pool.close().await,
            Conns::Held(held) => held.close().await,
        }
    }
}

/// A transaction on a connection it holds: committed, rolled back, or, when dropped unfinished
/// (an error, a cancelled request), rolled back before the connection serves anyone else.
pub(crate) struct WriteTx<DB: Database> {
    conn: Conn<DB>,
    open: bool,
}

impl<DB: Database> WriteTx<DB> {
    /// Begins with `statement` (`BEGIN IMMEDIATE`), or the database's default.
    pub(crate) async fn begin(
        mut conn: Conn<DB>,
        statement: Option<&'static str>,
    ) -> Result<WriteTx<DB>, sqlx::Error> {
        DB::TransactionManager::begin(&mut conn, statement.map(SqlSafeStr::into_sql_str)).await?;
        Ok(WriteTx { conn, open: true })
    }

    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        DB::TransactionManager::commit(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }

    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        DB::TransactionManager::rollback(&mut self.conn).await?;
        self.open = false;
        Ok(())
    }
}

impl<DB: Database> Drop for WriteTx<DB> {
    fn drop(&mut self) {
        if self.open {
            DB::TransactionManager::start_rollback(&mut self.conn);
        }
    }
}

impl<DB: Database> Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.conn
    }
}

impl<DB: Database> DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::Sqlite;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

    use super::*;

    async fn held(dir: &tempfile::TempDir) -> Arc<Held<Sqlite>> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .unwrap()
            .filename(dir.path().join("t.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let held = Held::<Sqlite>::open(options, 1).await.unwrap();
        let mut conn = Conns::Held(held.clone()).acquire().await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&mut *conn)
            .await
            .unwrap();
        held
    }

    async fn count(conns: &Conns<Sqlite>) -> i64 {
        let mut conn = conns.acquire().await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_transaction_dropped_unfinished_is_rolled_back_before_the_next_user() {
        let dir = tempfile::tempdir().unwrap();
        let conns = Conns::Held(held(&dir).await);
        let mut tx = WriteTx::begin(conns.acquire().await.unwrap(), Some("BEGIN IMMEDIATE"))
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        drop(tx);
        // The one connection is handed out again, outside any transaction, without the row.
        let mut tx = WriteTx::begin(conns.acquire().await.unwrap(), Some("BEGIN IMMEDIATE"))
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count(&conns).await, 1);
    }

    #[tokio::test]
    async fn a_connection_stuck_in_a_transaction_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let conns = Conns::Held(held(&dir).await);
        // A transaction sqlx believes open while SQLite has none (what a COMMIT that failed
        // after SQLite rolled back on its own leaves): its rollback fails, so it stays.
        let mut conn = conns.acquire().await.unwrap();
        Tm::begin(&mut conn, None).await.unwrap();
        sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
        Tm::start_rollback(&mut conn);
        drop(conn);
        let mut conn = conns.acquire().await.unwrap();
        assert_eq!(Tm::get_transaction_depth(&conn), 0);
        sqlx::query("INSERT INTO t VALUES (3)")
            .execute(&mut *conn)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(count(&conns).await, 1);
    }

    #[tokio::test]
    async fn closed_connections_are_not_handed_out() {
        let dir = tempfile::tempdir().unwrap();
        let conns = Conns::Held(held(&dir).await);
        conns.close().await;
        assert!(matches!(
            conns.acquire().await.err(),
            Some(sqlx::Error::PoolClosed)
        ));
    }

    type Tm = <Sqlite as Database>::TransactionManager;
}
