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

    /// Loads one user with roles by a `WHERE` clause over `users` (the first by id, should the
    /// clause match several), in one statement: the user's columns come once per role (a user with no role is one row without one). One statement
    /// instead of a user read and a roles read: a user is read on every sign-in and on every
    /// `auth:check` the cache does not answer, and each statement is a hand-off to the
    /// connection's thread on SQLite and a round trip on PostgreSQL.
    pub(super) async fn user_where(
        conn: &mut DB::Connection,
        clause: &'static str,
        arg: impl for<'q> Encode<'q, DB> + Type<DB> + Send,
    ) -> StoreResult<Option<User>> {
        #[derive(sqlx::FromRow)]
        struct WithRole {
            #[sqlx(flatten)]
            user: UserRow,
            role_name: Option<String>,
            role_title: Option<String>,
        }
        let sql = format!(
            "SELECT u.*, r.name AS role_name, r.title AS role_title
             FROM (SELECT {USER_COLUMNS} FROM users WHERE {clause} ORDER BY id LIMIT 1) u
             LEFT JOIN users_roles ur ON ur.user_id = u.id
             LEFT JOIN roles r ON r.name = ur.role_name
             ORDER BY r.name"
        );
        let rows: Vec<WithRole> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(arg)
            .fetch_all(&mut *conn)
            .await
            .map_err(map_err::<DB>)?;
        let mut roles = Vec::with_capacity(rows.len());
        let mut user = None;
        for row in rows {
            if let (Some(name), Some(title)) = (row.role_name, row.role_title) {
                roles.push(Role { name, title });
            }
            user.get_or_insert(row.user);
        }
        user.map(|u| u.into_user(roles)).transpose()
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
