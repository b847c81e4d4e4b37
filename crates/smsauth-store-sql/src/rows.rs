//! Rows as stored (times as BIGINT milliseconds, options as JSON text) and their domain types.
//! A row that cannot be read back (a JSON column that does not parse, a time out of range) is
//! an error, never a silent default: a default would, for example, read a corrupted
//! authenticator's options as "no verifier, no auto sign-up" and change who can sign in.

use chrono::{DateTime, TimeZone, Utc};
use smsauth_core::domain::authenticator::{AuthType, Authenticator};
use smsauth_core::domain::user::{Role, User};
use smsauth_core::domain::verifier::Verifier;
use smsauth_core::ports::store::StoreError;
use sqlx::FromRow;

/// Milliseconds since the Unix epoch, the stored form of every time.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored time; `Err` for a value no `DateTime` can hold.
pub fn from_ms(v: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(v)
        .single()
        .ok_or_else(|| corrupt(format!("time {v} ms is out of range")))
}

fn corrupt(what: String) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("unreadable row: {what}"))
}

fn json(table: &str, key: &str, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("{table} {key}: options: {e}")))
}

pub const AUTH_COLUMNS: &str =
    "id, name, auth_type, title, description, enabled, sort, options, created_at, updated_at";
pub const VERIFIER_COLUMNS: &str =
    "name, title, description, verification_type, is_default, options, created_at, updated_at";
pub const USER_COLUMNS: &str = "id, nickname, username, email, phone, password_changed_at, \
     sessions_revoked_at, created_at, updated_at";

#[derive(FromRow)]
pub struct AuthenticatorRow {
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

impl TryFrom<AuthenticatorRow> for Authenticator {
    type Error = StoreError;

    fn try_from(r: AuthenticatorRow) -> Result<Self, StoreError> {
        let auth_type = AuthType::parse(&r.auth_type)
            .ok_or_else(|| corrupt(format!("authenticator {}: type {}", r.name, r.auth_type)))?;
        Ok(Authenticator {
            options: json("authenticator", &r.name, &r.options)?,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
            id: r.id,
            name: r.name,
            auth_type,
            title: r.title,
            description: r.description,
            enabled: r.enabled,
            sort: r.sort,
        })
    }
}

#[derive(FromRow)]
pub struct VerifierRow {
    name: String,
    title: Option<String>,
    description: Option<String>,
    verification_type: String,
    is_default: bool,
    options: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<VerifierRow> for Verifier {
    type Error = StoreError;

    fn try_from(r: VerifierRow) -> Result<Self, StoreError> {
        Ok(Verifier {
            options: json("verifier", &r.name, &r.options)?,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
            name: r.name,
            title: r.title,
            description: r.description,
            verification_type: r.verification_type,
            is_default: r.is_default,
        })
    }
}

#[derive(FromRow)]
pub struct UserRow {
    pub id: i64,
    nickname: Option<String>,
    username: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    password_changed_at: Option<i64>,
    sessions_revoked_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    pub fn into_user(self, roles: Vec<Role>) -> Result<User, StoreError> {
        Ok(User {
            id: self.id,
            nickname: self.nickname,
            username: self.username,
            email: self.email,
            phone: self.phone,
            password_changed_at: self.password_changed_at.map(from_ms).transpose()?,
            sessions_revoked_at: self.sessions_revoked_at.map(from_ms).transpose()?,
            roles,
            created_at: from_ms(self.created_at)?,
            updated_at: from_ms(self.updated_at)?,
        })
    }
}

/// `s` with the `LIKE` wildcards escaped for `ESCAPE '\'`, so it matches only itself.
pub fn like_escaped(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

pub fn none_if_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// Converts every row, failing on the first unreadable one.
pub fn all<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}
