//! `AuditStore`: the append-only audit log (SPEC §15.5).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::ports::audit::{AuditEntry, AuditEvent, AuditFilter, AuditStore};
use smsauth_core::ports::store::{PageRequest, StoreError, StoreResult};
use sqlx::{ColumnIndex, Encode, Executor, FromRow, IntoArguments, Type};

use crate::rows::json_text;
use crate::{Dialect, SqlStore, Value, from_ms, map_err, ms};

#[derive(FromRow)]
struct AuditRow {
    id: i64,
    time: i64,
    #[sqlx(rename = "type")]
    kind: String,
    ip: Option<String>,
    user_id: Option<i64>,
    phone_masked: Option<String>,
    phone_key: Option<Vec<u8>>,
    authenticator: Option<String>,
    verifier: Option<String>,
    detail: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            id: r.id,
            event: AuditEvent {
                time: from_ms(r.time)?,
                kind: r.kind,
                ip: r.ip,
                user_id: r.user_id,
                phone_masked: r.phone_masked,
                phone_key: r.phone_key.and_then(|k| <[u8; 32]>::try_from(k).ok()),
                authenticator: r.authenticator,
                verifier: r.verifier,
                detail: serde_json::from_str(&r.detail)
                    .map_err(|e| StoreError::Unavailable(anyhow::anyhow!("audit detail: {e}")))?,
            },
        })
    }
}

const WHERE: &str = "($1 IS NULL OR type LIKE $1 ESCAPE '\\') AND ($2 IS NULL OR user_id = $2)
    AND ($3 IS NULL OR phone_key = $3) AND ($4 IS NULL OR time >= $4)
    AND ($5 IS NULL OR time <= $5)";

/// Events per insert statement: 9 parameters each, far below either database's limit.
const APPEND_CHUNK: usize = 64;

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    i64: Value<DB>,
    String: Value<DB>,
    Option<i64>: Value<DB>,
    Option<String>: Value<DB>,
    Option<Vec<u8>>: Value<DB>,
{
    /// `events` (at most [`APPEND_CHUNK`]) in one insert statement.
    async fn insert_events<'e, E>(executor: E, events: &[AuditEvent]) -> StoreResult<()>
    where
        E: Executor<'e, Database = DB>,
    {
        let rows: Vec<String> = (0..events.len())
            .map(|i| {
                let p: Vec<String> = (1..=9).map(|j| format!("${}", 9 * i + j)).collect();
                format!("({})", p.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_log (time, type, ip, user_id, phone_masked, phone_key,
                 authenticator, verifier, detail) VALUES {}",
            rows.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in events {
            q = q
                .bind(ms(e.time))
                .bind(e.kind.clone())
                .bind(e.ip.clone())
                .bind(e.user_id)
                .bind(e.phone_masked.clone())
                .bind(e.phone_key.map(|k| k.to_vec()))
                .bind(e.authenticator.clone())
                .bind(e.verifier.clone())
                .bind(json_text(&e.detail));
        }
        q.execute(executor).await.map_err(map_err::<DB>)?;
        Ok(())
    }
}

#[async_trait]
impl<DB> AuditStore for SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    i64: Value<DB>,
    String: Value<DB>,
    Vec<u8>: Value<DB>,
    Option<i64>: Value<DB>,
    Option<String>: Value<DB>,
    Option<Vec<u8>>: Value<DB>,
{
    async fn append(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // One multi-row insert per chunk: a batch is one statement (one round trip, one commit)
        // rather than one per event; a batch of several chunks is one transaction.
        if events.len() <= APPEND_CHUNK {
            return Self::insert_events(&mut *self.write_conn().await?, events).await;
        }
        let mut tx = self.write_tx(None).await?;
        for chunk in events.chunks(APPEND_CHUNK) {
            Self::insert_events(&mut *tx, chunk).await?;
        }
        tx.commit().await.map_err(map_err::<DB>)
    }

    async fn list(
        &self,
        f: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<(Vec<AuditEntry>, u64)> {
        let prefix = f
            .kind_prefix
            .as_ref()
            .map(|p| format!("{}%", crate::rows::like_escaped(p)));
        let key = f.phone_key.map(|k| k.to_vec());
        let (since, until) = (f.since.map(ms), f.until.map(ms));
        let mut conn = self.read_conn().await?;
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM audit_log WHERE {WHERE}"
        )))
        .bind(prefix.clone())
        .bind(f.user_id)
        .bind(key.clone())
        .bind(since)
        .bind(until)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err::<DB>)?;
        let rows: Vec<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, time, type, ip, user_id, phone_masked, phone_key, authenticator,
                 verifier, detail
             FROM audit_log WHERE {WHERE} ORDER BY time DESC, id DESC LIMIT $6 OFFSET $7"
        )))
        .bind(prefix)
        .bind(f.user_id)
        .bind(key)
        .bind(since)
        .bind(until)
        .bind(i64::from(page.page_size))
        .bind(i64::from(page.page.saturating_sub(1)) * i64::from(page.page_size))
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err::<DB>)?;
        Ok((crate::rows::all(rows)?, count.max(0) as u64))
    }

    async fn purge(&self, before: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE id IN
                 (SELECT id FROM audit_log WHERE time < $1 ORDER BY id LIMIT $2)",
        )
        .bind(ms(before))
        .bind(i64::from(batch))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(DB::rows_affected(&done))
    }
}
