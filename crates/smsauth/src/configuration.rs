//! Settings: defaults, then `smsauth.toml` (or the file in `SMSAUTH_CONFIG`), then `SMSAUTH_…`
//! environment variables with `__` for nesting (`SMSAUTH_LIMITS__SEND_PER_PHONE_HOUR=0`), then
//! the conventional `DATABASE_URL` and NocoBase's `INIT_ROOT_*` (SPEC §11).

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use smsauth_core::domain::phone::Region;
use smsauth_core::domain::sms_policy::SmsPolicy;
use smsauth_core::ports::otp_store::SendLimits;
use smsauth_core::service::CoreSettings;
use smsauth_core::service::delivery::DeliverySettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `SMSAUTH_LISTEN`.
    pub listen: String,
    /// `SMSAUTH_DATA_DIR`: the SQLite file and generated keys live here.
    pub data_dir: PathBuf,
    /// `SMSAUTH_DEFAULT_REGION`: ISO 3166 alpha-2 region for numbers without a country code.
    pub default_region: Option<String>,
    /// `DATABASE_URL`; unset means SQLite in the data directory.
    pub database_url: Option<String>,
    /// `REDIS_URL`: when set, per-address attempt counters live in Redis, shared by instances.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// `text` or `json`.
    pub log_format: String,
    pub otp: OtpSettings,
    pub limits: LimitSettings,
    pub jwt: JwtSettings,
    pub metrics: MetricsSettings,
    pub providers: ProviderSettings,
    pub http: HttpLimitSettings,
    pub cache: CacheSettings,
    /// `[sms_policy]`: the SMS policy until an administrator saves one (SPEC §15.1), in the
    /// wire form's fields (`send_without_account` or `sendWithoutAccount` alike).
    pub sms_policy: serde_json::Value,
    pub audit: AuditSettings,
    pub cors: CorsSettings,
    /// `SMSAUTH_PUBLIC_URL`: the address clients and providers reach this server at
    /// (`https://auth.example.com`); receipts are authenticated against it. Default
    /// `http://<listen>`.
    pub public_url: Option<String>,
    /// Set by `serve --dev`.
    #[serde(skip)]
    pub dev: bool,
    #[serde(skip)]
    pub init_root: InitRoot,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OtpSettings {
    /// Digits per code, 6–10.
    pub code_length: u8,
    /// Code lifetime in seconds, at most 600.
    pub ttl_secs: i64,
    /// Base64 key for the code hashes. Several instances sharing a database must share it;
    /// unset, a key is generated into the data directory.
    #[serde(skip_serializing)]
    pub hmac_key: Option<SecretString>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    pub send_per_phone_hour: u32,
    pub send_per_phone_day: u32,
    pub send_per_ip_hour: u32,
    pub verify_per_ip_5min: u32,
    /// Codes per hour for the whole server; 0 = no global cap. On by default: without it, a
    /// botnet of a few hundred addresses, each inside its per-address limit, can send thousands
    /// of SMS an hour on the operator's bill (SMS pumping).
    pub global_send_hour: u32,
    /// ISO 3166 alpha-2 regions codes may be sent to; empty = all.
    pub allowed_countries: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JwtSettings {
    /// `EdDSA` (default) or `HS256`.
    pub algorithm: String,
    /// HS256 secret (at least 32 bytes); generated into the data directory when unset.
    #[serde(skip_serializing)]
    pub secret: Option<SecretString>,
    /// Base64 PKCS#8 Ed25519 signing key; generated into the data directory when unset.
    /// Several instances must share it (or the data directory).
    #[serde(skip_serializing)]
    pub private_key: Option<SecretString>,
    /// Base64 PKCS#8 RSA key (2048 bits or more) of the OpenID Provider's RS256 tokens;
    /// generated into the data directory (`oidc-rs256.pk8`) when unset. Instances must share it.
    #[serde(skip_serializing)]
    pub oidc_rsa_private_key: Option<SecretString>,
}

/// Connection and request limits of the HTTP server (SPEC §15.7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpLimitSettings {
    /// Requests served at once; beyond, 503 with `Retry-After`.
    pub max_in_flight: usize,
    /// Open connections at most, further lowered to fit the process's file limit.
    pub max_connections: usize,
    /// Seconds a request head may take to arrive, from its first byte.
    pub header_read_timeout_secs: u64,
    /// Seconds an idle keep-alive connection is kept.
    pub idle_timeout_secs: u64,
    /// Seconds a request body may take to arrive.
    pub body_timeout_secs: u64,
    /// Seconds between a shutdown signal and closing the listener, during which `/readyz`
    /// answers 503 and requests are still served (for load balancers that poll readiness).
    pub shutdown_delay_secs: u64,
}

