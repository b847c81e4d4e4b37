//! Test harness: `spawn_app` starts the real server on port 0 with its own data directory and a
//! manual clock; `FakeSms` is a webhook receiver that verifies `X-Signature-256` with its own
//! HMAC and records what it was sent.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use smsauth::configuration::Settings;
use smsauth::startup::Application;
use smsauth_core::ports::clock::ManualClock;
use tempfile::TempDir;

pub const ROOT_PASSWORD: &str = "root-password-for-tests";
pub const WEBHOOK_SECRET: &str = "webhook-secret-for-tests";
pub const PHONE: &str = "+8613800138000";

/// Everything the server logged during the test run (all tests share one process).
pub fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,sqlx=info,hyper=info,hyper_util=info,reqwest=info,h2=info")
            .without_time()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
}

#[derive(Clone)]
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `code` occurs in `hay` as a whole run of digits (so `+8613800138000` does not count
/// as containing `138001`).
pub fn contains_digit_run(hay: &[u8], code: &str) -> bool {
    hay.split(|b| !b.is_ascii_digit())
        .any(|run| run == code.as_bytes())
}

/// `X-Signature-256` of `body` under the webhook secret, as the webhook provider signs.
pub fn webhook_signature(body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A webhook SMS gateway: checks the signature like a real receiver would, records messages,
/// and answers with a configurable status after a configurable delay.
#[derive(Clone, Default)]
pub struct FakeSms {
    pub messages: Arc<Mutex<Vec<Value>>>,
    pub status: Arc<AtomicU16>,
    pub delay_ms: Arc<AtomicU64>,
    pub bad_signatures: Arc<AtomicU64>,
    /// Record the message before the delay, like a gateway that has sent the SMS and is slow
    /// to answer.
    pub record_first: Arc<std::sync::atomic::AtomicBool>,
}

/// Answers `{"id": "msg-<n>"}`, the message id delivery receipts name (SPEC §15.3); the id is
/// recorded with the message as `_id`.
async fn receive(
    State(fake): State<FakeSms>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let (status, id) = receive_inner(fake, headers, body).await;
    (status, axum::Json(json!({ "id": id })))
}

async fn receive_inner(fake: FakeSms, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    if headers.get("x-signature-256").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        fake.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    let mut message: Value = serde_json::from_slice(&body).unwrap();
    let id = format!("msg-{}", uuid::Uuid::new_v4().simple());
    message["_id"] = json!(id);
    let record_first = fake.record_first.load(Ordering::SeqCst);
    if record_first {
        fake.messages.lock().unwrap().push(message.clone());
    }
    let delay = fake.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if !record_first {
        fake.messages.lock().unwrap().push(message);
    }
    let status = match fake.status.load(Ordering::SeqCst) {
        0 => StatusCode::OK,
        s => StatusCode::from_u16(s).unwrap(),
    };
    (status, id)
}

impl FakeSms {
    pub async fn start() -> (FakeSms, String) {
        let fake = FakeSms::default();
        let app = axum::Router::new()
            .route("/sms", axum::routing::post(receive))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, url)
    }

    pub fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    /// The code of the last message sent to `phone`.
    pub fn last_code(&self, phone: &str) -> String {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["phone"] == phone)
            .and_then(|m| m["code"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("no SMS was sent to {phone}"))
    }

    /// The message id the fake answered for the last message to `phone`.
    pub fn last_id(&self, phone: &str) -> String {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["phone"] == phone)
            .and_then(|m| m["_id"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("no SMS was sent to {phone}"))
    }

    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub sms: FakeSms,
    pub sms_url: String,
    pub dir: TempDir,
    /// The settings the server started with (for starting a peer instance).
    pub settings: Settings,
    /// Every path the server's router registered.
    pub paths: Vec<&'static str>,
}

/// A fresh PostgreSQL database on the server named by `SMSAUTH_TEST_DATABASE_URL`, when set:
/// the whole suite then runs against PostgreSQL (and Redis, with `SMSAUTH_TEST_REDIS_URL`).
pub async fn test_database() -> Option<String> {
    let base = std::env::var("SMSAUTH_TEST_DATABASE_URL").ok()?;
    let name = format!("smsauth_api_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{name}"))
}

