//! Command-line arguments (clap derive) and the few value types they parse into: flows, the
//! limits switch and durations. Owns no behaviour beyond parsing and defaults.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Closed-loop load generator for smsauth (SPEC §17).
///
/// Starts the release server itself on a fresh temporary data directory (or targets a running
/// one with --url), seeds its store directly with users and old code records, points an SMS
/// authenticator at a built-in signed webhook receiver, and runs each flow at each concurrency:
/// every client is one task with its own keep-alive HTTP/1.1 connection that issues its next
/// request as soon as the previous one is answered. Prints requests/s, p50/p99/max latency,
/// errors, refused sends, server CPU-ms per operation (from /proc/<pid>/stat) and peak RSS as a
/// Markdown table; --json writes the same as JSON. Exits non-zero when any run had errors.
#[derive(Debug, Parser)]
#[command(name = "smsauth-bench", version, about, long_about)]
pub struct Args {
    /// The smsauth binary to start (ignored with --url).
    #[arg(long, default_value = "target/release/smsauth", value_name = "PATH")]
    pub server_bin: PathBuf,

    /// Target an already running server (http://host:port) instead of starting one. Nothing is
    /// seeded then; --root-password must be root's password, and --pid names the server's
    /// process(es) for CPU and RSS figures.
    #[arg(long, value_name = "URL", conflicts_with_all = ["instances", "database_url", "redis_url"])]
    pub url: Option<String>,

    /// With --url: the server's process id(s), comma-separated, for CPU and RSS.
    #[arg(long, value_name = "PID", value_delimiter = ',', requires = "url")]
    pub pid: Vec<u32>,

    /// Root's password on the --url server (a started server gets a random one).
    #[arg(
        long,
        env = "SMSAUTH_BENCH_ROOT_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub root_password: Option<String>,

    /// Flows to run, comma-separated: send (a code to a new phone), signup (send, code,
    /// auth:signIn as a new user, auth:check), signin (the same for an existing seeded user),
    /// check (auth:check with a valid token), wrong-code (auth:signIn with a wrong code), all.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    pub flow: Vec<FlowArg>,

    /// Concurrent clients per run, comma-separated; one run per value and flow.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    pub concurrency: Vec<usize>,

    /// Measured time per run (e.g. 10s, 500ms, 1m).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,

    /// Unmeasured time before each run's measurement (connections up, caches warm).
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub warmup: Duration,

    /// Users seeded into the store before the server starts (distinct Dutch mobile numbers,
    /// usable by the signin flow).
    #[arg(long, default_value_t = 10_000)]
    pub users: u64,

    /// Old (consumed, exhausted, superseded or failed, all expired) code records seeded into
    /// the store, spread over the last 24 hours.
    #[arg(long, default_value_t = 0)]
    pub old_codes: u64,

    /// `off` switches the per-phone, per-address and global send and verification limits off
    /// (SMSAUTH_LIMITS__…=0), so one load generator on one address is not refused; `default`
    /// keeps the server's limits, to measure refused sends (a 429 on send counts as refused).
    #[arg(long, value_enum, default_value = "off")]
    pub limits: Limits,

    /// PostgreSQL server to measure instead of SQLite (a URL to an existing database, e.g.
    /// postgres://postgres@127.0.0.1/postgres): a fresh database is created there for the run
    /// and dropped at the end. When it (or --redis-url) is on this machine, the JSON also gives
    /// the CPU of every local postgres (redis-server) process per operation.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Redis for limit counters, caches and change notifications (REDIS_URL), under a unique
    /// key prefix per run.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,

    /// Servers to start on the same PostgreSQL (and Redis); clients are spread round-robin
    /// over them and server CPU is the sum over all of them.
    #[arg(long, default_value_t = 1, requires = "database_url")]
    pub instances: usize,

    /// RUST_LOG for the started server(s).
    #[arg(long, default_value = "warn", value_name = "FILTER")]
    pub server_log: String,

    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// CI smoke test: every flow once, 2 s at 16 clients (0.5 s warm-up). Fails on errors,
    /// never on speed.
    #[arg(long)]
    pub smoke: bool,

    /// Keep the temporary data directory (with the server's log) and print its path.
    #[arg(long)]
    pub keep_data: bool,
}

/// A flow as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowArg {
    Send,
    Signup,
    Signin,
    Check,
    WrongCode,
    All,
}

/// Whether the server keeps its default send and verification limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Limits {
    Default,
    Off,
}

impl Args {
    /// Applies `--smoke`'s fixed plan.
    pub fn normalise(&mut self) {
        if self.smoke {
            self.flow = vec![FlowArg::All];
            self.concurrency = vec![16];
            self.duration = Duration::from_secs(2);
            self.warmup = Duration::from_millis(500);
        }
    }
}

/// `10s`, `500ms`, `2m`, or plain seconds (`3`, `1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 10s, 500ms, 1m)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(format!("unknown unit `{unit}` in `{s}` (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_and_without_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
    }
}
