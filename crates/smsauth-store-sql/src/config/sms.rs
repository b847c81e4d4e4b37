//! The SMS policy and test numbers (SPEC §15.1, §15.4), part of the configuration store.

use chrono::{DateTime, Utc};
use smsauth_core::domain::sms_policy::SmsPolicy;
use smsauth_core::domain::test_number::{TestNumber, TestNumberDraft};
use smsauth_core::ports::store::{StoreError, StoreResult};
use sqlx::{ColumnIndex, Encode, Executor, FromRow, IntoArguments, Type};

use crate::rows::json_text;
use crate::{Dialect, SqlStore, Value, found, from_ms, map_err, ms};

#[derive(FromRow)]
struct TestNumberRow {
    id: i64,
    phone: String,
    code: String,
    expires_at: i64,
    note: Option<String>,
}

impl TryFrom<TestNumberRow> for TestNumber {
    type Error = StoreError;
    fn try_from(r: TestNumberRow) -> Result<Self, StoreError> {
        Ok(TestNumber {
            id: r.id,
            phone: r.phone,
            code: r.code,
            expires_at: from_ms(r.expires_at)?,
            note: r.note,
        })
    }
}

const COLUMNS: &str = "id, phone, code, expires_at, note";

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    usize: ColumnIndex<DB::Row>,
    for<'a> &'a str: ColumnIndex<DB::Row> + Encode<'a, DB> + Type<DB>,
    i64: Value<DB>,
    String: Value<DB>,
    Option<String>: Value<DB>,
{
    pub(super) async fn load_sms_policy(&self) -> StoreResult<Option<SmsPolicy>> {
        let text: Option<String> = sqlx::query_scalar("SELECT policy FROM sms_policy WHERE id = 1")
            .fetch_optional(&mut *self.read_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        // A stored policy that no longer parses is an error (503), never silently the default:
        // the default might send where the operator had forbidden it.
        text.map(|t| {
            serde_json::from_str::<serde_json::Value>(&t)
                .map_err(|e| e.to_string())
                .and_then(|v| SmsPolicy::from_json(v).map_err(|e| e.to_string()))
                .map_err(|e| StoreError::Unavailable(anyhow::anyhow!("stored SMS policy: {e}")))
        })
        .transpose()
    }

    pub(super) async fn save_sms_policy(
        &self,
        policy: &SmsPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let text = json_text(
            &serde_json::to_value(policy)
                .map_err(|e| StoreError::Unavailable(anyhow::anyhow!(e)))?,
        );
        sqlx::query(
            "INSERT INTO sms_policy (id, policy, created_at, updated_at) VALUES (1, $1, $2, $2)
             ON CONFLICT (id) DO UPDATE SET policy = $1, updated_at = $2",
        )
        .bind(text)
        .bind(ms(now))
        .execute(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }

    pub(super) async fn load_test_numbers(&self) -> StoreResult<Vec<TestNumber>> {
        let rows: Vec<TestNumberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sms_test_numbers ORDER BY id"
        )))
        .fetch_all(&mut *self.read_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        crate::rows::all(rows)
    }

    pub(super) async fn insert_test_number(
        &self,
        d: TestNumberDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<TestNumber> {
        let row: TestNumberRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO sms_test_numbers (phone, code, expires_at, note, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
        )))
        .bind(d.phone)
        .bind(d.code)
        .bind(ms(d.expires_at))
        .bind(d.note)
        .bind(ms(now))
        .fetch_one(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        row.try_into()
    }

    pub(super) async fn change_test_number(
        &self,
        id: i64,
        d: TestNumberDraft,
        now: DateTime<Utc>,
    ) -> StoreResult<TestNumber> {
        let row: Option<TestNumberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE sms_test_numbers SET phone = $1, code = $2, expires_at = $3, note = $4,
                 updated_at = $5
             WHERE id = $6 RETURNING {COLUMNS}"
        )))
        .bind(d.phone)
        .bind(d.code)
        .bind(ms(d.expires_at))
        .bind(d.note)
        .bind(ms(now))
        .bind(id)
        .fetch_optional(&mut *self.write_conn().await?)
        .await
        .map_err(map_err::<DB>)?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    pub(super) async fn remove_test_number(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM sms_test_numbers WHERE id = $1")
            .bind(id)
            .execute(&mut *self.write_conn().await?)
            .await
            .map_err(map_err::<DB>)?;
        found::<DB>(done)
    }
}
