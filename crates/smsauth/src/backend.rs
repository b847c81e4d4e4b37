//! The storage backend, chosen once at start-up from `DATABASE_URL`: SQLite in the data
//! directory (the default, or a `sqlite:` URL) or PostgreSQL (`postgres://`, for several
//! instances). Nothing else in the program knows which one it is talking to.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smsauth_core::ports::otp_store::OtpStore;
use smsauth_core::ports::store::{ConfigStore, SessionStore, UserStore};
use smsauth_store_postgres::PgStore;
use smsauth_store_sqlite::SqliteStore;

use crate::configuration::Settings;
use crate::http::health::Probe;

#[derive(Clone)]
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// The four store ports of one backend.
pub struct Ports {
    pub users: Arc<dyn UserStore>,
    pub config: Arc<dyn ConfigStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub otps: Arc<dyn OtpStore>,
}

fn ports_of<S>(store: S) -> Ports
where
    S: UserStore + ConfigStore + SessionStore + OtpStore + 'static,
{
    let shared = Arc::new(store);
    Ports {
        users: shared.clone(),
        config: shared.clone(),
        sessions: shared.clone(),
        otps: shared,
    }
}

impl Backend {
    /// Connects (creating the SQLite file and its directory when needed) and migrates.
    pub async fn open(settings: &Settings) -> anyhow::Result<Backend> {
        if let Some(url) = settings.postgres_url() {
            let store = PgStore::connect(url)
                .await
                .context("cannot connect to the PostgreSQL database in DATABASE_URL")?;
            return Ok(Backend::Postgres(store));
        }
        let path = settings.sqlite_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let store = SqliteStore::open(&path)
            .await
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        Ok(Backend::Sqlite(store))
    }

    pub fn ports(&self) -> Ports {
        match self {
            Backend::Sqlite(s) => ports_of(s.clone()),
            Backend::Postgres(s) => ports_of(s.clone()),
        }
    }

    /// Deletes rows no rule can consult any more (old codes, expired blacklist entries).
    pub async fn purge(&self, now: DateTime<Utc>) {
        let ports = self.ports();
        if let Err(e) = ports.otps.purge(now).await {
            tracing::warn!(error = %e, "purging OTP records failed");
        }
        if let Err(e) = ports.sessions.purge(now).await {
            tracing::warn!(error = %e, "purging the token blacklist failed");
        }
    }

    pub async fn close(&self) {
        match self {
            Backend::Sqlite(s) => s.pool().close().await,
            Backend::Postgres(s) => s.pool().close().await,
        }
    }
}

#[async_trait]
impl Probe for Backend {
    fn name(&self) -> &'static str {
        "store"
    }

    async fn ready(&self) -> bool {
        let probe = match self {
            Backend::Sqlite(s) => s.probe().await,
            Backend::Postgres(s) => s.probe().await,
        };
        if let Err(e) = &probe {
            tracing::warn!(error = %e, "readiness write probe failed");
        }
        probe.is_ok()
    }
}
