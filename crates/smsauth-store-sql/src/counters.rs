//! `SendCounters` in the store, for deployments without Redis (SPEC §15.6).
//!
//! `take` increments every counter's current bucket first and judges afterwards, in one write
//! transaction, rolling back on a refusal. The order is what makes it exact on PostgreSQL under
//! READ COMMITTED: the upsert takes the bucket row's lock, so a concurrent `take` of the same
//! counter waits for this one to commit or roll back and then increments the value it left;
//! the older buckets of the window no longer change. Every counter of a request is upserted by
//! one statement, in key order, so two transactions never wait on each other's rows in a cycle,
//! and a whole `take` is four statements (begin, upsert, judge, end) however many counters it
//! touches. On SQLite, where a writing statement runs alone against the database, the judgement
//! and the increments are one guarded statement instead (`take_in_one`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::ports::counters::{Count, Full, SendCounters};
use smsauth_core::ports::store::StoreResult;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::{Dialect, SqlStore, Value, from_ms, map_err, ms};

/// `prefix:+86138` → (`prefix`, `+86138`), the `sms_blocks` columns.
fn block_parts(key: &str) -> StoreResult<(&str, &str)> {
    match key.split_once(':') {
        Some((kind @ ("prefix" | "country"), rest)) => Ok((kind, rest)),
        _ => Err(smsauth_core::ports::store::StoreError::Unavailable(
            anyhow::anyhow!("not a block key: {key}"),
        )),
    }
}

/// `(kind = $first AND key = $first+1) OR …` for `n` blocks, and the next free placeholder.
fn block_clauses(n: usize, first: usize) -> (String, usize) {
    let clauses: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "(kind = ${} AND key = ${})",
                first + 2 * i,
                first + 2 * i + 1
            )
        })
        .collect();
    (clauses.join(" OR "), first + 2 * n)
}

/// The statement reading every live bucket of `n` counters: `$first` is the oldest bucket
/// start any of them counts ([`oldest_of`]), the keys follow.
fn live_buckets_sql(first: usize, n: usize) -> String {
    let keys: Vec<String> = (0..n).map(|i| format!("${}", first + 1 + i)).collect();
    format!(
        "SELECT key, bucket, count FROM sms_counters WHERE bucket > ${first} AND key IN ({})",
        keys.join(", ")
    )
}

fn oldest_of(counts: &[Count], now: DateTime<Utc>) -> i64 {
    counts
        .iter()
        .map(|c| c.oldest_counted(now))
        .min()
        .unwrap_or(0)
}

/// Each counter's total over its window, from rows of its live buckets.
fn window_totals(counts: &[Count], rows: &[Row], now: DateTime<Utc>) -> Vec<i64> {
    counts
        .iter()
        .map(|c| {
            let oldest = c.oldest_counted(now);
            rows.iter()
                .filter(|(k, b, _)| *k == c.key && *b > oldest)
                .map(|(_, _, n)| n)
                .sum()
        })
        .collect()
}

/// Counter rows are kept this long: the longest window (a day) and one bucket of it, with room.
pub(crate) const RETENTION_SECS: i64 = 26 * 3600;

/// `(key, bucket start, count)`.
type Row = (String, i64, i64);

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    i64: Value<DB>,
    String: Value<DB>,
{
    /// Every live bucket of `counts`' keys, in one statement.
    async fn buckets<'e, E>(
        executor: E,
        counts: &[Count],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Row>>
    where
        E: Executor<'e, Database = DB>,
    {
        if counts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = live_buckets_sql(1, counts.len());
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(oldest_of(counts, now));
        for c in counts {
            q = q.bind(c.key.clone());
        }
        q.fetch_all(executor).await.map_err(map_err::<DB>)
    }
}