/// Starts a server with `settings` and `clock` on port 0; returns its base URL and the paths
/// its router serves.
async fn start(settings: Settings, clock: Arc<ManualClock>) -> (String, Vec<&'static str>) {
    let app = Application::build(settings, clock).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let paths = app.paths().to_vec();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    (base, paths)
}

/// The settings every test starts from; `tweak` changes them before start.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        default_region: Some("CN".into()),
        database_url: test_database().await,
        redis_url: std::env::var("SMSAUTH_TEST_REDIS_URL").ok(),
        redis_prefix: format!("smsauth-test-{}", uuid::Uuid::new_v4().simple()),
        ..Settings::default()
    };
    settings.init_root.password = Some(ROOT_PASSWORD.into());
    tweak(&mut settings);
    let clock = Arc::new(ManualClock::starting_now());
    let (base, paths) = start(settings.clone(), clock.clone()).await;
    let (sms, sms_url) = FakeSms::start().await;
    TestApp {
        base,
        paths,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        clock,
        sms,
        sms_url,
        dir,
        settings,
    }
}

/// The test's database, whichever backend it runs on.
pub enum TestDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl TestDb {
    /// Runs a statement without parameters (the same text works on both backends).
    pub async fn execute(&self, sql: &'static str) {
        match self {
            TestDb::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
            TestDb::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
        }
    }

