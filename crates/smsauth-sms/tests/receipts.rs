//! Delivery receipts through [`ProviderRegistry`] as the server calls it: each provider's push,
//! signed or tokened independently of `smsauth_sms::receipts` (the Twilio and webhook signatures
//! are recomputed here), valid and forged, final and intermediate, well-formed and hostile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::Sha256;
use smsauth_core::ports::sms::{
    DeliveryState, Receipt, ReceiptBatch, ReceiptError, ReceiptRequest, SmsProviderFactory,
};
use smsauth_sms::ProviderRegistry;

const URL: &str = "https://auth.example.com/api/smsDelivery:report/v";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn push(
    provider: &str,
    settings: &Value,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
) -> Result<ReceiptBatch, ReceiptError> {
    let registry = ProviderRegistry::new().unwrap();
    registry.receipts(
        provider,
        settings,
        &ReceiptRequest {
            url: URL,
            query,
            headers,
            body,
        },
    )
}

fn receipt(id: &str, state: DeliveryState, error_code: Option<&str>) -> Receipt {
    Receipt {
        message_id: id.into(),
        state,
        error_code: error_code.map(str::to_string),
    }
}

fn is_malformed<T: std::fmt::Debug>(r: Result<T, ReceiptError>) -> bool {
    matches!(r, Err(ReceiptError::Malformed(_)))
}

// ---------------------------------------------------------------- Twilio

