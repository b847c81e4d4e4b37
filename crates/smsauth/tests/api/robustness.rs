//! Hostile and malformed requests: every one ends in a documented 4xx with the envelope, nothing
//! half-written; codes never appear in the database file or the logs.

use serde_json::json;

use crate::helpers::{PHONE, contains_digit_run, into_resp, logs, spawn_app};

#[tokio::test]
async fn oversized_malformed_and_mistyped_bodies_get_enveloped_400s_and_413s() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let url = app.url("/api/smsOTP:publicCreate");
    let big = format!(
        "{{\"action\":\"auth:signIn\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let r = into_resp(
        app.http
            .post(&url)
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(413, "PAYLOAD_TOO_LARGE");
    for body in [
        "{",
        "[1,2]",
        "\"str\"",
        "null",
        "{\"action\":",
        "\u{0}\u{1}",
    ] {
        let r = into_resp(
            app.http
                .post(&url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        r.assert_error(400, "INVALID_JSON");
    }
    for body in [
        json!({"action": 1}),
        json!({"action": "auth:signIn", "verifier": ["x"]}),
    ] {
        app.post("smsOTP:publicCreate", body, &[])
            .await
            .assert_error(400, "INVALID_FIELD");
    }
    let r = into_resp(
        app.http
            .post(app.url("/api/auth:signIn"))
            .header("X-Authenticator", "sms")
            .body("uuid=1&code=2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(400, "INVALID_JSON");
    let r = app.get("users:list?page=-1", &[]).await;
    assert_eq!(r.status, 401);
    let r = into_resp(
        app.http
            .delete(app.url("/api/auth:check"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(405, "METHOD_NOT_ALLOWED");
    app.get("nothing:here", &[])
        .await
        .assert_error(404, "NOT_FOUND");
    let zh = app.get("nothing:here", &[("X-Locale", "zh-CN")]).await;
    assert_eq!(zh.message(), "未找到");
    assert_eq!(app.sms.count(), 0);
}

#[tokio::test]
async fn unknown_body_fields_and_client_headers_are_ignored() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    // The sign-in form spreads all its fields into the send-code body.
    let r = app
        .post(
            "smsOTP:publicCreate",
            json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": PHONE, "code": "", "autoSignup": true, "extra": {"nested": [1]}}),
            &[("X-App", "main"), ("X-With-ACL-Meta", "true"), ("X-Role", "anonymous"), ("X-Timezone", "+08:00"), ("X-Hostname", "example")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // GET works for every action too.
    let r = app.get("authenticators:publicList", &[]).await;
    assert_eq!(r.status, 200);
    // auth:check with the SMS authenticator header, as the client sends after sign-in.
    let code = app.sms.last_code(PHONE);
    let token = app.sign_in_sms(PHONE, &code).await.body["data"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .get(
            "auth:check",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("X-Authenticator", "sms"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .get(
            "auth:check",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("X-Authenticator", "basic"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn codes_are_never_stored_or_logged_in_plain_text() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    app.send_code(PHONE).await;
    let code = app.sms.last_code(PHONE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.sign_in_sms(PHONE, wrong).await;
    assert_eq!(app.sign_in_sms(PHONE, &code).await.status, 200);
    let db = app.db().await;
    let hash = db.fetch_bytes("SELECT code_hash FROM otp_records").await;
    assert_eq!(hash.len(), 32);
    db.close().await;
    // On SQLite the whole database file (and its WAL) is scanned for the code.
    if let Some(file) = app.db_path() {
        for suffix in ["", "-wal"] {
            let path = format!("{}{suffix}", file.display());
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(!contains_digit_run(&bytes, &code), "code found in {path}");
            }
        }
    }
    let logged = logs().lock().unwrap().clone();
    assert!(!logged.is_empty(), "the log capture works");
    assert!(
        !contains_digit_run(&logged, &code),
        "code found in the logs"
    );
    assert!(
        !String::from_utf8_lossy(&logged).contains(PHONE),
        "full phone number found in the logs"
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let r = into_resp(app.http.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    let r = into_resp(app.http.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn client_ip_comes_from_forwarded_for_only_behind_a_trusted_proxy() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.limits.send_per_ip_hour = 1;
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.setup_sms(true).await;
    let send = |phone: &'static str, xff: &'static str| {
        let app = &app;
        async move {
            app.post(
                "smsOTP:publicCreate",
                json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": phone}),
                &[("X-Forwarded-For", xff)],
            )
            .await
        }
    };
    assert_eq!(send("+8613800138001", "203.0.113.1").await.status, 200);
    // Same client behind the proxy: limited, even when it prepends a forged address.
    send("+8613800138002", "198.51.100.7, 203.0.113.1")
        .await
        .assert_error(429, "RateLimit");
    // A different client is its own bucket.
    assert_eq!(send("+8613800138003", "203.0.113.2").await.status, 200);

    let untrusted = crate::helpers::spawn_app_with(|s| s.limits.send_per_ip_hour = 1).await;
    untrusted.setup_sms(true).await;
    let r = untrusted
        .post(
            "smsOTP:publicCreate",
            json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": "+8613800138001"}),
            &[("X-Forwarded-For", "203.0.113.1")],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = untrusted
        .post(
            "smsOTP:publicCreate",
            json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": "+8613800138002"}),
            &[("X-Forwarded-For", "203.0.113.2")],
        )
        .await;
    r.assert_error(429, "RateLimit");
}

#[tokio::test]
async fn verification_attempts_per_client_address_are_limited() {
    let app = crate::helpers::spawn_app_with(|s| s.limits.verify_per_ip_5min = 3).await;
    app.setup_sms(true).await;
    // The admin's password sign-in during set-up used the budget too: start a fresh window.
    app.advance(300);
    for i in 0..3 {
        app.sign_in_sms(&format!("+861380013800{i}"), "123456")
            .await
            .assert_error(400, "InvalidVerificationCode");
    }
    let r = app.sign_in_sms("+8613800138009", "123456").await;
    r.assert_error(429, "RateLimit");
    assert!(r.header("retry-after").is_some());
    app.advance(300);
    app.sign_in_sms("+8613800138009", "123456")
        .await
        .assert_error(400, "InvalidVerificationCode");
}

#[tokio::test]
async fn metrics_are_off_by_default_and_count_answers_and_limit_refusals_when_on() {
    let off = spawn_app().await;
    let r = into_resp(off.http.get(off.url("/metrics")).send().await.unwrap()).await;
    r.assert_error(404, "NOT_FOUND");

    let app = crate::helpers::spawn_app_with(|s| {
        s.metrics.enabled = true;
        s.metrics.token = Some("scrape-token".into());
        s.limits.global_send_hour = 1;
    })
    .await;
    app.setup_sms(true).await;
    assert_eq!(app.send_code(PHONE).await.status, 200);
    app.send_code("+8613800138001")
        .await
        .assert_error(429, "RateLimit");
    let code = app.sms.last_code(PHONE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.sign_in_sms(PHONE, wrong)
        .await
        .assert_error(400, "InvalidVerificationCode");
    let r = into_resp(app.http.get(app.url("/metrics")).send().await.unwrap()).await;
    r.assert_error(401, "EMPTY_TOKEN");
    let text = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"smsauth_send_limit_refusals_total{limit="global_hour"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"smsauth_api_responses_total{action="smsOTP:publicCreate",code="OK"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"smsauth_api_responses_total{action="smsOTP:publicCreate",code="RateLimit"} 1"#
        ),
        "{text}"
    );
    for line in [
        r#"smsauth_http_request_duration_seconds_count{action="smsOTP:publicCreate"} 2"#,
        r#"smsauth_sms_total{provider="webhook",country="CN",outcome="sent"} 1"#,
        r#"smsauth_sms_total{provider="webhook",country="CN",outcome="blocked"} 1"#,
        r#"smsauth_sms_blocked_total{reason="limit"} 1"#,
        r#"smsauth_verifications_total{country="CN",outcome="wrong_code"} 1"#,
        r#"smsauth_provider_request_duration_seconds_count{provider="webhook",outcome="ok"} 1"#,
        // The refused send stops at the counters, before any record is written.
        r#"smsauth_store_operation_duration_seconds_count{operation="otp_issue"} 1"#,
        r#"smsauth_store_operation_duration_seconds_count{operation="counters_take"} 2"#,
        r#"smsauth_store_operation_duration_seconds_count{operation="otp_attempt"} 1"#,
        r#"smsauth_limit{limit="global_hour"} 1"#,
        r#"smsauth_limit{limit="phone_hour"} 5"#,
        r#"smsauth_http_shed_total 0"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    // The scrape itself is in flight while the text is written.
    assert!(text.contains("smsauth_http_requests_in_flight 1"), "{text}");
    // No label carries a phone number.
    assert!(!text.contains("13800138"), "{text}");
}

#[tokio::test]
async fn a_forwarded_for_entry_that_is_not_a_plain_address_ends_the_walk() {
    // Each malformed right-most entry must keep the attacker in the proxy's bucket; skipping
    // it would let the left entry (attacker-chosen) pick a fresh bucket per request.
    for junk in [
        "198.51.100.8:5555",
        "[2001:db8::8]:443",
        "unknown",
        "198.051.100.009",
    ] {
        let app = crate::helpers::spawn_app_with(|s| {
            s.limits.send_per_ip_hour = 20;
            s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .await;
        app.setup_sms(true).await;
        let mut accepted = 0;
        for i in 0..25 {
            let xff = format!("203.0.113.{i}, {junk}");
            let r = app
                .post(
                    "smsOTP:publicCreate",
                    json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": format!("+86138{i:04}1381")}),
                    &[("X-Forwarded-For", &xff)],
                )
                .await;
            if r.status == 200 {
                accepted += 1;
            } else {
                r.assert_error(429, "RateLimit");
            }
        }
        assert_eq!(accepted, 20, "{junk}: 25 sends from one client, 20 allowed");
    }
}

#[tokio::test]
async fn the_global_send_cap_is_on_by_default() {
    let app = spawn_app().await;
    assert_eq!(app.settings.limits.global_send_hour, 1000);
    app.setup_sms(true).await;
    // A thousand codes this hour, sent to other numbers from other addresses.
    app.fill_counter("global-h", 1000).await;
    let r = app.send_code("+8613800138000").await;
    r.assert_error(429, "RateLimit");
    assert_eq!(app.sms.count(), 0);
    // The hour passes (and the 5-minute bucket the sends were counted in): sending works again.
    app.advance(3600 + 300 + 1);
    assert_eq!(app.send_code("+8613800138000").await.status, 200);
}

/// A browser page on another origin may send its bearer token: the preflight names every
/// request header of SPEC §1 (a `*` would not cover `Authorization`), and only configured
/// origins are let in when a list is set (SPEC §15.7).
#[tokio::test]
async fn cors_lets_a_page_of_another_origin_send_its_bearer_token() {
    let preflight = |app: &crate::helpers::TestApp, origin: &'static str| {
        let req = app
            .http
            .request(reqwest::Method::OPTIONS, app.url("/api/auth:check"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type,x-authenticator,x-locale",
            );
        async move { req.send().await.unwrap() }
    };
    let app = spawn_app().await;
    let r = preflight(&app, "https://app.example.com").await;
    assert!(r.status().is_success(), "{}", r.status());
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "content-type",
        "x-authenticator",
        "x-locale",
        "x-request-id",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let token = app.admin_token().await;
    let r = app
        .http
        .post(app.url("/api/auth:check"))
        .header("Origin", "https://app.example.com")
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-new-token"), "{exposed}");

    let listed = crate::helpers::spawn_app_with(|s| {
        s.cors.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let r = preflight(&listed, "https://app.example.com").await;
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let r = preflight(&listed, "https://evil.example").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
