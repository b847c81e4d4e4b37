//! `smsOTP:publicCreate`: every row of SPEC §3.2, concurrency, limits and locales.

use serde_json::json;

use crate::helpers::{PHONE, spawn_app, spawn_app_with};

#[tokio::test]
async fn send_code_returns_id_and_expiry_and_the_webhook_gets_a_signed_message() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let r = app.send_code("+86 138-0013-8000").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["data"]["id"].as_str().is_some());
    let expires: chrono::DateTime<chrono::Utc> = r.body["data"]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ttl = (expires - app.clock_now()).num_seconds();
    assert!((119..=120).contains(&ttl), "ttl {ttl}");
    let msgs = app.sms.messages.lock().unwrap().clone();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["phone"], PHONE);
    assert_eq!(msgs[0]["action"], "auth:signIn");
    assert_eq!(msgs[0]["code"].as_str().unwrap().len(), 6);
    assert_eq!(
        app.sms
            .bad_signatures
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn send_code_errors_follow_the_documented_order() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let send = |body: serde_json::Value| app.post("smsOTP:publicCreate", body, &[]);
    send(json!({"verifier": "sms-webhook", "uuid": PHONE}))
        .await
        .assert_error(400, "INVALID_ACTION");
    send(json!({"action": "users:destroy", "verifier": "nope", "uuid": "x"}))
        .await
        .assert_error(400, "INVALID_ACTION");
    send(json!({"action": "auth:signIn", "uuid": PHONE}))
        .await
        .assert_error(400, "INVALID_VERIFIER");
    send(json!({"action": "auth:signIn", "verifier": "nope", "uuid": "x"}))
        .await
        .assert_error(400, "INVALID_VERIFIER");
    send(json!({"action": "auth:signIn", "verifier": "sms-webhook"}))
        .await
        .assert_error(400, "InvalidReceiver");
    send(json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": ""}))
        .await
        .assert_error(400, "InvalidReceiver");
    send(json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": "+861"}))
        .await
        .assert_error(400, "InvalidReceiver");
    assert_eq!(app.sms.count(), 0);
}

#[tokio::test]
async fn misconfigured_verifier_is_invalid_provider() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    app.db().await.execute("INSERT INTO verifiers (name, verification_type, options, created_at, updated_at) VALUES ('broken', 'sms-otp', '{\"provider\":\"carrier-pigeon\"}', 0, 0)").await;
    let r = app
        .post(
            "smsOTP:publicCreate",
            json!({"action": "auth:signIn", "verifier": "broken", "uuid": PHONE}),
            &[],
        )
        .await;
    r.assert_error(500, "INVALID_PROVIDER");
    assert_eq!(r.message(), "Invalid provider");
}

#[tokio::test]
async fn a_live_code_refuses_a_resend_with_seconds_left_in_each_language() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    assert_eq!(app.send_code(PHONE).await.status, 200);
    app.advance(20);
    let r = app.send_code("13800138000").await;
    r.assert_error(429, "RateLimit");
    assert_eq!(r.message(), "Please don't retry in 100 seconds");
    assert_eq!(r.header("retry-after"), Some("100"));
    let zh = app
        .post(
            "smsOTP:publicCreate",
            json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": PHONE}),
            &[("X-Locale", "zh-CN")],
        )
        .await;
    assert_eq!(zh.message(), "请 100 秒后再试");
    let nl = app
        .post(
            "smsOTP:publicCreate?locale=nl-NL",
            json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": PHONE}),
            &[],
        )
        .await;
    assert_eq!(nl.message(), "Probeer het over 100 seconden opnieuw");
    assert_eq!(app.sms.count(), 1);
    // Once it has expired, a new code may be sent.
    app.advance(101);
    assert_eq!(app.send_code(PHONE).await.status, 200);
    assert_eq!(app.sms.count(), 2);
}

#[tokio::test]
async fn eight_concurrent_sends_for_one_phone_send_one_sms() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let results = futures_join(8, || app.send_code(PHONE)).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    let limited = results
        .iter()
        .filter(|r| r.status == 429 && r.code() == "RateLimit")
        .count();
    assert_eq!((ok, limited), (1, 7), "{results:?}");
    assert_eq!(app.sms.count(), 1);
}

/// Runs `n` copies of a request concurrently.
pub async fn futures_join<F, Fut>(n: usize, f: F) -> Vec<crate::helpers::Resp>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = crate::helpers::Resp>,
{
    futures_util::future::join_all((0..n).map(|_| f())).await
}

