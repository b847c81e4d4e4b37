//! Request logs (SPEC §17): one line per request with its id (taken from `X-Request-Id` when
//! well-formed, else generated, and echoed), and nothing in the log that would let a reader
//! sign in as someone: no code, token, password, secret or full phone number.

use serde_json::json;

use crate::helpers::*;
use crate::process::ServerProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_flow_logs_one_line_per_request_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        dir.path(),
        None,
        &[
            ("SMSAUTH_LOG_FORMAT", "json".into()),
            (
                "RUST_LOG",
                "debug,sqlx=debug,hyper=info,hyper_util=info".into(),
            ),
        ],
        None,
    );
    let (sms, sms_url) = FakeSms::start().await;
    let app = server.app(&sms, &sms_url);
    let root = app.setup_sms(true).await;

    // Sign-up by SMS, check, renew-free calls, a wrong code, bind, password change, sign-out.
    let token = app.sms_token(PHONE).await;
    let first_code = sms.last_code(PHONE);
    assert_eq!(app.check(&token).await.status, 200);
    let other = "+8613900139000";
    assert_eq!(app.send_code(other).await.status, 200);
    let other_code = sms.last_code(other);
    let wrong = if other_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    app.sign_in_sms(other, wrong)
        .await
        .assert_error(400, "InvalidVerificationCode");
    let bearer = format!("Bearer {token}");
    let bind_phone = "+8613700137000";
    let r = app
        .send_code_for("verifiers:bind", bind_phone, &[("Authorization", &bearer)])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let bind_code = sms.last_code(bind_phone);
    let r = app
        .post(
            "verifiers:bind",
            json!({ "verifier": "sms-webhook", "uuid": bind_phone, "code": bind_code }),
            &[("Authorization", &bearer)],
        )
        .await;
    assert!(r.status == 200 || r.status == 400, "{:?}", r.body);
    let user_password = "user-password-for-logs";
    let r = app
        .admin(
            &root,
            "users:create",
            json!({ "username": "logged", "password": user_password, "phone": "+8613600136000" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let new_password = "changed-password-for-logs";
    let user_token = app.password_token("logged", user_password).await;
    let r = app
        .post(
            "auth:changePassword",
            json!({ "oldPassword": user_password, "newPassword": new_password, "confirmPassword": new_password }),
            &[("Authorization", &format!("Bearer {user_token}"))],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.post(
        "auth:signIn",
        json!({ "account": "logged", "password": "wrong-password-x" }),
        &[],
    )
    .await
    .assert_error(401, "INVALID_CREDENTIALS");
    let r = app
        .admin(&root, "verifiers:get?filterByTk=sms-webhook", json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The token in a query string (NocoBase's GET form) must not reach the log either.
    let r = app.get(&format!("auth:check?token={token}"), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        app.post("auth:signOut", json!({}), &[("Authorization", &bearer)])
            .await
            .status,
        200
    );

    // Request ids: a well-formed one is echoed, a hostile one replaced.
    let r = app
        .http
        .get(app.url("/api/authenticators:publicList"))
        .header("X-Request-Id", "trace-4711.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-4711.abc");
    let r = app
        .http
        .get(app.url("/api/authenticators:publicList"))
        .header("X-Request-Id", "evil\"id with spaces")
        .send()
        .await
        .unwrap();
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = server.log();
    let requests: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request" && v["fields"]["route"].is_string())
        .collect();
    assert!(
        requests.len() >= 18,
        "one line per request: {}",
        requests.len()
    );
    let traced = requests
        .iter()
        .find(|v| v["fields"]["id"] == "trace-4711.abc")
        .expect("the client's request id is logged");
    assert_eq!(traced["fields"]["route"], "/api/authenticators:publicList");
    assert_eq!(traced["fields"]["status"], 200);
    assert!(
        requests
            .iter()
            .any(|v| v["fields"]["id"] == generated.as_str())
    );
    let send = requests
        .iter()
        .find(|v| v["fields"]["route"] == "/api/smsOTP:publicCreate")
        .unwrap();
    assert_eq!(send["fields"]["phone"], "+86*******8000", "{send}");
    let failed = requests
        .iter()
        .find(|v| v["fields"]["code"] == "InvalidVerificationCode")
        .expect("a failed sign-in is findable by its code");
    assert_eq!(failed["fields"]["phone"], "+86*******9000");

    for code in [&first_code, &other_code, &bind_code] {
        assert!(
            !contains_digit_run(log.as_bytes(), code),
            "code {code} logged"
        );
    }
    for (what, secret) in [
        ("token", token.as_str()),
        ("token", user_token.as_str()),
        ("token", root.as_str()),
        ("root password", ROOT_PASSWORD),
        ("password", user_password),
        ("password", new_password),
        ("password", "wrong-password-x"),
        ("webhook secret", WEBHOOK_SECRET),
    ] {
        assert!(!log.contains(secret), "the {what} {secret} is in the log");
    }
    // A token's signature alone is enough to be worried about.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature));
    for phone in [PHONE, other, bind_phone, "+8613600136000"] {
        let digits = phone.trim_start_matches('+');
        assert!(!log.contains(phone), "{phone} is in the log");
        assert!(
            !contains_digit_run(log.as_bytes(), digits),
            "{digits} is in the log"
        );
        assert!(
            !contains_digit_run(log.as_bytes(), &digits[2..]),
            "{phone} nationally"
        );
    }
    server.stop();
}
