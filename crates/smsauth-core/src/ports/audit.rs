//! The audit log port (SPEC §15.5): append-only events of sign-ins, sends, blocks, receipts,
//! revocations and administrators' writes. A phone is stored masked, with a keyed hash for exact
//! search, so the log holds no full number; no event carries a code, a token or a secret.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::store::{PageRequest, StoreResult};

/// One event, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub time: DateTime<Utc>,
    /// `signIn.success`, `sms.blocked`, `admin.verifiers.update`, …
    pub kind: String,
    pub ip: Option<String>,
    pub user_id: Option<i64>,
    /// `+86*******8000`.
    pub phone_masked: Option<String>,
    /// [`crate::domain::otp::CodeHasher::phone_key`] of the E.164 number.
    pub phone_key: Option<[u8; 32]>,
    pub authenticator: Option<String>,
    pub verifier: Option<String>,
    pub detail: Value,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub event: AuditEvent,
}

/// `auditLogs:list` filters; every one optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Prefix of the type: `sms.` matches every SMS event.
    pub kind_prefix: Option<String>,
    pub user_id: Option<i64>,
    pub phone_key: Option<[u8; 32]>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends events in one transaction.
    async fn append(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Newest first, with the total count of matches.
    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<(Vec<AuditEntry>, u64)>;
    /// Deletes up to `batch` events older than `before`; answers how many went, so a caller
    /// can purge in small batches that never hold the writer for long.
    async fn purge(&self, before: DateTime<Utc>, batch: u32) -> StoreResult<u64>;
}
