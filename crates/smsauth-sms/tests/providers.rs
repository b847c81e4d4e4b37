//! Each cloud provider against a fake of its API that, like the real service, recomputes the
//! request signature with its own implementation (written here, independently of
//! `smsauth_sms::signing`) and refuses a bad one, then answers with each documented code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use smsauth_core::domain::otp::{OtpAction, OtpCode};
use smsauth_core::domain::phone::Phone;
use smsauth_core::ports::sms::{SendError, SmsMessage, SmsProviderFactory, SmsSender};
use smsauth_sms::ProviderRegistry;

const PHONE: &str = "+8613800138000";
const SECRET: &str = "fake-provider-secret";

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// What a fake saw and what it should answer next.
#[derive(Clone, Default)]
struct Fake {
    requests: Arc<Mutex<Vec<Value>>>,
    answer: Arc<Mutex<Value>>,
    status: Arc<Mutex<u16>>,
    delay_ms: Arc<Mutex<u64>>,
}

impl Fake {
    fn answer(&self, status: u16, body: Value) {
        *self.status.lock().unwrap() = status;
        *self.answer.lock().unwrap() = body;
    }
    async fn reply(&self, seen: Value) -> axum::response::Response {
        self.requests.lock().unwrap().push(seen);
        let delay = *self.delay_ms.lock().unwrap();
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        let status = StatusCode::from_u16(*self.status.lock().unwrap()).unwrap();
        (status, axum::Json(self.answer.lock().unwrap().clone())).into_response()
    }
    fn last(&self) -> Value {
        self.requests.lock().unwrap().last().cloned().unwrap()
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn message(phone: &str) -> SmsMessage {
    SmsMessage {
        to: Phone::parse(phone, None).unwrap(),
        code: OtpCode::parse("428913").unwrap(),
        action: OtpAction::SignIn,
        verifier: "v".into(),
        locale: "nl-NL".into(),
        ttl_secs: 120,
        now: chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
    }
}

fn sender(provider: &str, settings: Value) -> Arc<dyn SmsSender> {
    let registry = ProviderRegistry::new().unwrap();
    registry.validate(provider, &settings).unwrap();
    registry.build(provider, &settings).unwrap()
}

// ---------------------------------------------------------------- Aliyun

/// RFC 3986 encoding, written again for the fake.
fn rfc3986(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn aliyun_api(
    State(fake): State<Fake>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> axum::response::Response {
    let params: Vec<(String, String)> = q
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let mut enc: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (rfc3986(k), rfc3986(v)))
        .collect();
    enc.sort();
    let canonical_query = enc
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let auth = header(&headers, "authorization");
    let signed: Vec<&str> = auth
        .split("SignedHeaders=")
        .nth(1)
        .unwrap_or("")
        .split(',')
        .next()
        .unwrap_or("")
        .split(';')
        .collect();
    let canonical_headers: String = signed
        .iter()
        .map(|h| format!("{h}:{}\n", header(&headers, h).trim()))
        .collect();
    let canonical = format!(
        "POST\n/\n{canonical_query}\n{canonical_headers}\n{}\n{}",
        signed.join(";"),
        sha_hex(&body)
    );
    let to_sign = format!("ACS3-HMAC-SHA256\n{}", sha_hex(canonical.as_bytes()));
    let expected = format!(
        "ACS3-HMAC-SHA256 Credential=test-key-id,SignedHeaders={},Signature={}",
        signed.join(";"),
        hex::encode(hmac(SECRET.as_bytes(), to_sign.as_bytes()))
    );
    let complete = [
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
    ]
    .iter()
    .all(|h| signed.contains(h));
    if auth != expected || !complete || header(&headers, "x-acs-content-sha256") != sha_hex(&body) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"Code": "SignatureDoesNotMatch", "Message": "signature mismatch"})),
        )
            .into_response();
    }
    if header(&headers, "x-acs-action") != "SendSms"
        || header(&headers, "x-acs-version") != "2017-05-25"
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"Code": "InvalidAction"})),
        )
            .into_response();
    }
    let map: HashMap<String, String> = params.into_iter().collect();
    fake.reply(json!(map)).await
}

