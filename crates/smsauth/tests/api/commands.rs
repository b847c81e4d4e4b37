//! The operator's commands, run as the real binary on real SQLite files (SPEC §17): a backup
//! taken under load restores to a working server, password reset and root grant work while
//! the server runs, `config check` finds what is wrong, `keys rotate` signs nobody out.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::helpers::*;
use crate::process::ServerProcess;

/// Runs `smsauth <args>` on `data_dir` with `stdin` fed in.
fn smsauth(data_dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsauth"));
    cmd.args(args)
        .env_remove("SMSAUTH_TEST_DATABASE_URL")
        .env_remove("SMSAUTH_TEST_REDIS_URL")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("SMSAUTH_DATA_DIR", data_dir)
        .env("SMSAUTH_DEFAULT_REGION", "CN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the smsauth binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(server: &ServerProcess) -> Client {
        Client {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base: server.base.clone(),
        }
    }

    async fn call(&self, action: &str, token: Option<&str>, body: Value) -> Resp {
        let mut req = self
            .http
            .post(format!("{}/api/{action}", self.base))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        into_resp(req.send().await.unwrap()).await
    }

    async fn sign_in(&self, account: &str, password: &str) -> Resp {
        self.call(
            "auth:signIn",
            None,
            json!({ "account": account, "password": password }),
        )
        .await
    }

    async fn token(&self, account: &str, password: &str) -> String {
        let r = self.sign_in(account, password).await;
        assert_eq!(r.status, 200, "{account}: {:?}", r.body);
        r.body["data"]["token"].as_str().unwrap().to_string()
    }
}

fn kid(token: &str) -> String {
    use base64::Engine;
    let head = token.split('.').next().unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .unwrap();
    let v: Value = serde_json::from_slice(&raw).unwrap();
    v["kid"].as_str().unwrap().to_string()
}

