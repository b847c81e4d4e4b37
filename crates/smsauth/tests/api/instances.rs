//! Two instances on one store (SPEC §9): with `SMSAUTH_TEST_DATABASE_URL` and
//! `SMSAUTH_TEST_REDIS_URL` these are two servers on PostgreSQL and Redis; without them, two
//! servers on one SQLite file.

use serde_json::json;

use crate::helpers::{PHONE, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_code_sent_through_one_instance_verifies_on_another_and_revocations_are_shared() {
    let a = spawn_app().await;
    let admin = a.setup_sms(true).await;
    let b = a.peer().await;
    assert_eq!(a.send_code(PHONE).await.status, 200);
    // One live code per phone, whichever instance is asked.
    b.send_code(PHONE).await.assert_error(429, "RateLimit");
    let r = b.sign_in_sms(PHONE, &a.sms.last_code(PHONE)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.body["data"]["token"].as_str().unwrap().to_string();
    assert_eq!(a.check(&token).await.status, 200);
    let r = b
        .post(
            "auth:signOut",
            json!({}),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    a.check(&token).await.assert_error(401, "BLOCKED_TOKEN");
    // Configuration changes take effect on the other instance at once.
    let list = a.admin(&admin, "authenticators:list", json!({})).await;
    let sms_id = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "sms")
        .unwrap()["id"]
        .clone();
    a.admin(
        &admin,
        &format!("authenticators:update?filterByTk={sms_id}"),
        json!({"enabled": false}),
    )
    .await;
    b.sign_in_sms(PHONE, "123456")
        .await
        .assert_error(400, "AUTHENTICATOR_NOT_FOUND");
}

#[tokio::test]
async fn concurrent_renewals_on_two_instances_agree() {
    let a = spawn_app().await;
    a.setup_sms(true).await;
    let b = a.peer().await;
    let token = a.sms_token(PHONE).await;
    a.advance(86_400 + 1);
    let mut checks = Vec::new();
    for i in 0..8 {
        let node = if i % 2 == 0 { &a } else { &b };
        checks.push(node.check(&token));
    }
    let results = futures_util::future::join_all(checks).await;
    let renewed: Vec<&str> = results
        .iter()
        .map(|r| r.header("x-new-token").expect("renewed"))
        .collect();
    assert!(renewed.iter().all(|t| *t == renewed[0]), "{renewed:?}");
}

#[tokio::test]
async fn the_attempt_budget_is_shared_when_redis_is_configured() {
    let a = spawn_app_with(|s| s.limits.verify_per_ip_5min = 4).await;
    a.setup_sms(true).await;
    a.advance(300);
    let b = a.peer().await;
    for node in [&a, &b, &a, &b] {
        node.sign_in_sms(PHONE, "123456")
            .await
            .assert_error(400, "InvalidVerificationCode");
    }
    let r = b.sign_in_sms(PHONE, "123456").await;
    if a.settings.redis_url.is_some() {
        r.assert_error(429, "RateLimit");
        a.sign_in_sms(PHONE, "123456")
            .await
            .assert_error(429, "RateLimit");
    } else {
        // Without Redis each instance counts for itself.
        r.assert_error(400, "InvalidVerificationCode");
    }
}
