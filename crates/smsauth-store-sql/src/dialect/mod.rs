//! The few things SQLite and PostgreSQL really do differently, behind one trait implemented on
//! each sqlx database type (the pattern of sqlx's own `TestSupport: Database`).

mod postgres;
mod sqlite;

use std::future::Future;

use sqlx::error::DatabaseError;
use sqlx::{Database, Pool, Transaction};

/// Fields a unique constraint can be about, as the API names them.
pub(crate) const UNIQUE_FIELDS: [&str; 6] =
    ["username", "email", "phone", "name", "uuid", "user_id"];

pub trait Dialect: Database {
    /// Opens a write transaction. With a `key`, its reads and writes about that key are
    /// serialised against every other writer of the key; without one, unique constraints and
    /// guarded statements decide. SQLite takes its database-wide write lock at
    /// `BEGIN IMMEDIATE` in both cases (so no transaction fails half-way on lock upgrade);
    /// PostgreSQL takes a transaction-scoped advisory lock on the key, so that instances
    /// serialise exactly the operations that must not interleave and nothing else.
    fn begin_write<'a>(
        pool: &'a Pool<Self>,
        key: Option<&'a str>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send + 'a;

    /// The field a unique violation is about (`users.phone` → `phone`).
    fn unique_field(err: &dyn DatabaseError) -> &'static str;

    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Runs the pending migrations of this backend (`migrations/sqlite`, `migrations/postgres`).
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// An authenticator row's `options.public.verifier`, as text.
    const PUBLIC_VERIFIER: &'static str;
}
