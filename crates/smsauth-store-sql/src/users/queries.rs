//! Queries the user store's methods share.

use smsauth_core::domain::user::{Role, User};
use smsauth_core::ports::store::{Conflict, StoreError, StoreResult};
use sqlx::{ColumnIndex, Encode, Executor, IntoArguments, Type};

use crate::rows::{USER_COLUMNS, UserRow};
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
    pub(super) async fn roles_of(
        conn: &mut DB::Connection,
        user_id: i64,
    ) -> StoreResult<Vec<Role>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT r.name, r.title FROM users_roles ur JOIN roles r ON r.name = ur.role_name
             WHERE ur.user_id = $1 ORDER BY r.name",
        )
        .bind(user_id)
        .fetch_all(conn)
        .await
        .map_err(map_err::<DB>)?;
        Ok(rows
            .into_iter()
            .map(|(name, title)| Role { name, title })
            .collect())
    }

    /// Loads one user with roles by a `WHERE` clause over `users`.
    pub(super) async fn user_where(
        conn: &mut DB::Connection,
        clause: &'static str,
        arg: impl for<'q> Encode<'q, DB> + Type<DB> + Send,
    ) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {clause}");
        let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(arg)
            .fetch_optional(&mut *conn)
            .await
            .map_err(map_err::<DB>)?;
        match row {
            Some(row) => {
                let roles = Self::roles_of(conn, row.id).await?;
                Ok(Some(row.into_user(roles)?))
            }
            None => Ok(None),
        }
    }

    pub(super) async fn set_roles(
        conn: &mut DB::Connection,
        user_id: i64,
        roles: Option<&[String]>,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM users_roles WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *conn)
            .await
            .map_err(map_err::<DB>)?;
        match roles {
            Some(roles) => {
                for role in roles {
                    let known: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE name = $1")
                            .bind(role)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(map_err::<DB>)?;
                    if known == 0 {
                        return Err(StoreError::Conflict(Conflict::UnknownRole));
                    }
                    sqlx::query(
                        "INSERT INTO users_roles (user_id, role_name, created_at, updated_at)
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(user_id)
                    .bind(role)
                    .bind(now)
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map_err(map_err::<DB>)?;
                }
            }
            None => {
                sqlx::query(
                    "INSERT INTO users_roles (user_id, role_name, created_at, updated_at)
                     SELECT $1, name, $2, $3 FROM roles WHERE is_default",
                )
                .bind(user_id)
                .bind(now)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map_err(map_err::<DB>)?;
            }
        }
        Ok(())
    }
}
