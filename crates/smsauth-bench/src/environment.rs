//! The system under test for one invocation, brought up in order and torn down whatever
//! happened: a temporary data directory, a fresh PostgreSQL database when asked, `smsauth
//! migrate`, the seeded store, the server instance(s), the webhook verifier and SMS
//! authenticator, the seeded users' links to it, and the idle memory reading. With `--url`,
//! only the configuration. Runs no load.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::args::{Args, Limits};
use crate::client::Client;
use crate::phones::CAPACITY;
use crate::server::seed::{self, Db};
use crate::server::{ServerProcess, ServerSpec, procstat};
use crate::setup;

/// What the flows and the report need from the set-up.
#[derive(Default)]
pub struct Environment {
    pub addrs: Vec<SocketAddr>,
    pub servers: Vec<ServerProcess>,
    pub pids: Vec<u32>,
    /// "sqlite", "postgres+redis ×2", "url".
    pub store: String,
    pub seeded_users: u64,
    /// The first phone index no seeded user or old record uses.
    pub first_fresh_phone: u64,
    pub seed_s: Option<f64>,
    pub link_s: Option<f64>,
    /// Spawn to first answered `/healthz` of instance 0, on the seeded, configured store.
    pub startup_ms: Option<f64>,
    /// The same for the very first start (keys generated, root user created).
    pub first_start_ms: Option<f64>,
    /// Every server log written so far.
    pub logs: Vec<std::path::PathBuf>,
    pub idle_rss_mb: Vec<f64>,
    data_dir: Option<tempfile::TempDir>,
    /// The PostgreSQL server's admin URL and the database made for this run.
    database: Option<(String, String)>,
}

impl Environment {
    /// Brings everything up; on failure, tears down what was already up.
    pub async fn start(args: &Args, webhook_url: &str, secret: &str) -> anyhow::Result<Self> {
        let mut env = Environment::default();
        let result = match &args.url {
            Some(url) => env.attach(args, url, webhook_url, secret).await,
            None => env.launch(args, webhook_url, secret).await,
        };
        match result {
            Ok(()) => Ok(env),
            Err(e) => {
                env.teardown(false).await;
                Err(e)
            }
        }
    }

    async fn attach(
        &mut self,
        args: &Args,
        url: &str,
        webhook_url: &str,
        secret: &str,
    ) -> anyhow::Result<()> {
        let authority = url
            .strip_prefix("http://")
            .context("--url must be http://host:port")?
            .trim_end_matches('/');
        let addr = tokio::net::lookup_host(authority)
            .await
            .with_context(|| format!("cannot resolve {authority}"))?
            .next()
            .with_context(|| format!("{authority} resolves to no address"))?;
        let password = args
            .root_password
            .as_deref()
            .context("--url needs --root-password (or SMSAUTH_BENCH_ROOT_PASSWORD)")?;
        self.addrs = vec![addr];
        self.pids = args.pid.clone();
        self.store = "url".into();
        self.configure(password, webhook_url, secret).await?;
        // Earlier runs against this server used phones from 0 up: start somewhere else.
        self.first_fresh_phone = (uuid::Uuid::new_v4().as_u128() as u64) % (CAPACITY / 2);
        self.read_idle_rss();
        Ok(())
    }

