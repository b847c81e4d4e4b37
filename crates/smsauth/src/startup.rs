//! Builds the application from settings: store, keys, providers, use-cases, bootstrap data and
//! the HTTP listener. The clock and the shutdown signal are injected so that tests run the real
//! server on port 0 with a clock they control.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use smsauth_core::domain::otp::CodeHasher;
use smsauth_core::ports::clock::Clock;
use smsauth_core::ports::counters::SendCounters;
use smsauth_core::ports::limits::{InMemoryRateCounter, RateCounter};
use smsauth_core::ports::telemetry::Telemetry;
use smsauth_core::service::Core;
use smsauth_core::service::audit::AuditSink;
use smsauth_sms::ProviderRegistry;
use smsauth_store_sql::Store;
use tokio::net::TcpListener;

use crate::backend::{self, StoreProbe};
use crate::configuration::Settings;
use crate::http::health::Probe;
use crate::http::limits::RequestLimits;
use crate::http::metrics::Metrics;
use crate::http::{AppState, HttpSettings, router};
use crate::jwt::JwtCodec;
use crate::oidc_keys::OidcKeys;
use crate::serve::{self, ConnLimits};
use crate::{bootstrap, keys};
use smsauth_redis::RedisRateCounter;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    paths: Vec<&'static str>,
    draining: Arc<std::sync::atomic::AtomicBool>,
    /// `http.shutdown_delay_secs`: how long `/readyz` says 503 before the listener closes.
    shutdown_delay: Duration,
    store: Arc<dyn Store>,
    core: Arc<Core>,
    clock: Arc<dyn Clock>,
    conn_limits: ConnLimits,
}

/// The Ed25519 signing key: `jwt.private_key`, else the key file (generated on first start).
/// The OpenID Provider signs EdDSA ID tokens with it whatever the API tokens use.
fn ed25519_key(settings: &Settings, dir: &Path) -> anyhow::Result<Vec<u8>> {
    match &settings.jwt.private_key {
        Some(b64) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64.expose_secret().trim())
                .context("jwt.private_key must be a base64 PKCS#8 Ed25519 key")
        }
        None => keys::load_or_create(&dir.join(keys::ED25519_KEY_FILE), keys::ed25519_pkcs8),
    }
}

/// The OpenID Provider's keys, and the JWKS with every public key: the API codec's (the
/// Ed25519 key and the retired ones it still trusts) and the RS256 key.
fn oidc_keys(
    settings: &Settings,
    dir: &Path,
    codec: &JwtCodec,
) -> anyhow::Result<(OidcKeys, serde_json::Value)> {
    let ed = ed25519_key(settings, dir)?;
    let keys = match &settings.jwt.oidc_rsa_private_key {
        Some(b64) => {
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.expose_secret().trim())
                .context("jwt.oidc_rsa_private_key must be a base64 PKCS#8 RSA key")?;
            OidcKeys::from_der(&der, &ed)?
        }
        None => OidcKeys::load(dir, &ed)?,
    };
    let mut list: Vec<serde_json::Value> = codec
        .jwks()
        .and_then(|j| j.get("keys").and_then(|k| k.as_array()).cloned())
        .unwrap_or_else(|| vec![keys.ed_jwk()]);
    list.push(keys.rsa_jwk().clone());
    Ok((keys, serde_json::json!({ "keys": list })))
}

/// `now` (unix seconds) decides which retired keys are still needed.
fn token_codec(settings: &Settings, dir: &Path, now: i64) -> anyhow::Result<JwtCodec> {
    match settings.jwt.algorithm.as_str() {
        "HS256" => {
            let secret = match &settings.jwt.secret {
                Some(s) => {
                    let s = s.expose_secret();
                    anyhow::ensure!(
                        s.len() >= keys::MIN_KEY_BYTES,
                        "jwt.secret must be at least {} bytes",
                        keys::MIN_KEY_BYTES
                    );
                    s.as_bytes().to_vec()
                }
                None => {
                    keys::load_or_create(&dir.join("jwt-hs256.key"), || keys::random_bytes(32))?
                }
            };
            Ok(JwtCodec::hs256(&secret))
        }
        _ => match &settings.jwt.private_key {
            Some(_) => JwtCodec::ed25519(&ed25519_key(settings, dir)?),
            None => JwtCodec::ed25519_with_retired(
                &ed25519_key(settings, dir)?,
                &keys::retired_keys(dir, now)?,
            ),
        },
    }
}