impl Default for HttpLimitSettings {
    fn default() -> Self {
        HttpLimitSettings {
            max_in_flight: 1024,
            max_connections: 10_000,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            body_timeout_secs: 30,
            shutdown_delay_secs: 0,
        }
    }
}

/// In-memory caches of configuration, users and token states (`smsauth_core::cache`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CacheSettings {
    /// Milliseconds a cached answer is trusted; what another instance writes is seen after at
    /// most this long. 0 switches caching off; at most 1000 (the bound on how late another instance's
    /// write may be seen).
    pub ttl_ms: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings { ttl_ms: 500 }
    }
}

/// Failover and circuit-breaker settings for SMS delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderSettings {
    /// Consecutive transient failures after which a verifier's provider is skipped.
    pub breaker_failures: u32,
    /// Seconds a tripped provider is skipped before one trial request.
    pub breaker_open_secs: i64,
    /// Total milliseconds one send may spend across a verifier and its fallbacks.
    pub send_budget_ms: u64,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            breaker_failures: 5,
            breaker_open_secs: 30,
            send_budget_ms: 8000,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// Serve `GET /metrics` (Prometheus/OpenMetrics text).
    pub enabled: bool,
    /// When set, scrapers must send `Authorization: Bearer <token>`.
    #[serde(skip_serializing)]
    pub token: Option<SecretString>,
}

/// NocoBase's `INIT_ROOT_*` variables for the first root user.
#[derive(Debug, Clone, Default)]
pub struct InitRoot {
    pub email: Option<String>,
    pub password: Option<SecretString>,
    pub nickname: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:13000".into(),
            data_dir: PathBuf::from("./data"),
            default_region: None,
            database_url: None,
            redis_url: None,
            redis_prefix: "smsauth".into(),
            trusted_proxies: Vec::new(),
            log_format: "text".into(),
            otp: OtpSettings::default(),
            limits: LimitSettings::default(),
            jwt: JwtSettings::default(),
            metrics: MetricsSettings::default(),
            providers: ProviderSettings::default(),
            http: HttpLimitSettings::default(),
            cache: CacheSettings::default(),
            sms_policy: default_policy_settings(),
            audit: AuditSettings::default(),
            cors: CorsSettings::default(),
            public_url: None,
            dev: false,
            init_root: InitRoot::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CorsSettings {
    /// Origins whose pages may call the API (`https://app.example.com`), or `*` for any
    /// (SPEC §15.7). Tokens travel as bearer headers, never cookies, so `*` does not let other
    /// sites act as a signed-in user.
    pub allowed_origins: Vec<String>,
}

impl Default for CorsSettings {
    fn default() -> Self {
        CorsSettings {
            allowed_origins: vec!["*".into()],
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Days an audit event is kept (SPEC §15.5).
    pub retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings { retention_days: 90 }
    }
}

/// `scheme://host[:port]` of `s`, when it is an http(s) URL with nothing after the authority.
fn url_origin(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let rest = rest.trim_end_matches('/');
    let ok = matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then(|| format!("{scheme}://{rest}"))
}

/// The default SMS policy in the settings' own spelling (`send_without_account`), so that every
/// policy field is a known setting (`config check`, the example file).
fn default_policy_settings() -> serde_json::Value {
    fn snake(v: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let mut out = String::with_capacity(k.len() + 4);
                        for c in k.chars() {
                            if c.is_ascii_uppercase() {
                                out.push('_');
                                out.push(c.to_ascii_lowercase());
                            } else {
                                out.push(c);
                            }
                        }
                        (out, snake(v))
                    })
                    .collect(),
            ),
            other => other,
        }
    }
    snake(serde_json::to_value(SmsPolicy::default()).unwrap_or_else(|_| serde_json::json!({})))
}

