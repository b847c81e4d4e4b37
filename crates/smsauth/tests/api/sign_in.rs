//! `auth:signIn` with an SMS authenticator: SPEC §3.3, §4.2, §5.1 and §7.

use serde_json::json;

use crate::helpers::{PHONE, spawn_app, spawn_app_with};
use crate::send_code::futures_join;

#[tokio::test]
async fn sms_sign_in_creates_a_user_with_the_default_role_and_returns_a_token() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    app.send_code(PHONE).await;
    let r = app.sign_in_sms(PHONE, &app.sms.last_code(PHONE)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let user = &r.body["data"]["user"];
    assert_eq!(user["phone"], PHONE);
    assert_eq!(user["nickname"], PHONE);
    assert_eq!(user["roles"][0]["name"], "member");
    assert!(user.get("passwordHash").is_none() && user.get("password_hash").is_none());
    let token = r.body["data"]["token"].as_str().unwrap();
    let me = app.check(token).await;
    assert_eq!(me.body["data"]["id"], user["id"]);
}

#[tokio::test]
async fn national_and_international_formats_are_one_user() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let mut ids = Vec::new();
    for (send_as, sign_in_as) in [
        ("13800138000", "+86 138-0013-8000"),
        ("+8613800138000", "138 0013 8000"),
        ("+86 (138) 0013-8000", "+8613800138000"),
    ] {
        assert_eq!(app.send_code(send_as).await.status, 200);
        let r = app.sign_in_sms(sign_in_as, &app.sms.last_code(PHONE)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        ids.push(r.body["data"]["user"]["id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
}

#[tokio::test]
async fn hostile_phone_inputs_are_invalid_receiver() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let long = format!("+86{}", "1".repeat(31));
    let inputs = [
        "",
        "   ",
        "+86１３８００１３８０００",
        "+86138\u{200B}00138000",
        "+86138\u{202E}00138000",
        "\u{2066}+8613800138000",
        "+8613800138000\u{0}",
        "abc",
        "+1-800-FLOWERS",
        long.as_str(),
        "١٣٨٠٠١٣٨٠٠٠",
    ];
    for input in inputs {
        app.send_code(input)
            .await
            .assert_error(400, "InvalidReceiver");
        app.sign_in_sms(input, "123456")
            .await
            .assert_error(400, "InvalidReceiver");
    }
    // Wrong JSON types for the phone are the same answer, not a 500.
    for uuid in [
        json!(13800138000u64),
        json!(["+8613800138000"]),
        json!({"a": 1}),
        json!(true),
    ] {
        let r = app
            .post(
                "smsOTP:publicCreate",
                json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": uuid}),
                &[],
            )
            .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
    }
    assert_eq!(app.sms.count(), 0);
}

#[tokio::test]
async fn sign_in_error_table() {
    // Codes reach phones without an account (SPEC §15.1), so PHONE_NOT_REGISTERED can be seen.
    let app = spawn_app_with(|s| s.sms_policy = json!({"sendWithoutAccount": true})).await;
    let token = app.setup_sms(false).await;
    let sign_in = |auth: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            app.post("auth:signIn", body, &[("X-Authenticator", auth)])
                .await
        }
    };
    sign_in("nope", json!({"uuid": PHONE, "code": "123456"}))
        .await
        .assert_error(400, "AUTHENTICATOR_NOT_FOUND");
    sign_in("sms", json!({"code": "123456"}))
        .await
        .assert_error(400, "InvalidReceiver");
    sign_in("sms", json!({"uuid": "12", "code": "123456"}))
        .await
        .assert_error(400, "InvalidReceiver");
    sign_in("sms", json!({"uuid": PHONE}))
        .await
        .assert_error(400, "InvalidVerificationCode");
    sign_in("sms", json!({"uuid": PHONE, "code": "123456"}))
        .await
        .assert_error(400, "InvalidVerificationCode");
    // Unregistered phone with auto sign-up off: the code is consumed, then 401.
    app.send_code(PHONE).await;
    let code = app.sms.last_code(PHONE);
    let r = sign_in("sms", json!({"uuid": PHONE, "code": code})).await;
    r.assert_error(401, "PHONE_NOT_REGISTERED");
    assert_eq!(
        r.message(),
        "The phone number is not registered, please register first"
    );
    sign_in("sms", json!({"uuid": PHONE, "code": code}))
        .await
        .assert_error(400, "InvalidVerificationCode");
    let zh = app
        .post(
            "auth:signIn",
            json!({"uuid": PHONE, "code": "000000"}),
            &[("X-Authenticator", "sms"), ("X-Locale", "zh-CN")],
        )
        .await;
    assert_eq!(zh.message(), "无效的验证码");
    // A disabled authenticator is refused, not silently replaced by another.
    let list = app.admin(&token, "authenticators:list", json!({})).await;
    let sms_id = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "sms")
        .unwrap()["id"]
        .clone();
    let r = app
        .admin(
            &token,
            &format!("authenticators:update?filterByTk={sms_id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = sign_in("sms", json!({"uuid": PHONE, "code": "123456"})).await;
    r.assert_error(400, "AUTHENTICATOR_NOT_FOUND");
    let nl = app
        .post(
            "auth:signIn",
            json!({}),
            &[
                ("X-Authenticator", "sms"),
                ("Accept-Language", "nl-NL,nl;q=0.9"),
            ],
        )
        .await;
    assert_eq!(nl.message(), "Authenticator niet gevonden of uitgeschakeld");
}

#[tokio::test]
async fn sms_authenticator_without_any_usable_verifier_is_invalid_verifier() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let r = app.admin(&token, "authenticators:create", json!({"name": "sms2", "authType": "SMS", "enabled": true, "options": {"public": {"autoSignup": true}}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(
            "auth:signIn",
            json!({"uuid": PHONE, "code": "123456"}),
            &[("X-Authenticator", "sms2")],
        )
        .await;
    r.assert_error(400, "INVALID_VERIFIER");
}

#[tokio::test]
async fn expired_codes_and_codes_from_another_verifier_are_invalid() {
    let app = spawn_app().await;
    let token = app.setup_sms(true).await;
    app.send_code(PHONE).await;
    let code = app.sms.last_code(PHONE);
    app.advance(121);
    app.sign_in_sms(PHONE, &code)
        .await
        .assert_error(400, "InvalidVerificationCode");
    // A second verifier: a code sent through it does not sign in through `sms`.
    let r = app.admin(&token, "verifiers:create", json!({"name": "other", "options": {"provider": "webhook", "settings": {"url": app.sms_url, "secret": crate::helpers::WEBHOOK_SECRET}}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(
            "smsOTP:publicCreate",
            json!({"action": "auth:signIn", "verifier": "other", "uuid": PHONE}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let other_code = app.sms.last_code(PHONE);
    // `verifier` in the body is ignored: the authenticator's own verifier decides.
    let r = app
        .post(
            "auth:signIn",
            json!({"uuid": PHONE, "code": other_code, "verifier": "other"}),
            &[("X-Authenticator", "sms")],
        )
        .await;
    r.assert_error(400, "InvalidVerificationCode");
}

#[tokio::test]
async fn sixteen_concurrent_submissions_of_one_code_have_exactly_one_winner() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    app.send_code(PHONE).await;
    let code = app.sms.last_code(PHONE);
    let results = futures_join(16, || app.sign_in_sms(PHONE, &code)).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.status != 200)
            .all(|r| r.status == 400 && r.code() == "InvalidVerificationCode")
    );
}

#[tokio::test]
async fn five_wrong_codes_then_429_even_for_the_right_code_and_the_count_survives_a_resend() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    app.send_code(PHONE).await;
    let code = app.sms.last_code(PHONE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        app.sign_in_sms(PHONE, wrong)
            .await
            .assert_error(400, "InvalidVerificationCode");
    }
    let r = app.sign_in_sms(PHONE, &code).await;
    r.assert_error(429, "TooManyAttempts");
    assert_eq!(
        r.message(),
        "Too many failed attempts. Please request a new verification code."
    );
    // An exhausted code does not block a new one, but the phone's back-off does not reset.
    let r = app.send_code(PHONE).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let code = app.sms.last_code(PHONE);
    let r = app.sign_in_sms(PHONE, &code).await;
    r.assert_error(429, "TooManyAttempts");
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    app.advance(31);
    // One more failure doubles the delay to 60 s.
    app.sign_in_sms(PHONE, if code == "000000" { "111111" } else { "000000" })
        .await
        .assert_error(400, "InvalidVerificationCode");
    let r = app.sign_in_sms(PHONE, &code).await;
    r.assert_error(429, "TooManyAttempts");
    let retry: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((31..=60).contains(&retry), "{retry}");
    app.advance(61);
    let r = app.sign_in_sms(PHONE, &code).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Success reset the phone's counter: the next wrong code is a plain 400.
    app.advance(121);
    app.send_code(PHONE).await;
    app.sign_in_sms(PHONE, "999999")
        .await
        .assert_error(400, "InvalidVerificationCode");
}

#[tokio::test]
async fn existing_user_with_that_phone_is_signed_in_and_linked_even_without_auto_signup() {
    let app = spawn_app().await;
    let token = app.setup_sms(false).await;
    let r = app
        .admin(
            &token,
            "users:create",
            json!({"nickname": "Alice", "phone": "138 0013 8000"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["phone"], PHONE);
    let alice = r.body["data"]["id"].clone();
    app.send_code(PHONE).await;
    let r = app.sign_in_sms(PHONE, &app.sms.last_code(PHONE)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["user"]["id"], alice);
    let uuid = app
        .db()
        .await
        .fetch_string("SELECT uuid FROM users_authenticators WHERE authenticator = 'sms'")
        .await;
    assert_eq!(uuid, PHONE);
}

#[tokio::test]
async fn legacy_phone_body_and_default_verifier_work() {
    let app = spawn_app().await;
    let token = app.setup_sms(true).await;
    // An old-style authenticator with only autoSignup uses the default (here: only) verifier.
    let r = app.admin(&token, "authenticators:create", json!({"name": "legacy", "authType": "SMS", "enabled": true, "options": {"public": {"autoSignup": true}}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.post(
        "verifications:create",
        json!({"type": "auth:signIn", "phone": PHONE}),
        &[],
    )
    .await;
    let r = app
        .post(
            "auth:signIn",
            json!({"phone": PHONE, "code": app.sms.last_code(PHONE)}),
            &[("X-Authenticator", "legacy")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}
