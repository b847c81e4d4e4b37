//! The flows and the closed loop that drives them: each client is one task with its own
//! connection that starts its next iteration when the last one ends; latencies go into HDR
//! histograms (µs) per flow and per step, counted only for iterations that end inside the
//! measured window, and the server's CPU time and peak RSS are read at the window's edges.
//! The requests themselves are in [`worker`], the counting in [`tally`]. Formats nothing.

mod tally;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use crate::client::Client;
use crate::phones::phone;
use crate::receiver::Receiver;
use crate::server::procstat;
pub use tally::Tally;
use worker::Worker;

/// The phases of a run, as the clients see them.
const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// One kind of operation the bench repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `smsOTP:publicCreate` for a new phone.
    Send,
    /// Send, the code from the webhook, `auth:signIn` as a new user, `auth:check`.
    Signup,
    /// The same for an existing (seeded) user.
    Signin,
    /// `auth:check` with a valid token.
    Check,
    /// `auth:signIn` with a wrong code, for a new phone each time.
    WrongCode,
}

impl Flow {
    pub const ALL: [Flow; 5] = [
        Flow::Send,
        Flow::Signup,
        Flow::Signin,
        Flow::Check,
        Flow::WrongCode,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flow::Send => "send",
            Flow::Signup => "signup",
            Flow::Signin => "signin",
            Flow::Check => "check",
            Flow::WrongCode => "wrong-code",
        }
    }

    /// The requests of one iteration, in order.
    pub fn steps(self) -> &'static [&'static str] {
        match self {
            Flow::Send => &["send"],
            Flow::Signup | Flow::Signin => &["send", "signIn", "check"],
            Flow::Check => &["check"],
            Flow::WrongCode => &["signIn"],
        }
    }
}

/// What every client shares about the server under test.
pub struct Target {
    pub addrs: Vec<SocketAddr>,
    pub receiver: Arc<Receiver>,
    /// Users `phone(0..seeded_users)` exist.
    pub seeded_users: u64,
    /// The next fresh phone index (never a seeded user or an old record's receiver).
    pub next_phone: AtomicU64,
    /// `--limits default`: a 429 on send is expected.
    pub refusals_expected: bool,
    /// Server processes whose CPU and memory are read (may be empty with --url).
    pub pids: Vec<u32>,
    /// Command names of the store's processes on this machine (`postgres`, `redis-server`)
    /// whose CPU is read too; empty for SQLite.
    pub store_commands: Vec<&'static str>,
}

impl Target {
    fn fresh_phone(&self) -> String {
        phone(self.next_phone.fetch_add(1, Ordering::Relaxed))
    }
}

/// The measurements of one run (one flow at one concurrency).
pub struct RunResult {
    pub flow: Flow,
    pub concurrency: usize,
    pub elapsed: Duration,
    pub tally: Tally,
    /// Server CPU ticks over the window, summed over `pids`.
    pub server_ticks: Option<u64>,
    /// CPU ticks of the store's processes (PostgreSQL, Redis) over the window.
    pub store_ticks: Option<u64>,
    /// The bench's own CPU ticks over the window.
    pub bench_ticks: Option<u64>,
    /// Largest VmHWM over `pids` (KiB), since the run's start.
    pub peak_rss_kib: Option<u64>,
}

/// Runs `flow` with `concurrency` clients: warm-up, then the measured window.
pub async fn run(
    target: &Arc<Target>,
    flow: Flow,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<RunResult> {
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let barrier = Arc::new(Barrier::new(concurrency + 1));
    let mut tasks = Vec::with_capacity(concurrency);
    for k in 0..concurrency {
        let addr = target.addrs[k % target.addrs.len()];
        let mut worker = Worker::new(
            Client::new(addr)?,
            target.clone(),
            flow,
            own_users(target.seeded_users, concurrency, k),
        );
        let (phase, barrier) = (phase.clone(), barrier.clone());
        // Made here, not in the task: a task that failed before the barrier would stall it.
        let mut tally = Tally::new(flow.steps().len())?;
        tasks.push(tokio::spawn(async move {
            let prepared = worker.prepare().await;
            barrier.wait().await;
            match prepared {
                Ok(()) => worker.run(&phase, &mut tally).await,
                Err(e) => tally.error(None, format!("client set-up: {e:#}")),
            }
            anyhow::Ok(tally)
        }));
    }
    barrier.wait().await;
    for pid in &target.pids {
        procstat::reset_peak(*pid);
    }
    tokio::time::sleep(warmup).await;
    let me = std::process::id();
    let server0 = procstat::cpu_ticks_sum(&target.pids).ok();
    let bench0 = procstat::cpu_ticks(me).ok();
    let store0 = procstat::cpu_ticks_of(&target.store_commands);
    let started = Instant::now();
    phase.store(MEASURE, Ordering::SeqCst);
    tokio::time::sleep(duration).await;
    phase.store(STOP, Ordering::SeqCst);
    let elapsed = started.elapsed();
    let server1 = procstat::cpu_ticks_sum(&target.pids).ok();
    let bench1 = procstat::cpu_ticks(me).ok();
    let store1 = procstat::cpu_ticks_of(&target.store_commands);
    let peak_rss_kib = target
        .pids
        .iter()
        .filter_map(|p| procstat::status_kib(*p, "VmHWM").ok())
        .max();
    let mut tally = Tally::new(flow.steps().len())?;
    for task in tasks {
        tally.merge(task.await??)?;
    }
    let delta = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
    Ok(RunResult {
        flow,
        concurrency,
        elapsed,
        tally,
        server_ticks: delta(server0, server1).filter(|_| !target.pids.is_empty()),
        store_ticks: delta(Some(store0), Some(store1))
            .filter(|_| !target.store_commands.is_empty()),
        bench_ticks: delta(bench0, bench1),
        peak_rss_kib,
    })
}

/// Client `k`'s own slice of the seeded users, so that no two clients send to one phone at
/// once (a second send would meet the first one's live code). Empty when there are fewer
/// seeded users than clients.
fn own_users(seeded: u64, concurrency: usize, k: usize) -> std::ops::Range<u64> {
    let per = seeded / concurrency as u64;
    let start = per * k as u64;
    start..start + per
}