async fn aliyun() -> (Fake, String) {
    let fake = Fake::default();
    fake.answer(
        200,
        json!({"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "r"}),
    );
    let url = serve(
        axum::Router::new()
            .route("/", axum::routing::post(aliyun_api))
            .with_state(fake.clone()),
    )
    .await;
    (fake, url)
}

fn aliyun_settings(url: &str, secret: &str) -> Value {
    json!({"accessKeyId": "test-key-id", "accessKeySecret": secret, "endpoint": url, "sign": "短信签名", "template": "SMS_123"})
}

#[tokio::test]
async fn aliyun_sends_a_signed_request_with_digits_and_template_param() {
    let (fake, url) = aliyun().await;
    let s = sender("sms-aliyun", aliyun_settings(&url, SECRET));
    let accepted = s.send(&message(PHONE)).await.unwrap();
    // BizId is what Aliyun's report push names the message by.
    assert_eq!(accepted.message_id.as_deref(), Some("900619746936498440^0"));
    let seen = fake.last();
    assert_eq!(seen["PhoneNumbers"], "8613800138000");
    assert_eq!(seen["SignName"], "短信签名");
    assert_eq!(seen["TemplateCode"], "SMS_123");
    assert_eq!(seen["TemplateParam"], r#"{"code":"428913"}"#);
}

#[tokio::test]
async fn aliyun_refuses_a_wrong_secret_and_maps_every_documented_code() {
    let (fake, url) = aliyun().await;
    let bad = sender("sms-aliyun", aliyun_settings(&url, "wrong-secret"));
    assert!(matches!(
        bad.send(&message(PHONE)).await,
        Err(SendError::Failed(_))
    ));
    assert!(
        fake.requests.lock().unwrap().is_empty(),
        "the fake refused the signature"
    );
    let s = sender("sms-aliyun", aliyun_settings(&url, SECRET));
    fake.answer(200, json!({"Code": "isv.MOBILE_NUMBER_ILLEGAL"}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::InvalidReceiver)
    ));
    fake.answer(200, json!({"Code": "isv.BUSINESS_LIMIT_CONTROL"}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::RateLimited)
    ));
    fake.answer(200, json!({"Code": "isv.SMS_TEMPLATE_ILLEGAL"}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::Failed(_))
    ));
    fake.answer(503, json!({"Code": "ServiceUnavailable"}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::Transient(_))
    ));
}

#[tokio::test]
async fn aliyun_timeout_is_transient() {
    let (fake, url) = aliyun().await;
    *fake.delay_ms.lock().unwrap() = 800;
    let mut settings = aliyun_settings(&url, SECRET);
    settings["timeoutMs"] = json!(200);
    let s = sender("sms-aliyun", settings);
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::Transient(_))
    ));
}

// ---------------------------------------------------------------- Tencent

fn civil_date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

