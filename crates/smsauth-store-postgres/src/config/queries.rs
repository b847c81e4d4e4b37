//! Row mapping and the queries the configuration store's methods share.

use smsauth_core::domain::authenticator::Authenticator;
use smsauth_core::domain::verifier::Verifier;
use smsauth_core::ports::store::StoreResult;
use sqlx::{FromRow, PgConnection};

use crate::{from_ms, map_err};

#[derive(FromRow)]
pub(super) struct AuthenticatorRow {
    id: i64,
    name: String,
    auth_type: String,
    title: Option<String>,
    description: Option<String>,
    enabled: bool,
    sort: i64,
    options: String,
    created_at: i64,
    updated_at: i64,
}

impl From<AuthenticatorRow> for Authenticator {
    fn from(r: AuthenticatorRow) -> Self {
        Authenticator {
            id: r.id,
            name: r.name,
            auth_type: r.auth_type,
            title: r.title,
            description: r.description,
            enabled: r.enabled,
            sort: r.sort,
            options: serde_json::from_str(&r.options).unwrap_or_default(),
            created_at: from_ms(r.created_at),
            updated_at: from_ms(r.updated_at),
        }
    }
}

#[derive(FromRow)]
pub(super) struct VerifierRow {
    name: String,
    title: Option<String>,
    description: Option<String>,
    verification_type: String,
    is_default: bool,
    options: String,
    created_at: i64,
    updated_at: i64,
}

impl From<VerifierRow> for Verifier {
    fn from(r: VerifierRow) -> Self {
        Verifier {
            name: r.name,
            title: r.title,
            description: r.description,
            verification_type: r.verification_type,
            is_default: r.is_default,
            options: serde_json::from_str(&r.options).unwrap_or_default(),
            created_at: from_ms(r.created_at),
            updated_at: from_ms(r.updated_at),
        }
    }
}

pub(super) const AUTH_COLUMNS: &str =
    "id, name, auth_type, title, description, enabled, sort, options, created_at, updated_at";
pub(super) const VERIFIER_COLUMNS: &str =
    "name, title, description, verification_type, is_default, options, created_at, updated_at";

pub(super) async fn authenticator_by_id(
    conn: &mut PgConnection,
    id: i64,
) -> StoreResult<Option<Authenticator>> {
    let row: Option<AuthenticatorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {AUTH_COLUMNS} FROM authenticators WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(map_err)?;
    Ok(row.map(Into::into))
}

pub(super) async fn verifier_by_name(
    conn: &mut PgConnection,
    name: &str,
) -> StoreResult<Option<Verifier>> {
    let row: Option<VerifierRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {VERIFIER_COLUMNS} FROM verifiers WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(map_err)?;
    Ok(row.map(Into::into))
}

pub(super) async fn enabled_others(conn: &mut PgConnection, id: i64) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM authenticators WHERE enabled AND id <> $1")
        .bind(id)
        .fetch_one(conn)
        .await
        .map_err(map_err)
}

pub(super) async fn clear_default(
    conn: &mut PgConnection,
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
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}
