//! The release-like way to run the server in a test: the real `smsauth` binary as a child
//! process, for what only a process can show (a SIGKILL, a file-descriptor limit set with
//! `prlimit`). The child listens on port 0 and the test reads the port from its log.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::{FakeSms, ROOT_PASSWORD, TestApp};

pub struct ServerProcess {
    child: Child,
    pub base: String,
    /// Every line the process wrote to standard output and error.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `smsauth serve` on `data_dir` (SQLite, or the PostgreSQL database `database_url`)
    /// with `env` on top, under `prlimit --nofile=N:N` when `nofile` is given.
    pub fn start(
        data_dir: &Path,
        database_url: Option<&str>,
        env: &[(&str, String)],
        nofile: Option<u32>,
    ) -> ServerProcess {
        let bin = env!("CARGO_BIN_EXE_smsauth");
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("serve")
            .env_remove("SMSAUTH_TEST_DATABASE_URL")
            .env_remove("SMSAUTH_TEST_REDIS_URL")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env("SMSAUTH_LISTEN", "127.0.0.1:0")
            .env("SMSAUTH_DATA_DIR", data_dir)
            .env("SMSAUTH_DEFAULT_REGION", "CN")
            .env("INIT_ROOT_PASSWORD", ROOT_PASSWORD)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the smsauth binary starts");
        let (tx, rx) = mpsc::channel::<String>();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let base = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the server logs its address within 30 s");
            if !line.contains("smsauth listening") {
                continue;
            }
            // Text (`addr=127.0.0.1:4711`) or JSON (`"addr":"127.0.0.1:4711"`) logs.
            if let Some(addr) = line.split("addr=").nth(1) {
                break format!("http://{}", addr.split_whitespace().next().unwrap());
            }
            if let Some(addr) = line.split("\"addr\":\"").nth(1) {
                break format!("http://{}", addr.split('"').next().unwrap());
            }
        };
        // Keep draining the log (so the child never blocks on a full pipe), and keep it.
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            while let Ok(line) = rx.recv() {
                kept.lock().unwrap().push(line);
            }
        });
        ServerProcess { child, base, log }
    }

    /// What the process has logged after its start-up line, so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGTERM, without waiting.
    pub fn terminate(&self) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::TERM,
        );
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM, then waits for the process to finish its shutdown.
    pub fn stop(mut self) {
        self.terminate();
        let _ = self.child.wait();
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A `TestApp` that talks to this process (its clock is not the server's: do not advance it).
    pub fn app(&self, sms: &FakeSms, sms_url: &str) -> TestApp {
        TestApp {
            base: self.base.clone(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            clock: std::sync::Arc::new(smsauth_core::ports::clock::ManualClock::starting_now()),
            sms: sms.clone(),
            sms_url: sms_url.to_string(),
            dir: tempfile::tempdir().unwrap(),
            settings: smsauth::configuration::Settings::default(),
            paths: Vec::new(),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