async fn tencent_api(
    State(fake): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let ts: i64 = header(&headers, "x-tc-timestamp").parse().unwrap_or(0);
    let date = civil_date(ts);
    let canonical = format!(
        "POST\n/\n{}\ncontent-type:{}\nhost:{}\n\ncontent-type;host\n{}",
        uri.query().unwrap_or(""),
        header(&headers, "content-type"),
        header(&headers, "host"),
        sha_hex(&body)
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{ts}\n{date}/sms/tc3_request\n{}",
        sha_hex(canonical.as_bytes())
    );
    let k = hmac(format!("TC3{SECRET}").as_bytes(), date.as_bytes());
    let k = hmac(&k, b"sms");
    let k = hmac(&k, b"tc3_request");
    let expected = format!(
        "TC3-HMAC-SHA256 Credential=test-secret-id/{date}/sms/tc3_request, SignedHeaders=content-type;host, Signature={}",
        hex::encode(hmac(&k, to_sign.as_bytes()))
    );
    if header(&headers, "authorization") != expected {
        return axum::Json(json!({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad signature"}, "RequestId": "r"}})).into_response();
    }
    if header(&headers, "x-tc-action") != "SendSms"
        || header(&headers, "x-tc-version") != "2021-01-11"
        || header(&headers, "x-tc-region") != "ap-guangzhou"
    {
        return axum::Json(
            json!({"Response": {"Error": {"Code": "InvalidAction"}, "RequestId": "r"}}),
        )
        .into_response();
    }
    fake.reply(serde_json::from_slice(&body).unwrap()).await
}

async fn tencent() -> (Fake, String) {
    let fake = Fake::default();
    fake.answer(200, json!({"Response": {"SendStatusSet": [{"Code": "Ok", "PhoneNumber": PHONE, "SerialNo": "2019:5388846216446470581"}], "RequestId": "r"}}));
    let url = serve(
        axum::Router::new()
            .route("/", axum::routing::post(tencent_api))
            .with_state(fake.clone()),
    )
    .await;
    (fake, url)
}

fn tencent_settings(url: &str, secret: &str) -> Value {
    json!({"secretId": "test-secret-id", "secretKey": secret, "region": "ap-guangzhou", "endpoint": url,
           "SignName": "签名", "SmsSdkAppId": "1400000000", "TemplateId": "449739"})
}

fn status(code: &str) -> Value {
    json!({"Response": {"SendStatusSet": [{"Code": code}], "RequestId": "r"}})
}

#[tokio::test]
async fn tencent_signs_with_the_port_in_host_and_sends_e164_and_the_code() {
    let (fake, url) = tencent().await;
    let s = sender("sms-tencent", tencent_settings(&url, SECRET));
    let accepted = s.send(&message(PHONE)).await.unwrap();
    // SerialNo is the `sid` of Tencent's status callback.
    assert_eq!(
        accepted.message_id.as_deref(),
        Some("2019:5388846216446470581")
    );
    let seen = fake.last();
    assert_eq!(seen["PhoneNumberSet"], json!([PHONE]));
    assert_eq!(seen["TemplateParamSet"], json!(["428913"]));
    assert_eq!(seen["SmsSdkAppId"], "1400000000");
    assert_eq!(seen["TemplateId"], "449739");
}

#[tokio::test]
async fn tencent_refuses_a_wrong_key_and_maps_every_documented_code() {
    let (fake, url) = tencent().await;
    let bad = sender("sms-tencent", tencent_settings(&url, "wrong"));
    assert!(matches!(
        bad.send(&message(PHONE)).await,
        Err(SendError::Failed(_))
    ));
    assert!(fake.requests.lock().unwrap().is_empty());
    let s = sender("sms-tencent", tencent_settings(&url, SECRET));
    fake.answer(200, status("InvalidParameterValue.IncorrectPhoneNumber"));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::InvalidReceiver)
    ));
    for code in [
        "LimitExceeded.PhoneNumberDailyLimit",
        "LimitExceeded.PhoneNumberThirtySecondLimit",
    ] {
        fake.answer(200, status(code));
        assert!(
            matches!(s.send(&message(PHONE)).await, Err(SendError::RateLimited)),
            "{code}"
        );
    }
    fake.answer(200, status("FailedOperation.TemplateIncorrectOrUnapproved"));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::Failed(_))
    ));
    fake.answer(
        200,
        json!({"Response": {"Error": {"Code": "InternalError"}, "RequestId": "r"}}),
    );
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::Failed(_))
    ));
    fake.answer(502, json!({}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::Transient(_))
    ));
}

// ---------------------------------------------------------------- Twilio

async fn twilio_api(
    State(fake): State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("AC0123456789abcdef0123456789abcdef:{SECRET}"))
    );
    if header(&headers, "authorization") != expected {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": 20003, "message": "Authenticate", "status": 401})),
        )
            .into_response();
    }
    if uri.path() != "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json" {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 20404, "status": 404})),
        )
            .into_response();
    }
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap();
    fake.reply(json!(form)).await
}