/// The store, Redis and the use-cases, as the server and the operator's commands use them.
pub struct Assembled {
    pub core: Core,
    pub store: Arc<dyn Store>,
    pub redis: Option<Arc<RedisRateCounter>>,
    pub jwks: serde_json::Value,
    pub oidc: Arc<OidcKeys>,
}

/// Opens the store (running migrations), connects to Redis and loads the keys.
pub async fn assemble(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    telemetry: Arc<dyn Telemetry>,
) -> anyhow::Result<Assembled> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let store = backend::open(settings).await?;
    let hmac_key = hmac_key(settings)?;
    let codec = Arc::new(token_codec(
        settings,
        &settings.data_dir,
        clock.now().timestamp(),
    )?);
    let (oidc, jwks) = oidc_keys(settings, &settings.data_dir, &codec)?;
    let ports = store.ports();
    let redis = redis(settings).await?;
    let counters: Arc<dyn RateCounter> = match &redis {
        Some(r) => r.clone(),
        None => Arc::new(InMemoryRateCounter::default()),
    };
    let send_counters: Arc<dyn SendCounters> = match &redis {
        Some(r) => r.clone(),
        None => ports.counters.clone(),
    };
    let uncached = smsauth_core::service::Uncached {
        users: ports.users.clone(),
        config: ports.config.clone(),
    };
    let cached = smsauth_core::cache::wrap(
        ports.users,
        ports.config,
        ports.sessions,
        smsauth_core::cache::CacheSettings {
            ttl: std::time::Duration::from_millis(settings.cache.ttl_ms),
            ..Default::default()
        },
    );
    let core = Core {
        users: cached.users,
        config: cached.config,
        sessions: cached.sessions,
        otps: ports.otps,
        oidc: ports.oidc,
        providers: Arc::new(ProviderRegistry::new()?),
        counters,
        send_counters,
        audit: AuditSink::start(ports.audit.clone()),
        audit_store: ports.audit,
        provider_latency: Arc::default(),
        refusals: Arc::default(),
        tokens: codec,
        clock,
        hasher: CodeHasher::new(hmac_key),
        settings: settings.core_settings()?,
        breakers: Arc::default(),
        telemetry,
        uncached,
    };
    Ok(Assembled {
        core,
        store,
        redis,
        jwks,
        oidc: Arc::new(oidc),
    })
}

impl Application {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let metrics = Metrics::new(
            settings.metrics.enabled,
            settings.metrics.token.clone(),
            &settings.core_settings()?.send_limits,
        );
        let Assembled {
            core,
            store,
            redis,
            jwks,
            oidc,
        } = assemble(&settings, clock.clone(), metrics.clone()).await?;
        let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut probes: Vec<Arc<dyn Probe>> = vec![Arc::new(StoreProbe(store.clone()))];
        if let Some(r) = &redis {
            probes.push(Arc::new(RedisProbe(r.clone())));
        }
        bootstrap::run(&core, &settings).await?;
        let core = Arc::new(core);
        let listener = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let bound = listener.local_addr()?;
        let state = AppState {
            core: core.clone(),
            http: Arc::new(HttpSettings {
                trusted_proxies: settings.trusted_proxies.clone(),
                jwks: Some(jwks),
                // Without a setting, the address really bound (`:0` becomes its port): the
                // issuer must be a URL clients can reach.
                public_url: settings
                    .public_url
                    .clone()
                    .filter(|u| !u.trim().is_empty())
                    .unwrap_or_else(|| format!("http://{bound}"))
                    .trim_end_matches('/')
                    .to_string(),
                cors_origins: cors_origins(&settings.cors.allowed_origins),
            }),
            readiness: Arc::new(probes),
            draining: draining.clone(),
            metrics: metrics.clone(),
            limits: RequestLimits::new(
                settings.http.max_in_flight,
                Duration::from_secs(settings.http.body_timeout_secs.max(1)),
                metrics,
            ),
            oidc,
        };
        let max_connections = serve::connection_cap(settings.http.max_connections);
        tracing::info!(max_connections, "connection cap");
        let conn_limits = ConnLimits {
            header_read_timeout: Duration::from_secs(settings.http.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(settings.http.idle_timeout_secs.max(1)),
            max_connections,
            shutdown_grace: Duration::from_secs(10),
        };
        let (router, paths) = router(state);
        Ok(Application {
            listener,
            router,
            paths,
            draining,
            shutdown_delay: Duration::from_secs(settings.http.shutdown_delay_secs),
            store,
            core,
            clock,
            conn_limits,
        })
    }

