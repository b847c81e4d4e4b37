//! `smsauth-bench`: a closed-loop load generator for smsauth (SPEC §17, issue 9). `main` only
//! sequences: parse the arguments, start the webhook receiver, bring the server up
//! ([`environment`]), run every flow at every concurrency ([`flows`]), tear down, print the
//! table and write the JSON ([`report`]). The exit status is 0 only when no run had an error.

mod args;
mod client;
mod environment;
mod flows;
mod phones;
mod receiver;
mod report;
mod server;
mod setup;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use clap::Parser;

use crate::args::{Args, FlowArg, Limits};
use crate::environment::Environment;
use crate::flows::{Flow, Target};
use crate::receiver::Receiver;
use crate::report::{Meta, Report, Row};

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = Args::parse();
    args.normalise();
    match bench(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("smsauth-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The flows named on the command line, in a fixed order, each once.
fn flows(args: &Args) -> Vec<Flow> {
    let all = args.flow.contains(&FlowArg::All);
    Flow::ALL
        .into_iter()
        .filter(|f| {
            all || args.flow.iter().any(|a| match a {
                FlowArg::Send => *f == Flow::Send,
                FlowArg::Signup => *f == Flow::Signup,
                FlowArg::Signin => *f == Flow::Signin,
                FlowArg::Check => *f == Flow::Check,
                FlowArg::WrongCode => *f == Flow::WrongCode,
                FlowArg::All => true,
            })
        })
        .collect()
}

/// The store's local processes whose CPU is reported next to the server's (JSON only): a
/// PostgreSQL or Redis URL naming this machine.
fn store_commands(args: &Args) -> Vec<&'static str> {
    let local = |url: &Option<String>| {
        url.as_deref().is_some_and(|u| {
            [
                "@127.0.0.1",
                "@localhost",
                "@[::1]",
                "//127.0.0.1",
                "//localhost",
                "//[::1]",
            ]
            .iter()
            .any(|h| u.contains(h))
        })
    };
    let mut names = Vec::new();
    if local(&args.database_url) {
        names.push("postgres");
    }
    if local(&args.redis_url) {
        names.push("redis-server");
    }
    names
}

/// Runs the whole plan; `Ok(false)` when any run had errors.
async fn bench(args: Args) -> anyhow::Result<bool> {
    anyhow::ensure!(
        !args.concurrency.is_empty() && args.concurrency.iter().all(|c| *c > 0),
        "--concurrency needs positive numbers"
    );
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let (receiver, webhook_url) = Receiver::start(&secret).await?;
    let env = Environment::start(&args, &webhook_url, &secret).await?;
    let (clock_ticks_per_s, clock_ticks_asked) = server::procstat::clock_ticks();
    let mut meta = Meta {
        target: args
            .url
            .clone()
            .unwrap_or_else(|| args.server_bin.display().to_string()),
        store: env.store.clone(),
        instances: env.addrs.len(),
        users: env.seeded_users,
        old_codes: if args.url.is_some() {
            0
        } else {
            args.old_codes
        },
        limits: match args.limits {
            Limits::Off => "off".into(),
            Limits::Default => "default".into(),
        },
        warmup_s: args.warmup.as_secs_f64(),
        duration_s: args.duration.as_secs_f64(),
        clock_ticks_per_s,
        clock_ticks_asked,
        seed_s: env.seed_s,
        link_s: env.link_s,
        startup_ms: env.startup_ms,
        first_start_ms: env.first_start_ms,
        idle_rss_mb: env.idle_rss_mb.clone(),
        receiver: receiver.counts(),
        server_logs: Vec::new(),
    };
    let target = Arc::new(Target {
        addrs: env.addrs.clone(),
        receiver: receiver.clone(),
        seeded_users: env.seeded_users,
        next_phone: AtomicU64::new(env.first_fresh_phone),
        refusals_expected: args.limits == Limits::Default,
        pids: env.pids.clone(),
        store_commands: store_commands(&args),
    });
    let mut rows = Vec::new();
    let mut clean = true;
    let plan = run_all(&args, &target, &meta, &mut rows, &mut clean);
    let interrupted = tokio::select! {
        () = plan => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        eprintln!("interrupted; stopping");
        clean = false;
    }
    meta.receiver = receiver.counts();
    meta.server_logs = env.logs.iter().map(|l| server::log_findings(l)).collect();
    env.teardown(args.keep_data).await;
    for log in &meta.server_logs {
        if log.errors + log.warnings > 0 {
            eprintln!(
                "{}: {} ERROR and {} WARN lines",
                log.log, log.errors, log.warnings
            );
            for line in log.error_samples.iter().chain(&log.warning_samples) {
                eprintln!("  {line}");
            }
        }
    }
    if meta.receiver.bad_signatures > 0 {
        eprintln!(
            "the webhook receiver refused {} messages with a bad signature",
            meta.receiver.bad_signatures
        );
        clean = false;
    }
    let report = Report { meta, runs: rows };
    print!("{}", report::markdown(&report));
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(clean)
}

/// Every flow at every concurrency, in order; progress and error samples to stderr.
async fn run_all(
    args: &Args,
    target: &Arc<Target>,
    meta: &Meta,
    rows: &mut Vec<Row>,
    clean: &mut bool,
) {
    for flow in flows(args) {
        for &c in &args.concurrency {
            eprintln!("{} at c={c}…", flow.name());
            match flows::run(target, flow, c, args.warmup, args.duration).await {
                Ok(result) => {
                    if result.tally.errors > 0 {
                        *clean = false;
                        eprintln!(
                            "  {} errors in {} ops; for example:",
                            result.tally.errors, result.tally.ops
                        );
                        for sample in &result.tally.samples {
                            eprintln!("    {sample}");
                        }
                    }
                    rows.extend(report::rows(&result, meta));
                }
                Err(e) => {
                    *clean = false;
                    eprintln!("  the run failed: {e:#}");
                }
            }
        }
    }
}