    async fn launch(&mut self, args: &Args, webhook_url: &str, secret: &str) -> anyhow::Result<()> {
        if args.instances > 1 && args.database_url.is_none() {
            bail!("--instances > 1 needs --database-url (SQLite serves one process)");
        }
        let dir = tempfile::Builder::new()
            .prefix("smsauth-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        let data_dir = dir.path().to_path_buf();
        self.data_dir = Some(dir);
        let database_url = match &args.database_url {
            Some(admin) => {
                let (url, name) = seed::create_database(admin).await?;
                self.database = Some((admin.clone(), name));
                Some(url)
            }
            None => None,
        };
        let mut store = if database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
        .to_string();
        if args.redis_url.is_some() {
            store.push_str("+redis");
        }
        if args.instances > 1 {
            store.push_str(&format!(" ×{}", args.instances));
        }
        self.store = store;
        // Absolute, since the server runs in its data directory.
        let bin = std::fs::canonicalize(&args.server_bin).with_context(|| {
            format!(
                "no server binary at {} (build it: cargo build --release -p smsauth)",
                args.server_bin.display()
            )
        })?;
        let spec = ServerSpec {
            bin,
            data_dir,
            root_password: uuid::Uuid::new_v4().simple().to_string(),
            log_filter: args.server_log.clone(),
            limits_off: args.limits == Limits::Off,
            database_url: database_url.clone(),
            redis_url: args.redis_url.clone(),
            redis_prefix: format!("smsauth-bench-{}", uuid::Uuid::new_v4().simple()),
        };
        spec.migrate()?;
        self.seed(args, &spec, database_url.as_deref()).await?;
        // The first start creates the keys and the root user (an argon2 hash), so it is not
        // what an operator's restart costs: the servers are started again, on the seeded and
        // configured store, before any load, and that start is the one reported as start-up.
        self.spawn_all(&spec, args.instances, "first").await?;
        self.first_start_ms = self.startup_ms;
        self.configure(&spec.root_password, webhook_url, secret)
            .await?;
        if args.users > 0 {
            let started = Instant::now();
            let db = open(&spec, database_url.as_deref()).await?;
            db.link_users(setup::AUTHENTICATOR).await?;
            db.analyze().await?;
            db.close().await;
            self.link_s = Some(started.elapsed().as_secs_f64());
        }
        for server in &mut self.servers {
            server.stop().await;
        }
        self.servers.clear();
        self.spawn_all(&spec, args.instances, "bench").await?;
        self.read_idle_rss();
        for addr in &self.addrs {
            setup::wait_visible(*addr).await?;
        }
        Ok(())
    }

    /// Starts `instances` servers one after the other (the first creates the keys in the
    /// shared data directory).
    async fn spawn_all(
        &mut self,
        spec: &ServerSpec,
        instances: usize,
        label: &str,
    ) -> anyhow::Result<()> {
        self.addrs.clear();
        self.pids.clear();
        for n in 0..instances.max(1) {
            let server = spec.spawn(n, label).await?;
            if n == 0 {
                self.startup_ms = Some(server.startup.as_secs_f64() * 1000.0);
            }
            self.addrs.push(server.addr);
            self.pids.push(server.pid);
            self.logs.push(server.log.clone());
            self.servers.push(server);
        }
        Ok(())
    }

    /// Users and old codes, straight into the migrated store while no server runs.
    async fn seed(
        &mut self,
        args: &Args,
        spec: &ServerSpec,
        database_url: Option<&str>,
    ) -> anyhow::Result<()> {
        let users = args.users.min(CAPACITY / 2);
        // Old records go to many receivers (about two a day each), the seeded users first.
        let receivers = if args.old_codes > 0 {
            users.max(args.old_codes / 2).min(CAPACITY / 2)
        } else {
            users
        };
        self.seeded_users = users;
        self.first_fresh_phone = receivers.max(users);
        if users == 0 && args.old_codes == 0 {
            return Ok(());
        }
        let started = Instant::now();
        let db = open(spec, database_url).await?;
        eprintln!(
            "seeding {users} users and {} old code records…",
            args.old_codes
        );
        db.seed_users(users).await?;
        eprintln!("  users in {:.1} s", started.elapsed().as_secs_f64());
        if args.old_codes > 0 {
            let codes = Instant::now();
            db.seed_codes(args.old_codes, receivers, setup::VERIFIER)
                .await?;
            eprintln!(
                "  code records (indexes built again) in {:.1} s",
                codes.elapsed().as_secs_f64()
            );
        }
        db.analyze().await?;
        db.close().await;
        self.seed_s = Some(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Root's token, the verifier and authenticator, and every instance seeing them.
    async fn configure(
        &mut self,
        password: &str,
        webhook_url: &str,
        secret: &str,
    ) -> anyhow::Result<()> {
        let first = *self.addrs.first().context("no server")?;
        let mut client = Client::new(first)?;
        let token = setup::password_token(&mut client, "root", password).await?;
        setup::configure(&mut client, &token, webhook_url, secret).await?;
        for addr in &self.addrs {
            setup::wait_visible(*addr).await?;
        }
        Ok(())
    }

    fn read_idle_rss(&mut self) {
        self.idle_rss_mb = self
            .pids
            .iter()
            .filter_map(|p| procstat::status_kib(*p, "VmRSS").ok())
            .map(|kib| kib as f64 / 1024.0)
            .collect();
    }

    /// Stops the servers, drops the database, removes (or keeps) the data directory.
    pub async fn teardown(mut self, keep_data: bool) {
        for server in &mut self.servers {
            server.stop().await;
        }
        if let Some((admin, name)) = &self.database
            && let Err(e) = seed::drop_database(admin, name).await
        {
            eprintln!("smsauth-bench: could not drop the database {name}: {e:#}");
        }
        if let Some(dir) = self.data_dir.take() {
            if keep_data {
                eprintln!("data directory kept: {}", dir.keep().display());
            } else {
                let _ = dir.close();
            }
        }
    }
}

async fn open(spec: &ServerSpec, database_url: Option<&str>) -> anyhow::Result<Db> {
    match database_url {
        Some(url) => Db::postgres(url).await,
        None => Db::sqlite(&spec.sqlite_path()).await,
    }
}
