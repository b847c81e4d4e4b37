//! Admin resources: ACL, authenticators, verifiers, token policy and users (SPEC §3, §6).

use serde_json::{Value, json};

use crate::helpers::{PHONE, WEBHOOK_SECRET, spawn_app};

#[tokio::test]
async fn members_get_403_and_anonymous_callers_401_on_admin_actions() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let member = app.sms_token(PHONE).await;
    for action in [
        "authenticators:list",
        "authenticators:listTypes",
        "verifiers:list",
        "users:list",
        "tokenControlConfig:get",
        "smsOTPProviders:list",
        "verifiers:listByScene",
    ] {
        let r = app.admin(&member, action, json!({})).await;
        r.assert_error(403, "FORBIDDEN");
        assert_eq!(r.message(), "No permissions");
        app.get(action, &[]).await.assert_error(401, "EMPTY_TOKEN");
    }
    let nl = app
        .post(
            "users:list",
            json!({}),
            &[
                ("Authorization", &format!("Bearer {member}")),
                ("X-Locale", "nl-NL"),
            ],
        )
        .await;
    assert_eq!(nl.message(), "Geen rechten");
}

#[tokio::test]
async fn public_list_flattens_public_options_and_hides_private_ones() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let r = app.admin(&admin, "authenticators:create", json!({"name": "hidden", "authType": "SMS", "enabled": false, "options": {"public": {"autoSignup": false}}})).await;
    assert_eq!(r.status, 200);
    let r = app
        .admin(
            &admin,
            "authenticators:update?filterByTk=1",
            json!({"options": {"public": {"allowSignUp": false}, "secretThing": "do-not-show"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // NocoBase's client posts publicList with `{}`.
    let r = app.post("authenticators:publicList", json!({}), &[]).await;
    let list = r.body["data"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let sms = list.iter().find(|a| a["name"] == "sms").unwrap();
    assert_eq!(sms["authType"], "SMS");
    assert_eq!(sms["authTypeTitle"], "SMS");
    assert_eq!(
        sms["options"],
        json!({"verifier": "sms-webhook", "autoSignup": true})
    );
    assert!(!r.body.to_string().contains("do-not-show"));
    let types = app
        .get(
            "authenticators:listTypes",
            &[("Authorization", &format!("Bearer {admin}"))],
        )
        .await;
    assert_eq!(
        types.body["data"],
        json!([{"name": "Email/Password", "title": "Password"}, {"name": "SMS", "title": "SMS"}])
    );
}

#[tokio::test]
async fn the_last_enabled_authenticator_cannot_be_disabled_or_destroyed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app
        .admin(
            &admin,
            "authenticators:update?filterByTk=1",
            json!({"enabled": false}),
        )
        .await;
    r.assert_error(400, "LAST_AUTHENTICATOR");
    assert_eq!(
        r.message(),
        "Please keep and enable at least one authenticator"
    );
    app.admin(&admin, "authenticators:destroy?filterByTk=1", json!({}))
        .await
        .assert_error(400, "LAST_AUTHENTICATOR");
    let zh = app
        .post(
            "authenticators:destroy?filterByTk=1",
            json!({}),
            &[
                ("Authorization", &format!("Bearer {admin}")),
                ("X-Locale", "zh-CN"),
            ],
        )
        .await;
    assert_eq!(zh.message(), "请至少保留并启用一个认证器");
    let r = app
        .get(
            "authenticators:get?filterByTk=1",
            &[("Authorization", &format!("Bearer {admin}"))],
        )
        .await;
    assert_eq!(r.body["data"]["enabled"], true);
    // With a second enabled one, the first may go.
    let r = app
        .admin(
            &admin,
            "authenticators:create",
            json!({"name": "pw2", "authType": "Email/Password", "enabled": true}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.admin(&admin, "authenticators:destroy?filterByTk=1", json!({}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn authenticator_create_validation_duplicates_and_move() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    app.admin(
        &admin,
        "authenticators:create",
        json!({"name": "sms", "authType": "SMS"}),
    )
    .await
    .assert_error(400, "DUPLICATE");
    app.admin(
        &admin,
        "authenticators:create",
        json!({"name": "x", "authType": "Carrier Pigeon"}),
    )
    .await
    .assert_error(400, "INVALID_AUTH_TYPE");
    app.admin(
        &admin,
        "authenticators:create",
        json!({"name": "bad name!", "authType": "SMS"}),
    )
    .await
    .assert_error(400, "INVALID_NAME");
    app.admin(
        &admin,
        "authenticators:create",
        json!({"name": "x", "authType": "SMS", "options": {"public": {"verifier": "missing"}}}),
    )
    .await
    .assert_error(400, "INVALID_VERIFIER");
    app.admin(
        &admin,
        "authenticators:create",
        json!({"name": "x", "authType": "SMS", "enabled": "yes"}),
    )
    .await
    .assert_error(400, "INVALID_FIELD");
    app.admin(&admin, "authenticators:get?filterByTk=999", json!({}))
        .await
        .assert_error(404, "NOT_FOUND");
    app.admin(&admin, "authenticators:get?filterByTk=abc", json!({}))
        .await
        .assert_error(400, "INVALID_FIELD");
    let names = |r: &crate::helpers::Resp| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    let before = app.admin(&admin, "authenticators:list", json!({})).await;
    assert_eq!(names(&before), ["basic", "sms"]);
    assert_eq!(before.body["meta"]["count"], 2);
    let ids: Vec<Value> = before.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    let r = app
        .admin(
            &admin,
            "authenticators:move",
            json!({"sourceId": ids[1], "targetId": ids[0]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let after = app.admin(&admin, "authenticators:list", json!({})).await;
    assert_eq!(names(&after), ["sms", "basic"]);
    let public = app.post("authenticators:publicList", json!({}), &[]).await;
    assert_eq!(public.body["data"][0]["name"], "sms");
}

#[tokio::test]
async fn verifier_secrets_are_masked_and_kept_when_the_mask_is_sent_back() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let r = app.admin(&admin, "verifiers:list", json!({})).await;
    let v = &r.body["data"][0];
    assert_eq!(v["options"]["settings"]["secret"], "******");
    assert!(!r.body.to_string().contains(WEBHOOK_SECRET));
    let r = app
        .get(
            "verifiers:get?filterByTk=sms-webhook",
            &[("Authorization", &format!("Bearer {admin}"))],
        )
        .await;
    let mut options = r.body["data"]["options"].clone();
    assert_eq!(options["settings"]["secret"], "******");
    options["settings"]["timeoutMs"] = json!(2000);
    let r = app
        .admin(
            &admin,
            "verifiers:update?filterByTk=sms-webhook",
            json!({"title": "Renamed", "options": options}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["title"], "Renamed");
    // The stored secret survived: the fake gateway still accepts the signature.
    assert_eq!(app.send_code(PHONE).await.status, 200);
    assert_eq!(
        app.sms
            .bad_signatures
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn verifier_settings_are_validated_and_used_verifiers_cannot_be_destroyed() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let r = app
        .admin(
            &admin,
            "verifiers:create",
            json!({"name": "w2", "options": {"provider": "webhook", "settings": {}}}),
        )
        .await;
    r.assert_error(400, "INVALID_PROVIDER_SETTINGS");
    assert!(r.message().contains("url"), "{}", r.message());
    app.admin(
        &admin,
        "verifiers:create",
        json!({"name": "w2", "options": {"provider": "webhook", "settings": {"url": "ftp://x"}}}),
    )
    .await
    .assert_error(400, "INVALID_PROVIDER_SETTINGS");
    app.admin(
        &admin,
        "verifiers:create",
        json!({"name": "w2", "options": {"provider": "nope"}}),
    )
    .await
    .assert_error(400, "INVALID_PROVIDER_SETTINGS");
    app.admin(
        &admin,
        "verifiers:create",
        json!({"name": "bad/name", "options": {"provider": "console"}}),
    )
    .await
    .assert_error(400, "INVALID_NAME");
    app.admin(
        &admin,
        "verifiers:create",
        json!({"name": "sms-webhook", "options": {"provider": "console"}}),
    )
    .await
    .assert_error(400, "DUPLICATE");
    let r = app
        .admin(
            &admin,
            "verifiers:destroy?filterByTk=sms-webhook",
            json!({}),
        )
        .await;
    r.assert_error(400, "VERIFIER_IN_USE");
    assert!(r.message().contains("sms"), "{}", r.message());
    // Default flag: at most one per type.
    assert_eq!(
        app.admin(
            &admin,
            "verifiers:create",
            json!({"name": "c1", "isDefault": true, "options": {"provider": "console"}})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.admin(
            &admin,
            "verifiers:create",
            json!({"name": "c2", "isDefault": true, "options": {"provider": "console"}})
        )
        .await
        .status,
        200
    );
    let list = app.admin(&admin, "verifiers:list", json!({})).await;
    let defaults: Vec<&Value> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["isDefault"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["name"], "c2");
    assert_eq!(
        app.admin(&admin, "verifiers:destroy?filterByTk=c1", json!({}))
            .await
            .status,
        200
    );
    let scene = app
        .admin(&admin, "verifiers:listByScene?scene=auth-sms", json!({}))
        .await;
    assert_eq!(
        scene.body["data"]["availableTypes"],
        json!([{"name": "sms-otp", "title": "SMS OTP"}])
    );
    assert_eq!(scene.body["data"]["verifiers"].as_array().unwrap().len(), 2);
    let providers = app.admin(&admin, "smsOTPProviders:list", json!({})).await;
    let names: Vec<&str> = providers.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["console", "webhook", "sms-aliyun", "sms-tencent", "twilio"]
    );
    let aliyun = &providers.body["data"][2]["settings"];
    assert!(
        aliyun
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "accessKeySecret"
                && f["secret"] == true
                && f["required"] == true),
        "{aliyun}"
    );
}

#[tokio::test]
async fn token_policy_get_update_and_validation() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app
        .get(
            "tokenControlConfig:get?filterByTk=token-policy-config",
            &[("Authorization", &format!("Bearer {admin}"))],
        )
        .await;
    assert_eq!(
        r.body["data"]["config"],
        json!({"tokenExpirationTime": "1d", "sessionExpirationTime": "7d", "expiredTokenRenewLimit": "1d"})
    );
    let r = app
        .admin(
            &admin,
            "tokenControlConfig:update?filterByTk=token-policy-config",
            json!({"config": {"tokenExpirationTime": "8d"}}),
        )
        .await;
    r.assert_error(400, "INVALID_TOKEN_POLICY");
    app.admin(
        &admin,
        "tokenControlConfig:update",
        json!({"config": {"tokenExpirationTime": "soon"}}),
    )
    .await
    .assert_error(400, "INVALID_TOKEN_POLICY");
    let r = app
        .admin(
            &admin,
            "tokenControlConfig:update",
            json!({"config": {"tokenExpirationTime": "2h"}}),
        )
        .await;
    assert_eq!(r.body["data"]["config"]["tokenExpirationTime"], "2h");
}

#[tokio::test]
async fn users_crud_never_returns_password_hashes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app.admin(&admin, "users:create", json!({"username": "bob", "email": "bob@example.com", "password": "bobs-password", "phone": "+8613800138001", "roles": ["admin"]})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["data"]["id"].clone();
    assert_eq!(r.body["data"]["roles"][0]["name"], "admin");
    app.admin(
        &admin,
        "users:create",
        json!({"username": "bob2", "phone": "+8613800138001"}),
    )
    .await
    .assert_error(400, "DUPLICATE");
    app.admin(
        &admin,
        "users:create",
        json!({"username": "bob3", "phone": "12"}),
    )
    .await
    .assert_error(400, "InvalidReceiver");
    app.admin(
        &admin,
        "users:create",
        json!({"username": "bob4", "roles": ["emperor"]}),
    )
    .await
    .assert_error(400, "INVALID_FIELD");
    let list = app
        .get(
            "users:list?pageSize=1&page=2",
            &[("Authorization", &format!("Bearer {admin}"))],
        )
        .await;
    assert_eq!(
        list.body["meta"],
        json!({"count": 2, "page": 2, "pageSize": 1, "totalPage": 2})
    );
    let search = app
        .get(
            "users:list?filter=%7B%22phone%22%3A%7B%22%24includes%22%3A%228001%22%7D%7D",
            &[("Authorization", &format!("Bearer {admin}"))],
        )
        .await;
    assert_eq!(search.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(search.body["data"][0]["username"], "bob");
    let r = app
        .admin(
            &admin,
            &format!("users:update?filterByTk={id}"),
            json!({"nickname": "Bobby", "email": ""}),
        )
        .await;
    assert_eq!(r.body["data"]["nickname"], "Bobby");
    assert_eq!(r.body["data"]["email"], Value::Null);
    for body in [&list.body, &search.body, &r.body] {
        let text = body.to_string();
        assert!(
            !text.contains("argon2") && !text.to_lowercase().contains("password"),
            "{text}"
        );
    }
    // bob is an admin now and can sign in with the password.
    let r = app
        .post(
            "auth:signIn",
            json!({"account": "bob", "password": "bobs-password"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        app.admin(&admin, &format!("users:destroy?filterByTk={id}"), json!({}))
            .await
            .status,
        200
    );
    app.admin(&admin, &format!("users:get?filterByTk={id}"), json!({}))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn an_admin_cannot_grant_root_or_touch_the_root_user() {
    let app = spawn_app().await;
    let root = app.admin_token().await;
    let r = app
        .admin(
            &root,
            "users:create",
            json!({"username": "ada", "password": "adas-password", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ada = app
        .post(
            "auth:signIn",
            json!({"account": "ada", "password": "adas-password"}),
            &[],
        )
        .await
        .body["data"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let root_id = app.check(&root).await.body["data"]["id"].clone();
    app.admin(
        &ada,
        "users:create",
        json!({"username": "eve", "roles": ["root"]}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    app.admin(
        &ada,
        &format!("users:update?filterByTk={root_id}"),
        json!({"roles": ["member"]}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    app.admin(
        &ada,
        &format!("users:destroy?filterByTk={root_id}"),
        json!({}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    app.admin(
        &ada,
        &format!("users:revokeSessions?filterByTk={root_id}"),
        json!({}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    assert_eq!(app.check(&root).await.status, 200);
    // Ordinary users remain hers to manage.
    let r = app
        .admin(
            &ada,
            "users:create",
            json!({"username": "bob", "roles": ["member"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}