    /// The whole HTTP surface as a service, for driving it in process without sockets (the
    /// fuzz targets do).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Every path the router serves, as registered.
    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let purge = tokio::spawn(purge_loop(
            self.store.clone(),
            self.core.clone(),
            self.clock.clone(),
        ));
        tracing::info!(addr = %self.listener.local_addr()?, "smsauth listening");
        // On the signal, readiness fails first and requests are still served for the delay,
        // so a load balancer that only polls `/readyz` moves traffic away before the listener
        // closes; then in-flight requests finish (the connection layer's grace).
        let (draining, delay) = (self.draining.clone(), self.shutdown_delay);
        let shutdown = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::SeqCst);
            if !delay.is_zero() {
                tracing::info!(
                    secs = delay.as_secs(),
                    "shutting down: readiness off, still serving"
                );
                tokio::time::sleep(delay).await;
            }
        };
        let served = serve::run(self.listener, self.router, self.conn_limits, shutdown).await;
        purge.abort();
        self.core.audit.flush().await;
        self.store.close().await;
        Ok(served?)
    }
}

/// Deletes OTP records, counters, throttles, blacklist entries and renewal markers that no rule
/// can consult any more, and audit events past their retention, every ten minutes, in small
/// batches.
async fn purge_loop(store: Arc<dyn Store>, core: Arc<Core>, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        store.purge(clock.now()).await;
        if let Err(e) = core.purge_audit().await {
            tracing::warn!(error = %e, "purging the audit log failed");
        }
    }
}

/// The code-hash key: `otp.hmac_key` (base64, for several instances sharing one database), else
/// a key generated into the data directory on first start.
fn hmac_key(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    match &settings.otp.hmac_key {
        Some(b64) => {
            use base64::Engine;
            let key = base64::engine::general_purpose::STANDARD
                .decode(b64.expose_secret().trim())
                .context("otp.hmac_key must be base64")?;
            anyhow::ensure!(
                key.len() >= keys::MIN_KEY_BYTES,
                "otp.hmac_key must decode to at least {} bytes",
                keys::MIN_KEY_BYTES
            );
            Ok(key)
        }
        None => keys::load_or_create(&settings.data_dir.join("otp-hmac.key"), || {
            keys::random_bytes(32)
        }),
    }
}

/// Redis, when `REDIS_URL` is set: per-address attempt counters shared by every instance
/// (without it they live in this process).
async fn redis(settings: &Settings) -> anyhow::Result<Option<Arc<RedisRateCounter>>> {
    match &settings.redis_url {
        Some(url) => Ok(Some(Arc::new(
            RedisRateCounter::connect(url, &settings.redis_prefix)
                .await
                .context("cannot connect to the Redis server in REDIS_URL")?,
        ))),
        None => Ok(None),
    }
}

/// The allowed origins as header values; none (any origin) when `*` is among them.
fn cors_origins(configured: &[String]) -> Vec<axum::http::HeaderValue> {
    if configured.iter().any(|o| o == "*") {
        return Vec::new();
    }
    configured
        .iter()
        .filter_map(|o| o.trim_end_matches('/').parse().ok())
        .collect()
}

/// Readiness of Redis: it answers `PING`.
struct RedisProbe(Arc<RedisRateCounter>);

#[async_trait::async_trait]
impl Probe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn ready(&self) -> bool {
        self.0.ping().await
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
