//! `auth:signIn` with Email/Password, `auth:signUp` and `auth:changePassword` (SPEC §3.4).

use serde_json::json;

use crate::helpers::{PHONE, ROOT_PASSWORD, spawn_app};

#[tokio::test]
async fn password_sign_in_errors_do_not_reveal_whether_the_account_exists() {
    let app = spawn_app().await;
    let r = app
        .post("auth:signIn", json!({"account": "", "password": "x"}), &[])
        .await;
    r.assert_error(400, "INVALID_ACCOUNT");
    assert_eq!(r.message(), "Please enter your username or email");
    app.post("auth:signIn", json!({"password": "x"}), &[])
        .await
        .assert_error(400, "INVALID_ACCOUNT");
    let unknown = app
        .post(
            "auth:signIn",
            json!({"account": "nobody", "password": "whatever-123"}),
            &[],
        )
        .await;
    let wrong = app
        .post(
            "auth:signIn",
            json!({"account": "root", "password": "whatever-123"}),
            &[],
        )
        .await;
    unknown.assert_error(401, "INVALID_CREDENTIALS");
    assert_eq!(unknown.body, wrong.body);
    assert_eq!(
        unknown.message(),
        "The username/email or password is incorrect, please re-enter"
    );
    let zh = app
        .post(
            "auth:signIn",
            json!({"account": "root", "password": "nope"}),
            &[("X-Locale", "zh-CN")],
        )
        .await;
    assert_eq!(zh.message(), "用户名/邮箱或密码有误，请重新输入");
    // The legacy `email` field and a huge password are handled.
    let r = app
        .post(
            "auth:signIn",
            json!({"email": "root", "password": ROOT_PASSWORD}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let huge = "x".repeat(10_000);
    app.post(
        "auth:signIn",
        json!({"account": "root", "password": huge}),
        &[],
    )
    .await
    .assert_error(401, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn sign_up_is_refused_unless_allowed_and_validates_each_field() {
    let app = spawn_app().await;
    let body = json!({"username": "alice", "password": "long-enough-pw", "confirm_password": "long-enough-pw"});
    app.post("auth:signUp", body.clone(), &[])
        .await
        .assert_error(403, "SIGN_UP_DISABLED");
    let admin = app.admin_token().await;
    let r = app
        .admin(
            &admin,
            "authenticators:update?filterByTk=1",
            json!({"options": {"public": {"allowSignUp": true}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let cases = [
        (
            json!({"password": "long-enough-pw", "confirm_password": "long-enough-pw"}),
            "INVALID_USERNAME",
        ),
        (
            json!({"username": "a b", "password": "long-enough-pw", "confirm_password": "long-enough-pw"}),
            "INVALID_USERNAME",
        ),
        (
            json!({"email": "not-an-email", "password": "long-enough-pw", "confirm_password": "long-enough-pw"}),
            "INVALID_EMAIL",
        ),
        (
            json!({"username": "alice", "password": "short", "confirm_password": "short"}),
            "INVALID_PASSWORD",
        ),
        (
            json!({"username": "alice", "password": "long-enough-pw", "confirm_password": "different-pw"}),
            "PASSWORD_MISMATCH",
        ),
        (
            json!({"username": "root", "password": "long-enough-pw", "confirm_password": "long-enough-pw"}),
            "DUPLICATE",
        ),
        (
            json!({"username": 5, "password": "long-enough-pw"}),
            "INVALID_FIELD",
        ),
    ];
    for (body, code) in cases {
        app.post("auth:signUp", body, &[])
            .await
            .assert_error(400, code);
    }
    let r = app.post("auth:signUp", body, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(
            "auth:signIn",
            json!({"account": "alice", "password": "long-enough-pw"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["user"]["roles"][0]["name"], "member");
}

#[tokio::test]
async fn changing_the_password_invalidates_older_tokens() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    let auth = format!("Bearer {token}");
    // An SMS user has no password yet and may set one without the old one.
    let r = app
        .post(
            "auth:changePassword",
            json!({"newPassword": "short"}),
            &[("Authorization", &auth)],
        )
        .await;
    r.assert_error(400, "INVALID_PASSWORD");
    app.advance(2);
    let r = app
        .post(
            "auth:changePassword",
            json!({"newPassword": "a-new-password", "confirmPassword": "a-new-password"}),
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let fresh = r.body["data"]["token"].as_str().unwrap().to_string();
    assert_eq!(r.header("x-new-token"), Some(fresh.as_str()));
    app.check(&token).await.assert_error(401, "INVALID_TOKEN");
    assert_eq!(app.check(&fresh).await.status, 200);
    // Now the old password is required.
    let r = app
        .post(
            "auth:changePassword",
            json!({"oldPassword": "wrong-password", "newPassword": "another-password"}),
            &[("Authorization", &format!("Bearer {fresh}"))],
        )
        .await;
    r.assert_error(400, "OLD_PASSWORD_INCORRECT");
}

#[tokio::test]
async fn password_guesses_share_the_per_address_attempt_budget() {
    let app = crate::helpers::spawn_app_with(|s| s.limits.verify_per_ip_5min = 3).await;
    for _ in 0..3 {
        app.post(
            "auth:signIn",
            json!({"account": "root", "password": "guess-guess"}),
            &[],
        )
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    }
    let r = app
        .post(
            "auth:signIn",
            json!({"account": "root", "password": ROOT_PASSWORD}),
            &[],
        )
        .await;
    r.assert_error(429, "RateLimit");
    assert!(r.header("retry-after").is_some());
    app.advance(300);
    let r = app
        .post(
            "auth:signIn",
            json!({"account": "root", "password": ROOT_PASSWORD}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// A wrong password for `account`, from its own address each time (so that the per-address
/// budget never decides).
async fn guess(app: &crate::helpers::TestApp, account: &str, n: u32) -> crate::helpers::Resp {
    let xff = format!("203.0.113.{}", n % 250);
    app.post(
        "auth:signIn",
        json!({"account": account, "password": format!("guess-number-{n}")}),
        &[("X-Forwarded-For", &xff)],
    )
    .await
}

#[tokio::test]
async fn password_guessing_is_throttled_per_account_across_addresses() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for account in ["root", "no-such-account"] {
        for n in 0..10 {
            guess(&app, account, n)
                .await
                .assert_error(401, "INVALID_CREDENTIALS");
        }
        // The eleventh waits 30 s, existing account or not, whatever the address.
        let r = guess(&app, account, 10).await;
        r.assert_error(429, "TooManyAttempts");
        assert_eq!(r.header("retry-after"), Some("30"), "{account}");
        // The throttle does not care how the account is spelt.
        guess(&app, &account.to_uppercase(), 11)
            .await
            .assert_error(429, "TooManyAttempts");
    }
    // Even the right password waits: the throttle runs before the check.
    app.post(
        "auth:signIn",
        json!({"account": "root", "password": ROOT_PASSWORD}),
        &[],
    )
    .await
    .assert_error(429, "TooManyAttempts");
    // After the delay one more guess is evaluated; failing it doubles the delay.
    app.advance(31);
    guess(&app, "root", 12)
        .await
        .assert_error(401, "INVALID_CREDENTIALS");
    let r = guess(&app, "root", 13).await;
    r.assert_error(429, "TooManyAttempts");
    assert_eq!(r.header("retry-after"), Some("60"));
    // The owner gets in once the delay has passed, and success resets the count.
    app.advance(61);
    let r = app
        .post(
            "auth:signIn",
            json!({"account": "root", "password": ROOT_PASSWORD}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for n in 20..30 {
        guess(&app, "root", n)
            .await
            .assert_error(401, "INVALID_CREDENTIALS");
    }
}

#[tokio::test]
async fn concurrent_password_guesses_cannot_outrun_the_account_throttle() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let results = futures_util::future::join_all((0..40).map(|n| guess(&app, "root", n))).await;
    let evaluated = results.iter().filter(|r| r.status == 401).count();
    let throttled = results.iter().filter(|r| r.status == 429).count();
    assert_eq!(evaluated, 10, "at most 10 guesses are evaluated");
    assert_eq!(throttled, 30);
}