#[tokio::test]
async fn per_phone_hourly_limit_refuses_the_sixth_send_even_after_codes_expire() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    for _ in 0..5 {
        assert_eq!(app.send_code(PHONE).await.status, 200);
        app.advance(121);
    }
    let r = app.send_code(PHONE).await;
    r.assert_error(429, "RateLimit");
    assert_eq!(
        r.message(),
        "You are trying so frequently, please slow down"
    );
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 3600, "{retry}");
    assert_eq!(app.sms.count(), 5);
    // Another phone is not affected.
    assert_eq!(app.send_code("+8613800138001").await.status, 200);
    // After the hour, the phone may receive codes again.
    app.advance(3600);
    assert_eq!(app.send_code(PHONE).await.status, 200);
}

#[tokio::test]
async fn per_ip_limit_applies_across_phones_and_zero_switches_it_off() {
    let app = spawn_app_with(|s| s.limits.send_per_ip_hour = 3).await;
    app.setup_sms(true).await;
    for i in 0..3 {
        assert_eq!(
            app.send_code(&format!("+861380013800{i}")).await.status,
            200
        );
    }
    app.send_code("+8613800138009")
        .await
        .assert_error(429, "RateLimit");

    let unlimited = spawn_app_with(|s| {
        s.limits.send_per_ip_hour = 0;
        s.limits.send_per_phone_hour = 0;
        s.limits.send_per_phone_day = 0;
    })
    .await;
    unlimited.setup_sms(true).await;
    for i in 0..25 {
        // Numbers of different prefixes: pumping detection would stop 25 unverified codes to
        // one prefix, and is not what this test is about.
        let r = unlimited.send_code(&format!("+86138{i:04}1380")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
}

#[tokio::test]
async fn global_budget_and_country_allow_list() {
    let app = spawn_app_with(|s| {
        s.limits.global_send_hour = 2;
        s.limits.allowed_countries = vec!["CN".into()];
    })
    .await;
    app.setup_sms(true).await;
    // Outside the allow-list: refused before anything is sent or counted.
    app.send_code("+14155552671")
        .await
        .assert_error(400, "DESTINATION_NOT_ALLOWED");
    assert_eq!(app.send_code("+8613800138001").await.status, 200);
    assert_eq!(app.send_code("+8613800138002").await.status, 200);
    app.send_code("+8613800138003")
        .await
        .assert_error(429, "RateLimit");
    assert_eq!(app.sms.count(), 2);
}

#[tokio::test]
async fn provider_answers_map_to_documented_errors_and_the_code_is_unusable() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let cases = [
        (400, 400, "InvalidReceiver"),
        (422, 400, "InvalidReceiver"),
        (429, 429, "RateLimit"),
        (500, 502, "SEND_FAILED"),
        (503, 502, "SEND_FAILED"),
    ];
    for (i, (provider, status, code)) in cases.into_iter().enumerate() {
        app.sms.answer(provider);
        let phone = format!("+86138{i:04}8000");
        let r = app.send_code(&phone).await;
        r.assert_error(status, code);
        // A failed send does not block the next attempt, and its code never verifies.
        let sent = app.sms.last_code(&phone);
        app.sign_in_sms(&phone, &sent)
            .await
            .assert_error(400, "InvalidVerificationCode");
        app.sms.answer(0);
        assert_eq!(app.send_code(&phone).await.status, 200);
    }
    let zh = app
        .post(
            "smsOTP:publicCreate",
            json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": "+8613800138009"}),
            &[("X-Locale", "zh-CN")],
        )
        .await;
    assert_eq!(zh.status, 200);
    app.sms.answer(500);
    let zh = app
        .post(
            "smsOTP:publicCreate",
            json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": "+8613800138008"}),
            &[("X-Locale", "zh-CN")],
        )
        .await;
    assert_eq!(zh.message(), "验证码发送失败，请稍后重试或联系管理员");
}

#[tokio::test]
async fn provider_timeout_is_send_failed() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    app.sms
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    app.send_code(PHONE).await.assert_error(502, "SEND_FAILED");
}

#[tokio::test]
async fn legacy_verifications_create_sends_through_the_default_verifier() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let r = app
        .post(
            "verifications:create",
            json!({"type": "auth:signIn", "phone": "13800138000"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.sms.count(), 1);
    app.post(
        "verifications:create",
        json!({"type": "nope", "phone": PHONE}),
        &[],
    )
    .await
    .assert_error(400, "INVALID_ACTION");
}
