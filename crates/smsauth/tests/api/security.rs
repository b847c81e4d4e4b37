//! Privilege and session findings of the security audit: authentication configuration is
//! root's (SPEC §3, §6.5), revocation is exact to the millisecond and covers every token of a
//! session (SPEC §5.5), and wrongly typed values are refused (SPEC §15.7).

use serde_json::{Value, json};

use crate::helpers::{PHONE, ROOT_PASSWORD, TestApp, WEBHOOK_SECRET, spawn_app};

/// Root creates an `admin` user `ada`; returns ada's token.
async fn admin_ada(app: &TestApp, root: &str) -> String {
    let r = app
        .admin(
            root,
            "users:create",
            json!({"username": "ada", "password": "adas-password", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    password_token(app, "ada", "adas-password").await
}

async fn password_token(app: &TestApp, account: &str, password: &str) -> String {
    let r = app
        .post(
            "auth:signIn",
            json!({"account": account, "password": password}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"]["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn an_admin_cannot_become_root_through_a_verifier_or_authenticator_of_their_own() {
    let app = spawn_app().await;
    let root = app.setup_sms(false).await;
    let root_id = app.check(&root).await.body["data"]["id"].clone();
    let r = app
        .admin(
            &root,
            &format!("users:update?filterByTk={root_id}"),
            json!({"phone": PHONE}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ada = admin_ada(&app, &root).await;

    // The audited attack: a verifier pointing at the admin's own gateway, an SMS authenticator
    // using it, a code sent to root's phone through it.
    let evil = json!({
        "name": "evil", "verificationType": "sms-otp",
        "options": {"provider": "webhook", "settings": {"url": app.sms_url, "secret": WEBHOOK_SECRET}},
    });
    app.admin(&ada, "verifiers:create", evil)
        .await
        .assert_error(403, "FORBIDDEN");
    let evil_auth = json!({
        "name": "evil-sms", "authType": "SMS", "enabled": true,
        "options": {"public": {"verifier": "sms-webhook", "autoSignup": true}},
    });
    app.admin(&ada, "authenticators:create", evil_auth)
        .await
        .assert_error(403, "FORBIDDEN");
    // Redirecting the existing verifier to another gateway is the same attack.
    let redirect =
        json!({"options": {"provider": "webhook", "settings": {"url": "http://127.0.0.1:9/x"}}});
    app.admin(&ada, "verifiers:update?filterByTk=sms-webhook", redirect)
        .await
        .assert_error(403, "FORBIDDEN");
    let sms_id = app
        .admin(&root, "authenticators:list", json!({}))
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "sms")
        .unwrap()["id"]
        .clone();
    let basic_id = app
        .admin(&root, "authenticators:list", json!({}))
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "basic")
        .unwrap()["id"]
        .clone();
    for (action, body) in [
        (
            format!("authenticators:update?filterByTk={sms_id}"),
            json!({"options": {"public": {"verifier": "sms-webhook", "autoSignup": true}}}),
        ),
        (
            format!("authenticators:update?filterByTk={basic_id}"),
            json!({"enabled": false}),
        ),
        (
            format!("authenticators:destroy?filterByTk={sms_id}"),
            json!({}),
        ),
        (
            "authenticators:move".to_string(),
            json!({"sourceId": sms_id, "targetId": basic_id}),
        ),
        (
            "verifiers:destroy?filterByTk=sms-webhook".to_string(),
            json!({}),
        ),
        (
            "tokenControlConfig:update?filterByTk=token-policy-config".to_string(),
            json!({"config": {"tokenExpirationTime": "365d"}}),
        ),
    ] {
        app.admin(&ada, &action, body)
            .await
            .assert_error(403, "FORBIDDEN");
    }
    // Other ways to root: granting it (also as role objects), or taking root's phone.
    let ada_id = app.check(&ada).await.body["data"]["id"].clone();
    for roles in [json!(["admin", "root"]), json!([{"name": "root"}])] {
        app.admin(
            &ada,
            &format!("users:update?filterByTk={ada_id}"),
            json!({"roles": roles}),
        )
        .await
        .assert_error(403, "FORBIDDEN");
    }
    app.admin(
        &ada,
        &format!("users:update?filterByTk={ada_id}"),
        json!({"phone": PHONE}),
    )
    .await
    .assert_error(400, "DUPLICATE");
    app.admin(
        &ada,
        &format!("users:update?filterByTk={root_id}"),
        json!({"password": "adas-password-2"}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    // Nothing changed: the verifier still points at the root-configured gateway, ada is admin.
    let v = app
        .admin(&root, "verifiers:get?filterByTk=sms-webhook", json!({}))
        .await;
    assert_eq!(v.body["data"]["options"]["settings"]["url"], app.sms_url);
    let me = app.check(&ada).await;
    let roles: Vec<&str> = me.body["data"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["admin"]);
    // Admins may still read the configuration, secrets masked.
    for action in [
        "authenticators:list",
        "verifiers:list",
        "tokenControlConfig:get?filterByTk=token-policy-config",
    ] {
        let r = app.admin(&ada, action, json!({})).await;
        assert_eq!(r.status, 200, "{action}: {:?}", r.body);
    }
    let listed = app.admin(&ada, "verifiers:list", json!({})).await;
    assert_eq!(
        listed.body["data"][0]["options"]["settings"]["secret"],
        "******"
    );
    // And root still can write it.
    let r = app
        .admin(
            &root,
            "tokenControlConfig:update?filterByTk=token-policy-config",
            json!({"config": {"tokenExpirationTime": "2d"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn revoking_sessions_voids_tokens_issued_in_the_same_second() {
    let app = spawn_app().await;
    let root = app.setup_sms(true).await;
    // The test clock does not move: token and revocation fall in one second, one millisecond.
    let token = app.sms_token(PHONE).await;
    let id = app.check(&token).await.body["data"]["id"].clone();
    let r = app
        .admin(
            &root,
            &format!("users:revokeSessions?filterByTk={id}"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.check(&token).await.assert_error(401, "INVALID_TOKEN");
    // A sign-in after the revocation works.
    app.advance(121);
    let again = app.sms_token(PHONE).await;
    assert_eq!(app.check(&again).await.status, 200);
}

#[tokio::test]
async fn a_password_change_voids_every_earlier_token_even_in_the_same_second() {
    let app = spawn_app().await;
    let first = app.admin_token().await;
    let second = app.admin_token().await;
    let r = app
        .post(
            "auth:changePassword",
            json!({"oldPassword": ROOT_PASSWORD, "newPassword": "a-new-root-password", "confirmPassword": "a-new-root-password"}),
            &[("Authorization", &format!("Bearer {first}"))],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let fresh = r.body["data"]["token"].as_str().unwrap().to_string();
    app.check(&first).await.assert_error(401, "INVALID_TOKEN");
    app.check(&second).await.assert_error(401, "INVALID_TOKEN");
    assert_eq!(app.check(&fresh).await.status, 200);
}

#[tokio::test]
async fn an_admin_setting_a_password_voids_the_users_tokens() {
    let app = spawn_app().await;
    let root = app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    let id = app.check(&token).await.body["data"]["id"].clone();
    let r = app
        .admin(
            &root,
            &format!("users:update?filterByTk={id}"),
            json!({"password": "set-by-an-admin"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.check(&token).await.assert_error(401, "INVALID_TOKEN");
}

#[tokio::test]
async fn signing_out_a_renewed_token_ends_the_token_it_was_renewed_from() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let old = app.sms_token(PHONE).await;
    app.advance(86_400 + 5);
    let r = app.check(&old).await;
    let renewed = r.header("x-new-token").unwrap().to_string();
    let r = app
        .post(
            "auth:signOut",
            json!({}),
            &[("Authorization", &format!("Bearer {renewed}"))],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Still inside the 10 s grace window of the renewal.
    app.advance(2);
    let r = app.check(&old).await;
    r.assert_error(401, "TOKEN_RENEW_FAILED");
    assert!(r.header("x-new-token").is_none());
    app.check(&renewed).await.assert_error(401, "BLOCKED_TOKEN");
}

#[tokio::test]
async fn signing_out_with_the_old_token_inside_the_grace_window_ends_the_session() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let old = app.sms_token(PHONE).await;
    app.advance(86_400 + 5);
    let renewed = app
        .check(&old)
        .await
        .header("x-new-token")
        .unwrap()
        .to_string();
    let r = app
        .post(
            "auth:signOut",
            json!({}),
            &[("Authorization", &format!("Bearer {old}"))],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.check(&renewed).await.assert_error(401, "BLOCKED_TOKEN");
    app.check(&old)
        .await
        .assert_error(401, "TOKEN_RENEW_FAILED");
}

#[tokio::test]
async fn wrongly_typed_values_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let root = app.setup_sms(true).await;
    let policy = "tokenControlConfig:update?filterByTk=token-policy-config";
    let before = app
        .admin(
            &root,
            "tokenControlConfig:get?filterByTk=token-policy-config",
            json!({}),
        )
        .await
        .body;
    for config in [json!("x"), json!([1, 2]), json!(7), json!(true)] {
        app.admin(&root, policy, json!({ "config": config }))
            .await
            .assert_error(400, "INVALID_TOKEN_POLICY");
    }
    app.admin(
        &root,
        policy,
        json!({"config": {"tokenExpirationTime": 3600}}),
    )
    .await
    .assert_error(400, "INVALID_TOKEN_POLICY");
    let after = app
        .admin(
            &root,
            "tokenControlConfig:get?filterByTk=token-policy-config",
            json!({}),
        )
        .await
        .body;
    assert_eq!(before, after);

    let count = |r: &crate::helpers::Resp| r.body["meta"]["count"].clone();
    let users_before = count(&app.admin(&root, "users:list", json!({})).await);
    for body in [
        json!({}),
        json!({"nickname": "nobody"}),
        json!({"username": "", "email": ""}),
    ] {
        let r = app.admin(&root, "users:create", body).await;
        r.assert_error(400, "MISSING_IDENTIFIER");
    }
    app.admin(&root, "users:create", json!({"username": 7}))
        .await
        .assert_error(400, "INVALID_FIELD");
    app.admin(
        &root,
        "users:create",
        json!({"username": "x", "roles": "admin"}),
    )
    .await
    .assert_error(400, "INVALID_FIELD");
    assert_eq!(
        count(&app.admin(&root, "users:list", json!({})).await),
        users_before
    );
    // An update may not clear the last identifier either.
    let r = app
        .admin(&root, "users:create", json!({"username": "solo"}))
        .await;
    let id = r.body["data"]["id"].clone();
    app.admin(
        &root,
        &format!("users:update?filterByTk={id}"),
        json!({"username": ""}),
    )
    .await
    .assert_error(400, "MISSING_IDENTIFIER");

    app.admin(
        &root,
        "authenticators:create",
        json!({"name": "typed", "authType": "SMS", "options": "x"}),
    )
    .await
    .assert_error(400, "INVALID_FIELD");
    for options in [
        json!({"public": "x"}),
        json!({"public": {"autoSignup": "yes"}}),
        json!({"public": {"verifier": 5}}),
    ] {
        app.admin(
            &root,
            "authenticators:create",
            json!({"name": "typed", "authType": "SMS", "options": options}),
        )
        .await
        .assert_error(400, "INVALID_OPTIONS");
    }
    let names: Vec<Value> = app
        .admin(&root, "authenticators:list", json!({}))
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert!(!names.contains(&json!("typed")));

    for body in [
        json!({"uuid": 8613800138000i64, "code": "123456"}),
        json!({"uuid": PHONE, "code": 123456}),
    ] {
        app.post("auth:signIn", body, &[("X-Authenticator", "sms")])
            .await
            .assert_error(400, "INVALID_FIELD");
    }
    app.post(
        "auth:signIn",
        json!({"account": ["root"], "password": "x"}),
        &[],
    )
    .await
    .assert_error(400, "INVALID_FIELD");
    app.post(
        "smsOTP:publicCreate",
        json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": 8613800138000i64}),
        &[],
    )
    .await
    .assert_error(400, "INVALID_FIELD");
    assert_eq!(app.sms.count(), 0);
}