fn copy_private(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_and_the_recovery_commands_work() {
    let live_dir = tempfile::tempdir().unwrap();
    let live = ServerProcess::start(live_dir.path(), None, &[], None);
    let api = Client::new(&live);
    let root = api.token("root", ROOT_PASSWORD).await;

    // A load of writes (new users) and sign-ins while the backup is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let created = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (stop, created, root) = (stop.clone(), created.clone(), root.clone());
        let api = Client::new(&live);
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let name = format!("load{worker}x{n}");
                let r = api
                    .call("users:create", Some(&root), json!({ "username": name }))
                    .await;
                assert_eq!(r.status, 200, "{:?}", r.body);
                created.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n % 5 == 0 {
                    api.token("root", ROOT_PASSWORD).await;
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = created.load(std::sync::atomic::Ordering::SeqCst);
    let restored_dir = tempfile::tempdir().unwrap();
    let copy = restored_dir.path().join("smsauth.db");
    let copy_arg = copy.to_str().unwrap().to_string();
    let live_path = live_dir.path().to_path_buf();
    let out =
        tokio::task::spawn_blocking(move || smsauth(&live_path, &["backup", &copy_arg], &[], ""))
            .await
            .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("integrity check passed"),
        "{}",
        text(&out)
    );
    assert!(before > 0, "the load ran before the backup");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy holds password hashes");
    // A second backup to the same file is refused rather than overwriting it.
    let again = smsauth(
        live_dir.path(),
        &["backup", copy.to_str().unwrap()],
        &[],
        "",
    );
    assert!(!again.status.success(), "{}", text(&again));
    live.stop();

    // Restore: the copy and the key files in a new data directory.
    for key in ["otp-hmac.key", "jwt-ed25519.pk8"] {
        copy_private(&live_dir.path().join(key), &restored_dir.path().join(key));
    }
    let restored = ServerProcess::start(restored_dir.path(), None, &[], None);
    let api = Client::new(&restored);
    let r = api.call("auth:check", Some(&root), json!({})).await;
    assert_eq!(
        r.status, 200,
        "a token from before the backup still works: {:?}",
        r.body
    );
    let r = api.call("users:list", Some(&root), json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let count = r.body["meta"]["count"].as_u64().unwrap() as usize;
    assert!(
        count > before,
        "{count} users restored, {before} were created before the backup"
    );

    // users reset-password, from standard input, while the server runs.
    let out = smsauth(
        restored_dir.path(),
        &["users", "reset-password", "root"],
        &[],
        "a-brand-new-root-password\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    // The running server learns of the change when its cached user and token state expire
    // (`cache.ttl_ms`, at most a second).
    let changed = std::time::Instant::now();
    while api.call("auth:check", Some(&root), json!({})).await.status != 401 {
        assert!(
            changed.elapsed() < std::time::Duration::from_secs(1),
            "the old root token still works a second after reset-password"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    api.sign_in("root", ROOT_PASSWORD)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    let root = api.token("root", "a-brand-new-root-password").await;
    let short = smsauth(
        restored_dir.path(),
        &["users", "reset-password", "root"],
        &[],
        "short\n",
    );
    assert!(
        !short.status.success() && text(&short).contains("8 to 64"),
        "{}",
        text(&short)
    );
    let nobody = smsauth(
        restored_dir.path(),
        &["users", "reset-password", "nobody"],
        &[],
        "x\n",
    );
    assert!(
        !nobody.status.success() && text(&nobody).contains("no user"),
        "{}",
        text(&nobody)
    );

    // users grant-root and reset-password --generate, for a member found by phone.
    let r = api
        .call(
            "users:create",
            Some(&root),
            json!({ "username": "alice", "phone": "13800138123", "password": "alice-password" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let out = smsauth(
        restored_dir.path(),
        &["users", "grant-root", "+8613800138123"],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let alice = api.token("alice", "alice-password").await;
    let me = api.call("auth:check", Some(&alice), json!({})).await;
    let roles: Vec<&str> = me.body["data"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(roles.contains(&"root"), "{roles:?}");
    let out = smsauth(
        restored_dir.path(),
        &["users", "reset-password", "alice", "--generate"],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let generated = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(generated.len() >= 20, "{generated:?}");
    let alice = api.token("alice", &generated).await;

    // keys rotate: the old key keeps verifying its tokens, the new one signs.
    restored.stop();
    let out = smsauth(restored_dir.path(), &["keys", "rotate"], &[], "");
    assert!(out.status.success(), "{}", text(&out));
    let rotated = ServerProcess::start(restored_dir.path(), None, &[], None);
    let api = Client::new(&rotated);
    let r = api.call("auth:check", Some(&alice), json!({})).await;
    assert_eq!(r.status, 200, "a token of the old key: {:?}", r.body);
    let fresh = api.token("root", "a-brand-new-root-password").await;
    assert_ne!(kid(&fresh), kid(&alice));
    let jwks: Value = api
        .http
        .get(format!("{}/.well-known/jwks.json", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "OKP")
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids.len(), 2, "{jwks}");
    assert!(kids.contains(&kid(&fresh).as_str()) && kids.contains(&kid(&alice).as_str()));
}

#[test]
fn config_check_names_a_wrong_database_and_an_unreachable_redis() {
    let dir = tempfile::tempdir().unwrap();
    let ok = smsauth(dir.path(), &["config", "check"], &[], "");
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(!text(&ok).contains("FAIL"), "{}", text(&ok));
    let bad = smsauth(
        dir.path(),
        &["config", "check"],
        &[
            (
                "DATABASE_URL",
                "postgres://smsauth:secret-password@127.0.0.1:1/smsauth",
            ),
            ("REDIS_URL", "redis://127.0.0.1:1"),
        ],
        "",
    );
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    let line = |what: &str| {
        out.lines()
            .find(|l| l.contains(what))
            .unwrap_or("")
            .to_string()
    };
    assert!(line("database").starts_with("FAIL"), "{out}");
    assert!(line("database").contains("127.0.0.1:1"), "{out}");
    assert!(line("redis").starts_with("FAIL"), "{out}");
    assert!(
        !out.contains("secret-password"),
        "the check never echoes a password: {out}"
    );
    // A misspelt table in the settings file is named, not silently ignored.
    let file = dir.path().join("smsauth.toml");
    std::fs::write(&file, "[limit]\nsend_per_phone_hour = 0\n").unwrap();
    let misspelt = smsauth(
        dir.path(),
        &["config", "check"],
        &[
            ("SMSAUTH_CONFIG", file.to_str().unwrap()),
            ("SMSAUTH_LIMITS__SEND_PER_PHONE_HOURS", "1"),
        ],
        "",
    );
    let out = text(&misspelt);
    assert_eq!(misspelt.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL settings") && out.contains("limit.send_per_phone_hour"),
        "{out}"
    );
    assert!(
        out.contains("warn settings") && out.contains("SMSAUTH_LIMITS__SEND_PER_PHONE_HOURS"),
        "{out}"
    );
    let unreadable = smsauth(
        dir.path(),
        &["config", "check"],
        &[("SMSAUTH_OTP__CODE_LENGTH", "3")],
        "",
    );
    assert_eq!(unreadable.status.code(), Some(1), "{}", text(&unreadable));
    assert!(
        text(&unreadable).contains("FAIL settings"),
        "{}",
        text(&unreadable)
    );
}
