//! Builds the application from settings: store, keys, providers, use-cases, bootstrap data and
//! the HTTP listener. The clock and the shutdown signal are injected so that tests run the real
//! server on port 0 with a clock they control.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use smsauth_core::domain::otp::CodeHasher;
use smsauth_core::ports::clock::Clock;
use smsauth_core::ports::limits::InMemoryRateCounter;
use smsauth_core::ports::otp_store::OtpStore;
use smsauth_core::ports::store::SessionStore;
use smsauth_core::service::Core;
use smsauth_sms::ProviderRegistry;
use smsauth_store_sqlite::SqliteStore;
use tokio::net::TcpListener;

use crate::configuration::Settings;
use crate::http::health::Probe;
use crate::http::metrics::Metrics;
use crate::http::{AppState, HttpSettings, router};
use crate::jwt::JwtCodec;
use crate::{bootstrap, keys};

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    store: SqliteStore,
    clock: Arc<dyn Clock>,
}

struct StoreProbe(SqliteStore);

#[async_trait]
impl Probe for StoreProbe {
    async fn ready(&self) -> bool {
        self.0.ping().await.is_ok()
    }
}

/// Opens the store (running migrations), creating the data directory when needed.
pub async fn open_store(settings: &Settings) -> anyhow::Result<SqliteStore> {
    let path = settings.sqlite_path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    SqliteStore::open(&path)
        .await
        .with_context(|| format!("cannot open the database {}", path.display()))
}

fn token_codec(settings: &Settings, dir: &Path) -> anyhow::Result<JwtCodec> {
    match settings.jwt.algorithm.as_str() {
        "HS256" => {
            let secret = match &settings.jwt.secret {
                Some(s) => s.as_bytes().to_vec(),
                None => {
                    keys::load_or_create(&dir.join("jwt-hs256.key"), || keys::random_bytes(32))?
                }
            };
            Ok(JwtCodec::hs256(&secret))
        }
        _ => JwtCodec::ed25519(&keys::load_or_create(
            &dir.join("jwt-ed25519.pk8"),
            keys::ed25519_pkcs8,
        )?),
    }
}

impl Application {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
        let store = open_store(&settings).await?;
        let hmac_key = keys::load_or_create(&settings.data_dir.join("otp-hmac.key"), || {
            keys::random_bytes(32)
        })?;
        let codec = Arc::new(token_codec(&settings, &settings.data_dir)?);
        let jwks = codec.jwks();
        let shared = Arc::new(store.clone());
        let core = Core {
            users: shared.clone(),
            config: shared.clone(),
            sessions: shared.clone(),
            otps: shared.clone(),
            providers: Arc::new(ProviderRegistry::new()?),
            counters: Arc::new(InMemoryRateCounter::default()),
            tokens: codec,
            clock: clock.clone(),
            hasher: CodeHasher::new(hmac_key),
            settings: settings.core_settings()?,
            breakers: Arc::default(),
        };
        bootstrap::run(&core, &settings).await?;
        let state = AppState {
            core,
            http: Arc::new(HttpSettings {
                trusted_proxies: settings.trusted_proxies.clone(),
                jwks,
            }),
            readiness: Arc::new(StoreProbe(store.clone())),
            metrics: Metrics::new(settings.metrics.enabled, settings.metrics.token.clone()),
        };
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        Ok(Application {
            listener,
            router: router(state),
            store,
            clock,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let purge = tokio::spawn(purge_loop(self.store.clone(), self.clock.clone()));
        tracing::info!(addr = %self.listener.local_addr()?, "smsauth listening");
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        purge.abort();
        self.store.pool().close().await;
        Ok(served?)
    }
}

/// Deletes OTP records, throttles, blacklist entries and renewal markers that no rule can
/// consult any more, every ten minutes.
async fn purge_loop(store: SqliteStore, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let now = clock.now();
        if let Err(e) = OtpStore::purge(&store, now).await {
            tracing::warn!(error = %e, "purging OTP records failed");
        }
        if let Err(e) = SessionStore::purge(&store, now).await {
            tracing::warn!(error = %e, "purging the token blacklist failed");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
