//! `OtpStore`: issuing, consuming and throttling codes.
//!
//! The usual cases are one guarded statement each, with no transaction: a first code for a key
//! is an insert guarded by "no unfinished record" (`issue`), and a right code for a phone with
//! no recorded failures is one read and an update guarded by the failure count it read
//! (`attempt`). A wrong code is the same read, then the key's write transaction with two writes
//! guarded by what was read (`count_wrong`) and no read inside it. Everything else (a key with
//! records to step aside, a throttle to clear, anything that changed since the read) runs in
//! one write transaction keyed by (action, receiver) that reads and decides, serialised against the
//! other writers of the key (on SQLite against every writer, on PostgreSQL across every
//! instance). One live code per (action, receiver) and exactly one winner among concurrent
//! correct submissions follow from both paths: the guards are re-checked by the database at
//! the write, and the partial unique index `otp_records_one_live` stops a second live code.
//! Send limits are not counted here but by `SendCounters` (`counters.rs`, or Redis), exactly
//! and without scanning records.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use smsauth_core::domain::otp::OtpAction;
use smsauth_core::domain::otp::{CodeHash, OtpStatus};
use smsauth_core::ports::otp_store::{
    Attempt, AttemptOutcome, IssueOutcome, NewOtp, OtpStore, PhoneThrottle, ReceiptTarget,
    SendOutcome, ThrottlePolicy,
};
use smsauth_core::ports::store::{Conflict, StoreError, StoreResult};
use sqlx::{ColumnIndex, Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use crate::{Dialect, SqlStore, Value, from_ms, map_err, ms};

/// Records are kept this long (a day's receipts and the records an operator may look at), then
/// purged.
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

impl ThrottleRow {
    fn into_throttle(self) -> StoreResult<PhoneThrottle> {
        Ok(PhoneThrottle {
            consecutive_failures: self.consecutive_failures.max(0) as u32,
            blocked_until: self.blocked_until.map(from_ms).transpose()?,
            window_started_at: from_ms(self.window_started_at)?,
            window_failures: self.window_failures.max(0) as u32,
        })
    }
}

/// What a throttle write expects to find: anything (it is replaced), no row, or exactly the
/// row read earlier (the write is skipped when it changed).
#[derive(Clone, Copy)]
pub(super) enum ThrottleWas {
    Any,
    Absent,
    Exactly(PhoneThrottle),
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
    /// Runs a `DELETE … WHERE id IN (SELECT … LIMIT n)` until it deletes less than a batch,
    /// pausing between batches: each one holds the (SQLite) writer only briefly, so requests
    /// are served between them however much there is to purge.
    pub(crate) async fn purge_in_batches(
        &self,
        sql: &'static str,
        cutoff: i64,
    ) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let done = sqlx::query(sql)
                .bind(cutoff)
                .execute(&mut *self.write_conn().await?)
                .await
                .map_err(map_err::<DB>)?;
            let n = DB::rows_affected(&done);
            total += n;
            if n < 1000 {
                return Ok(total);
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Inserts a new code unless its key has an unfinished record (pending, sent or exhausted):
    /// `Ok(false)` when it has. Racing inserts for one key meet the partial unique index
    /// `otp_records_one_live` (a unique violation).
    async fn insert_code(
        conn: &mut DB::Connection,
        new: &NewOtp,
        now_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO otp_records (id, action, receiver, verifier_name, code_hash, status,
                 failed_attempts, expires_at, client_ip, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, 'pending', 0, $6, $7, $8, $8
             WHERE NOT EXISTS (SELECT 1 FROM otp_records WHERE action = $2 AND receiver = $3
                                 AND status IN ('pending', 'sent', 'exhausted'))",
        )
        .bind(new.id.to_string())
        .bind(new.action.as_str())
        .bind(&new.receiver)
        .bind(&new.verifier)
        .bind(new.code_hash.as_bytes().to_vec())
        .bind(ms(new.expires_at))
        .bind(&new.client_ip)
        .bind(now_ms)
        .execute(conn)
        .await?;
        Ok(DB::rows_affected(&done) == 1)
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
        row.map(ThrottleRow::into_throttle).transpose()
    }

    /// Writes the throttle row `t` if the row is as `was` says; whether it was written.
    pub(super) async fn save_throttle(
        conn: &mut DB::Connection,
        (action, receiver): (&str, &str),
        t: PhoneThrottle,
        was: ThrottleWas,
        now: i64,
    ) -> StoreResult<bool> {
        let insert = "INSERT INTO phone_throttle (action, receiver, consecutive_failures,
                 blocked_until, window_started_at, window_failures, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
        let sql = match was {
            ThrottleWas::Any => format!(
                "{insert} ON CONFLICT (action, receiver) DO UPDATE SET consecutive_failures = $3,
                     blocked_until = $4, window_started_at = $5, window_failures = $6,
                     updated_at = $7"
            ),
            ThrottleWas::Absent => format!("{insert} ON CONFLICT (action, receiver) DO NOTHING"),
            ThrottleWas::Exactly(_) => "UPDATE phone_throttle SET consecutive_failures = $3,
                     blocked_until = $4, window_started_at = $5, window_failures = $6,
                     updated_at = $7
                 WHERE action = $1 AND receiver = $2 AND consecutive_failures = $8
                   AND blocked_until IS NOT DISTINCT FROM $9 AND window_started_at = $10
                   AND window_failures = $11"
                .to_string(),
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(action)
            .bind(receiver)
            .bind(i64::from(t.consecutive_failures))
            .bind(t.blocked_until.map(ms))
            .bind(ms(t.window_started_at))
            .bind(i64::from(t.window_failures))
            .bind(now);
        if let ThrottleWas::Exactly(seen) = was {
            q = q
                .bind(i64::from(seen.consecutive_failures))
                .bind(seen.blocked_until.map(ms))
                .bind(ms(seen.window_started_at))
                .bind(i64::from(seen.window_failures));
        }
        let done = q.execute(conn).await.map_err(map_err::<DB>)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    /// Counts one wrong submission on the live record `id` (exhausting it at `cap`), when its
    /// failure count is still `failed_was` (if given); whether it was counted.
    async fn count_failure(
        conn: &mut DB::Connection,
        id: &str,
        cap: i64,
        failed_was: Option<i64>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let guard = if failed_was.is_some() {
            " AND failed_attempts = $4"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE otp_records SET failed_attempts = failed_attempts + 1,
                 status = CASE WHEN failed_attempts + 1 >= $1 THEN 'exhausted' ELSE status END,
                 updated_at = $2
             WHERE id = $3 AND status IN ('pending', 'sent') AND expires_at > $2{guard}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(cap)
            .bind(now_ms)
            .bind(id);
        if let Some(failed) = failed_was {
            q = q.bind(failed);
        }
        let done = q.execute(conn).await.map_err(map_err::<DB>)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    /// The answers to a submission that need no write transaction, from one read outside any:
    /// the phone is blocked, or there is no code to guess against (none, expired, or
    /// exhausted), or the code is right and nothing else about the key needs changing. So the
    /// submissions an attacker makes for phones without a live code never queue behind real
    /// writers, and a right code is one read and one guarded update. Answering from a read is
    /// safe: a code issued or a block lifted just after it orders this submission before that
    /// change. A wrong code comes back as [`FromRead::Wrong`] with what was read, for
    /// [`SqlStore::count_wrong`]; [`FromRead::Decide`]: the write transaction decides (a throttle
    /// to clear, or a record at its cap).
    async fn attempt_from_read(
        &self,
        a: &Attempt,
        cap: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<FromRead> {
        let action = a.action.as_str();
        #[derive(FromRow)]
        struct Seen {
            consecutive_failures: Option<i64>,
            blocked_until: Option<i64>,
            window_started_at: Option<i64>,
            window_failures: Option<i64>,
            expires_at: Option<i64>,
            status: Option<String>,
            id: Option<String>,
            verifier_name: Option<String>,
            code_hash: Option<Vec<u8>>,
            failed_attempts: Option<i64>,
        }
        let seen: Seen = sqlx::query_as(
            "SELECT t.consecutive_failures, t.blocked_until, t.window_started_at,
                    t.window_failures, c.expires_at, c.status, c.id, c.verifier_name,
                    c.code_hash, c.failed_attempts
             FROM (SELECT 1 AS one) k
             LEFT JOIN phone_throttle t ON t.action = $1 AND t.receiver = $2
             LEFT JOIN (SELECT expires_at, status, id, verifier_name, code_hash,
                               failed_attempts
                        FROM otp_records
                        WHERE action = $1 AND receiver = $2
                          AND status IN ('pending', 'sent', 'exhausted')
                        ORDER BY created_at DESC LIMIT 1) c ON 1 = 1",
        )
        .bind(action)
        .bind(&a.receiver)
        .fetch_one(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        let blocked_until = seen.blocked_until.map(from_ms).transpose()?;
        if let Some(until) = blocked_until.filter(|u| *u > now) {
            return Ok(FromRead::Answer(AttemptOutcome::Blocked { until }));
        }
        let (Some(e), Some(status)) = (seen.expires_at, seen.status) else {
            return Ok(FromRead::Answer(AttemptOutcome::NoLiveCode));
        };
        if e <= ms(now) {
            return Ok(FromRead::Answer(AttemptOutcome::NoLiveCode));
        }
        if status == OtpStatus::Exhausted.as_str() {
            return Ok(FromRead::Answer(AttemptOutcome::Exhausted));
        }
        let right = seen.verifier_name.as_deref() == Some(a.verifier.as_str())
            && seen
                .code_hash
                .as_deref()
                .and_then(CodeHash::from_bytes)
                .is_some_and(|h| h.matches(&a.candidate));
        let (Some(id), Some(failed)) = (seen.id, seen.failed_attempts) else {
            return Ok(FromRead::Decide);
        };
        if failed >= cap {
            return Ok(FromRead::Decide);
        }
        let throttle = match (
            seen.consecutive_failures,
            seen.window_started_at,
            seen.window_failures,
        ) {
            (Some(consecutive_failures), Some(window_started_at), Some(window_failures)) => Some(
                ThrottleRow {
                    consecutive_failures,
                    blocked_until: seen.blocked_until,
                    window_started_at,
                    window_failures,
                }
                .into_throttle()?,
            ),
            _ => None,
        };
        if !right {
            return Ok(FromRead::Wrong {
                id,
                failed,
                throttle,
            });
        }
        if throttle.is_some() {
            return Ok(FromRead::Decide);
        }
        // Guarded by the failure count read: any submission for this key in between (a wrong
        // one counts on this very record) makes it touch nothing, and the transaction decides.
        let done = sqlx::query(
            "UPDATE otp_records SET status = 'used', updated_at = $1
             WHERE id = $2 AND status IN ('pending', 'sent') AND expires_at > $1
               AND failed_attempts = $3",
        )
        .bind(ms(now))
        .bind(&id)
        .bind(failed)
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(if DB::rows_affected(&done) == 1 {
            FromRead::Answer(AttemptOutcome::Consumed)
        } else {
            FromRead::Decide
        })
    }

    /// Counts a wrong code on the record and the phone's throttle as [`attempt_from_read`]
    /// saw them, in the key's write transaction, with no read in it: each write is guarded by
    /// the state read (the record's failure count and liveness, the throttle row's every
    /// field, or its absence), so it applies only when nothing changed since the read, and
    /// then the transaction's own reads would have seen the same and decided the same.
    /// `false` when anything changed: nothing is written and the transaction decides.
    ///
    /// [`attempt_from_read`]: SqlStore::attempt_from_read
    async fn count_wrong(
        &self,
        a: &Attempt,
        (id, failed, throttle): (&str, i64, Option<PhoneThrottle>),
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (action, now_ms) = (a.action.as_str(), ms(now));
        let mut tx = self
            .write_tx(Some(&format!("otp:{action}:{}", a.receiver)))
            .await?;
        let cap = i64::from(policy.per_code_attempts);
        if !Self::count_failure(&mut tx, id, cap, Some(failed), now_ms).await? {
            tx.rollback().await.map_err(map_err::<DB>)?;
            return Ok(false);
        }
        let was = throttle.map_or(ThrottleWas::Absent, ThrottleWas::Exactly);
        let next = policy.after_failure(throttle, now);
        if !Self::save_throttle(&mut tx, (action, &a.receiver), next, was, now_ms).await? {
            // The record's count is undone with it.
            tx.rollback().await.map_err(map_err::<DB>)?;
            return Ok(false);
        }
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(true)
    }
}

/// What [`SqlStore::attempt_from_read`] found.
enum FromRead {
    Answer(AttemptOutcome),
    /// A wrong code against a live record below its cap: the record, its failure count and
    /// the phone's throttle as read.
    Wrong {
        id: String,
        failed: i64,
        throttle: Option<PhoneThrottle>,
    },
    Decide,
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
    async fn live_code(
        &self,
        action: OtpAction,
        receiver: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let expires: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(expires_at) FROM otp_records
             WHERE action = $1 AND receiver = $2 AND status IN ('pending', 'sent')
               AND expires_at > $3",
        )
        .bind(action.as_str())
        .bind(receiver)
        .bind(ms(now))
        .fetch_one(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        expires.map(from_ms).transpose()
    }

    async fn issue(&self, new: NewOtp, now: DateTime<Utc>) -> StoreResult<IssueOutcome> {
        let now_ms = ms(now);
        let action = new.action.as_str();
        // The usual case in one guarded statement, without a transaction: the key has no
        // unfinished record at all (a first send, or the last code was used or superseded).
        // Two such inserts racing for one key meet at the partial unique index
        // `otp_records_one_live`; the loser, like any key with records to look at, takes the
        // transaction below.
        let inserted = Self::insert_code(&mut *self.write_conn().await?, &new, now_ms).await;
        match inserted {
            Ok(true) => return Ok(IssueOutcome::Created),
            Ok(false) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {}
            Err(e) => return Err(map_err::<DB>(e)),
        }
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
        // The guard holds here (the dead records stepped aside, and no live one), so this is the
        // same statement as the first-code insert above; it inserts nothing only if a live code
        // appeared since the read, which the keyed transaction rules out.
        let inserted = Self::insert_code(&mut *tx, &new, now_ms)
            .await
            .map_err(map_err::<DB>)?;
        tx.commit().await.map_err(map_err::<DB>)?;
        if !inserted {
            return Err(StoreError::Conflict(Conflict::Duplicate("code")));
        }
        Ok(IssueOutcome::Created)
    }

    async fn mark_delivery(
        &self,
        id: Uuid,
        outcome: SendOutcome,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (status, via, message_id, delivery) = match outcome {
            SendOutcome::Sent { via, message_id } => {
                (OtpStatus::Sent, Some(via), message_id, "sent")
            }
            SendOutcome::Failed => (OtpStatus::SendFailed, None, None, "failed"),
            SendOutcome::NotSent(why) => (OtpStatus::Sent, None, None, why),
        };
        sqlx::query(
            "UPDATE otp_records SET status = $1, sent_via = $2, message_id = $3,
                 delivery_status = $4, updated_at = $5
             WHERE id = $6 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(via)
        .bind(message_id)
        .bind(delivery)
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn record_receipt(
        &self,
        via: &str,
        message_id: &str,
        delivered: bool,
        error_code: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ReceiptTarget>> {
        let state = if delivered {
            "delivered"
        } else {
            "undelivered"
        };
        // Only a record still marked `sent` moves: a final state is never overwritten by a late
        // or repeated push, and `changed` tells the caller not to count it twice.
        let moved: Option<String> = sqlx::query_scalar(
            "UPDATE otp_records SET delivery_status = $1, delivery_error = $2, updated_at = $3
             WHERE sent_via = $4 AND message_id = $5 AND delivery_status = 'sent'
             RETURNING receiver",
        )
        .bind(state)
        .bind(error_code.map(|e| e.chars().take(64).collect::<String>()))
        .bind(ms(now))
        .bind(via)
        .bind(message_id)
        .fetch_optional(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        if let Some(receiver) = moved {
            return Ok(Some(ReceiptTarget {
                receiver,
                changed: true,
            }));
        }
        let known: Option<String> = sqlx::query_scalar(
            "SELECT receiver FROM otp_records WHERE sent_via = $1 AND message_id = $2 LIMIT 1",
        )
        .bind(via)
        .bind(message_id)
        .fetch_optional(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(known.map(|receiver| ReceiptTarget {
            receiver,
            changed: false,
        }))
    }

    async fn attempt(
        &self,
        a: Attempt,
        policy: ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<AttemptOutcome> {
        let now_ms = ms(now);
        let action = a.action.as_str();
        match self
            .attempt_from_read(&a, i64::from(policy.per_code_attempts), now)
            .await?
        {
            FromRead::Answer(answer) => return Ok(answer),
            FromRead::Wrong {
                id,
                failed,
                throttle,
            } => {
                if self
                    .count_wrong(&a, (&id, failed, throttle), policy, now)
                    .await?
                {
                    return Ok(AttemptOutcome::Wrong);
                }
            }
            FromRead::Decide => {}
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
                if throttle.is_some() {
                    sqlx::query("DELETE FROM phone_throttle WHERE action = $1 AND receiver = $2")
                        .bind(action)
                        .bind(&a.receiver)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err::<DB>)?;
                }
                tx.commit().await.map_err(map_err::<DB>)?;
                return Ok(AttemptOutcome::Consumed);
            }
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(AttemptOutcome::NoLiveCode);
        }
        // Count the failure on the code and on the phone before answering (the record's expiry
        // was checked above, under the key's lock).
        if !Self::count_failure(&mut tx, &row.id, cap, None, now_ms).await? {
            // A right code consumed the record after this transaction read it (the fast path
            // of `attempt_from_read` takes no key lock): nothing is left to guess against.
            tx.commit().await.map_err(map_err::<DB>)?;
            return Ok(AttemptOutcome::NoLiveCode);
        }
        let next = policy.after_failure(throttle, now);
        Self::save_throttle(
            &mut tx,
            (action, &a.receiver),
            next,
            ThrottleWas::Any,
            now_ms,
        )
        .await?;
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
        Self::save_throttle(&mut tx, (scope, key), next, ThrottleWas::Any, ms(now)).await?;
        tx.commit().await.map_err(map_err::<DB>)?;
        Ok(None)
    }

    async fn throttle_reset(&self, scope: &str, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM phone_throttle WHERE action = $1 AND receiver = $2")
            .bind(scope)
            .bind(key)
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        Ok(())
    }

    async fn purge(&self, now: DateTime<Utc>) -> StoreResult<()> {
        let cutoff = ms(now - Duration::hours(RETENTION_HOURS));
        self.purge_in_batches(
            "DELETE FROM otp_records WHERE id IN
                 (SELECT id FROM otp_records WHERE created_at < $1 LIMIT 1000)",
            cutoff,
        )
        .await?;
        self.purge_in_batches(
            "DELETE FROM sms_counters WHERE (key, bucket) IN
                 (SELECT key, bucket FROM sms_counters WHERE bucket < $1 LIMIT 1000)",
            now.timestamp() - crate::counters::RETENTION_SECS,
        )
        .await?;
        sqlx::query("DELETE FROM sms_blocks WHERE blocked_until < $1")
            .bind(ms(now))
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        sqlx::query(
            "DELETE FROM phone_throttle WHERE window_started_at < $1
                 AND (blocked_until IS NULL OR blocked_until < $2)",
        )
        .bind(cutoff)
        .bind(ms(now))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }
}
