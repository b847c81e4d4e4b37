//! The HTTP/1.1 server loop (SPEC §15.7): accepts connections under a cap kept below the
//! process's file limit, serves each with hyper, and closes connections whose request head
//! trickles in, that sit idle, or that the cap needs room for (oldest idle first), so that
//! slow or idle clients never stop others from being served. Request-level limits (requests in
//! flight, body deadline) live in the router (`http::limits`).

mod conn;
mod io;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use conn::Registry;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// A request head must arrive within this time of its first byte.
    pub header_read_timeout: Duration,
    /// An idle keep-alive connection is closed after this time.
    pub idle_timeout: Duration,
    /// Open connections at most; already reduced to fit the file limit.
    pub max_connections: usize,
    /// How long in-flight requests may finish after shutdown is asked for.
    pub shutdown_grace: Duration,
}

/// File descriptors kept free for everything that is not a client connection: database and
/// Redis connections, provider calls, the listener, logs.
fn reserved_fds(limit: u64) -> u64 {
    (limit / 8).max(64)
}

/// The connection cap that fits the file limit: the soft limit is first raised to the hard one
/// (as Go's runtime does), then `wanted` is lowered to leave [`reserved_fds`] free. Accepting
/// past the file limit would make `accept` fail for everyone, legitimate clients included.
pub fn connection_cap(wanted: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current.is_some_and(|soft| soft < hard)
    {
        let raised = Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit.current = Some(hard);
        }
    }
    match limit.current {
        Some(soft) => {
            let room = soft.saturating_sub(reserved_fds(soft));
            wanted
                .min(usize::try_from(room).unwrap_or(usize::MAX))
                .max(1)
        }
        None => wanted.max(1),
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests finish
/// within the grace period.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Arc::new(limits);
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connection tasks so the set does not grow.
        while tasks.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                if registry.open_count() >= limits.max_connections && !registry.evict_oldest_idle()
                {
                    // Every connection is busy with a request: this one cannot be served now.
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection cap reached"
                    );
                    drop(stream);
                    continue;
                }
                tasks.spawn(conn::serve(
                    stream,
                    peer,
                    router.clone(),
                    limits.clone(),
                    registry.clone(),
                    stop_rx.clone(),
                ));
            }
            Err(e) => {
                // Out of file descriptors (or another transient accept error): make room by
                // closing the oldest idle connection, and do not spin.
                tracing::warn!(error = %e, "accept failed");
                registry.evict_oldest_idle();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let _ = stop_tx.send(true);
    drop(listener);
    let grace = limits.shutdown_grace + Duration::from_secs(1);
    let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    Ok(())
}