async fn twilio() -> (Fake, String) {
    let fake = Fake::default();
    fake.answer(201, json!({"sid": "SM1", "status": "queued"}));
    let url = serve(
        axum::Router::new()
            .route("/{*path}", axum::routing::post(twilio_api))
            .with_state(fake.clone()),
    )
    .await;
    (fake, url)
}

fn twilio_settings(url: &str, token: &str) -> Value {
    json!({"accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": token, "from": "+15005550006", "baseUrl": url, "webOtpHost": "auth.example.com"})
}

#[tokio::test]
async fn twilio_sends_the_localised_text_with_a_webotp_line() {
    let (fake, url) = twilio().await;
    let s = sender("twilio", twilio_settings(&url, SECRET));
    let accepted = s.send(&message(PHONE)).await.unwrap();
    assert_eq!(accepted.message_id.as_deref(), Some("SM1"));
    let seen = fake.last();
    assert_eq!(seen["To"], PHONE);
    // No callback URL configured: Twilio is not asked for receipts.
    assert!(seen.get("StatusCallback").is_none());
    assert_eq!(seen["From"], "+15005550006");
    assert_eq!(
        seen["Body"],
        "Uw verificatiecode is 428913. Geldig gedurende 2 minuten.\n\n@auth.example.com #428913"
    );
    // A custom template and a messaging service instead of a number.
    let mut settings = twilio_settings(&url, SECRET);
    settings["from"] = json!(null);
    settings["messagingServiceSid"] = json!("MG123");
    settings["templates"] = json!({"nl-NL": "Code: {{code}} ({{minutes}} min)"});
    sender("twilio", settings)
        .send(&message(PHONE))
        .await
        .unwrap();
    let seen = fake.last();
    assert_eq!(seen["MessagingServiceSid"], "MG123");
    assert!(seen.get("From").is_none());
    assert_eq!(
        seen["Body"],
        "Code: 428913 (2 min)\n\n@auth.example.com #428913"
    );
}

#[tokio::test]
async fn twilio_asks_for_receipts_at_the_status_callback_url() {
    let (fake, url) = twilio().await;
    let mut settings = twilio_settings(&url, SECRET);
    let callback = "https://auth.example.com/api/smsDelivery:report/twilio";
    settings["statusCallbackUrl"] = json!(callback);
    let accepted = sender("twilio", settings)
        .send(&message(PHONE))
        .await
        .unwrap();
    assert_eq!(accepted.message_id.as_deref(), Some("SM1"));
    assert_eq!(fake.last()["StatusCallback"], callback);
    // A 2xx without a sid is still a send, just one no receipt can be matched to.
    fake.answer(201, json!({"status": "queued"}));
    let s = sender("twilio", twilio_settings(&url, SECRET));
    assert_eq!(s.send(&message(PHONE)).await.unwrap().message_id, None);
}

#[tokio::test]
async fn twilio_maps_every_documented_error() {
    let (fake, url) = twilio().await;
    let bad = sender("twilio", twilio_settings(&url, "wrong"));
    assert!(matches!(
        bad.send(&message(PHONE)).await,
        Err(SendError::Failed(_))
    ));
    let s = sender("twilio", twilio_settings(&url, SECRET));
    for (status, code) in [(400, 21211), (400, 21614)] {
        fake.answer(status, json!({"code": code, "status": status}));
        assert!(
            matches!(
                s.send(&message(PHONE)).await,
                Err(SendError::InvalidReceiver)
            ),
            "{code}"
        );
    }
    fake.answer(429, json!({"code": 20429, "status": 429}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::RateLimited)
    ));
    fake.answer(400, json!({"code": 20429, "status": 400}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::RateLimited)
    ));
    fake.answer(500, json!({"code": 20500, "status": 500}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::Transient(_))
    ));
    fake.answer(400, json!({"code": 21606, "status": 400}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::Failed(_))
    ));
}

// ---------------------------------------------------------------- Webhook

