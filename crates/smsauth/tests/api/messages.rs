//! SPEC §13: the documented zh-CN and nl-NL texts, produced by real requests.

use serde_json::json;

use crate::helpers::{PHONE, TestApp, spawn_app_with};

/// (code, zh-CN, nl-NL) exactly as SPEC §13 lists them.
const SPEC: &[(&str, &str, &str)] = &[
    (
        "InvalidVerificationCode",
        "无效的验证码",
        "De verificatiecode is ongeldig",
    ),
    (
        "InvalidReceiver",
        "不是有效的手机号，请重新输入",
        "Geen geldig mobiel nummer, voer het opnieuw in",
    ),
    (
        "RateLimitLive",
        "请 120 秒后再试",
        "Probeer het over 120 seconden opnieuw",
    ),
    (
        "RateLimitSlow",
        "您的操作太频繁，请稍后再试",
        "U probeert het te vaak, wacht even",
    ),
    (
        "SEND_FAILED",
        "验证码发送失败，请稍后重试或联系管理员",
        "Verzenden van de verificatiecode is mislukt, probeer het later opnieuw of neem contact op met de beheerder",
    ),
    (
        "TooManyAttempts",
        "验证失败次数过多，请重新获取验证码。",
        "Te veel mislukte pogingen. Vraag een nieuwe verificatiecode aan.",
    ),
    (
        "PHONE_NOT_REGISTERED",
        "手机号未注册，请先注册",
        "Dit telefoonnummer is niet geregistreerd, registreer eerst",
    ),
    (
        "EMPTY_TOKEN",
        "未认证。请登录以继续。",
        "Niet geauthenticeerd. Log in om verder te gaan.",
    ),
    (
        "BLOCKED_TOKEN",
        "您的会话已过期，请重新登录。",
        "Uw sessie is verlopen. Log opnieuw in.",
    ),
    (
        "INVALID_TOKEN",
        "您的会话已过期，请重新登录。",
        "Uw sessie is verlopen. Log opnieuw in.",
    ),
    (
        "EXPIRED_SESSION",
        "您的会话已过期，请重新登录。",
        "Uw sessie is verlopen. Log opnieuw in.",
    ),
    (
        "LAST_AUTHENTICATOR",
        "请至少保留并启用一个认证器",
        "Houd ten minste één authenticator ingeschakeld",
    ),
];

/// Produces the error named `key` in `locale` through the API and returns its message.
async fn provoke(app: &TestApp, key: &str, locale: &str) -> String {
    let l = ("X-Locale", locale);
    let sms = ("X-Authenticator", "sms");
    let send =
        |phone: &str| json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": phone});
    let phone_for = |n: u32| format!("+86138001380{n:02}");
    let r = match key {
        "InvalidVerificationCode" => {
            app.post(
                "auth:signIn",
                json!({"uuid": PHONE, "code": "000000"}),
                &[sms, l],
            )
            .await
        }
        "InvalidReceiver" => app.post("smsOTP:publicCreate", send("12"), &[l]).await,
        "RateLimitLive" => {
            let phone = phone_for(10 + u32::from(locale == "nl-NL"));
            app.post("smsOTP:publicCreate", send(&phone), &[]).await;
            app.post("smsOTP:publicCreate", send(&phone), &[l]).await
        }
        "RateLimitSlow" => {
            // The app allows one send per phone per hour.
            let phone = phone_for(20 + u32::from(locale == "nl-NL"));
            app.post("smsOTP:publicCreate", send(&phone), &[]).await;
            app.advance(121);
            app.post("smsOTP:publicCreate", send(&phone), &[l]).await
        }
        "SEND_FAILED" => {
            app.sms.answer(500);
            let r = app
                .post(
                    "smsOTP:publicCreate",
                    send(&phone_for(30 + u32::from(locale == "nl-NL"))),
                    &[l],
                )
                .await;
            app.sms.answer(0);
            r
        }
        "TooManyAttempts" => {
            let phone = phone_for(40 + u32::from(locale == "nl-NL"));
            app.post("smsOTP:publicCreate", send(&phone), &[]).await;
            let code = app.sms.last_code(&phone);
            let wrong = if code == "000000" { "111111" } else { "000000" };
            for _ in 0..5 {
                app.post("auth:signIn", json!({"uuid": phone, "code": wrong}), &[sms])
                    .await;
            }
            app.post(
                "auth:signIn",
                json!({"uuid": phone, "code": code}),
                &[sms, l],
            )
            .await
        }
        "PHONE_NOT_REGISTERED" => {
            let phone = phone_for(50 + u32::from(locale == "nl-NL"));
            app.post("smsOTP:publicCreate", send(&phone), &[]).await;
            let code = app.sms.last_code(&phone);
            app.post(
                "auth:signIn",
                json!({"uuid": phone, "code": code}),
                &[sms, l],
            )
            .await
        }
        "EMPTY_TOKEN" => app.get("auth:check", &[l]).await,
        "INVALID_TOKEN" => {
            app.get("auth:check", &[("Authorization", "Bearer abc.def.ghi"), l])
                .await
        }
        "BLOCKED_TOKEN" | "EXPIRED_SESSION" => {
            let token = app.admin_token().await;
            let bearer = format!("Bearer {token}");
            if key == "BLOCKED_TOKEN" {
                app.post("auth:signOut", json!({}), &[("Authorization", &bearer)])
                    .await;
            } else {
                app.advance(3 * 86_400);
            }
            app.get("auth:check", &[("Authorization", &bearer), l])
                .await
        }
        "LAST_AUTHENTICATOR" => {
            // Earlier cases moved the clock past the first admin token's session.
            let admin = app.admin_token().await;
            app.post(
                "authenticators:destroy?filterByTk=1",
                json!({}),
                &[("Authorization", &format!("Bearer {admin}")), l],
            )
            .await
        }
        other => panic!("no way to provoke {other}"),
    };
    assert!(r.status >= 400, "{key}: {:?}", r.body);
    r.message().to_string()
}

