//! Writing and reading the audit log (SPEC §15.5).
//!
//! Events go through [`AuditSink`]: a bounded queue drained by one task that appends whatever
//! has queued up in one transaction, so a burst of sends costs one audit commit, not one each,
//! and no request waits for the log's write. A full queue makes the request wait for room
//! rather than drop an event. Reads flush first, so an administrator (and a test) sees every
//! event this instance has accepted.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::{Core, ServiceError};
use crate::domain::phone::{Phone, mask};
use crate::ports::audit::{AuditEntry, AuditEvent, AuditFilter, AuditStore};
use crate::ports::store::PageRequest;

/// Events appended per transaction at most.
const BATCH: usize = 256;
/// Events queued before a request waits for the writer.
const QUEUE: usize = 8192;

enum Command {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// The queue in front of the audit store.
pub struct AuditSink {
    tx: mpsc::Sender<Command>,
    repeats: Repeats,
}

/// Seconds in which repeats of one refusal are folded into one event.
const REPEAT_WINDOW_SECS: i64 = 60;
/// Keys remembered at most before old ones are dropped.
const REPEAT_KEYS: usize = 100_000;

/// Folds repeats of one event (`sms.blocked` for one phone and reason) within a minute into the
/// next one recorded, so that a client hammering a refused send cannot write one audit row per
/// request: the log says how many were folded (`detail.repeats`), and its volume is bounded by
/// the distinct phones tried, not by the request rate.
#[derive(Default)]
struct Repeats {
    seen: std::sync::Mutex<std::collections::HashMap<String, (i64, u64)>>,
}

impl Repeats {
    /// `Some(folded)` when an event for `key` is to be recorded now, with how many were folded
    /// since the last one; `None` to fold this one.
    fn admit(&self, key: &str, now: DateTime<Utc>) -> Option<u64> {
        let t = now.timestamp();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= REPEAT_KEYS {
            seen.retain(|_, (since, _)| t - *since < REPEAT_WINDOW_SECS);
        }
        match seen.get_mut(key) {
            Some((since, folded)) if t - *since < REPEAT_WINDOW_SECS => {
                *folded += 1;
                None
            }
            Some(entry) => {
                let folded = entry.1;
                *entry = (t, 0);
                Some(folded)
            }
            None => {
                seen.insert(key.to_string(), (t, 0));
                Some(0)
            }
        }
    }
}

impl AuditSink {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn AuditStore>) -> Arc<AuditSink> {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, rx));
        Arc::new(AuditSink {
            tx,
            repeats: Repeats::default(),
        })
    }

    pub async fn record(&self, event: AuditEvent) {
        if self.tx.send(Command::Event(Box::new(event))).await.is_err() {
            tracing::error!("the audit writer has stopped; an event was not recorded");
        }
    }

    /// Whether an event for `key` is recorded now (`Some(folded repeats)`) or folded.
    pub fn admit(&self, key: &str, now: DateTime<Utc>) -> Option<u64> {
        self.repeats.admit(key, now)
    }

    /// Waits until every event queued before this call is stored (or failed to be).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_loop(store: Arc<dyn AuditStore>, mut rx: mpsc::Receiver<Command>) {
    let mut batch: Vec<AuditEvent> = Vec::with_capacity(BATCH);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                Command::Event(e) => batch.push(*e),
                Command::Flush(done) => waiting.push(done),
            }
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            append_with_retry(store.as_ref(), &batch).await;
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Three tries over about a second; then the batch is reported lost in the server log (a store
/// that is down answers every request with 503 anyway).
async fn append_with_retry(store: &dyn AuditStore, batch: &[AuditEvent]) {
    for attempt in 0..3u64 {
        match store.append(batch).await {
            Ok(()) => return,
            Err(e) if attempt < 2 => {
                tracing::warn!(error = %e, events = batch.len(), "audit append failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200 * (attempt + 1))).await;
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "audit events lost: the store refused them");
            }
        }
    }
}

/// Builds one event: `Core::event("sms.sent").phone(..).ip(..)`.
pub struct EventBuilder<'a> {
    core: &'a Core,
    event: AuditEvent,
}

