//! Queries the configuration store's methods share.

use smsauth_core::domain::authenticator::Authenticator;
use smsauth_core::domain::verifier::Verifier;
use smsauth_core::ports::store::StoreResult;
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::rows::{AUTH_COLUMNS, AuthenticatorRow, VERIFIER_COLUMNS, VerifierRow};
use crate::{Dialect, SqlStore, Value, map_err};

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
    pub(super) async fn authenticator_by_id(
        conn: &mut DB::Connection,
        id: i64,
    ) -> StoreResult<Option<Authenticator>> {
        let row: Option<AuthenticatorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {AUTH_COLUMNS} FROM authenticators WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(map_err::<DB>)?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn verifier_by_name(
        conn: &mut DB::Connection,
        name: &str,
    ) -> StoreResult<Option<Verifier>> {
        let row: Option<VerifierRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VERIFIER_COLUMNS} FROM verifiers WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(map_err::<DB>)?;
        row.map(TryInto::try_into).transpose()
    }

    pub(super) async fn enabled_others(conn: &mut DB::Connection, id: i64) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM authenticators WHERE enabled AND id <> $1")
            .bind(id)
            .fetch_one(conn)
            .await
            .map_err(map_err::<DB>)
    }

    pub(super) async fn clear_default(
        conn: &mut DB::Connection,
        vtype: &str,
        except: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE verifiers SET is_default = FALSE WHERE verification_type = $1 AND name <> $2",
        )
        .bind(vtype)
        .bind(except)
        .execute(conn)
        .await
        .map_err(map_err::<DB>)?;
        Ok(())
    }
}
