//! Row types shared by the SQL stores. Both backends store the same columns (times as BIGINT
//! milliseconds), and sqlx's `FromRow` derive is generic over the row type, so one mapping from
//! columns to domain types serves SQLite and PostgreSQL alike.

use chrono::{DateTime, TimeZone, Utc};
use smsauth_core::domain::authenticator::Authenticator;
use smsauth_core::domain::user::{Role, User};
use smsauth_core::domain::verifier::Verifier;
use sqlx::FromRow;

/// Milliseconds since the Unix epoch, the stored form of every time.
pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

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

pub const AUTH_COLUMNS: &str =
    "id, name, auth_type, title, description, enabled, sort, options, created_at, updated_at";
pub const VERIFIER_COLUMNS: &str =
    "name, title, description, verification_type, is_default, options, created_at, updated_at";

pub const USER_COLUMNS: &str = "id, nickname, username, email, phone, password_changed_at, \
     sessions_revoked_at, created_at, updated_at";

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
    pub fn into_user(self, roles: Vec<Role>) -> User {
        User {
            id: self.id,
            nickname: self.nickname,
            username: self.username,
            email: self.email,
            phone: self.phone,
            password_changed_at: self.password_changed_at.map(from_ms),
            sessions_revoked_at: self.sessions_revoked_at.map(from_ms),
            roles,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        }
    }
}

pub fn json_text(v: &serde_json::Value) -> String {
    v.to_string()
}

pub fn none_if_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}