/// Adds `delta` to the current bucket of each key in one statement (a multi-row upsert, atomic
/// on its own): positive deltas add, a negative one takes one away (one only: no caller gives
/// back twice under one key) but never below zero. A row to take
/// from that does not exist yet is inserted with 0, so the inserted value tells the conflict
/// branch which way to go. The same (key, bucket) is merged into one row first (PostgreSQL
/// refuses to update a row twice in one statement), and rows go in key order, the order
/// PostgreSQL locks them in, so two statements never wait on each other in a cycle.
async fn bump<'e, DB, E>(executor: E, deltas: &[(&str, i64, i64)]) -> StoreResult<()>
where
    DB: Dialect,
    E: Executor<'e, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: Value<DB>,
    String: Value<DB>,
{
    let mut merged: std::collections::BTreeMap<(&str, i64), i64> = Default::default();
    for (key, bucket, delta) in deltas {
        *merged.entry((key, *bucket)).or_default() += delta;
    }
    merged.retain(|_, d| *d != 0);
    if merged.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..merged.len())
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO sms_counters (key, bucket, count) VALUES {}
         ON CONFLICT (key, bucket) DO UPDATE SET count = CASE
             WHEN excluded.count > 0 THEN sms_counters.count + excluded.count
             WHEN sms_counters.count > 0 THEN sms_counters.count - 1 ELSE 0 END",
        values.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for ((key, bucket), delta) in merged {
        q = q.bind(key.to_string()).bind(bucket).bind(delta.max(0));
    }
    q.execute(executor).await.map_err(map_err::<DB>)?;
    Ok(())
}