/// `send_without_account` → `sendWithoutAccount`, in every object key of the policy: the
/// environment gives lower-case keys, the wire form is camelCase.
fn camel_keys(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut out = String::with_capacity(k.len());
                    let mut upper = false;
                    for c in k.chars() {
                        if c == '_' {
                            upper = true;
                        } else if upper {
                            out.extend(c.to_uppercase());
                            upper = false;
                        } else {
                            out.push(c);
                        }
                    }
                    (out, camel_keys(v))
                })
                .collect(),
        ),
        other => other,
    }
}

impl Default for OtpSettings {
    fn default() -> Self {
        OtpSettings {
            code_length: 6,
            ttl_secs: 120,
            hmac_key: None,
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            send_per_phone_hour: 5,
            send_per_phone_day: 10,
            send_per_ip_hour: 20,
            verify_per_ip_5min: 30,
            global_send_hour: 1000,
            allowed_countries: Vec::new(),
        }
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        JwtSettings {
            algorithm: "EdDSA".into(),
            secret: None,
            private_key: None,
            oidc_rsa_private_key: None,
        }
    }
}

/// Settings that are never serialised (secrets), by their dotted key.
pub const SECRET_KEYS: [&str; 5] = [
    "otp.hmac_key",
    "jwt.secret",
    "jwt.private_key",
    "jwt.oidc_rsa_private_key",
    "metrics.token",
];

/// Every setting's dotted key (`limits.send_per_phone_hour`).
pub fn setting_keys() -> std::collections::BTreeSet<String> {
    let mut keys = std::collections::BTreeSet::new();
    // serde_json writes unset options as null, so every field is a key here.
    if let Ok(v) = serde_json::to_value(Settings::default()) {
        dotted_keys(&v, "", &mut keys);
    }
    keys.extend(SECRET_KEYS.iter().map(|k| k.to_string()));
    keys
}

/// The leaf keys of a JSON object, dotted.
pub fn dotted_keys(
    v: &serde_json::Value,
    prefix: &str,
    out: &mut std::collections::BTreeSet<String>,
) {
    if let serde_json::Value::Object(map) = v {
        for (k, v) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if v.is_object() {
                dotted_keys(v, &path, out);
            } else {
                out.insert(path);
            }
        }
    }
}

/// The settings file's path: `SMSAUTH_CONFIG`, else `smsauth.toml`.
pub fn settings_file() -> String {
    env_opt("SMSAUTH_CONFIG").unwrap_or_else(|| "smsauth.toml".into())
}

/// Keys of the settings file that are no setting (a misspelt key is otherwise silently
/// ignored, and its default used), and `SMSAUTH_*` variables that name none.
pub fn unknown_keys() -> (Vec<String>, Vec<String>) {
    let known = setting_keys();
    let file = settings_file();
    let mut in_file = std::collections::BTreeSet::new();
    if std::path::Path::new(&file).exists()
        && let Ok(v) = Figment::from(Toml::file(&file)).extract::<serde_json::Value>()
    {
        dotted_keys(&v, "", &mut in_file);
    }
    let unknown_file = in_file.into_iter().filter(|k| !known.contains(k)).collect();
    let unknown_env = std::env::vars()
        .filter_map(|(name, _)| {
            let key = name.strip_prefix("SMSAUTH_")?;
            let dotted = key.to_lowercase().replace("__", ".");
            (key != "CONFIG" && !known.contains(&dotted)).then_some(name)
        })
        .collect();
    (unknown_file, unknown_env)
}

fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Settings {
    /// Loads and validates the settings.
    pub fn load() -> anyhow::Result<Settings> {
        let file = settings_file();
        let mut s: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("SMSAUTH_").split("__").ignore(&["config"]))
            .extract()
            .context("invalid configuration")?;
        if let Some(url) = env_opt("DATABASE_URL") {
            s.database_url = Some(url);
        }
        if let Some(url) = env_opt("REDIS_URL") {
            s.redis_url = Some(url);
        }
        s.init_root = InitRoot {
            email: env_opt("INIT_ROOT_EMAIL"),
            password: env_opt("INIT_ROOT_PASSWORD").map(SecretString::from),
            nickname: env_opt("INIT_ROOT_NICKNAME"),
            username: env_opt("INIT_ROOT_USERNAME"),
            phone: env_opt("INIT_ROOT_PHONE"),
        };
        s.validate()?;
        Ok(s)
    }

    /// Refuses settings that would make the server unsafe or unusable, with the reason.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.initial_sms_policy()?;
        for origin in &self.cors.allowed_origins {
            let ok = origin == "*"
                || url_origin(origin).is_some_and(|o| o == origin.trim_end_matches('/'));
            if !ok {
                bail!(
                    "cors.allowed_origins: `{origin}` is not `*` or an origin like https://app.example.com"
                );
            }
        }
        if !(6..=10).contains(&self.otp.code_length) {
            bail!("otp.code_length must be between 6 and 10");
        }
        if !(30..=600).contains(&self.otp.ttl_secs) {
            bail!("otp.ttl_secs must be between 30 and 600");
        }
        self.region()?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be \"text\" or \"json\"");
        }
        if self.cache.ttl_ms > 1000 {
            bail!("cache.ttl_ms must be at most 1000 (0 switches caching off)");
        }
        match self.jwt.algorithm.as_str() {
            "EdDSA" => {}
            "HS256" => {
                if self
                    .jwt
                    .secret
                    .as_ref()
                    .is_some_and(|s| s.expose_secret().len() < 32)
                {
                    bail!("jwt.secret must be at least 32 bytes for HS256");
                }
            }
            other => bail!("jwt.algorithm `{other}` is not supported (EdDSA or HS256)"),
        }
        if let Some(url) = &self.database_url
            && !url.starts_with("sqlite:")
            && self.postgres_url().is_none()
        {
            // Only the part after `@` is echoed: the part before may hold a password.
            bail!(
                "DATABASE_URL `…{}` is not supported: use postgres://…, sqlite:… or leave it unset for the data directory",
                url.split('@').next_back().unwrap_or("")
            );
        }
        if let Some(url) = &self.redis_url
            && !url.starts_with("redis://")
        {
            bail!("REDIS_URL must start with redis:// (TLS to Redis is not built in yet)");
        }
        Ok(())
    }

    /// The PostgreSQL URL, when `DATABASE_URL` names one.
    pub fn postgres_url(&self) -> Option<&str> {
        self.database_url
            .as_deref()
            .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }

    pub fn region(&self) -> anyhow::Result<Option<Region>> {
        self.default_region
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| r.parse::<Region>().map_err(anyhow::Error::msg))
            .transpose()
    }

    /// The SQLite file: from a `sqlite:` URL, else `smsauth.db` in the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        match &self.database_url {
            Some(url) => PathBuf::from(
                url.trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:"),
            ),
            None => self.data_dir.join("smsauth.db"),
        }
    }

    /// `[sms_policy]` over the defaults; `limits.allowed_countries` is the allow-list when the
    /// policy names none (it predates the policy).
    pub fn initial_sms_policy(&self) -> anyhow::Result<SmsPolicy> {
        let mut value = camel_keys(self.sms_policy.clone());
        if !value.is_object() {
            bail!("sms_policy must be a table");
        }
        let no_allow_list = value
            .get("allowedCountries")
            .and_then(|v| v.as_array())
            .is_none_or(|a| a.is_empty());
        if no_allow_list && !self.limits.allowed_countries.is_empty() {
            value["allowedCountries"] = serde_json::json!(self.limits.allowed_countries);
        }
        SmsPolicy::from_json(value)
            .map_err(|e| anyhow::anyhow!("sms_policy.{}: invalid value", e.0))
    }

    pub fn core_settings(&self) -> anyhow::Result<CoreSettings> {
        let l = &self.limits;
        Ok(CoreSettings {
            default_region: self.region()?,
            code_digits: self.otp.code_length,
            code_ttl_secs: self.otp.ttl_secs,
            send_limits: SendLimits {
                per_phone_hour: l.send_per_phone_hour,
                per_phone_day: l.send_per_phone_day,
                per_ip_hour: l.send_per_ip_hour,
                global_hour: l.global_send_hour,
            },
            verify_per_ip_5min: l.verify_per_ip_5min,
            sms_policy: self.initial_sms_policy()?,
            audit_retention_days: i64::from(self.audit.retention_days.max(1)),
            delivery: DeliverySettings {
                breaker_failures: self.providers.breaker_failures.max(1),
                breaker_open_secs: self.providers.breaker_open_secs.max(1),
                budget: std::time::Duration::from_millis(
                    self.providers.send_budget_ms.clamp(100, 60_000),
                ),
            },
            ..CoreSettings::default()
        })
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    /// Settings and verifiers reach logs through `{:?}`; no secret may come along.
    #[test]
    fn debug_output_carries_no_secret() {
        let mut s = Settings::default();
        s.jwt.secret = Some("jwt-secret-value-0123456789abcdef".into());
        s.jwt.private_key = Some("private-key-value".into());
        s.otp.hmac_key = Some("hmac-key-value".into());
        s.metrics.token = Some("metrics-token-value".into());
        s.init_root.password = Some("root-password-value".into());
        let printed = format!("{s:?}");
        for secret in [
            "jwt-secret-value",
            "private-key-value",
            "hmac-key-value",
            "metrics-token-value",
            "root-password-value",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        let verifier = smsauth_core::domain::verifier::Verifier {
            name: "aliyun".into(),
            title: None,
            description: None,
            verification_type: "sms-otp".into(),
            is_default: true,
            options: serde_json::json!({"provider": "sms-aliyun", "settings": {
                "accessKeyId": "key-id-value", "accessKeySecret": "key-secret-value"}}),
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        let printed = format!("{verifier:?}");
        assert!(printed.contains("accessKeySecret"), "{printed}");
        assert!(!printed.contains("key-secret-value") && !printed.contains("key-id-value"));
    }
}

/// `smsauth.toml.example` at the repository root is checked against [`Settings`], so it cannot
/// go stale: its active lines are exactly the defaults, and with every commented-out example
/// line enabled it names every setting, and nothing else.
#[cfg(test)]
mod example_file {
    use std::collections::BTreeSet;

    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};
    use serde_json::Value;

    use super::Settings;

    const EXAMPLE: &str = include_str!("../../../smsauth.toml.example");

    fn parse(text: &str) -> Value {
        Figment::from(Toml::string(text))
            .extract::<Value>()
            .unwrap_or_else(|e| panic!("smsauth.toml.example does not parse: {e}"))
    }

    /// The example with every `# key = value` line enabled.
    fn uncommented() -> String {
        EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    }) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn its_active_lines_are_exactly_the_defaults() {
        let mut defaults = Figment::from(Serialized::defaults(Settings::default()))
            .extract::<Value>()
            .expect("defaults serialise");
        // Unset options are the commented-out lines.
        fn drop_nulls(v: &mut Value) {
            if let Value::Object(map) = v {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(drop_nulls);
            }
        }
        drop_nulls(&mut defaults);
        assert_eq!(parse(EXAMPLE), defaults);
    }

    #[test]
    fn it_names_every_setting_and_nothing_else() {
        let text = uncommented();
        let mut named = BTreeSet::new();
        super::dotted_keys(&parse(&text), "", &mut named);
        let fields = super::setting_keys();
        assert_eq!(named, fields, "keys of the example vs settings");
        // And each enabled example value is of the setting's type.
        let all: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(&text))
            .extract()
            .expect("every example value has the setting's type");
        assert!(all.otp.hmac_key.is_some() && all.jwt.private_key.is_some());
        assert!(all.jwt.secret.is_some() && all.metrics.token.is_some());
    }
}
