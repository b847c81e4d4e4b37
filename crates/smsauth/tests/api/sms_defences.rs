//! SMS cost and abuse defences through the API (SPEC §15): destination policy, budgets,
//! `sendWithoutAccount`, test numbers, exact limits under concurrency, delivery receipts and the
//! audit log.

use serde_json::{Value, json};

use crate::helpers::*;

/// The audit events of `type` prefix `kind`, newest first.
async fn audit(app: &TestApp, token: &str, filter: Value) -> Vec<Value> {
    let r = app
        .get(
            &format!(
                "auditLogs:list?pageSize=200&filter={}",
                urlencode(&filter.to_string())
            ),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"].as_array().unwrap().clone()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn set_policy(app: &TestApp, token: &str, patch: Value) -> Value {
    let r = app.admin(token, "smsPolicy:update", patch).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"].clone()
}

#[tokio::test]
async fn numbers_of_refused_types_and_countries_get_no_sms() {
    let app = spawn_app().await;
    let token = app.setup_sms(true).await;
    // Default policy: mobile numbers (and numbers the metadata cannot tell from one) only.
    for refused in [
        "+18005550199",   // US toll-free
        "+19005550199",   // US premium rate
        "+441212345678",  // GB landline
        "+4930123456",    // DE landline
        "+33123456789",   // FR landline
        "+8610123456789", // CN landline? (an invalid number is refused earlier, as before)
    ] {
        let r = app.send_code(refused).await;
        assert_eq!(r.status, 400, "{refused}: {:?}", r.body);
        assert!(
            r.code() == "DESTINATION_NOT_ALLOWED" || r.code() == "InvalidReceiver",
            "{refused}: {:?}",
            r.body
        );
    }
    let r = app.send_code("+18005550199").await;
    r.assert_error(400, "DESTINATION_NOT_ALLOWED");
    assert_eq!(r.message(), "SMS codes cannot be sent to this number");
    assert_eq!(app.sms.count(), 0, "nothing refused reached the provider");
    for allowed in ["+447400123456", "+4915123456789", "+12015550123", PHONE] {
        let r = app.send_code(allowed).await;
        assert_eq!(r.status, 200, "{allowed}: {:?}", r.body);
    }
    assert_eq!(app.sms.count(), 4);

    // Countries: the deny-list wins over the allow-list; both refuse with the same answer.
    set_policy(
        &app,
        &token,
        json!({"allowedCountries": ["cn", "GB", "DE"], "deniedCountries": ["GB"]}),
    )
    .await;
    app.advance(121);
    for refused in ["+447400123456", "+12015550123", "+33612345678"] {
        app.send_code(refused)
            .await
            .assert_error(400, "DESTINATION_NOT_ALLOWED");
    }
    for allowed in ["+4915123456789", PHONE] {
        assert_eq!(app.send_code(allowed).await.status, 200, "{allowed}");
    }
    // Premium rate allowed on purpose: sent.
    set_policy(
        &app,
        &token,
        json!({"allowedCountries": [], "deniedCountries": [],
               "allowedNumberTypes": ["mobile", "premium_rate"]}),
    )
    .await;
    assert_eq!(app.send_code("+19005550199").await.status, 200);
    app.send_code("+12015550199")
        .await
        .assert_error(400, "DESTINATION_NOT_ALLOWED");

    let blocked = audit(&app, &token, json!({"type": "sms.blocked"})).await;
    let reasons: Vec<&str> = blocked
        .iter()
        .map(|e| e["detail"]["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&"country") && reasons.contains(&"numberType"),
        "{reasons:?}"
    );
    assert!(blocked.iter().all(|e| {
        let p = e["phone"].as_str().unwrap();
        p.contains('*') && !p.contains("5550199")
    }));
}

#[tokio::test]
async fn the_policy_is_patched_validated_and_written_by_admins_only() {
    let app = spawn_app_with(|s| s.limits.allowed_countries = vec!["CN".into()]).await;
    let token = app.setup_sms(true).await;
    let r = app.admin(&token, "smsPolicy:get", json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["allowedCountries"], json!(["CN"]));
    assert_eq!(r.body["data"]["pumping"]["prefixUnverifiedMax"], 10);
    let p = set_policy(&app, &token, json!({"budgets": {"globalPerDay": 500}})).await;
    assert_eq!(p["budgets"]["globalPerDay"], 500);
    assert_eq!(
        p["allowedCountries"],
        json!(["CN"]),
        "untouched fields stay"
    );
    for (bad, field) in [
        (json!({"allowedCountries": ["XX"]}), "allowedCountries"),
        (json!({"allowedCountries": "CN"}), "allowedCountries"),
        (json!({"pumping": {"mode": "loud"}}), "pumping.mode"),
        (
            json!({"pumping": {"countryMinConversion": 2}}),
            "pumping.countryMinConversion",
        ),
        (
            json!({"budgets": {"globalPerDay": -1}}),
            "budgets.globalPerDay",
        ),
    ] {
        let r = app.admin(&token, "smsPolicy:update", bad.clone()).await;
        r.assert_error(400, "INVALID_SMS_POLICY");
        assert!(r.message().contains(field), "{bad}: {}", r.message());
    }
    let r = app.admin(&token, "smsPolicy:get", json!({})).await;
    assert_eq!(
        r.body["data"]["budgets"]["globalPerDay"], 500,
        "nothing half-written"
    );
    // A member may neither read nor write it.
    let member = app.sms_token(PHONE).await;
    app.admin(&member, "smsPolicy:get", json!({}))
        .await
        .assert_error(403, "FORBIDDEN");
    app.admin(&member, "smsPolicy:update", json!({}))
        .await
        .assert_error(403, "FORBIDDEN");
    let writes = audit(&app, &token, json!({"type": "admin.smsPolicy."})).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0]["type"], "admin.smsPolicy.update");
    assert!(writes[0]["userId"].is_number());
}