/// `take` as one statement, for a dialect that runs a writing statement alone against the
/// database ([`Dialect::WRITES_SERIALISED`]): every counter's current bucket gains one unless a
/// counter with a limit already holds its limit over its window; `false` when one does and
/// nothing was counted. The judgement and the increments are one step, so this is exactly
/// what the transaction of [`SendCounters::take`] does, in one statement instead of four.
async fn take_in_one<'e, DB, E>(
    executor: E,
    counts: &[Count],
    now: DateTime<Utc>,
) -> StoreResult<bool>
where
    DB: Dialect,
    E: Executor<'e, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    i64: Value<DB>,
    String: Value<DB>,
{
    let values: Vec<String> = (0..counts.len())
        .map(|i| {
            let n = 4 * i;
            format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
        })
        .collect();
    let sql = format!(
        "WITH v (key, bucket, lim, oldest) AS (VALUES {})
         INSERT INTO sms_counters (key, bucket, count)
         SELECT key, bucket, 1 FROM v
         WHERE NOT EXISTS (
             SELECT 1 FROM v AS l WHERE l.lim > 0 AND l.lim <= (
                 SELECT COALESCE(SUM(c.count), 0) FROM sms_counters AS c
                 WHERE c.key = l.key AND c.bucket > l.oldest))
         ON CONFLICT (key, bucket) DO UPDATE SET count = sms_counters.count + 1",
        values.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for c in counts {
        q = q
            .bind(c.key.clone())
            .bind(c.bucket_at(now))
            .bind(i64::from(c.limit))
            .bind(c.oldest_counted(now));
    }
    let done = q.execute(executor).await.map_err(map_err::<DB>)?;
    Ok(DB::rows_affected(&done) > 0)
}

/// The first counter that is full given `rows`; `extra` is subtracted from the current bucket
/// of every counter first (1 when `rows` already hold this request's increment).
fn first_full(counts: &[Count], rows: &[Row], now: DateTime<Utc>, extra: i64) -> Option<Full> {
    counts.iter().find_map(|c| {
        let current = c.bucket_at(now);
        let own: Vec<(i64, i64)> = rows
            .iter()
            .filter(|(k, _, _)| *k == c.key)
            .map(|(_, b, n)| (*b, if *b == current { n - extra } else { *n }))
            .collect();
        c.judge(&own, now).map(|retry| Full {
            what: c.what,
            key: c.key.clone(),
            retry_after_secs: retry,
        })
    })
}

#[async_trait]
impl<DB> SendCounters for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    i64: Value<DB>,
    String: Value<DB>,
    bool: Value<DB>,
{
    async fn take(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Option<Full>> {
        if counts.is_empty() {
            return Ok(None);
        }
        // A spent budget is answered from one read, without the writer: once it is spent every
        // send is refused, and each would otherwise cost a write transaction. The answer is
        // right at the instant of the read (a window's count only falls as time passes). Rate
        // limits need no such read: the service remembers a limit it saw full and refuses
        // from memory until it frees, so only the first refusal reaches the store.
        if counts.iter().any(|c| c.limit > 0 && c.what.is_budget()) {
            let rows = Self::buckets(&mut *self.read_conn().await?, counts, now).await?;
            if let Some(full) = first_full(counts, &rows, now, 0) {
                return Ok(Some(full));
            }
        }
        // A key named twice is counted twice by the statement but judged once; the transaction
        // below judges it as the other backends do. No caller names a key twice.
        let distinct = counts
            .iter()
            .map(|c| c.key.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len()
            == counts.len();
        if DB::WRITES_SERIALISED && distinct {
            // A refusal reads the window to say which counter is full and for how long; a slot
            // that freed between the two is taken on the next round, and after two such rounds
            // the transaction decides (it judges and counts under the writer's lock).
            for _ in 0..2 {
                if take_in_one(&mut *self.write_conn().await?, counts, now).await? {
                    return Ok(None);
                }
                let rows = Self::buckets(&mut *self.read_conn().await?, counts, now).await?;
                if let Some(full) = first_full(counts, &rows, now, 0) {
                    return Ok(Some(full));
                }
            }
        }
        let deltas: Vec<(&str, i64, i64)> = counts
            .iter()
            .map(|c| (c.key.as_str(), c.bucket_at(now), 1))
            .collect();
        let mut tx = self.write_tx(None).await?;
        bump(&mut *tx, &deltas).await?;
        let rows = Self::buckets(&mut *tx, counts, now).await?;
        if let Some(full) = first_full(counts, &rows, now, 1) {
            tx.rollback().await.map_err(map_err::<DB>)?;
            return Ok(Some(full));
        }
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(None)
    }

    async fn peek(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Option<Full>> {
        if counts.iter().all(|c| c.limit == 0) {
            return Ok(None);
        }
        let rows = Self::buckets(&mut *self.read_conn().await?, counts, now).await?;
        Ok(first_full(counts, &rows, now, 0))
    }

    async fn give_back(&self, counts: &[Count], taken_at: DateTime<Utc>) -> StoreResult<()> {
        let deltas: Vec<(&str, i64, i64)> = counts
            .iter()
            .map(|c| (c.key.as_str(), c.bucket_at(taken_at), -1))
            .collect();
        bump(&mut *self.write_conn().await?, &deltas).await
    }

    /// One statement: the counters without a limit need no judging, so no transaction.
    async fn shift(&self, add: &[Count], release: &[Count], now: DateTime<Utc>) -> StoreResult<()> {
        let deltas: Vec<(&str, i64, i64)> = add
            .iter()
            .map(|c| (c.key.as_str(), c.bucket_at(now), 1))
            .chain(
                release
                    .iter()
                    .map(|c| (c.key.as_str(), c.bucket_at(now), -1)),
            )
            .collect();
        if add.iter().any(|c| c.limit > 0) {
            // Not what `shift` is for; a counter with a limit is judged by `take`.
            self.take(add, now).await?;
            return self.give_back(release, now).await;
        }
        bump(&mut *self.write_conn().await?, &deltas).await
    }

    async fn totals(&self, counts: &[Count], now: DateTime<Utc>) -> StoreResult<Vec<i64>> {
        let rows = Self::buckets(&mut *self.read_conn().await?, counts, now).await?;
        Ok(window_totals(counts, &rows, now))
    }

    /// One statement: the blocks asked for and the counters' live buckets, as one union.
    async fn blocked_and_totals(
        &self,
        keys: &[String],
        counts: &[Count],
        now: DateTime<Utc>,
    ) -> StoreResult<(Vec<(String, DateTime<Utc>)>, Vec<i64>)> {
        if keys.is_empty() || counts.is_empty() {
            return Ok((
                self.blocked(keys, now).await?,
                self.totals(counts, now).await?,
            ));
        }
        let parts: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| block_parts(k))
            .collect::<Result<_, _>>()?;
        // Placeholders: $1 now, then the blocks' pairs, then the buckets' oldest start and keys.
        let (blocks, next) = block_clauses(parts.len(), 2);
        // Both halves give (kind of row, key, number, number): a block's end, or a bucket and
        // its count.
        let sql = format!(
            "SELECT CAST(0 AS BIGINT), kind || ':' || key, blocked_until, CAST(0 AS BIGINT)
             FROM sms_blocks WHERE blocked_until > $1 AND ({blocks})
             UNION ALL
             SELECT CAST(1 AS BIGINT), b.* FROM ({}) b",
            live_buckets_sql(next, counts.len())
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ms(now));
        for (kind, rest) in &parts {
            q = q.bind(kind.to_string()).bind(rest.to_string());
        }
        q = q.bind(oldest_of(counts, now));
        for c in counts {
            q = q.bind(c.key.clone());
        }
        let rows: Vec<(i64, String, i64, i64)> = q
            .fetch_all(&mut *self.read_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        let mut blocked = Vec::new();
        let mut buckets = Vec::new();
        for (kind, key, a, b) in rows {
            if kind == 0 {
                blocked.push((key, from_ms(a)?));
            } else {
                buckets.push((key, a, b));
            }
        }
        Ok((blocked, window_totals(counts, &buckets, now)))
    }

    async fn reset(&self, keys: &[String]) -> StoreResult<()> {
        let mut tx = self.write_tx(None).await?;
        for key in keys {
            sqlx::query("DELETE FROM sms_counters WHERE key = $1")
                .bind(key.clone())
                .execute(&mut *tx)
                .await
                .map_err(map_err::<DB>)?;
        }
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn active(
        &self,
        key_prefix: &str,
        window_secs: i64,
        now: DateTime<Utc>,
        max: usize,
    ) -> StoreResult<Vec<(String, i64)>> {
        let probe = Count::new(
            smsauth_core::ports::counters::Counted::Tally,
            "",
            window_secs,
            0,
        );
        let pattern = format!("{}%", crate::rows::like_escaped(key_prefix));
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT key, SUM(count) AS total FROM sms_counters
             WHERE key LIKE $1 ESCAPE '\\' AND bucket > $2
             GROUP BY key HAVING SUM(count) > 0 ORDER BY total DESC, key LIMIT $3",
        )
        .bind(pattern)
        .bind(probe.oldest_counted(now))
        .bind(max as i64)
        .fetch_all(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(rows)
    }

    async fn block(&self, key: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<()> {
        let (kind, rest) = block_parts(key)?;
        sqlx::query(
            "INSERT INTO sms_blocks (kind, key, blocked_until, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (kind, key) DO UPDATE SET updated_at = $4,
                 blocked_until = CASE WHEN sms_blocks.blocked_until > $4
                     AND sms_blocks.blocked_until > $3 THEN sms_blocks.blocked_until ELSE $3 END",
        )
        .bind(kind.to_string())
        .bind(rest.to_string())
        .bind(ms(until))
        .bind(ms(now))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn blocked(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        // Read on every paid send: one statement for the rows asked for, not every block in
        // force (a pumping run can leave many).
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let parts: Vec<(&str, &str)> = keys
            .iter()
            .map(|k| block_parts(k))
            .collect::<Result<_, _>>()?;
        let (clauses, _) = block_clauses(parts.len(), 2);
        let sql = format!(
            "SELECT kind, key, blocked_until FROM sms_blocks WHERE blocked_until > $1 AND ({clauses})"
        );
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ms(now));
        for (kind, rest) in &parts {
            q = q.bind(kind.to_string()).bind(rest.to_string());
        }
        let rows: Vec<(String, String, i64)> = q
            .fetch_all(&mut *self.read_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        rows.into_iter()
            .map(|(kind, key, until)| Ok((format!("{kind}:{key}"), from_ms(until)?)))
            .collect()
    }

    async fn blocks(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT kind, key, blocked_until FROM sms_blocks WHERE blocked_until > $1
             ORDER BY blocked_until DESC",
        )
        .bind(ms(now))
        .fetch_all(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        rows.into_iter()
            .map(|(kind, key, until)| Ok((format!("{kind}:{key}"), from_ms(until)?)))
            .collect()
    }

    async fn unblock(&self, key: &str) -> StoreResult<bool> {
        let (kind, rest) = block_parts(key)?;
        let done = sqlx::query("DELETE FROM sms_blocks WHERE kind = $1 AND key = $2")
            .bind(kind.to_string())
            .bind(rest.to_string())
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        Ok(DB::rows_affected(&done) > 0)
    }
}