/// The receiver: checks the signature like a real one would, then answers `fake.answer`;
/// a JSON string answer is sent as that raw (non-JSON) body.
async fn webhook_api(
    State(fake): State<Fake>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let expected = format!("sha256={}", hex::encode(hmac(SECRET.as_bytes(), &body)));
    if header(&headers, "x-signature-256") != expected {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    fake.requests
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    let status = StatusCode::from_u16(*fake.status.lock().unwrap()).unwrap();
    match fake.answer.lock().unwrap().clone() {
        Value::String(raw) => (status, raw).into_response(),
        Value::Null => status.into_response(),
        json => (status, axum::Json(json)).into_response(),
    }
}

#[tokio::test]
async fn webhook_returns_the_receivers_id_when_it_gives_one() {
    let fake = Fake::default();
    let url = serve(
        axum::Router::new()
            .route("/sms", axum::routing::post(webhook_api))
            .with_state(fake.clone()),
    )
    .await;
    let s = sender(
        "webhook",
        json!({"url": format!("{url}/sms"), "secret": SECRET}),
    );
    fake.answer(200, json!({"id": "wh-42", "queued": true}));
    let accepted = s.send(&message(PHONE)).await.unwrap();
    assert_eq!(accepted.message_id.as_deref(), Some("wh-42"));
    let seen = fake.last();
    assert_eq!(seen["phone"], PHONE);
    assert_eq!(seen["code"], "428913");
    // No id, an empty one, a non-string one, a non-JSON body or no body: sent, without an id.
    for answer in [
        json!({}),
        json!({"id": ""}),
        json!({"id": 42}),
        json!("OK"),
        Value::Null,
    ] {
        fake.answer(200, answer.clone());
        let accepted = s.send(&message(PHONE)).await.unwrap();
        assert_eq!(accepted.message_id, None, "{answer}");
    }
    fake.answer(204, Value::Null);
    assert_eq!(s.send(&message(PHONE)).await.unwrap().message_id, None);
    fake.answer(422, json!({"id": "wh-43"}));
    assert!(matches!(
        s.send(&message(PHONE)).await,
        Err(SendError::InvalidReceiver)
    ));
    // The console provider has no id to give.
    let console = sender("console", json!({}));
    assert_eq!(
        console.send(&message(PHONE)).await.unwrap().message_id,
        None
    );
}

#[test]
fn settings_are_validated_against_each_schema() {
    let r = ProviderRegistry::new().unwrap();
    assert_eq!(
        r.validate(
            "sms-aliyun",
            &json!({"accessKeyId": "a", "sign": "s", "template": "t"})
        ),
        Err("accessKeySecret".into())
    );
    assert_eq!(r.validate("sms-aliyun", &json!({"accessKeyId": "a", "accessKeySecret": "b", "sign": "s", "template": "t", "endpoint": "ftp://x"})), Err("endpoint".into()));
    assert_eq!(r.validate("sms-tencent", &json!({"secretId": "a", "secretKey": "b", "region": "r", "SignName": "s", "SmsSdkAppId": "1"})), Err("TemplateId".into()));
    assert_eq!(
        r.validate("twilio", &json!({"accountSid": "AC1", "authToken": "t"})),
        Err("from".into())
    );
    assert_eq!(r.validate("twilio", &json!({"accountSid": "AC1", "authToken": "t", "from": "+1", "templates": {"en-US": "no code here"}})), Err("templates".into()));
    assert_eq!(
        r.validate(
            "twilio",
            &json!({"accountSid": "AC1", "authToken": "t", "from": "+1", "webOtpHost": "bad host"})
        ),
        Err("webOtpHost".into())
    );
    assert_eq!(
        r.secret_fields("sms-tencent"),
        vec!["secretKey", "receiptToken"]
    );
    assert_eq!(
        r.secret_fields("sms-aliyun"),
        vec!["accessKeySecret", "receiptToken"]
    );
    assert_eq!(r.secret_fields("twilio"), vec!["authToken"]);
    assert_eq!(
        r.validate(
            "twilio",
            &json!({"accountSid": "AC1", "authToken": "t", "from": "+1", "statusCallbackUrl": "not a url"})
        ),
        Err("statusCallbackUrl".into())
    );
}
