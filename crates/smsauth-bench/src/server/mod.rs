//! The server under test as a child process: its environment (fresh data directory, a free
//! port, root's password, limits switched off or kept, PostgreSQL/Redis URLs), `smsauth
//! migrate`, start-up timed to the first answered `/healthz`, and a graceful stop. The store
//! seeding and /proc readings live in the submodules. Never talks to the API beyond /healthz.

pub mod procstat;
pub mod seed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::client::Client;

/// How long a server may take to answer its first `/healthz`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a stopping server may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The send and verification limits that `--limits off` sets to 0 (SPEC §8: `0` switches a
/// limit off), plus the global hourly cap; pumping detection is switched off with them.
const LIMITS_OFF: [&str; 5] = [
    "SMSAUTH_LIMITS__SEND_PER_PHONE_HOUR",
    "SMSAUTH_LIMITS__SEND_PER_PHONE_DAY",
    "SMSAUTH_LIMITS__SEND_PER_IP_HOUR",
    "SMSAUTH_LIMITS__VERIFY_PER_IP_5MIN",
    "SMSAUTH_LIMITS__GLOBAL_SEND_HOUR",
];

/// Everything a started server is configured with.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    pub root_password: String,
    pub log_filter: String,
    pub limits_off: bool,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub redis_prefix: String,
}

/// A running server.
pub struct ServerProcess {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// From spawning the process to the first 200 on `/healthz`.
    pub startup: Duration,
    pub log: PathBuf,
}

impl ServerSpec {
    /// The command with the server's environment. Inherited `SMSAUTH_*`, `DATABASE_URL` and
    /// `REDIS_URL` are removed so only what the bench chose applies, and the working directory
    /// is the data directory so no stray `./smsauth.toml` is read.
    fn command(&self, listen: Option<SocketAddr>) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (name, _) in std::env::vars_os() {
            let remove = name.to_str().is_some_and(|n| {
                n.starts_with("SMSAUTH_")
                    || n.starts_with("INIT_ROOT_")
                    || n == "DATABASE_URL"
                    || n == "REDIS_URL"
            });
            if remove {
                cmd.env_remove(&name);
            }
        }
        cmd.current_dir(&self.data_dir)
            .env("SMSAUTH_DATA_DIR", &self.data_dir)
            .env("INIT_ROOT_PASSWORD", &self.root_password)
            .env("RUST_LOG", &self.log_filter)
            .stdin(Stdio::null());
        if let Some(addr) = listen {
            cmd.env("SMSAUTH_LISTEN", addr.to_string());
        }
        if self.limits_off {
            for name in LIMITS_OFF {
                cmd.env(name, "0");
            }
            // The flows send to consecutive numbers of one prefix and most codes are never
            // verified, which is exactly what pumping detection stops (SPEC §15.2).
            cmd.env("SMSAUTH_SMS_POLICY__PUMPING__MODE", "off");
        }
        if let Some(url) = &self.database_url {
            cmd.env("DATABASE_URL", url);
        }
        if let Some(url) = &self.redis_url {
            cmd.env("REDIS_URL", url)
                .env("SMSAUTH_REDIS_PREFIX", &self.redis_prefix);
        }
        cmd
    }

    /// The SQLite file the server uses (when no PostgreSQL URL is set).
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("smsauth.db")
    }

    /// Runs `smsauth migrate`: the schema exists afterwards and the server is not running.
    pub fn migrate(&self) -> anyhow::Result<()> {
        let out = self
            .command(None)
            .arg("migrate")
            .output()
            .with_context(|| format!("cannot run {}", self.bin.display()))?;
        if !out.status.success() {
            bail!(
                "`{} migrate` failed ({}): {}{}",
                self.bin.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Starts instance `n` (`serve --dev`) on a free port and waits for its first `/healthz`;
    /// it logs to `server-<n>-<label>.log` in the data directory.
    pub async fn spawn(&self, n: usize, label: &str) -> anyhow::Result<ServerProcess> {
        let addr = free_port()?;
        let log = self.data_dir.join(format!("server-{n}-{label}.log"));
        let out = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let err = out.try_clone()?;
        let started = Instant::now();
        let child = self
            .command(Some(addr))
            .args(["serve", "--dev"])
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        let mut server = ServerProcess {
            pid: child.id(),
            child,
            addr,
            startup: Duration::ZERO,
            log,
        };
        server.startup = server.wait_healthy(started).await?;
        Ok(server)
    }
}

impl ServerProcess {
    /// Polls `/healthz` every 2 ms (a fresh connection each time) until it answers 200.
    async fn wait_healthy(&mut self, started: Instant) -> anyhow::Result<Duration> {
        while started.elapsed() < START_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the server exited ({status}) before answering /healthz:\n{}",
                    tail(&self.log)
                );
            }
            let mut client = Client::new(self.addr)?;
            if let Ok(r) = client.get("/healthz", None).await
                && r.status == 200
            {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bail!(
            "the server did not answer /healthz within {START_TIMEOUT:?}:\n{}",
            tail(&self.log)
        )
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`].
    pub async fn stop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ERROR and WARN lines of a server's log (the first few of each), and their counts.
pub fn log_findings(path: &Path) -> LogFindings {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut findings = LogFindings {
        log: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..LogFindings::default()
    };
    for line in text.lines() {
        let (count, samples) = if line.contains("ERROR") {
            (&mut findings.errors, &mut findings.error_samples)
        } else if line.contains("WARN") {
            (&mut findings.warnings, &mut findings.warning_samples)
        } else {
            continue;
        };
        *count += 1;
        if samples.len() < 5 {
            samples.push(line.chars().take(300).collect());
        }
    }
    findings
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A bench that fails half-way must not leave a server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a server wrote to its log at WARN and ERROR.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LogFindings {
    /// The log file's name (`server-0-first.log`).
    pub log: String,
    pub errors: u64,
    pub warnings: u64,
    pub error_samples: Vec<String>,
    pub warning_samples: Vec<String>,
}

/// A port nobody listens on now (the kernel's choice for port 0).
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// The end of a log file, for error messages.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
