//! The few things SQLite and PostgreSQL really do differently, behind one trait implemented on
//! each sqlx database type (the pattern of sqlx's own `TestSupport: Database`).

mod postgres;
mod sqlite;

use std::future::Future;

use sqlx::Database;
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;

/// Fields a unique constraint can be about, as the API names them.
pub(crate) const UNIQUE_FIELDS: [&str; 6] =
    ["username", "email", "phone", "name", "uuid", "user_id"];

pub trait Dialect: Database {
    /// How a write transaction begins (`None`: the database's plain `BEGIN`). SQLite takes its
    /// database-wide write lock at `BEGIN IMMEDIATE`, so no transaction fails half-way on lock
    /// upgrade.
    const BEGIN_WRITE: Option<&'static str>;

    /// Whether a statement that writes runs alone against the whole database, its reads
    /// included: SQLite takes the database's write lock when such a statement starts, so a
    /// guarded `INSERT … SELECT … WHERE` judges and writes as one step; PostgreSQL under READ
    /// COMMITTED reads a snapshot taken when the statement starts while others write.
    const WRITES_SERIALISED: bool;

    /// Serialises the rest of the transaction's reads and writes about `key` against every
    /// other writer of the key; without a key, unique constraints and guarded statements
    /// decide. PostgreSQL takes a transaction-scoped advisory lock on the key, so that
    /// instances serialise exactly the operations that must not interleave and nothing else;
    /// SQLite holds its one write lock already.
    fn lock_key<'a>(
        conn: &'a mut Self::Connection,
        key: &'a str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'a;

    /// The part of a unique violation that names the column: SQLite's message
    /// (`UNIQUE constraint failed: users.phone`), PostgreSQL's constraint name
    /// (`users_phone_key`, `verifiers_pkey`). [`unique_field`] reads the field from it.
    fn unique_violation(err: &dyn DatabaseError) -> &str;

    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// This backend's migrations (`migrations/sqlite`, `migrations/postgres`).
    fn migrator() -> &'static Migrator;

    /// A consistent copy of the whole database, taken while it serves, into the new file `dest`.
    fn backup<'a>(
        conn: &'a mut Self::Connection,
        dest: &'a std::path::Path,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'a;

    /// An authenticator row's `options.public.verifier`, as text.
    const PUBLIC_VERIFIER: &'static str;
}

/// The field a unique violation is about, as the API names it (`value` when none is known): the
/// column follows a `.` (SQLite) or a `_` (PostgreSQL), and a primary key is a name.
pub(crate) fn unique_field<DB: Dialect>(err: &dyn DatabaseError) -> &'static str {
    let text = DB::unique_violation(err);
    if text.ends_with("_pkey") {
        return "name";
    }
    UNIQUE_FIELDS
        .into_iter()
        .find(|f| text.contains(&format!(".{f}")) || text.contains(&format!("_{f}")))
        .unwrap_or("value")
}