/// Twilio's algorithm written again: URL, then each parameter name and value sorted by name.
fn twilio_sign(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn twilio_settings() -> Value {
    json!({"accountSid": "AC1", "authToken": "twilio-token", "from": "+15005550006"})
}

fn twilio_push(
    params: &[(&str, &str)],
    signature: Option<&str>,
    body: Option<&str>,
) -> Result<ReceiptBatch, ReceiptError> {
    let encoded = serde_urlencoded::to_string(params).unwrap();
    let headers = match signature {
        Some(s) => pairs(&[("x-twilio-signature", s)]),
        None => Vec::new(),
    };
    push(
        "twilio",
        &twilio_settings(),
        &[],
        &headers,
        body.unwrap_or(&encoded).as_bytes(),
    )
}

#[test]
fn twilio_published_example_is_reproduced() {
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio_sign("12345", url, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    assert_eq!(
        smsauth_sms::receipts::twilio_signature("12345", url, &pairs(&params)),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
}

#[test]
fn twilio_final_states_become_receipts() {
    let delivered = [
        ("AccountSid", "AC1"),
        ("MessageSid", "SMaaa"),
        ("MessageStatus", "delivered"),
        ("To", "+31612345678"),
    ];
    let sig = twilio_sign("twilio-token", URL, &delivered);
    let batch = twilio_push(&delivered, Some(&sig), None).unwrap();
    assert_eq!(
        batch.receipts,
        [receipt("SMaaa", DeliveryState::Delivered, None)]
    );
    assert_eq!(batch.ack_body, "");
    assert!(batch.ack_content_type.starts_with("text/plain"));

    for status in ["undelivered", "failed"] {
        let params = [
            ("MessageSid", "SMbbb"),
            ("MessageStatus", status),
            ("ErrorCode", "30005"),
        ];
        let sig = twilio_sign("twilio-token", URL, &params);
        let batch = twilio_push(&params, Some(&sig), None).unwrap();
        assert_eq!(
            batch.receipts,
            [receipt("SMbbb", DeliveryState::Undelivered, Some("30005"))],
            "{status}"
        );
    }
}

#[test]
fn twilio_intermediate_states_are_acknowledged_without_receipts() {
    for status in ["queued", "sending", "sent", "accepted", "scheduled"] {
        let params = [("MessageSid", "SMccc"), ("MessageStatus", status)];
        let sig = twilio_sign("twilio-token", URL, &params);
        let batch = twilio_push(&params, Some(&sig), None).unwrap();
        assert!(batch.receipts.is_empty(), "{status}");
    }
    // Still authenticated first: a forged intermediate state is refused too.
    let params = [("MessageSid", "SMccc"), ("MessageStatus", "sent")];
    let forged = twilio_sign("other-token", URL, &params);
    assert_eq!(
        twilio_push(&params, Some(&forged), None),
        Err(ReceiptError::Unauthenticated)
    );
}

#[test]
fn twilio_forgeries_are_unauthenticated() {
    let params = [("MessageSid", "SMddd"), ("MessageStatus", "delivered")];
    let sig = twilio_sign("twilio-token", URL, &params);
    // Missing header, another token, an empty signature, a signature for another URL.
    assert_eq!(
        twilio_push(&params, None, None),
        Err(ReceiptError::Unauthenticated)
    );
    for forged in [
        twilio_sign("wrong", URL, &params),
        String::new(),
        twilio_sign("twilio-token", "https://auth.example.com/other", &params),
    ] {
        assert_eq!(
            twilio_push(&params, Some(&forged), None),
            Err(ReceiptError::Unauthenticated)
        );
    }
    // A tampered body under the original signature.
    let tampered = [("MessageSid", "SMddd"), ("MessageStatus", "undelivered")];
    let body = serde_urlencoded::to_string(tampered).unwrap();
    assert_eq!(
        twilio_push(&params, Some(&sig), Some(&body)),
        Err(ReceiptError::Unauthenticated)
    );
    // An added parameter is covered as well.
    let body = format!(
        "{}&ErrorCode=1",
        serde_urlencoded::to_string(params).unwrap()
    );
    assert_eq!(
        twilio_push(&params, Some(&sig), Some(&body)),
        Err(ReceiptError::Unauthenticated)
    );
    // Without the auth token nothing can be checked.
    assert_eq!(
        push(
            "twilio",
            &json!({"accountSid": "AC1"}),
            &[],
            &pairs(&[("x-twilio-signature", &sig)]),
            b"MessageSid=SMddd"
        ),
        Err(ReceiptError::Unsupported)
    );
}

#[test]
fn twilio_authenticated_but_incomplete_forms_are_malformed() {
    for params in [
        &[("MessageStatus", "delivered")][..],
        &[("MessageSid", "SMeee")][..],
        &[][..],
    ] {
        let sig = twilio_sign("twilio-token", URL, params);
        assert!(is_malformed(twilio_push(params, Some(&sig), None)));
    }
    // Bytes that are no form at all are read leniently and then lack the fields.
    let junk = "\u{0}\u{ff}%%%&&==";
    let parsed: Vec<(String, String)> = serde_urlencoded::from_str(junk).unwrap();
    let parsed: Vec<(&str, &str)> = parsed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let sig = twilio_sign("twilio-token", URL, &parsed);
    assert!(is_malformed(twilio_push(&[], Some(&sig), Some(junk))));
}

// ---------------------------------------------------------------- Webhook

fn webhook_sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn webhook_push(body: &[u8], signature: Option<&str>) -> Result<ReceiptBatch, ReceiptError> {
    let headers = match signature {
        Some(s) => pairs(&[("x-signature-256", s)]),
        None => Vec::new(),
    };
    push(
        "webhook",
        &json!({"url": "https://gateway.example/sms", "secret": "hook-secret"}),
        &[],
        &headers,
        body,
    )
}

#[test]
fn webhook_receipts_one_or_many() {
    let one = br#"{"id":"wh-1","status":"delivered"}"#;
    let batch = webhook_push(one, Some(&webhook_sign("hook-secret", one))).unwrap();
    assert_eq!(
        batch.receipts,
        [receipt("wh-1", DeliveryState::Delivered, None)]
    );
    assert_eq!(batch.ack_body, r#"{"ok":true}"#);
    assert_eq!(batch.ack_content_type, "application/json");

    let many = br#"[{"id":"wh-2","status":"undelivered","errorCode":"ABSENT"},
                    {"id":"wh-3","status":"delivered"},
                    {"id":"wh-4","status":"undelivered","errorCode":17}]"#;
    let batch = webhook_push(many, Some(&webhook_sign("hook-secret", many))).unwrap();
    assert_eq!(
        batch.receipts,
        [
            receipt("wh-2", DeliveryState::Undelivered, Some("ABSENT")),
            receipt("wh-3", DeliveryState::Delivered, None),
            receipt("wh-4", DeliveryState::Undelivered, Some("17")),
        ]
    );
    let empty = b"[]";
    let batch = webhook_push(empty, Some(&webhook_sign("hook-secret", empty))).unwrap();
    assert!(batch.receipts.is_empty());
}

#[test]
fn webhook_forgeries_are_unauthenticated() {
    let body = br#"{"id":"wh-1","status":"delivered"}"#;
    let sig = webhook_sign("hook-secret", body);
    assert_eq!(webhook_push(body, None), Err(ReceiptError::Unauthenticated));
    for forged in [
        webhook_sign("other-secret", body),
        sig.trim_start_matches("sha256=").to_string(),
        sig.to_uppercase(),
        "sha256=".to_string(),
    ] {
        assert_eq!(
            webhook_push(body, Some(&forged)),
            Err(ReceiptError::Unauthenticated),
            "{forged}"
        );
    }
    let tampered = br#"{"id":"wh-1","status":"undelivered"}"#;
    assert_eq!(
        webhook_push(tampered, Some(&sig)),
        Err(ReceiptError::Unauthenticated)
    );
    // A verifier without a secret takes no receipts at all.
    assert_eq!(
        push(
            "webhook",
            &json!({"url": "https://gateway.example/sms"}),
            &[],
            &pairs(&[("x-signature-256", &sig)]),
            body
        ),
        Err(ReceiptError::Unsupported)
    );
}

#[test]
fn webhook_authenticated_but_malformed_bodies() {
    for body in [
        &b"not json"[..],
        b"\"delivered\"",
        b"42",
        br#"{"status":"delivered"}"#,
        br#"{"id":"","status":"delivered"}"#,
        br#"{"id":7,"status":"delivered"}"#,
        br#"{"id":"wh-1"}"#,
        br#"{"id":"wh-1","status":"lost"}"#,
        br#"[{"id":"wh-1","status":"delivered"}, 3]"#,
        b"\xff\xfe\x00",
    ] {
        let sig = webhook_sign("hook-secret", body);
        assert!(
            is_malformed(webhook_push(body, Some(&sig))),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

// ---------------------------------------------------------------- Aliyun and Tencent

#[test]
fn aliyun_report_push_with_the_token() {
    let settings = json!({"accessKeyId": "a", "accessKeySecret": "b", "sign": "s", "template": "t",
                          "receiptToken": "aliyun-token"});
    let body = json!([
        {"phone_number": "13800138000", "send_time": "2026-12-02 10:00:00",
         "report_time": "2026-12-02 10:00:05", "success": true, "err_code": "DELIVERED",
         "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "900619746936498440^0", "out_id": ""},
        {"phone_number": "13800138001", "send_time": "2026-12-02 10:00:00",
         "report_time": "2026-12-02 10:00:09", "success": false, "err_code": "MK:0001",
         "err_msg": "用户不可达", "sms_size": "1", "biz_id": "900619746936498441^0", "out_id": ""}
    ])
    .to_string();
    let token = pairs(&[("token", "aliyun-token")]);
    let batch = push("sms-aliyun", &settings, &token, &[], body.as_bytes()).unwrap();
    assert_eq!(
        batch.receipts,
        [
            receipt("900619746936498440^0", DeliveryState::Delivered, None),
            receipt(
                "900619746936498441^0",
                DeliveryState::Undelivered,
                Some("MK:0001")
            ),
        ]
    );
    assert_eq!(batch.ack_body, r#"{"code":0,"msg":"成功"}"#);
    assert_eq!(batch.ack_content_type, "application/json");

    // Wrong, truncated, missing token; the token in a header does not count.
    for query in [
        pairs(&[("token", "aliyun-tokem")]),
        pairs(&[("token", "aliyun")]),
        pairs(&[("token", "")]),
        pairs(&[("other", "aliyun-token")]),
        Vec::new(),
    ] {
        assert_eq!(
            push("sms-aliyun", &settings, &query, &token, body.as_bytes()),
            Err(ReceiptError::Unauthenticated),
            "{query:?}"
        );
    }
    // No receiptToken configured: receipts are off for this verifier.
    let mut untokened = settings.clone();
    untokened["receiptToken"] = json!("");
    assert_eq!(
        push("sms-aliyun", &untokened, &token, &[], body.as_bytes()),
        Err(ReceiptError::Unsupported)
    );
    // Authenticated but not an SmsReport array.
    for bad in [
        &b"{}"[..],
        b"nope",
        br#"[{"success":true}]"#,
        br#"[{"biz_id":"1","success":"yes"}]"#,
    ] {
        assert!(is_malformed(push(
            "sms-aliyun",
            &settings,
            &token,
            &[],
            bad
        )));
    }
}

#[test]
fn tencent_status_callback_with_the_token() {
    let settings = json!({"secretId": "a", "secretKey": "b", "region": "ap-guangzhou",
                          "SignName": "s", "SmsSdkAppId": "1", "TemplateId": "2",
                          "receiptToken": "tencent-token"});
    let body = json!([
        {"user_receive_time": "2026-12-02 10:00:05", "nationcode": "86", "mobile": "13800138000",
         "report_status": "SUCCESS", "errmsg": "DELIVRD", "description": "用户短信送达成功",
         "sid": "2019:5388846216446470581"},
        {"user_receive_time": "2026-12-02 10:00:07", "nationcode": "86", "mobile": "13800138001",
         "report_status": "FAIL", "errmsg": "MI:0013", "description": "号码已停机",
         "sid": "2019:5388846216446470582"}
    ])
    .to_string();
    let token = pairs(&[("token", "tencent-token")]);
    let batch = push("sms-tencent", &settings, &token, &[], body.as_bytes()).unwrap();
    assert_eq!(
        batch.receipts,
        [
            receipt("2019:5388846216446470581", DeliveryState::Delivered, None),
            receipt(
                "2019:5388846216446470582",
                DeliveryState::Undelivered,
                Some("MI:0013")
            ),
        ]
    );
    assert_eq!(batch.ack_body, r#"{"result":0,"errmsg":"OK"}"#);

    for query in [pairs(&[("token", "tencent-tokeN")]), Vec::new()] {
        assert_eq!(
            push("sms-tencent", &settings, &query, &[], body.as_bytes()),
            Err(ReceiptError::Unauthenticated)
        );
    }
    // The Aliyun verifier's token is not this one's.
    assert_eq!(
        push(
            "sms-tencent",
            &settings,
            &pairs(&[("token", "aliyun-token")]),
            &[],
            body.as_bytes()
        ),
        Err(ReceiptError::Unauthenticated)
    );
    for bad in [
        &b"{}"[..],
        b"",
        br#"[{"report_status":"SUCCESS"}]"#,
        br#"[{"sid":"1","report_status":"MAYBE"}]"#,
    ] {
        assert!(is_malformed(push(
            "sms-tencent",
            &settings,
            &token,
            &[],
            bad
        )));
    }
}

#[test]
fn unsigned_pushes_are_refused_before_the_body_is_read() {
    // A body that would be malformed gives 401, not 400, without the token: nothing about it is
    // looked at.
    for provider in ["sms-aliyun", "sms-tencent"] {
        let settings = json!({"receiptToken": "t"});
        assert_eq!(
            push(provider, &settings, &[], &[], b"\xff not json"),
            Err(ReceiptError::Unauthenticated)
        );
        assert!(is_malformed(push(
            provider,
            &settings,
            &pairs(&[("token", "t")]),
            &[],
            b"\xff not json"
        )));
    }
}

#[test]
fn hostile_bodies_are_refused_without_panicking() {
    let settings = json!({"receiptToken": "t"});
    let token = pairs(&[("token", "t")]);
    // Deeper than serde_json's recursion limit.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // More receipts than one push may carry.
    let many = format!(
        "[{}]",
        vec![r#"{"sid":"s","report_status":"SUCCESS"}"#; 5000].join(",")
    );
    for body in [deep.as_bytes(), many.as_bytes(), b"[", b"[{}", b"\x00"] {
        for provider in ["sms-aliyun", "sms-tencent"] {
            assert!(is_malformed(push(provider, &settings, &token, &[], body)));
        }
        let sig = webhook_sign("hook-secret", body);
        assert!(is_malformed(webhook_push(body, Some(&sig))));
    }
}

#[test]
fn providers_without_receipts_are_unsupported() {
    for provider in ["console", "nope", ""] {
        assert_eq!(
            push(provider, &json!({}), &pairs(&[("token", "t")]), &[], b"[]"),
            Err(ReceiptError::Unsupported)
        );
    }
}

#[test]
fn receipt_tokens_are_secret_settings() {
    let registry = ProviderRegistry::new().unwrap();
    for provider in ["sms-aliyun", "sms-tencent"] {
        assert!(registry.secret_fields(provider).contains(&"receiptToken"));
        let schema = registry.schema(provider).unwrap();
        let field = schema
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "receiptToken")
            .unwrap();
        assert_eq!(field["required"], false);
        assert_eq!(field["secret"], true);
    }
    let schema = registry.schema("twilio").unwrap();
    assert!(
        schema
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "statusCallbackUrl" && f["secret"] == false)
    );
}
