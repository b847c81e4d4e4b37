//! Users and roles as the API shows them. The password hash is not part of [`User`]: it is read
//! only by the password check, so it can never be serialised by accident.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Preset roles (SPEC §2). `member` is given to users created by sign-up.
pub const ROLE_ROOT: &str = "root";
pub const ROLE_ADMIN: &str = "admin";
pub const ROLE_MEMBER: &str = "member";

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub nickname: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(skip)]
    pub password_changed_at: Option<DateTime<Utc>>,
    /// Tokens issued before this were revoked by an administrator.
    #[serde(skip)]
    pub sessions_revoked_at: Option<DateTime<Utc>>,
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Role {
    pub name: String,
    pub title: String,
}

impl User {
    /// Whether the user holds `root`, the only role that may change authentication configuration
    /// or act on another root user (SPEC §3, §6.5).
    pub fn is_root(&self) -> bool {
        self.roles.iter().any(|r| r.name == ROLE_ROOT)
    }

    /// Whether the user may use the admin API (roles `admin` or `root`).
    pub fn is_admin(&self) -> bool {
        self.roles
            .iter()
            .any(|r| r.name == ROLE_ADMIN || r.name == ROLE_ROOT)
    }
}

/// Fields of a user created or updated by an administrator or by sign-up.
#[derive(Debug, Clone, Default)]
pub struct UserDraft {
    pub nickname: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub roles: Option<Vec<String>>,
}
