//! Storage faults and files (SPEC §9): a full disk answers 503 and heals by itself, readiness is
//! a real write, a code whose SMS went out survives a crash, and the database and key files are
//! private.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;
use smsauth::startup::Application;
use smsauth_core::ports::clock::ManualClock;

use crate::helpers::{FakeSms, PHONE, TestApp, into_resp, spawn_app_with, test_database};
use crate::process::ServerProcess;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "mounting a tmpfs failed");
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let mut small = vec![0u8; 512];
        while f.write_all(&small).is_ok() {}
        small.truncate(1);
        while f.write_all(&small).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn readyz(app: &TestApp) -> crate::helpers::Resp {
    into_resp(app.http.get(app.url("/readyz")).send().await.unwrap()).await
}

#[tokio::test]
async fn a_full_disk_answers_503_and_the_server_heals_when_space_returns() {
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let disk = SmallDisk::mount("3m");
    let data = disk.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.data_dir = data;
        // The fault is the SQLite file's own disk.
        s.database_url = None;
        s.limits.send_per_ip_hour = 0;
        s.limits.send_per_phone_hour = 0;
        s.limits.send_per_phone_day = 0;
        // Sixty unverified codes to one country are what pumping detection stops; this test
        // is about the disk.
        s.sms_policy["pumping"]["mode"] = serde_json::json!("off");
    })
    .await;
    app.setup_sms(true).await;
    assert_eq!(app.send_code(PHONE).await.status, 200);
    disk.fill();
    // Writes now fail: every answer is a clean 503 (or a success while SQLite still finds room
    // in its write-ahead log), never a 500.
    let mut unavailable = 0;
    for i in 0..40 {
        let r = app.send_code(&format!("+86138{i:04}1390")).await;
        match r.status {
            200 => {}
            _ => {
                r.assert_error(503, "SERVICE_UNAVAILABLE");
                unavailable += 1;
            }
        }
    }
    assert!(unavailable > 0, "a full disk must show");
    let r = readyz(&app).await;
    r.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(r.message().contains("store"), "{}", r.message());
    // Space comes back: without a restart, sends, password sign-in and readiness work again.
    disk.free();
    for i in 0..20 {
        let r = app.send_code(&format!("+86138{i:04}1391")).await;
        assert_eq!(
            r.status, 200,
            "send {i} after the disk was freed: {:?}",
            r.body
        );
    }
    let r = app
        .post(
            "auth:signIn",
            json!({"account": "root", "password": crate::helpers::ROOT_PASSWORD}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(readyz(&app).await.status, 200);
}

#[tokio::test]
async fn a_code_whose_sms_went_out_survives_a_crash_before_the_send_was_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database().await;
    let (sms, sms_url) = FakeSms::start().await;
    let server = ServerProcess::start(dir.path(), database.as_deref(), &[], None);
    let app = server.app(&sms, &sms_url);
    app.setup_sms(true).await;
    // The gateway takes the SMS, then is slow to answer; the server dies meanwhile.
    sms.record_first.store(true, Ordering::SeqCst);
    sms.delay_ms.store(30_000, Ordering::SeqCst);
    let sending = {
        let app = server.app(&sms, &sms_url);
        tokio::spawn(async move { app.send_code(PHONE).await })
    };
    for _ in 0..200 {
        if sms.count() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(sms.count(), 1, "the SMS reached the gateway");
    server.kill();
    let _ = sending.await;
    sms.delay_ms.store(0, Ordering::SeqCst);
    // Restarted on the same data: the code the user received signs them in.
    let server = ServerProcess::start(dir.path(), database.as_deref(), &[], None);
    let app = server.app(&sms, &sms_url);
    let r = app.sign_in_sms(PHONE, &sms.last_code(PHONE)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // And it was consumed: it cannot be used twice.
    app.sign_in_sms(PHONE, &sms.last_code(PHONE))
        .await
        .assert_error(400, "InvalidVerificationCode");
}

#[tokio::test]
async fn the_database_and_key_files_are_private() {
    let app = spawn_app_with(|s| s.database_url = None).await;
    app.setup_sms(true).await;
    let dir = app.dir.path();
    for name in [
        "smsauth.db",
        "smsauth.db-wal",
        "smsauth.db-shm",
        "otp-hmac.key",
        "jwt-ed25519.pk8",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    // A database left readable by an older version is narrowed at start.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("smsauth.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let settings = settings_in(dir.path());
    let built = Application::build(settings, clock()).await;
    assert!(built.is_ok(), "{:?}", built.err());
    assert_eq!(mode(&db), 0o600);
}

fn settings_in(dir: &Path) -> smsauth::configuration::Settings {
    let mut s = smsauth::configuration::Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    s.init_root.password = Some(crate::helpers::ROOT_PASSWORD.into());
    s
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::starting_now())
}

#[tokio::test]
async fn short_or_exposed_key_files_are_refused_at_start_with_a_clear_message() {
    for (file, contents, perm, expected) in [
        ("otp-hmac.key", vec![7u8; 5], 0o600, "fewer than the 32"),
        ("otp-hmac.key", vec![7u8; 32], 0o644, "chmod 600"),
        ("jwt-ed25519.pk8", vec![7u8; 64], 0o640, "chmod 600"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file);
        std::fs::write(&path, &contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm)).unwrap();
        let err = match Application::build(settings_in(dir.path()), clock()).await {
            Ok(_) => panic!("{file} ({perm:o}, {} bytes) was accepted", contents.len()),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(expected), "{file}: {err}");
        assert!(err.contains(file), "the message names the file: {err}");
    }
    // Settings keys are held to the same length.
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings_in(dir.path());
    s.otp.hmac_key = Some("c2hvcnQ=".into());
    assert!(Application::build(s, clock()).await.is_err());
    let mut s = settings_in(dir.path());
    s.jwt.algorithm = "HS256".into();
    s.jwt.secret = Some("too-short".into());
    let err = Application::build(s, clock()).await.err().unwrap();
    assert!(format!("{err:#}").contains("at least 32 bytes"), "{err:#}");
}