    /// Runs a statement built at run time (test fixtures only).
    pub async fn execute_owned(&self, sql: String) {
        let sql = sqlx::AssertSqlSafe(sql);
        match self {
            TestDb::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
            TestDb::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()).unwrap(),
        }
    }

    pub async fn fetch_string(&self, sql: &'static str) -> String {
        match self {
            TestDb::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            TestDb::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    pub async fn fetch_bytes(&self, sql: &'static str) -> Vec<u8> {
        match self {
            TestDb::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            TestDb::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    pub async fn close(self) {
        match self {
            TestDb::Sqlite(p) => p.close().await,
            TestDb::Postgres(p) => p.close().await,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A response reduced to what tests look at.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts an error answer with the envelope.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(self.code(), code, "{:?}", self.body);
        assert!(!self.message().is_empty(), "{:?}", self.body);
        assert_eq!(self.body["errors"].as_array().map(Vec::len), Some(1));
    }
}

pub async fn into_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    Resp {
        status,
        headers,
        body,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POST an action with a JSON body and extra headers.
    pub async fn post(&self, action: &str, body: Value, headers: &[(&str, &str)]) -> Resp {
        let mut req = self
            .http
            .post(self.url(&format!("/api/{action}")))
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        into_resp(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.http.get(self.url(&format!("/api/{path}")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        into_resp(req.send().await.unwrap()).await
    }

    pub async fn admin_token(&self) -> String {
        self.password_token("root", ROOT_PASSWORD).await
    }

    /// Signs in with a password (the default authenticator); returns the token.
    pub async fn password_token(&self, account: &str, password: &str) -> String {
        let r = self
            .post(
                "auth:signIn",
                json!({"account": account, "password": password}),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{account}: {:?}", r.body);
        r.body["data"]["token"].as_str().unwrap().to_string()
    }

    /// As the admin: `action` with a bearer token.
    pub async fn admin(&self, token: &str, action: &str, body: Value) -> Resp {
        self.post(
            action,
            body,
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await
    }

    /// Creates the webhook verifier `sms-webhook` (pointing at the fake) and an enabled SMS
    /// authenticator `sms` using it. Returns the admin token.
    pub async fn setup_sms(&self, auto_signup: bool) -> String {
        let token = self.admin_token().await;
        let r = self
            .admin(
                &token,
                "verifiers:create",
                json!({
                    "name": "sms-webhook", "title": "Webhook SMS", "verificationType": "sms-otp",
                    "options": {"provider": "webhook", "settings": {"url": self.sms_url, "secret": WEBHOOK_SECRET, "timeoutMs": 1000}},
                }),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = self
            .admin(
                &token,
                "authenticators:create",
                json!({
                    "name": "sms", "authType": "SMS", "title": "SMS", "enabled": true,
                    "options": {"public": {"verifier": "sms-webhook", "autoSignup": auto_signup}},
                }),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        token
    }

    pub async fn send_code(&self, phone: &str) -> Resp {
        self.send_code_for("auth:signIn", phone, &[]).await
    }

    pub async fn send_code_for(&self, action: &str, phone: &str, headers: &[(&str, &str)]) -> Resp {
        let path = if headers.iter().any(|(k, _)| *k == "Authorization") {
            "smsOTP:create"
        } else {
            "smsOTP:publicCreate"
        };
        self.post(
            path,
            json!({"action": action, "verifier": "sms-webhook", "uuid": phone}),
            headers,
        )
        .await
    }

    pub async fn sign_in_sms(&self, phone: &str, code: &str) -> Resp {
        self.post(
            "auth:signIn",
            json!({"uuid": phone, "code": code}),
            &[("X-Authenticator", "sms")],
        )
        .await
    }

    /// Sends a code and signs in with it; returns the token.
    pub async fn sms_token(&self, phone: &str) -> String {
        let r = self.send_code(phone).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let code = self.sms.last_code(phone);
        let r = self.sign_in_sms(phone, &code).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["data"]["token"].as_str().unwrap().to_string()
    }

    /// Lets a fresh session token for another phone expire and renews it once; returns the
    /// expired (now superseded) token. `_other` only documents that it is a different session.
    pub async fn sms_token_after_expiry_of(&self, _other: &str) -> String {
        self.advance(121);
        let token = self.sms_token("+8613800138077").await;
        self.advance(86_400 + 1);
        let r = self.check(&token).await;
        assert!(r.header("x-new-token").is_some(), "{:?}", r.body);
        token
    }

    pub async fn check(&self, token: &str) -> Resp {
        self.get(
            "auth:check",
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use smsauth_core::ports::clock::Clock;
        self.clock.now()
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance(chrono::Duration::seconds(secs));
    }

    /// Sets the send counter `key` (`global-h`, `phone-h:+86…`) to `count` events in the
    /// current 5-minute bucket, wherever the server keeps its counters (Redis or the store), as
    /// if that many sends had just happened.
    pub async fn fill_counter(&self, key: &str, count: i64) {
        let now = self.clock_now().timestamp();
        let bucket = now - now.rem_euclid(300);
        match &self.settings.redis_url {
            Some(url) => {
                let client = redis::Client::open(url.as_str()).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                redis::cmd("HSET")
                    .arg(format!("{}:cnt:{key}", self.settings.redis_prefix))
                    .arg(bucket)
                    .arg(count)
                    .query_async::<()>(&mut conn)
                    .await
                    .unwrap();
            }
            None => {
                let db = self.db().await;
                db.execute_owned(format!(
                    "INSERT INTO sms_counters (key, bucket, count) VALUES ('{key}', {bucket}, {count})"
                ))
                .await;
                db.close().await;
            }
        }
    }

    /// The SQLite file, when the test runs on SQLite.
    pub fn db_path(&self) -> Option<std::path::PathBuf> {
        self.settings
            .postgres_url()
            .is_none()
            .then(|| self.dir.path().join("smsauth.db"))
    }

    /// A direct connection to the test's database, for setting up states the API refuses to
    /// create and for checking what was stored.
    pub async fn db(&self) -> TestDb {
        match self.settings.postgres_url() {
            Some(url) => TestDb::Postgres(sqlx::PgPool::connect(url).await.unwrap()),
            None => TestDb::Sqlite(
                sqlx::SqlitePool::connect(&format!(
                    "sqlite://{}",
                    self.dir.path().join("smsauth.db").display()
                ))
                .await
                .unwrap(),
            ),
        }
    }

    /// A second instance of the server on the same database, Redis and keys (the data
    /// directory), sharing this test's clock.
    pub async fn peer(&self) -> TestApp {
        let (base, paths) = start(self.settings.clone(), self.clock.clone()).await;
        TestApp {
            base,
            paths,
            http: self.http.clone(),
            clock: self.clock.clone(),
            sms: self.sms.clone(),
            sms_url: self.sms_url.clone(),
            dir: tempfile::tempdir().unwrap(),
            settings: self.settings.clone(),
        }
    }
}