#[tokio::test]
async fn spent_budgets_refuse_sends_until_the_day_has_passed() {
    let app = spawn_app().await;
    let token = app.setup_sms(true).await;
    set_policy(
        &app,
        &token,
        json!({"budgets": {"globalPerDay": 3, "perCountryPerDay": {"GB": 1}}}),
    )
    .await;
    assert_eq!(app.send_code("+447400123456").await.status, 200);
    let r = app.send_code("+447400123457").await;
    r.assert_error(429, "RateLimit");
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.send_code("+8613800138001").await.status, 200);
    assert_eq!(app.send_code("+8613800138002").await.status, 200);
    app.send_code("+8613800138003")
        .await
        .assert_error(429, "RateLimit");
    assert_eq!(
        app.sms.count(),
        3,
        "the budget is the number of SMS paid for"
    );
    let blocked = audit(&app, &token, json!({"type": "sms.blocked"})).await;
    assert!(
        blocked.iter().all(|e| e["detail"]["reason"] == "budget"),
        "{blocked:?}"
    );
    // A rolling day later (and a bucket), the budget is there again.
    app.advance(86_400 + 7200 + 1);
    assert_eq!(app.send_code("+8613800138003").await.status, 200);
}

#[tokio::test]
async fn phones_without_an_account_get_the_same_answer_and_no_sms() {
    let app = spawn_app().await;
    let token = app.setup_sms(false).await;
    let unknown = "+8613800138011";
    let r = app.send_code(unknown).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["data"]["id"].is_string() && r.body["data"]["expiresAt"].is_string());
    assert_eq!(app.sms.count(), 0, "no SMS for a phone that cannot sign in");
    // The same limits apply, so a refusal does not tell the phones apart either.
    app.send_code(unknown).await.assert_error(429, "RateLimit");
    app.sign_in_sms(unknown, "123456")
        .await
        .assert_error(400, "InvalidVerificationCode");
    // A phone with an account is sent its code.
    let known = "+8613800138012";
    let r = app
        .admin(
            &token,
            "users:create",
            json!({"nickname": "k", "phone": known}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.send_code(known).await.status, 200);
    assert_eq!(app.sms.count(), 1);
    let code = app.sms.last_code(known);
    assert_eq!(app.sign_in_sms(known, &code).await.status, 200);
    // With `sendWithoutAccount`, everyone is sent a code.
    set_policy(&app, &token, json!({"sendWithoutAccount": true})).await;
    app.advance(121);
    assert_eq!(app.send_code(unknown).await.status, 200);
    assert_eq!(app.sms.count(), 2);
    let suppressed = audit(&app, &token, json!({"type": "sms.blocked"})).await;
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["detail"]["reason"], "noAccount");
}

