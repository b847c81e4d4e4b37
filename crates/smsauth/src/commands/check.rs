//! `smsauth config check`: loads the settings and reaches every dependency without changing
//! anything, one line per check, so a wrong `DATABASE_URL` or an unreachable Redis is found
//! before a restart rather than by it.

use std::path::Path;
use std::time::Duration;

use crate::configuration::Settings;

/// One check's outcome. A warning does not fail the check.
pub struct Line {
    pub ok: bool,
    pub warning: bool,
    pub what: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = match (self.ok, self.warning) {
            (false, _) => "FAIL",
            (true, true) => "warn",
            (true, false) => "ok  ",
        };
        write!(f, "{mark} {:<10} {}", self.what, self.detail)
    }
}

fn line(what: &'static str, result: anyhow::Result<String>) -> Line {
    match result {
        Ok(detail) => Line {
            ok: true,
            warning: false,
            what,
            detail,
        },
        Err(e) => Line {
            ok: false,
            warning: false,
            what,
            detail: format!("{e:#}"),
        },
    }
}

/// Every check, in order; the settings were loaded already (their failure is reported by the
/// caller as the first line).
pub async fn run(settings: &Settings) -> Vec<Line> {
    let mut lines = vec![line(
        "settings",
        settings
            .core_settings()
            .map(|_| format!("loaded from {}", settings_source())),
    )];
    let (in_file, in_env) = crate::configuration::unknown_keys();
    if !in_file.is_empty() {
        lines.push(line(
            "settings",
            Err(anyhow::anyhow!(
                "{} names no setting: {} (ignored, so the default applies; misspelt?)",
                crate::configuration::settings_file(),
                in_file.join(", ")
            )),
        ));
    }
    if !in_env.is_empty() {
        lines.push(Line {
            ok: true,
            warning: true,
            what: "settings",
            detail: format!("variables that name no setting: {}", in_env.join(", ")),
        });
    }
    lines.push(line("listen", listen(&settings.listen).await));
    lines.push(line("data dir", data_dir(&settings.data_dir)));
    lines.push(line("keys", keys(settings)));
    let database = tokio::time::timeout(
        Duration::from_secs(10),
        smsauth_store_sql::check(settings.postgres_url(), &settings.sqlite_path()),
    )
    .await
    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within 10 s")));
    lines.push(line(
        "database",
        database.map_err(|e| e.context(database_name(settings))),
    ));
    if let Some(url) = &settings.redis_url {
        lines.push(line("redis", redis(url, &settings.redis_prefix).await));
    }
    lines
}

fn settings_source() -> String {
    let file = crate::configuration::settings_file();
    if Path::new(&file).exists() {
        format!("{file} and the environment")
    } else {
        "defaults and the environment (no settings file)".into()
    }
}

/// Where the store is, without any password the URL may hold.
fn database_name(settings: &Settings) -> String {
    match settings.postgres_url() {
        Some(url) => format!(
            "cannot reach PostgreSQL at {}",
            url.rsplit('@')
                .next()
                .unwrap_or("")
                .trim_start_matches("postgres://")
        ),
        None => format!("cannot open SQLite {}", settings.sqlite_path().display()),
    }
}

async fn listen(addr: &str) -> anyhow::Result<String> {
    let mut found = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| anyhow::anyhow!("`{addr}` is not an address to listen on: {e}"))?;
    let first = found
        .next()
        .ok_or_else(|| anyhow::anyhow!("`{addr}` resolves to no address"))?;
    Ok(format!("{first}"))
}

fn data_dir(dir: &Path) -> anyhow::Result<String> {
    if !dir.exists() {
        return Ok(format!(
            "{} does not exist yet; it is created on first start",
            dir.display()
        ));
    }
    let probe = dir.join(".smsauth-check");
    std::fs::write(&probe, b"")
        .map_err(|e| anyhow::anyhow!("{} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(format!("{} is writable", dir.display()))
}

/// The key files the server would read: present, private and long enough, or to be generated.
fn keys(settings: &Settings) -> anyhow::Result<String> {
    let mut notes = Vec::new();
    let mut files = Vec::new();
    if settings.otp.hmac_key.is_none() {
        files.push("otp-hmac.key");
    }
    if settings.jwt.algorithm == "HS256" && settings.jwt.secret.is_none() {
        files.push("jwt-hs256.key");
    }
    // The Ed25519 key also signs EdDSA ID tokens, so it is read in HS256 mode too.
    if settings.jwt.private_key.is_none() {
        files.push(crate::keys::ED25519_KEY_FILE);
    }
    if settings.jwt.oidc_rsa_private_key.is_none() {
        files.push(crate::oidc_keys::RSA_KEY_FILE);
    }
    for file in files {
        let path = settings.data_dir.join(file);
        match crate::keys::inspect(&path)? {
            true => notes.push(format!("{file} ok")),
            false => notes.push(format!("{file} generated on first start")),
        }
    }
    if notes.is_empty() {
        notes.push("from the settings".into());
    }
    Ok(notes.join(", "))
}

async fn redis(url: &str, prefix: &str) -> anyhow::Result<String> {
    let connect = smsauth_redis::RedisRateCounter::connect(url, prefix);
    let counter = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within 5 s"))?
        .map_err(|e| anyhow::anyhow!("cannot connect: {e}"))?;
    let ping = tokio::time::timeout(Duration::from_secs(5), counter.ping()).await;
    anyhow::ensure!(
        matches!(ping, Ok(true)),
        "connected, but PING got no answer"
    );
    Ok("reachable (PING answered)".into())
}
