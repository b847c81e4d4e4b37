//! `OtpStore`: issuing, consuming and throttling codes.
//!
//! `issue` and `attempt` each run in one write transaction keyed by their (action, receiver),
//! so they are serialised against each other (on SQLite against every writer, on PostgreSQL
//! across every instance): one live code per (action, receiver) and exactly one winner among
//! concurrent correct submissions follow, with the partial unique index `otp_records_one_live`
//! as a second line of defence. On PostgreSQL the IP and global counts are read under the
//! phone's lock only: under exact concurrency from many phones they may overshoot by the
//! number of racing requests, never by more.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use smsauth_core::domain::otp::{CodeHash, OtpStatus};
use smsauth_core::ports::otp_store::{
    Attempt, AttemptOutcome, IssueOutcome, NewOtp, OtpStore, PhoneThrottle, SendLimit, SendLimits,
    ThrottlePolicy,
};
use smsauth_core::ports::store::StoreResult;
use sqlx::{ColumnIndex, Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use crate::{Dialect, SqlStore, Value, from_ms, map_err, ms};

/// Records are kept this long for the send limits' 24-hour window, then purged.
const RETENTION_HOURS: i64 = 25;

#[derive(FromRow)]
struct LiveRow {
    id: String,
    verifier_name: String,
    code_hash: Vec<u8>,
    status: String,
    expires_at: i64,
}

#[derive(FromRow)]
struct ThrottleRow {
    consecutive_failures: i64,
    blocked_until: Option<i64>,
    window_started_at: i64,
    window_failures: i64,
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    i64: Value<DB>,
    bool: Value<DB>,
    String: Value<DB>,
    Vec<u8>: Value<DB>,
    Option<i64>: Value<DB>,
    Option<String>: Value<DB>,
{
    /// How many records match `clause` since `since`, and when the oldest of them was created.
    pub(super) async fn count_since(
        conn: &mut DB::Connection,
        clause: &'static str,
        arg: Option<&str>,
        since: i64,
    ) -> StoreResult<(i64, Option<i64>)> {
        let sql = format!(
            "SELECT COUNT(*), MIN(created_at) FROM otp_records WHERE {clause} AND created_at > $2"
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(arg.map(str::to_string))
            .bind(since)
            .fetch_one(conn)
            .await
            .map_err(map_err::<DB>)
    }

    /// Checks one limit; `Some(retry_after)` when it is reached.
    pub(super) async fn limit_reached(
        conn: &mut DB::Connection,
        limit: u32,
        window: Duration,
        clause: &'static str,
        arg: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        if limit == 0 {
            return Ok(None);
        }
        let window_ms = window.num_milliseconds();
        let (count, oldest) = Self::count_since(conn, clause, arg, now - window_ms).await?;
        if count < i64::from(limit) {
            return Ok(None);
        }
        let free_at = oldest.unwrap_or(now) + window_ms;
        Ok(Some(((free_at - now) / 1000).max(1)))
    }

    pub(super) async fn load_throttle(
        conn: &mut DB::Connection,
        action: &str,
        receiver: &str,
    ) -> StoreResult<Option<PhoneThrottle>> {
        let row: Option<ThrottleRow> = sqlx::query_as(
            "SELECT consecutive_failures, blocked_until, window_started_at, window_failures
             FROM phone_throttle WHERE action = $1 AND receiver = $2",
        )
        .bind(action)
        .bind(receiver)
        .fetch_optional(conn)
        .await
        .map_err(map_err::<DB>)?;
        row.map(|r| {
            Ok(PhoneThrottle {
                consecutive_failures: r.consecutive_failures.max(0) as u32,
                blocked_until: r.blocked_until.map(from_ms).transpose()?,
                window_started_at: from_ms(r.window_started_at)?,
                window_failures: r.window_failures.max(0) as u32,
            })
        })
        .transpose()
    }

    pub(super) async fn save_throttle(
        conn: &mut DB::Connection,
        action: &str,
        receiver: &str,
        t: PhoneThrottle,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO phone_throttle (action, receiver, consecutive_failures, blocked_until,
                 window_started_at, window_failures, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (action, receiver) DO UPDATE SET consecutive_failures = $3,
                 blocked_until = $4, window_started_at = $5, window_failures = $6, updated_at = $7",
        )
        .bind(action)
        .bind(receiver)
        .bind(i64::from(t.consecutive_failures))
        .bind(t.blocked_until.map(ms))
        .bind(ms(t.window_started_at))
        .bind(i64::from(t.window_failures))
        .bind(now)
        .execute(conn)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    /// The answers to a submission that need no write: the phone is blocked, or there is no
    /// code to guess against (none, expired, or exhausted). One read, outside any write
    /// transaction, so the submissions an attacker makes for phones without a live code never
    /// queue behind real writers. Answering from a read is safe: a code issued or a block lifted
    /// just after it orders this submission before that change. `None`: a live code exists, and
    /// the write transaction decides.
    async fn attempt_without_code(
        &self,
        action: &str,
        receiver: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AttemptOutcome>> {
        let (blocked_until, expires_at, status): (Option<i64>, Option<i64>, Option<String>) =
            sqlx::query_as(
                "SELECT t.blocked_until, c.expires_at, c.status
                 FROM (SELECT 1 AS one) k
                 LEFT JOIN phone_throttle t ON t.action = $1 AND t.receiver = $2
                 LEFT JOIN (SELECT expires_at, status FROM otp_records
                            WHERE action = $1 AND receiver = $2
                              AND status IN ('pending', 'sent', 'exhausted')
                            ORDER BY created_at DESC LIMIT 1) c ON 1 = 1",
            )
            .bind(action)
            .bind(receiver)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err::<DB>)?;
        if let Some(until) = blocked_until.map(from_ms).transpose()?.filter(|u| *u > now) {
            return Ok(Some(AttemptOutcome::Blocked { until }));
        }
        match (expires_at, status) {
            (Some(e), Some(status)) if e > ms(now) => {
                Ok((status == OtpStatus::Exhausted.as_str()).then_some(AttemptOutcome::Exhausted))
            }
            _ => Ok(Some(AttemptOutcome::NoLiveCode)),
        }
    }
}

#[async_trait]
impl<DB> OtpStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    i64: Value<DB>,
    bool: Value<DB>,
    String: Value<DB>,
    Vec<u8>: Value<DB>,
    Option<i64>: Value<DB>,
    Option<String>: Value<DB>,
{
    async fn issue(
        &self,
        new: NewOtp,
        limits: SendLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<IssueOutcome> {
        let now_ms = ms(now);
        let action = new.action.as_str();
        let mut tx = self
            .write_tx(Some(&format!("otp:{action}:{}", new.receiver)))
            .await?;
        // The key's unfinished records in one read: usually there are none (a first send) or
        // one live code. Dead ones (exhausted, or expired unused) step aside so the partial
        // unique index only sees live ones; that second statement runs only when there are some.
        let open: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, expires_at FROM otp_records
             WHERE action = $1 AND receiver = $2 AND status IN ('pending', 'sent', 'exhausted')",
        )
        .bind(action)
        .bind(&new.receiver)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let is_live =
            |(status, expires_at): &(String, i64)| status != "exhausted" && *expires_at > now_ms;
        if open.iter().any(|r| !is_live(r)) {
            sqlx::query(
                "UPDATE otp_records SET status = 'superseded', updated_at = $1
                 WHERE action = $2 AND receiver = $3
                   AND (status = 'exhausted' OR (status IN ('pending', 'sent') AND expires_at <= $1))",
            )
            .bind(now_ms)
            .bind(action)
            .bind(&new.receiver)
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
        }
        if let Some((_, expires_at)) = open.iter().find(|r| is_live(r)) {
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(IssueOutcome::LiveCodeExists {
                expires_at: from_ms(*expires_at)?,
            });
        }
        let (hour, day) = (Duration::hours(1), Duration::hours(24));
        let receiver = Some(new.receiver.as_str());
        let ip = Some(new.client_ip.as_str());
        let checks = [
            (
                SendLimit::PhoneHour,
                limits.per_phone_hour,
                hour,
                "receiver = $1",
                receiver,
            ),
            (
                SendLimit::PhoneDay,
                limits.per_phone_day,
                day,
                "receiver = $1",
                receiver,
            ),
            (
                SendLimit::IpHour,
                limits.per_ip_hour,
                hour,
                "client_ip = $1",
                ip,
            ),
            (
                SendLimit::GlobalHour,
                limits.global_hour,
                hour,
                "CAST($1 AS TEXT) IS NULL",
                None,
            ),
        ];
        for (which, limit, window, clause, arg) in checks {
            if let Some(retry) =
                Self::limit_reached(&mut tx, limit, window, clause, arg, now_ms).await?
            {
                tx.commit().await.map_err(map_err::<DB>)?;
                return Ok(IssueOutcome::LimitReached {
                    limit: which,
                    retry_after_secs: retry,
                });
            }
        }
        sqlx::query(
            "INSERT INTO otp_records (id, action, receiver, verifier_name, code_hash, status,
                 failed_attempts, expires_at, client_ip, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7, $8, $9)",
        )
        .bind(new.id.to_string())
        .bind(action)
        .bind(&new.receiver)
        .bind(&new.verifier)
        .bind(new.code_hash.as_bytes().to_vec())
        .bind(ms(new.expires_at))
        .bind(&new.client_ip)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(IssueOutcome::Created)
    }

    async fn mark_delivery(&self, id: Uuid, sent: bool, now: DateTime<Utc>) -> StoreResult<()> {
        let status = if sent {
            OtpStatus::Sent
        } else {
            OtpStatus::SendFailed
        };
        sqlx::query(
            "UPDATE otp_records SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn attempt(
        &self,
        a: Attempt,
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<AttemptOutcome> {
        let now_ms = ms(now);
        let action = a.action.as_str();
        if let Some(answer) = self.attempt_without_code(action, &a.receiver, now).await? {
            return Ok(answer);
        }
        let mut tx = self
            .write_tx(Some(&format!("otp:{action}:{}", a.receiver)))
            .await?;
        let throttle = Self::load_throttle(&mut tx, action, &a.receiver).await?;
        if let Some(until) = throttle.and_then(|t| t.blocked_until).filter(|u| *u > now) {
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(AttemptOutcome::Blocked { until });
        }
        // `pending` verifies like `sent` (SPEC §9): the server may have died after the provider
        // took the SMS and before the send was recorded, and the user holds a real code.
        let row: Option<LiveRow> = sqlx::query_as(
            "SELECT id, verifier_name, code_hash, status, expires_at
             FROM otp_records
             WHERE action = $1 AND receiver = $2 AND status IN ('pending', 'sent', 'exhausted')
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(action)
        .bind(&a.receiver)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let Some(row) = row.filter(|r| r.expires_at > now_ms) else {
            // Nothing to guess against: not counted, so wrong submissions without a live code
            // cannot be used to lock a victim's phone.
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(AttemptOutcome::NoLiveCode);
        };
        if row.status == OtpStatus::Exhausted.as_str() {
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(AttemptOutcome::Exhausted);
        }
        let cap = i64::from(policy.per_code_attempts);
        let matches = row.verifier_name == a.verifier
            && CodeHash::from_bytes(&row.code_hash).is_some_and(|h| h.matches(&a.candidate));
        if matches {
            let done = sqlx::query(
                "UPDATE otp_records SET status = 'used', updated_at = $1
                 WHERE id = $2 AND status IN ('pending', 'sent') AND expires_at > $1 AND failed_attempts < $3",
            )
            .bind(now_ms)
            .bind(&row.id)
            .bind(cap)
            .execute(&mut *tx)
            .await
            .map_err(map_err::<DB>)?;
            if DB::rows_affected(&done) == 1 {
                sqlx::query("DELETE FROM phone_throttle WHERE action = $1 AND receiver = $2")
                    .bind(action)
                    .bind(&a.receiver)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err::<DB>)?;
                tx.commit().await.map_err(map_err::<DB>)?;
                return Ok(AttemptOutcome::Consumed);
            }
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(AttemptOutcome::NoLiveCode);
        }
        // Count the failure on the code and on the phone before answering.
        sqlx::query(
            "UPDATE otp_records SET failed_attempts = failed_attempts + 1,
                 status = CASE WHEN failed_attempts + 1 >= $1 THEN 'exhausted' ELSE status END,
                 updated_at = $2
             WHERE id = $3 AND status IN ('pending', 'sent')",
        )
        .bind(cap)
        .bind(now_ms)
        .bind(&row.id)
        .execute(&mut *tx)
        .await
        .map_err(map_err::<DB>)?;
        let next = policy.after_failure(throttle, now);
        Self::save_throttle(&mut tx, action, &a.receiver, next, now_ms).await?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(AttemptOutcome::Wrong)
    }

    async fn throttle_attempt(
        &self,
        scope: &str,
        key: &str,
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let mut tx = self
            .write_tx(Some(&format!("throttle:{scope}:{key}")))
            .await?;
        let prev = Self::load_throttle(&mut tx, scope, key).await?;
        if let Some(until) = prev.and_then(|t| t.blocked_until).filter(|u| *u > now) {
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(Some(until));
        }
        let next = policy.after_failure(prev, now);
        Self::save_throttle(&mut tx, scope, key, next, ms(now)).await?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(None)
    }

    async fn throttle_reset(&self, scope: &str, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM phone_throttle WHERE action = $1 AND receiver = $2")
            .bind(scope)
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()> {
        let cutoff = ms(now - Duration::hours(RETENTION_HOURS));
        sqlx::query("DELETE FROM otp_records WHERE created_at < $1")
            .bind(cutoff)
            .execute(&self.writer)
            .await
            .map_err(map_err::<DB>)?;
        sqlx::query(
            "DELETE FROM phone_throttle WHERE window_started_at < $1
                 AND (blocked_until IS NULL OR blocked_until < $2)",
        )
        .bind(cutoff)
        .bind(ms(now))
        .execute(&self.writer)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }
}