#[tokio::test]
async fn test_numbers_sign_in_with_their_fixed_code_outside_every_limit() {
    let app = spawn_app().await;
    let token = app.setup_sms(true).await;
    let expires = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    let r = app
        .admin(
            &token,
            "smsTestNumbers:create",
            json!({"phone": "+1 555 010*", "code": "246810", "expiresAt": expires, "note": "store review"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["phone"], "+1555010*");
    let id = r.body["data"]["id"].as_i64().unwrap();
    app.admin(
        &token,
        "smsTestNumbers:create",
        json!({"phone": "+1555010*", "code": "111111", "expiresAt": expires}),
    )
    .await
    .assert_error(400, "DUPLICATE");
    for bad in [
        json!({"phone": "15550100", "code": "246810", "expiresAt": expires}),
        json!({"phone": "+15550100", "code": "12ab", "expiresAt": expires}),
        json!({"phone": "+15550100", "code": "246810"}),
    ] {
        app.admin(&token, "smsTestNumbers:create", bad)
            .await
            .assert_error(400, "INVALID_TEST_NUMBER");
    }
    // A fictional number the metadata calls invalid, sent to a dozen times: no provider call,
    // no limit (5 per hour by default), the fixed code signs in.
    let phone = "+15550107";
    for _ in 0..12 {
        let r = app.send_code(phone).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = app.sign_in_sms(phone, "246810").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_eq!(app.sms.count(), 0);
    // Wrong codes count as usual.
    assert_eq!(app.send_code(phone).await.status, 200);
    for _ in 0..5 {
        app.sign_in_sms(phone, "000000")
            .await
            .assert_error(400, "InvalidVerificationCode");
    }
    app.sign_in_sms(phone, "246810")
        .await
        .assert_error(429, "TooManyAttempts");
    let sent = audit(&app, &token, json!({"type": "sms.sent", "phone": phone})).await;
    assert_eq!(sent.len(), 13);
    assert_eq!(sent[0]["detail"]["testNumber"], true);
    // Only root manages them.
    let r = app
        .admin(
            &token,
            "users:create",
            json!({"username": "ops", "password": "ops-password-1", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let admin = app.password_token("ops", "ops-password-1").await;
    app.admin(
        &admin,
        "smsTestNumbers:create",
        json!({"phone": "+8613800138000", "code": "246810", "expiresAt": expires}),
    )
    .await
    .assert_error(403, "FORBIDDEN");
    let r = app.admin(&admin, "smsTestNumbers:list", json!({})).await;
    assert_eq!(r.body["meta"]["count"], 1);
    assert_eq!(
        r.body["data"][0]["code"], "******",
        "only root reads the codes"
    );
    let r = app.admin(&token, "smsTestNumbers:list", json!({})).await;
    assert_eq!(r.body["data"][0]["code"], "246810");
    // Changed, then expired: an expired entry is ignored and the number is what it is.
    let r = app
        .post(
            &format!("smsTestNumbers:update?filterByTk={id}"),
            json!({"code": "135790"}),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["code"], "135790");
    assert_eq!(r.body["data"]["phone"], "+1555010*");
    app.advance(3601);
    app.send_code(phone)
        .await
        .assert_error(400, "InvalidReceiver");
    let r = app
        .post(
            &format!("smsTestNumbers:destroy?filterByTk={id}"),
            json!({}),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    let writes = audit(&app, &token, json!({"type": "admin.smsTestNumbers."})).await;
    let kinds: Vec<&str> = writes.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "admin.smsTestNumbers.destroy",
            "admin.smsTestNumbers.update",
            "admin.smsTestNumbers.create"
        ]
    );
    assert_eq!(writes[2]["detail"]["key"], id.to_string());
    assert!(
        !writes.iter().any(|e| e.to_string().contains("246810")),
        "no code in the audit log"
    );
}

#[tokio::test]
async fn send_limits_hold_exactly_under_concurrency_across_two_instances() {
    let app = spawn_app_with(|s| {
        s.limits.global_send_hour = 10;
        s.limits.send_per_ip_hour = 0;
    })
    .await;
    app.setup_sms(true).await;
    let peer = app.peer().await;
    let sends: Vec<_> = (0..40)
        .map(|i| {
            let target = if i % 2 == 0 {
                app.base.clone()
            } else {
                peer.base.clone()
            };
            let http = app.http.clone();
            tokio::spawn(async move {
                http.post(format!("{target}/api/smsOTP:publicCreate"))
                    .json(&json!({"action": "auth:signIn", "verifier": "sms-webhook",
                                  "uuid": format!("+86138001381{i:02}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for s in sends {
        statuses.push(s.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        30,
        "{statuses:?}"
    );
    assert_eq!(app.sms.count(), 10);
}

#[tokio::test]
async fn webhook_receipts_mark_codes_delivered_and_forged_ones_change_nothing() {
    let app = spawn_app().await;
    let token = app.setup_sms(true).await;
    assert_eq!(app.send_code(PHONE).await.status, 200);
    let id = app.sms.last_id(PHONE);
    let report = |body: Value, signature: Option<String>| {
        let app = &app;
        async move {
            let body = body.to_string();
            let mut req = app
                .http
                .post(app.url("/api/smsDelivery:report/sms-webhook"))
                .header("Content-Type", "application/json")
                .body(body.clone());
            if let Some(sig) = signature {
                req = req.header("X-Signature-256", sig);
            }
            into_resp(req.send().await.unwrap()).await
        }
    };
    let sign = |body: &Value| webhook_signature(&body.to_string());
    let forged = json!({"id": id, "status": "undelivered", "errorCode": "30003"});
    report(forged.clone(), None)
        .await
        .assert_error(401, "RECEIPT_UNAUTHENTICATED");
    report(forged.clone(), Some(webhook_signature("something else")))
        .await
        .assert_error(401, "RECEIPT_UNAUTHENTICATED");
    let good = json!({"id": id, "status": "delivered"});
    let r = report(good.clone(), Some(sign(&good))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Repeated, and then contradicted: the first final state stays.
    assert_eq!(report(good.clone(), Some(sign(&good))).await.status, 200);
    assert_eq!(
        report(forged.clone(), Some(sign(&forged))).await.status,
        200
    );
    let unknown = json!({"id": "msg-unknown", "status": "delivered"});
    assert_eq!(
        report(unknown.clone(), Some(sign(&unknown))).await.status,
        200
    );
    let db = app.db().await;
    assert_eq!(
        db.fetch_string("SELECT delivery_status FROM otp_records")
            .await,
        "delivered"
    );
    db.close().await;
    let delivered = audit(&app, &token, json!({"type": "sms.delivered"})).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert!(
        audit(&app, &token, json!({"type": "sms.undelivered"}))
            .await
            .is_empty()
    );
    // A verifier that does not exist, and a body that is not a receipt.
    let r = app
        .http
        .post(app.url("/api/smsDelivery:report/nope"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let junk = json!({"hello": 1});
    report(junk.clone(), Some(sign(&junk)))
        .await
        .assert_error(400, "INVALID_RECEIPT");
}

#[tokio::test]
async fn the_audit_log_records_sign_ins_sends_and_writes_and_filters_them() {
    let app = spawn_app().await;
    let token = app.setup_sms(true).await;
    let member = app.sms_token(PHONE).await;
    app.sign_in_sms(PHONE, "000000")
        .await
        .assert_error(400, "InvalidVerificationCode");
    app.admin(&token, "smsPolicy:get", json!({})).await;
    let all = audit(&app, &token, json!({})).await;
    let kinds: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for want in [
        "admin.verifiers.create",
        "admin.authenticators.create",
        "sms.sent",
        "signIn.success",
        "signIn.failure",
    ] {
        assert!(kinds.contains(&want), "{want} missing from {kinds:?}");
    }
    assert!(
        !kinds.iter().any(|k| k.starts_with("admin.smsPolicy")),
        "reads are not writes"
    );
    let failure = all.iter().find(|e| e["type"] == "signIn.failure").unwrap();
    assert_eq!(failure["detail"]["reason"], "InvalidCode");
    assert_eq!(failure["phone"], "+86*******8000");
    assert!(
        !serde_json::to_string(&all).unwrap().contains("13800138000"),
        "no full number anywhere"
    );
    // The exact number in any spelling finds the same events; another number finds none.
    let a = audit(&app, &token, json!({"phone": "+86 138 0013 8000"})).await;
    let b = audit(&app, &token, json!({"phone": "13800138000"})).await;
    assert_eq!(a, b);
    assert!(a.len() >= 3);
    assert!(
        audit(&app, &token, json!({"phone": "+8613800138001"}))
            .await
            .is_empty()
    );
    let success = all.iter().find(|e| e["type"] == "signIn.success").unwrap();
    let uid = success["userId"].as_i64().unwrap();
    let by_user = audit(&app, &token, json!({"userId": uid})).await;
    assert!(by_user.iter().all(|e| e["userId"] == uid));
    let future = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    assert!(
        audit(&app, &token, json!({"since": future}))
            .await
            .is_empty()
    );
    // Paged, newest first.
    let r = app
        .get(
            "auditLogs:list?pageSize=2&page=1",
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["meta"]["count"], all.len());
    // A send every provider refused is `sms.failed`.
    app.sms.answer(500);
    app.send_code("+8613800138006")
        .await
        .assert_error(502, "SEND_FAILED");
    app.sms.answer(0);
    let failed = audit(&app, &token, json!({"type": "sms.failed"})).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["phone"], "+86*******8006");
    // Sign-out is a revocation; members may not read the log; bad filters are 400.
    let r = app
        .post(
            "auth:signOut",
            json!({}),
            &[("Authorization", &format!("Bearer {member}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        audit(&app, &token, json!({"type": "session.revoked"}))
            .await
            .len(),
        1
    );
    let other = app.sms_token("+8613800138005").await;
    app.get(
        "auditLogs:list",
        &[("Authorization", &format!("Bearer {other}"))],
    )
    .await
    .assert_error(403, "FORBIDDEN");
    for bad in [
        "filter=nope",
        "filter=%7B%22since%22%3A%22yesterday%22%7D",
        "userId=x",
    ] {
        app.get(
            &format!("auditLogs:list?{bad}"),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await
        .assert_error(400, "INVALID_FIELD");
    }
}

#[tokio::test]
async fn a_pumping_run_over_one_prefix_is_stopped_at_the_threshold() {
    let app = spawn_app_with(|s| s.limits.send_per_ip_hour = 0).await;
    let token = app.setup_sms(true).await;
    // One prefix (`+861380013`), fifteen numbers, none verified: ten SMS, then blocked.
    let mut statuses = Vec::new();
    for i in 0..15 {
        statuses.push(app.send_code(&format!("+86138001380{i:02}")).await.status);
    }
    assert_eq!(statuses[..10], [200; 10]);
    assert_eq!(statuses[10..], [429; 5]);
    assert_eq!(app.sms.count(), 10);
    // A user of another prefix of the same country signs in meanwhile.
    let other = "+8613900139000";
    let signed_in = app.sms_token(other).await;
    assert!(!signed_in.is_empty());
    let r = app.admin(&token, "smsGuard:status", json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let prefixes = r.body["data"]["prefixes"].as_array().unwrap();
    assert_eq!(
        prefixes[0]["prefix"], "+861380013",
        "the worst first: {prefixes:?}"
    );
    assert_eq!(prefixes[0]["sent"], 10);
    assert_eq!(prefixes[0]["verified"], 0);
    assert_eq!(prefixes[0]["country"], "CN");
    assert!(prefixes[0]["blockedUntil"].is_string());
    let ok = prefixes
        .iter()
        .find(|p| p["prefix"] == "+861390013")
        .unwrap();
    assert_eq!(
        (ok["sent"].as_i64(), ok["verified"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(ok["blockedUntil"].is_null());
    // Five refusals of one prefix within a minute are one audit event (repeats are folded).
    let blocked = audit(&app, &token, json!({"type": "sms.blocked"})).await;
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0]["detail"]["reason"], "pumping");
    // Unblocked by an admin, the prefix is sent to again.
    let r = app
        .admin(&token, "smsGuard:unblock", json!({"prefix": "+861380013"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.send_code("+8613800138099").await.status, 200);
    app.admin(&token, "smsGuard:unblock", json!({}))
        .await
        .assert_error(400, "INVALID_FIELD");
    let member = app.sms_token("+8613900139001").await;
    app.admin(&member, "smsGuard:status", json!({}))
        .await
        .assert_error(403, "FORBIDDEN");

    // Monitor mode only reports.
    set_policy(&app, &token, json!({"pumping": {"mode": "monitor"}})).await;
    for i in 0..15 {
        let r = app.send_code(&format!("+86137001370{i:02}")).await;
        assert_eq!(r.status, 200, "{i}: {:?}", r.body);
    }

    // A country whose codes are sent but never verified is blocked once enough were sent.
    set_policy(
        &app,
        &token,
        json!({"pumping": {"mode": "enforce", "prefixUnverifiedMax": 100,
                           "countryMinSends": 5, "countryMinConversion": 0.5}}),
    )
    .await;
    for i in 0..5 {
        let r = app.send_code(&format!("+4474{i}0123456")).await;
        assert_eq!(r.status, 200, "{i}: {:?}", r.body);
    }
    app.send_code("+447900123456")
        .await
        .assert_error(429, "RateLimit");
    let r = app.admin(&token, "smsGuard:status", json!({})).await;
    let gb = r.body["data"]["countries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["country"] == "GB")
        .cloned()
        .unwrap();
    assert_eq!(gb["sent"], 5);
    assert_eq!(gb["conversion"], 0.0);
    assert!(gb["blockedUntil"].is_string());
    // Other countries still get their codes.
    assert_eq!(app.send_code("+4915123456789").await.status, 200);
}

/// Median of `times` in milliseconds.
fn median_ms(mut times: Vec<std::time::Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::test]
async fn registered_and_unregistered_phones_get_the_same_answers_in_the_same_time() {
    let app = spawn_app_with(|s| {
        s.limits.send_per_ip_hour = 0;
        s.limits.verify_per_ip_5min = 0;
    })
    .await;
    let token = app.setup_sms(false).await;
    // Pumping detection would rightly stop 400 unverified codes; it is not what is measured.
    set_policy(&app, &token, json!({"pumping": {"mode": "off"}})).await;
    const N: usize = 200;
    let registered = |i: usize| format!("+86138{i:04}1234");
    let unregistered = |i: usize| format!("+86139{i:04}1234");
    for i in 0..N {
        let r = app
            .admin(
                &token,
                "users:create",
                json!({"nickname": format!("u{i}"), "phone": registered(i)}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    // A few sends first, as a running server has made: the time a real send takes is learnt.
    for i in 0..5 {
        let phone = format!("+86137{i:04}1234");
        app.admin(
            &token,
            "users:create",
            json!({"nickname": format!("w{i}"), "phone": phone}),
        )
        .await;
        assert_eq!(app.send_code(&phone).await.status, 200);
    }
    let shape = |v: &Value| {
        let data = &v["data"];
        (
            data["id"].is_string(),
            data["expiresAt"].is_string(),
            data.as_object().map(|o| o.len()),
        )
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..N {
        for (phone, times) in [(registered(i), &mut known), (unregistered(i), &mut unknown)] {
            let started = std::time::Instant::now();
            let r = app.send_code(&phone).await;
            times.push(started.elapsed());
            assert_eq!(r.status, 200, "{phone}: {:?}", r.body);
            assert_eq!(shape(&r.body), (true, true, Some(2)), "{:?}", r.body);
        }
    }
    assert_eq!(
        app.sms.count(),
        5 + N,
        "only phones with an account were sent a code"
    );
    let (a, b) = (median_ms(known), median_ms(unknown));
    assert!(
        (a - b).abs() <= 2.0,
        "send: registered {a:.2} ms, unregistered {b:.2} ms"
    );

    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..N {
        for (phone, times) in [(registered(i), &mut known), (unregistered(i), &mut unknown)] {
            let started = std::time::Instant::now();
            // Seven digits: a wrong code on the same path that can never match a six-digit one.
            let r = app.sign_in_sms(&phone, "0000000").await;
            times.push(started.elapsed());
            r.assert_error(400, "InvalidVerificationCode");
        }
    }
    let (a, b) = (median_ms(known), median_ms(unknown));
    assert!(
        (a - b).abs() <= 2.0,
        "sign-in: registered {a:.2} ms, unregistered {b:.2} ms"
    );
}

/// A provider API that takes every message and answers `body` (the message id in it).
async fn fake_provider(status: u16, body: Value) -> String {
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                axum::Json(body),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn receipts_from_twilio_aliyun_and_tencent_are_authenticated_their_way() {
    const PUBLIC: &str = "https://auth.example.com";
    let app = spawn_app_with(|s| {
        s.public_url = Some(PUBLIC.into());
        s.sms_policy["send_without_account"] = json!(true);
    })
    .await;
    let token = app.admin_token().await;
    let twilio = fake_provider(201, json!({"sid": "SM0001", "status": "queued"})).await;
    let aliyun = fake_provider(
        200,
        json!({"Code": "OK", "BizId": "900001^0", "RequestId": "r"}),
    )
    .await;
    let tencent = fake_provider(
        200,
        json!({"Response": {"SendStatusSet": [{"Code": "Ok", "SerialNo": "2433:1"}], "RequestId": "r"}}),
    )
    .await;
    for (name, provider, settings) in [
        (
            "tw",
            "twilio",
            json!({"accountSid": "AC1", "authToken": "twilio-token", "from": "+15005550006", "baseUrl": twilio}),
        ),
        (
            "ali",
            "sms-aliyun",
            json!({"accessKeyId": "id", "accessKeySecret": "secret", "endpoint": aliyun, "sign": "S", "template": "SMS_1", "receiptToken": "ali-token"}),
        ),
        (
            "tc",
            "sms-tencent",
            json!({"secretId": "id", "secretKey": "secret", "region": "ap-guangzhou", "endpoint": tencent, "SignName": "S", "SmsSdkAppId": "1400", "TemplateId": "1", "receiptToken": "tc-token"}),
        ),
    ] {
        let r = app
            .admin(
                &token,
                "verifiers:create",
                json!({"name": name, "verificationType": "sms-otp", "options": {"provider": provider, "settings": settings}}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {:?}", r.body);
    }
    let send = |verifier: &'static str, phone: &'static str| {
        let app = &app;
        async move {
            app.post(
                "smsOTP:publicCreate",
                json!({"action": "auth:signIn", "verifier": verifier, "uuid": phone}),
                &[],
            )
            .await
        }
    };
    for (v, p) in [
        ("tw", "+8613800138001"),
        ("ali", "+8613800138002"),
        ("tc", "+8613800138003"),
    ] {
        let r = send(v, p).await;
        assert_eq!(r.status, 200, "{v}: {:?}", r.body);
    }
    let push = |verifier: &str, query: &str, headers: Vec<(&'static str, String)>, body: String| {
        let mut req = app
            .http
            .post(app.url(&format!("/api/smsDelivery:report/{verifier}{query}")))
            .body(body);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move { into_resp(req.send().await.unwrap()).await }
    };

    // Twilio: signed over the public URL and the form parameters.
    let params = vec![
        ("AccountSid".to_string(), "AC1".to_string()),
        ("MessageSid".to_string(), "SM0001".to_string()),
        ("MessageStatus".to_string(), "undelivered".to_string()),
        ("ErrorCode".to_string(), "30003".to_string()),
    ];
    let form = serde_urlencoded::to_string(&params).unwrap();
    let url = format!("{PUBLIC}/api/smsDelivery:report/tw");
    let good = smsauth_sms::receipts::twilio_signature("twilio-token", &url, &params);
    let forged = smsauth_sms::receipts::twilio_signature("guessed", &url, &params);
    let form_type = (
        "Content-Type",
        "application/x-www-form-urlencoded".to_string(),
    );
    push(
        "tw",
        "",
        vec![form_type.clone(), ("X-Twilio-Signature", forged)],
        form.clone(),
    )
    .await
    .assert_error(401, "RECEIPT_UNAUTHENTICATED");
    let r = push(
        "tw",
        "",
        vec![form_type, ("X-Twilio-Signature", good)],
        form,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Aliyun and Tencent: the verifier's token in the query.
    let ali = json!([{"phone_number": "13800138002", "success": true, "err_code": "DELIVERED",
                      "biz_id": "900001^0", "report_time": "2026-12-02 10:00:05"}])
    .to_string();
    push("ali", "?token=wrong", vec![], ali.clone())
        .await
        .assert_error(401, "RECEIPT_UNAUTHENTICATED");
    push("ali", "", vec![], ali.clone())
        .await
        .assert_error(401, "RECEIPT_UNAUTHENTICATED");
    let r = push("ali", "?token=ali-token", vec![], ali).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"code": 0, "msg": "成功"}));
    let tc = json!([{"mobile": "13800138003", "nationcode": "86", "report_status": "SUCCESS",
                     "errmsg": "DELIVRD", "sid": "2433:1"}])
    .to_string();
    push("tc", "?token=ali-token", vec![], tc.clone())
        .await
        .assert_error(401, "RECEIPT_UNAUTHENTICATED");
    let r = push("tc", "?token=tc-token", vec![], tc).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"result": 0, "errmsg": "OK"}));

    let delivered = audit(&app, &token, json!({"type": "sms.delivered"})).await;
    let mut by: Vec<&str> = delivered
        .iter()
        .map(|e| e["verifier"].as_str().unwrap())
        .collect();
    by.sort();
    assert_eq!(by, ["ali", "tc"]);
    let undelivered = audit(&app, &token, json!({"type": "sms.undelivered"})).await;
    assert_eq!(undelivered.len(), 1);
    assert_eq!(undelivered[0]["verifier"], "tw");
    assert_eq!(undelivered[0]["detail"]["errorCode"], "30003");
    assert_eq!(undelivered[0]["phone"], "+86*******8001");
    // Receipts are counted in the pumping windows of their prefix and country.
    let r = app.admin(&token, "smsGuard:status", json!({})).await;
    let cn = r.body["data"]["countries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["country"] == "CN")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            cn["sent"].as_i64(),
            cn["delivered"].as_i64(),
            cn["undelivered"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    // The secret settings are masked when read back.
    let r = app
        .admin(&token, "verifiers:get?filterByTk=ali", json!({}))
        .await;
    assert_eq!(
        r.body["data"]["options"]["settings"]["receiptToken"],
        "******"
    );
}
