//! Routing by country, failover on transient failures and the circuit breaker, through the API
//! with two fake gateways.

use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use crate::helpers::{FakeSms, PHONE, TestApp, WEBHOOK_SECRET, spawn_app, spawn_app_with};

fn webhook(url: &str, timeout_ms: u64) -> Value {
    json!({"provider": "webhook", "settings": {"url": url, "secret": WEBHOOK_SECRET, "timeoutMs": timeout_ms}})
}

/// `sms-webhook` (the app's fake) as primary with `backup` (a second fake) as its fallback.
async fn with_backup(app: &TestApp) -> (String, FakeSms) {
    let admin = app.setup_sms(true).await;
    let (backup, backup_url) = FakeSms::start().await;
    let r = app
        .admin(
            &admin,
            "verifiers:create",
            json!({"name": "backup", "options": webhook(&backup_url, 1000)}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut options = webhook(&app.sms_url, 300);
    options["fallbacks"] = json!(["backup"]);
    let r = app
        .admin(
            &admin,
            "verifiers:update?filterByTk=sms-webhook",
            json!({"options": options}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["options"]["fallbacks"], json!(["backup"]));
    (admin, backup)
}

#[tokio::test]
async fn a_timed_out_primary_fails_over_and_the_user_signs_in() {
    let app = spawn_app().await;
    let (_, backup) = with_backup(&app).await;
    app.sms.delay_ms.store(1000, Ordering::SeqCst);
    let r = app.send_code(PHONE).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(backup.count(), 1);
    let r = app.sign_in_sms(PHONE, &backup.last_code(PHONE)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn an_invalid_receiver_answer_does_not_fail_over() {
    let app = spawn_app().await;
    let (_, backup) = with_backup(&app).await;
    app.sms.answer(400);
    app.send_code(PHONE)
        .await
        .assert_error(400, "InvalidReceiver");
    app.sms.answer(429);
    app.send_code("+8613800138001")
        .await
        .assert_error(429, "RateLimit");
    assert_eq!(backup.count(), 0);
}

#[tokio::test]
async fn the_breaker_skips_a_failing_provider_then_lets_a_trial_through() {
    let app = spawn_app_with(|s| {
        s.providers.breaker_failures = 2;
        s.providers.breaker_open_secs = 30;
        s.limits.send_per_ip_hour = 0;
    })
    .await;
    let (_, backup) = with_backup(&app).await;
    app.sms.answer(500);
    for i in 0..2 {
        assert_eq!(
            app.send_code(&format!("+861380013800{i}")).await.status,
            200
        );
    }
    assert_eq!((app.sms.count(), backup.count()), (2, 2));
    // Open: the primary is not called at all.
    assert_eq!(app.send_code("+8613800138002").await.status, 200);
    assert_eq!((app.sms.count(), backup.count()), (2, 3));
    // After the open period one trial goes to the primary, which has recovered.
    app.advance(31);
    app.sms.answer(0);
    assert_eq!(app.send_code("+8613800138003").await.status, 200);
    assert_eq!((app.sms.count(), backup.count()), (3, 3));
    assert_eq!(app.send_code("+8613800138004").await.status, 200);
    assert_eq!((app.sms.count(), backup.count()), (4, 3));
}

#[tokio::test]
async fn with_every_provider_down_the_answer_is_send_failed() {
    let app = spawn_app().await;
    let (_, backup) = with_backup(&app).await;
    app.sms.answer(503);
    backup.answer(500);
    app.send_code(PHONE).await.assert_error(502, "SEND_FAILED");
}

#[tokio::test]
async fn routes_pick_the_provider_by_destination_country() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let (nl, nl_url) = FakeSms::start().await;
    let r = app
        .admin(
            &admin,
            "verifiers:create",
            json!({"name": "nl-gateway", "options": webhook(&nl_url, 1000)}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut options = webhook(&app.sms_url, 1000);
    options["routes"] = json!({"nl": "nl-gateway"});
    let r = app
        .admin(
            &admin,
            "verifiers:update?filterByTk=sms-webhook",
            json!({"options": options}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["data"]["options"]["routes"],
        json!({"NL": "nl-gateway"})
    );
    let dutch = "+31612345678";
    assert_eq!(app.send_code(dutch).await.status, 200);
    assert_eq!(app.send_code(PHONE).await.status, 200);
    assert_eq!((nl.count(), app.sms.count()), (1, 1));
    // The code belongs to the verifier the client named, whichever gateway carried it.
    let r = app.sign_in_sms(dutch, &nl.last_code(dutch)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn fallbacks_and_routes_are_validated() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let update = |options: Value| {
        app.admin(
            &admin,
            "verifiers:update?filterByTk=sms-webhook",
            json!({"options": options}),
        )
    };
    let mut o = webhook(&app.sms_url, 1000);
    o["fallbacks"] = json!(["missing"]);
    update(o.clone())
        .await
        .assert_error(400, "INVALID_PROVIDER_SETTINGS");
    o["fallbacks"] = json!(["sms-webhook"]);
    update(o.clone())
        .await
        .assert_error(400, "INVALID_PROVIDER_SETTINGS");
    o["fallbacks"] = json!("backup");
    update(o.clone())
        .await
        .assert_error(400, "INVALID_PROVIDER_SETTINGS");
    let mut o = webhook(&app.sms_url, 1000);
    o["routes"] = json!({"China": "sms-webhook"});
    let r = update(o.clone()).await;
    r.assert_error(400, "INVALID_PROVIDER_SETTINGS");
    assert!(
        r.message().contains("options.routes.China"),
        "{}",
        r.message()
    );
    o["routes"] = json!({"CN": "missing"});
    update(o)
        .await
        .assert_error(400, "INVALID_PROVIDER_SETTINGS");
}
