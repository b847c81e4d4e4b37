//! Turning run results into rows, and rows into the Markdown table (stdout) and the JSON
//! document (`--json`). Owns the units: latencies in ms, CPU in ms per operation (clock ticks
//! converted with the machine's tick rate), memory in MB (MiB). Measures nothing.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::flows::RunResult;
use crate::receiver::Counts;
use crate::server::LogFindings;

/// One line of the table: a flow, or one step of a multi-step flow (`signup: signIn`).
#[derive(Debug, Serialize)]
pub struct Row {
    pub flow: String,
    /// The step, for step rows; `None` for the whole flow.
    pub step: Option<String>,
    pub store: String,
    pub users: u64,
    pub concurrency: usize,
    pub seconds: f64,
    pub ops: u64,
    pub ops_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub errors: u64,
    pub refused: u64,
    /// Server CPU (user + system, all instances) per operation; flow rows only.
    pub server_cpu_ms_per_op: Option<f64>,
    /// CPU of the local PostgreSQL and Redis processes per operation; flow rows only.
    pub store_cpu_ms_per_op: Option<f64>,
    /// The load generator's own CPU per operation; flow rows only.
    pub bench_cpu_ms_per_op: Option<f64>,
    /// The largest peak RSS of one instance during the run; flow rows only.
    pub peak_rss_mb: Option<f64>,
}

/// Everything about the set-up that the rows do not repeat.
#[derive(Debug, Serialize)]
pub struct Meta {
    pub target: String,
    pub store: String,
    pub instances: usize,
    pub users: u64,
    pub old_codes: u64,
    pub limits: String,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub clock_ticks_per_s: u64,
    /// False when `getconf CLK_TCK` failed and 100 was assumed.
    pub clock_ticks_asked: bool,
    pub seed_s: Option<f64>,
    pub link_s: Option<f64>,
    /// First instance: spawn to the first answered `/healthz`, on the seeded and configured
    /// store (a restart).
    pub startup_ms: Option<f64>,
    /// The same for the very first start on the empty store (keys, root user).
    pub first_start_ms: Option<f64>,
    /// VmRSS of each instance after set-up, before any load.
    pub idle_rss_mb: Vec<f64>,
    pub receiver: Counts,
    pub server_logs: Vec<LogFindings>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub meta: Meta,
    pub runs: Vec<Row>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn per_op(ticks: Option<u64>, tick_rate: u64, ops: u64) -> Option<f64> {
    let ticks = ticks?;
    (ops > 0).then(|| ticks as f64 * 1000.0 / tick_rate as f64 / ops as f64)
}

/// The rows of one run: the flow, then its steps when it has more than one.
pub fn rows(result: &RunResult, meta: &Meta) -> Vec<Row> {
    let seconds = result.elapsed.as_secs_f64().max(f64::EPSILON);
    let tally = &result.tally;
    let row = |step: Option<&str>, h: &Histogram<u64>, ops: u64, errors: u64, flow_row: bool| Row {
        flow: result.flow.name().to_string(),
        step: step.map(str::to_string),
        store: meta.store.clone(),
        users: meta.users,
        concurrency: result.concurrency,
        seconds,
        ops,
        ops_per_s: ops as f64 / seconds,
        p50_ms: ms(h.value_at_quantile(0.50)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1000.0,
        errors,
        refused: if flow_row { tally.refused } else { 0 },
        server_cpu_ms_per_op: flow_row
            .then(|| per_op(result.server_ticks, meta.clock_ticks_per_s, ops))
            .flatten(),
        store_cpu_ms_per_op: flow_row
            .then(|| per_op(result.store_ticks, meta.clock_ticks_per_s, ops))
            .flatten(),
        bench_cpu_ms_per_op: flow_row
            .then(|| per_op(result.bench_ticks, meta.clock_ticks_per_s, ops))
            .flatten(),
        peak_rss_mb: flow_row
            .then(|| result.peak_rss_kib.map(|k| k as f64 / 1024.0))
            .flatten(),
    };
    let mut out = vec![row(None, &tally.total, tally.ops, tally.errors, true)];
    let steps = result.flow.steps();
    if steps.len() > 1 {
        for ((name, h), errors) in steps.iter().zip(&tally.steps).zip(&tally.step_errors) {
            out.push(row(Some(name), h, h.len(), *errors, false));
        }
    }
    out
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.decimals$}"))
}

/// The set-up lines and the results table, in Markdown.
pub fn markdown(report: &Report) -> String {
    let m = &report.meta;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "target: {} · store: {} · instances: {} · users: {} · old codes: {} · limits: {}",
        m.target, m.store, m.instances, m.users, m.old_codes, m.limits
    );
    let _ = writeln!(
        out,
        "start-up to first /healthz: {} ms (first start on the empty store: {} ms) · idle RSS: {} MB · seeding: {} s (+ {} s linking) · CPU clock: {} ticks/s{}",
        opt(m.startup_ms, 1),
        opt(m.first_start_ms, 1),
        if m.idle_rss_mb.is_empty() {
            "–".to_string()
        } else {
            m.idle_rss_mb
                .iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(" + ")
        },
        opt(m.seed_s, 2),
        opt(m.link_s, 2),
        m.clock_ticks_per_s,
        if m.clock_ticks_asked {
            ""
        } else {
            " (assumed)"
        },
    );
    let _ = writeln!(
        out,
        "warm-up {:.1} s, measured {:.1} s per run; webhook: {} codes, {} unclaimed, {} bad signatures\n",
        m.warmup_s,
        m.duration_s,
        m.receiver.received,
        m.receiver.unclaimed,
        m.receiver.bad_signatures
    );
    out.push_str("| flow | store | users | concurrency | ops/s | p50 ms | p99 ms | max ms | errors | refused | server CPU-ms/op | peak RSS MB |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in &report.runs {
        let flow = match &r.step {
            Some(step) => format!("  {}: {step}", r.flow),
            None => r.flow.clone(),
        };
        let _ = writeln!(
            out,
            "| {flow} | {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} |",
            r.store,
            r.users,
            r.concurrency,
            r.ops_per_s,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.errors,
            r.refused,
            opt(r.server_cpu_ms_per_op, 3),
            opt(r.peak_rss_mb, 1),
        );
    }
    out
}
