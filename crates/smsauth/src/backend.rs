//! The store, opened once at start-up from `DATABASE_URL`: SQLite in the data directory (the
//! default, or a `sqlite:` URL) or PostgreSQL (`postgres://`, for several instances). Nothing
//! else in the program knows which one it is talking to: it holds an `Arc<dyn Store>`.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use smsauth_store_sql::Store;

use crate::configuration::Settings;
use crate::http::health::Probe;

/// Connects (creating the SQLite file and its directory when needed) and migrates.
pub async fn open(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = settings.postgres_url() {
        return smsauth_store_sql::open(Some(url), std::path::Path::new(""))
            .await
            .context("cannot connect to the PostgreSQL database in DATABASE_URL");
    }
    let path = settings.sqlite_path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    smsauth_store_sql::open(None, &path)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))
}

/// Readiness of the store: a real write.
pub struct StoreProbe(pub Arc<dyn Store>);

#[async_trait]
impl Probe for StoreProbe {
    fn name(&self) -> &'static str {
        "store"
    }

    async fn ready(&self) -> bool {
        match self.0.probe().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "readiness write probe failed");
                false
            }
        }
    }
}
