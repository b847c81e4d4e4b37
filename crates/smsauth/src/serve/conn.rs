//! One client connection: its activity (for the header and idle deadlines), the registry of all
//! open connections (for the connection cap, which closes the oldest idle one first), and the
//! task that serves it with hyper and closes it when a deadline passes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use super::ConnLimits;
use super::io::Watched;

/// Milliseconds since the first call, on the monotonic clock: atomics hold instants this way.
fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What the deadlines need to know about one connection.
pub struct ConnState {
    /// Requests handed to the router and not yet answered.
    in_flight: AtomicU32,
    /// When the connection last became idle (opened, or its last answer was produced).
    idle_since: AtomicU64,
    /// When the first byte of a request head arrived while idle; 0 when none is arriving.
    head_started: AtomicU64,
    /// Told to close (the cap needs room).
    evict: Notify,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            in_flight: AtomicU32::new(0),
            idle_since: AtomicU64::new(now_ms()),
            head_started: AtomicU64::new(0),
            evict: Notify::new(),
        }
    }

    /// Bytes were read from the socket.
    pub fn bytes_arrived(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let _ = self.head_started.compare_exchange(
                0,
                now_ms().max(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(0, Ordering::Release);
    }

    fn request_finished(&self) {
        self.idle_since.store(now_ms(), Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// When this connection must be closed, if nothing happens before; `None` while a request is
    /// in flight (its body has its own deadline in the router).
    fn deadline_ms(&self, limits: &ConnLimits) -> Option<u64> {
        if !self.idle() {
            return None;
        }
        let head = self.head_started.load(Ordering::Acquire);
        if head != 0 {
            return Some(head + millis(limits.header_read_timeout));
        }
        Some(self.idle_since.load(Ordering::Acquire) + millis(limits.idle_timeout))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Every open connection, so that the cap can find the oldest idle one.
#[derive(Default)]
pub struct Registry {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
}

impl Registry {
    pub fn open_count(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn add(&self) -> (u64, Arc<ConnState>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState::new());
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, state.clone());
        (id, state)
    }

    fn remove(&self, id: u64) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Tells the connection idle the longest (a header still trickling in counts as idle) to
    /// close. `false` when every connection is busy with a request.
    pub fn evict_oldest_idle(&self) -> bool {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = open.values().filter(|c| c.idle()).min_by_key(|c| {
            let head = c.head_started.load(Ordering::Acquire);
            let since = c.idle_since.load(Ordering::Acquire);
            if head != 0 { head.min(since) } else { since }
        });
        match oldest {
            Some(c) => {
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves one accepted connection until the client or a deadline ends it, or the server stops.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Arc<ConnLimits>,
    registry: Arc<Registry>,
    mut stopping: watch::Receiver<bool>,
) {
    let (id, state) = registry.add();
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Watched::new(stream, state.clone()));
    let conn_state = state.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let state = conn_state.clone();
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        state.request_started();
        let answer = router.clone().oneshot(req);
        async move {
            let resp = answer.await;
            state.request_finished();
            resp
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        // Deadlines are kept by the loop below, which can tell a slow header from an idle
        // keep-alive connection (hyper's own header timer also runs while idle).
        .header_read_timeout(None)
        .writev(false)
        .serve_connection(io, service);
    tokio::pin!(conn);
    loop {
        // A head can start arriving at any moment and move the deadline closer; waking at
        // least once per header timeout sees it in time to cut the head exactly at its
        // deadline.
        let wake = match state.deadline_ms(&limits) {
            Some(at) => Duration::from_millis(at.saturating_sub(now_ms())),
            None => Duration::from_secs(1),
        }
        .min(limits.header_read_timeout);
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = tokio::time::sleep(wake) => {
                if state.deadline_ms(&limits).is_some_and(|at| at <= now_ms()) {
                    break;
                }
            }
            _ = state.evict.notified() => {
                if state.idle() {
                    break;
                }
            }
            changed = stopping.changed() => {
                if changed.is_err() || *stopping.borrow() {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(limits.shutdown_grace, conn.as_mut()).await;
                    break;
                }
            }
        }
    }
    registry.remove(id);
}
