//! Queries the user store's methods share (row types come from `smsauth-store-rows`).

use smsauth_core::domain::user::{Role, User};
use smsauth_core::ports::store::{Conflict, StoreError, StoreResult};
use sqlx::{Sqlite, SqliteConnection};

use smsauth_store_rows::{USER_COLUMNS, UserRow};

use crate::map_err;

pub(super) async fn roles_of(conn: &mut SqliteConnection, user_id: i64) -> StoreResult<Vec<Role>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.name, r.title FROM users_roles ur JOIN roles r ON r.name = ur.role_name
         WHERE ur.user_id = ? ORDER BY r.name",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
    .map_err(map_err)?;
    Ok(rows
        .into_iter()
        .map(|(name, title)| Role { name, title })
        .collect())
}

/// Loads one user with roles by a `WHERE` clause over `users`.
pub(super) async fn user_where(
    conn: &mut SqliteConnection,
    clause: &'static str,
    arg: impl for<'q> sqlx::Encode<'q, Sqlite> + sqlx::Type<Sqlite> + Send,
) -> StoreResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {clause}");
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(arg)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    match row {
        Some(row) => {
            let roles = roles_of(conn, row.id).await?;
            Ok(Some(row.into_user(roles)))
        }
        None => Ok(None),
    }
}

pub(super) async fn set_roles(
    conn: &mut SqliteConnection,
    user_id: i64,
    roles: Option<&[String]>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM users_roles WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut *conn)
        .await
        .map_err(map_err)?;
    match roles {
        Some(roles) => {
            for role in roles {
                let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE name = ?")
                    .bind(role)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(map_err)?;
                if known == 0 {
                    return Err(StoreError::Conflict(Conflict::UnknownRole));
                }
                sqlx::query(
                    "INSERT INTO users_roles (user_id, role_name, created_at, updated_at)
                     VALUES (?, ?, ?, ?)",
                )
                .bind(user_id)
                .bind(role)
                .bind(now)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(map_err)?;
            }
        }
        None => {
            sqlx::query(
                "INSERT INTO users_roles (user_id, role_name, created_at, updated_at)
                 SELECT ?, name, ?, ? FROM roles WHERE is_default = 1",
            )
            .bind(user_id)
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        }
    }
    Ok(())
}