#[tokio::test]
async fn every_spec_13_message_is_served_in_zh_cn_and_nl_nl() {
    let app = spawn_app_with(|s| {
        s.limits.send_per_phone_hour = 1;
        // Codes reach phones without an account, so PHONE_NOT_REGISTERED can be provoked.
        s.sms_policy = serde_json::json!({"send_without_account": true});
    })
    .await;
    // Auto sign-up off so PHONE_NOT_REGISTERED can be provoked.
    let token = app.setup_sms(false).await;
    // Remove the SMS authenticator's competition so `basic` is the last enabled one.
    let list = app.admin(&token, "authenticators:list", json!({})).await;
    let sms_id = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "sms")
        .unwrap()["id"]
        .clone();
    for (key, zh, nl) in SPEC {
        if *key == "LAST_AUTHENTICATOR" {
            let token = app.admin_token().await;
            app.admin(
                &token,
                &format!("authenticators:update?filterByTk={sms_id}"),
                json!({"enabled": false}),
            )
            .await;
        }
        assert_eq!(provoke(&app, key, "zh-CN").await, *zh, "{key} zh-CN");
        assert_eq!(provoke(&app, key, "nl-NL").await, *nl, "{key} nl-NL");
    }
}

/// The rows of SPEC §3.2–3.4 and §5.3 that §13 does not list, in zh-CN and nl-NL: each answer
/// carries the catalogue's translation, not the English text.
#[tokio::test]
async fn the_other_error_rows_are_translated_too() {
    use smsauth::i18n::{Locale, message};
    let app = spawn_app_with(|_| {}).await;
    app.setup_sms(true).await;
    app.db().await.execute("INSERT INTO verifiers (name, verification_type, options, created_at, updated_at) VALUES ('broken', 'sms-otp', '{\"provider\":\"nope\"}', 0, 0)").await;
    let member = app.sms_token(PHONE).await;
    let member_id = app.check(&member).await.body["data"]["id"].clone();
    for (locale, tag) in [(Locale::ZhCn, "zh-CN"), (Locale::NlNl, "nl-NL")] {
        let l = ("X-Locale", tag);
        let only_locale = [l];
        let send = |body: serde_json::Value| app.post("smsOTP:publicCreate", body, &only_locale);
        let mut answers = vec![
            send(json!({"action": "nope"})).await,
            send(json!({"action": "auth:signIn", "verifier": "nope"})).await,
            send(json!({"action": "auth:signIn", "verifier": "broken", "uuid": PHONE})).await,
            app.post("auth:signIn", json!({}), &[("X-Authenticator", "nope"), l])
                .await,
            app.post("auth:signIn", json!({"account": ""}), &[l]).await,
            app.post(
                "auth:signIn",
                json!({"account": "x", "password": "y"}),
                &[l],
            )
            .await,
            app.post("auth:signUp", json!({}), &[l]).await,
        ];
        // A renewed token's predecessor, after the 10-second window.
        let t = app.sms_token_after_expiry_of(&member).await;
        app.advance(11);
        answers.push(
            app.get(
                "auth:check",
                &[("Authorization", &format!("Bearer {t}")), l],
            )
            .await,
        );
        for r in &answers {
            assert_eq!(
                r.message(),
                message(r.code(), locale, &[]),
                "{tag}: {:?}",
                r.body
            );
            assert_ne!(
                r.message(),
                message(r.code(), Locale::EnUs, &[]),
                "{tag}: {:?}",
                r.body
            );
        }
        let codes: Vec<&str> = answers.iter().map(|r| r.code()).collect();
        assert_eq!(
            codes,
            [
                "INVALID_ACTION",
                "INVALID_VERIFIER",
                "INVALID_PROVIDER",
                "AUTHENTICATOR_NOT_FOUND",
                "INVALID_ACCOUNT",
                "INVALID_CREDENTIALS",
                "SIGN_UP_DISABLED",
                "TOKEN_RENEW_FAILED"
            ]
        );
        app.advance(121);
    }
    // NOT_EXIST_USER, once the member is deleted (by a fresh admin session: the clock moved on).
    let admin = app.admin_token().await;
    let r = app
        .admin(
            &admin,
            &format!("users:destroy?filterByTk={member_id}"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for (locale, tag) in [(Locale::ZhCn, "zh-CN"), (Locale::NlNl, "nl-NL")] {
        let r = app
            .get(
                "auth:check",
                &[
                    ("Authorization", &format!("Bearer {member}")),
                    ("X-Locale", tag),
                ],
            )
            .await;
        r.assert_error(401, "NOT_EXIST_USER");
        assert_eq!(r.message(), message("NOT_EXIST_USER", locale, &[]));
    }
}
