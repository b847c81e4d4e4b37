//! Queries the configuration store's methods share (row types come from `smsauth-store-rows`).

use smsauth_core::domain::authenticator::Authenticator;
use smsauth_core::domain::verifier::Verifier;
use smsauth_core::ports::store::StoreResult;
use sqlx::SqliteConnection;

use smsauth_store_rows::{AUTH_COLUMNS, AuthenticatorRow, VERIFIER_COLUMNS, VerifierRow};

use crate::map_err;

pub(super) async fn authenticator_by_id(
    conn: &mut SqliteConnection,
    id: i64,
) -> StoreResult<Option<Authenticator>> {
    let row: Option<AuthenticatorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {AUTH_COLUMNS} FROM authenticators WHERE id = ?"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(map_err)?;
    Ok(row.map(Into::into))
}

pub(super) async fn verifier_by_name(
    conn: &mut SqliteConnection,
    name: &str,
) -> StoreResult<Option<Verifier>> {
    let row: Option<VerifierRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VERIFIER_COLUMNS} FROM verifiers WHERE name = ?"
    )))
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(map_err)?;
    Ok(row.map(Into::into))
}

pub(super) async fn enabled_others(conn: &mut SqliteConnection, id: i64) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM authenticators WHERE enabled = 1 AND id <> ?")
        .bind(id)
        .fetch_one(conn)
        .await
        .map_err(map_err)
}

pub(super) async fn clear_default(
    conn: &mut SqliteConnection,
    vtype: &str,
    except: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE verifiers SET is_default = 0 WHERE verification_type = ? AND name <> ?")
        .bind(vtype)
        .bind(except)
        .execute(conn)
        .await
        .map_err(map_err)?;
    Ok(())
}