impl<'a> EventBuilder<'a> {
    pub fn ip(mut self, ip: &str) -> Self {
        if !ip.is_empty() {
            self.event.ip = Some(ip.to_string());
        }
        self
    }

    pub fn user(mut self, id: i64) -> Self {
        self.event.user_id = Some(id);
        self
    }

    pub fn phone(mut self, phone: &Phone) -> Self {
        self.event.phone_masked = Some(phone.masked());
        self.event.phone_key = Some(self.core.hasher.phone_key(phone.as_str()));
        self
    }

    /// A stored E.164 string (a receipt's record).
    pub fn phone_text(mut self, e164: &str) -> Self {
        self.event.phone_masked = Some(mask(e164));
        self.event.phone_key = Some(self.core.hasher.phone_key(e164));
        self
    }

    pub fn authenticator(mut self, name: &str) -> Self {
        self.event.authenticator = Some(name.to_string());
        self
    }

    pub fn verifier(mut self, name: &str) -> Self {
        self.event.verifier = Some(name.to_string());
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.event.detail = detail;
        self
    }

    pub async fn record(self) {
        self.core.audit.record(self.event).await;
    }
}

/// `auditLogs:list` filters as the API gives them.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_a_minute_are_folded_into_the_next_event() {
        let r = Repeats::default();
        let t = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        assert_eq!(r.admit("a", t(0)), Some(0));
        assert_eq!(r.admit("a", t(1)), None);
        assert_eq!(r.admit("a", t(59)), None);
        assert_eq!(r.admit("b", t(59)), Some(0));
        assert_eq!(r.admit("a", t(60)), Some(2));
        assert_eq!(r.admit("a", t(61)), None);
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub kind_prefix: Option<String>,
    pub user_id: Option<i64>,
    /// An exact phone number, in any form [`Core::parse_phone`] accepts.
    pub phone: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Core {
    pub fn event(&self, kind: &str) -> EventBuilder<'_> {
        EventBuilder {
            core: self,
            event: AuditEvent {
                time: self.clock.now(),
                kind: kind.to_string(),
                ip: None,
                user_id: None,
                phone_masked: None,
                phone_key: None,
                authenticator: None,
                verifier: None,
                detail: json!({}),
            },
        }
    }

    /// An administrator's write (`admin.<resource>.<action>`), from the HTTP layer, which knows
    /// every admin route.
    pub async fn audit_admin_write(
        &self,
        resource: &str,
        action: &str,
        actor: i64,
        ip: &str,
        key: Option<String>,
    ) {
        self.event(&format!("admin.{resource}.{action}"))
            .user(actor)
            .ip(ip)
            .detail(json!({ "key": key }))
            .record()
            .await;
    }

    pub async fn audit_logs(
        &self,
        q: AuditQuery,
        page: PageRequest,
    ) -> Result<(Vec<AuditEntry>, u64), ServiceError> {
        let phone_key = match q.phone.as_deref() {
            Some(raw) => Some(
                self.hasher
                    .phone_key(self.phone_from(Some(raw)).await?.as_str()),
            ),
            None => None,
        };
        self.audit.flush().await;
        let filter = AuditFilter {
            kind_prefix: q.kind_prefix,
            user_id: q.user_id,
            phone_key,
            since: q.since,
            until: q.until,
        };
        Ok(self.audit_store.list(&filter, page).await?)
    }

    /// Deletes events older than the retention, in batches of 1,000.
    pub async fn purge_audit(&self) -> Result<u64, ServiceError> {
        let before = self.clock.now() - chrono::Duration::days(self.settings.audit_retention_days);
        let mut total = 0;
        loop {
            let n = self.audit_store.purge(before, 1000).await?;
            total += n;
            if n < 1000 {
                return Ok(total);
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
