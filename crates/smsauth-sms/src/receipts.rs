//! Delivery receipts (SPEC §15.3): each provider's push, authenticated the provider's way,
//! turned into the final state of the message it names.
//!
//! - Twilio `StatusCallback`: a form POST signed with `X-Twilio-Signature`, the Base64 of
//!   HMAC-SHA1 under the account's auth token over the full URL followed by every POST parameter
//!   name and value, sorted by name (Twilio's "Webhooks security").
//! - The webhook provider: `{"id","status","errorCode"?}` (or an array of them) signed with
//!   `X-Signature-256` like its sends.
//! - Aliyun SMS report push and Tencent SMS status callback: JSON arrays. Neither provider signs
//!   its pushes, so the verifier's secret `receiptToken` must come as `?token=`; it is checked
//!   before the body is read.
//!
//! Every comparison of a signature or token is in constant time. A provider type or a verifier
//! without the secret to check receipts with answers [`ReceiptError::Unsupported`]: receipts are
//! never taken unauthenticated.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha1::Sha1;
use smsauth_core::ports::sms::{
    DeliveryState, Receipt, ReceiptBatch, ReceiptError, ReceiptRequest,
};
use subtle::ConstantTimeEq;

use crate::common::str_setting;

/// Receipts in one push at most; a provider batches far fewer.
const MAX_RECEIPTS: usize = 1000;

pub fn parse(
    provider: &str,
    settings: &Value,
    request: &ReceiptRequest<'_>,
) -> Result<ReceiptBatch, ReceiptError> {
    match provider {
        "twilio" => twilio(settings, request),
        "webhook" => webhook(settings, request),
        "sms-aliyun" => aliyun(settings, request),
        "sms-tencent" => tencent(settings, request),
        _ => Err(ReceiptError::Unsupported),
    }
}

fn header<'a>(request: &'a ReceiptRequest<'_>, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn malformed(what: &str) -> ReceiptError {
    ReceiptError::Malformed(what.to_string())
}

/// `X-Twilio-Signature` of a form POST to `url` with `params`.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = match <Hmac<Sha1> as KeyInit>::new_from_slice(auth_token.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn twilio(settings: &Value, request: &ReceiptRequest<'_>) -> Result<ReceiptBatch, ReceiptError> {
    let token = str_setting(settings, "authToken").ok_or(ReceiptError::Unsupported)?;
    let given = header(request, "x-twilio-signature").ok_or(ReceiptError::Unauthenticated)?;
    let params: Vec<(String, String)> =
        serde_urlencoded::from_bytes(request.body).map_err(|_| ReceiptError::Unauthenticated)?;
    let expected = twilio_signature(token, request.url, &params);
    if !same(expected.as_bytes(), given.trim().as_bytes()) {
        return Err(ReceiptError::Unauthenticated);
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let id = get("MessageSid")
        .or_else(|| get("SmsSid"))
        .ok_or_else(|| malformed("MessageSid"))?;
    let status = get("MessageStatus")
        .or_else(|| get("SmsStatus"))
        .ok_or_else(|| malformed("MessageStatus"))?;
    let state = match status {
        "delivered" | "read" => Some(DeliveryState::Delivered),
        "undelivered" | "failed" => Some(DeliveryState::Undelivered),
        // queued, accepted, sending, sent, scheduled: not final.
        _ => None,
    };
    let receipts = state
        .map(|state| Receipt {
            message_id: id.to_string(),
            state,
            error_code: get("ErrorCode")
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .filter(|_| state == DeliveryState::Undelivered),
        })
        .into_iter()
        .collect();
    Ok(ReceiptBatch {
        receipts,
        ack_content_type: "text/plain; charset=utf-8",
        ack_body: String::new(),
    })
}

fn webhook(settings: &Value, request: &ReceiptRequest<'_>) -> Result<ReceiptBatch, ReceiptError> {
    let secret = str_setting(settings, "secret").ok_or(ReceiptError::Unsupported)?;
    let given = header(request, "x-signature-256").ok_or(ReceiptError::Unauthenticated)?;
    let expected = crate::webhook::signature_header(secret.as_bytes(), request.body);
    if !same(expected.as_bytes(), given.trim().as_bytes()) {
        return Err(ReceiptError::Unauthenticated);
    }
    let body: Value = serde_json::from_slice(request.body).map_err(|_| malformed("body"))?;
    let items = match body {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => return Err(malformed("body")),
    };
    let receipts = bounded(items)?
        .iter()
        .map(|item| {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| malformed("id"))?;
            let state = match item.get("status").and_then(Value::as_str) {
                Some("delivered") => DeliveryState::Delivered,
                Some("undelivered" | "failed") => DeliveryState::Undelivered,
                _ => return Err(malformed("status")),
            };
            Ok(Receipt {
                message_id: id.to_string(),
                state,
                error_code: error_code(item.get("errorCode")),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReceiptBatch {
        receipts,
        ack_content_type: "application/json",
        ack_body: r#"{"ok":true}"#.to_string(),
    })
}

fn bounded(items: Vec<Value>) -> Result<Vec<Value>, ReceiptError> {
    if items.len() > MAX_RECEIPTS {
        return Err(malformed("too many receipts"));
    }
    Ok(items)
}

fn error_code(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.chars().take(64).collect()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `?token=` of an unsigned push against the verifier's `receiptToken`.
fn check_token(settings: &Value, request: &ReceiptRequest<'_>) -> Result<(), ReceiptError> {
    let expected = str_setting(settings, "receiptToken").ok_or(ReceiptError::Unsupported)?;
    let given = request
        .query
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .ok_or(ReceiptError::Unauthenticated)?;
    if same(expected.as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(ReceiptError::Unauthenticated)
    }
}

fn json_array(body: &[u8]) -> Result<Vec<Value>, ReceiptError> {
    match serde_json::from_slice(body).map_err(|_| malformed("body"))? {
        Value::Array(items) => bounded(items),
        _ => Err(malformed("body")),
    }
}

fn aliyun(settings: &Value, request: &ReceiptRequest<'_>) -> Result<ReceiptBatch, ReceiptError> {
    check_token(settings, request)?;
    let receipts = json_array(request.body)?
        .iter()
        .map(|item| {
            let id = item
                .get("biz_id")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("biz_id"))?;
            let delivered = item
                .get("success")
                .and_then(Value::as_bool)
                .ok_or_else(|| malformed("success"))?;
            Ok(Receipt {
                message_id: id.to_string(),
                state: if delivered {
                    DeliveryState::Delivered
                } else {
                    DeliveryState::Undelivered
                },
                error_code: (!delivered)
                    .then(|| error_code(item.get("err_code")))
                    .flatten(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReceiptBatch {
        receipts,
        ack_content_type: "application/json",
        ack_body: r#"{"code":0,"msg":"成功"}"#.to_string(),
    })
}

fn tencent(settings: &Value, request: &ReceiptRequest<'_>) -> Result<ReceiptBatch, ReceiptError> {
    check_token(settings, request)?;
    let receipts = json_array(request.body)?
        .iter()
        .map(|item| {
            let id = item
                .get("sid")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("sid"))?;
            let state = match item.get("report_status").and_then(Value::as_str) {
                Some("SUCCESS") => DeliveryState::Delivered,
                Some("FAIL") => DeliveryState::Undelivered,
                _ => return Err(malformed("report_status")),
            };
            Ok(Receipt {
                message_id: id.to_string(),
                state,
                error_code: (state == DeliveryState::Undelivered)
                    .then(|| error_code(item.get("errmsg")))
                    .flatten(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReceiptBatch {
        receipts,
        ack_content_type: "application/json",
        ack_body: r#"{"result":0,"errmsg":"OK"}"#.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn request<'a>(
        url: &'a str,
        query: &'a [(String, String)],
        headers: &'a [(String, String)],
        body: &'a [u8],
    ) -> ReceiptRequest<'a> {
        ReceiptRequest {
            url,
            query,
            headers,
            body,
        }
    }

    /// Twilio's "Webhooks security" example: auth token `12345`, this URL and these parameters.
    #[test]
    fn twilio_signature_matches_twilios_published_example() {
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn twilio_receipts_are_checked_and_only_final_states_count() {
        let settings = json!({"accountSid": "AC1", "authToken": "tok", "from": "+15005550006"});
        let url = "https://auth.example.com/api/smsDelivery:report/twilio";
        let form = |status: &str| {
            pairs(&[
                ("MessageSid", "SM123"),
                ("MessageStatus", status),
                ("ErrorCode", "30003"),
                ("AccountSid", "AC1"),
            ])
        };
        for (status, want) in [
            ("delivered", Some(DeliveryState::Delivered)),
            ("undelivered", Some(DeliveryState::Undelivered)),
            ("failed", Some(DeliveryState::Undelivered)),
            ("sent", None),
            ("queued", None),
        ] {
            let params = form(status);
            let body = serde_urlencoded::to_string(&params).unwrap();
            let sig = twilio_signature("tok", url, &params);
            let headers = pairs(&[("x-twilio-signature", &sig)]);
            let batch = parse(
                "twilio",
                &settings,
                &request(url, &[], &headers, body.as_bytes()),
            )
            .unwrap();
            assert_eq!(batch.receipts.first().map(|r| r.state), want, "{status}");
            if want == Some(DeliveryState::Undelivered) {
                assert_eq!(batch.receipts[0].error_code.as_deref(), Some("30003"));
            }
            // Forged: another token, a tampered body, another URL, no header.
            let forged = twilio_signature("other", url, &params);
            let headers = pairs(&[("x-twilio-signature", &forged)]);
            let req = request(url, &[], &headers, body.as_bytes());
            assert_eq!(
                parse("twilio", &settings, &req),
                Err(ReceiptError::Unauthenticated)
            );
            let headers = pairs(&[("x-twilio-signature", &sig)]);
            let tampered = body.replace("SM123", "SM124");
            let req = request(url, &[], &headers, tampered.as_bytes());
            assert_eq!(
                parse("twilio", &settings, &req),
                Err(ReceiptError::Unauthenticated)
            );
            let req = request("https://evil.example/x", &[], &headers, body.as_bytes());
            assert_eq!(
                parse("twilio", &settings, &req),
                Err(ReceiptError::Unauthenticated)
            );
            let req = request(url, &[], &[], body.as_bytes());
            assert_eq!(
                parse("twilio", &settings, &req),
                Err(ReceiptError::Unauthenticated)
            );
        }
    }

    #[test]
    fn webhook_receipts_need_the_verifiers_signature() {
        let settings = json!({"url": "https://sms.example/send", "secret": "s3cret"});
        let body = br#"[{"id":"m1","status":"delivered"},{"id":"m2","status":"undelivered","errorCode":7}]"#;
        let sig = crate::webhook::signature_header(b"s3cret", body);
        let headers = pairs(&[("x-signature-256", &sig)]);
        let batch = parse("webhook", &settings, &request("", &[], &headers, body)).unwrap();
        assert_eq!(batch.receipts.len(), 2);
        assert_eq!(batch.receipts[1].error_code.as_deref(), Some("7"));
        let bad = pairs(&[("x-signature-256", "sha256=00")]);
        assert_eq!(
            parse("webhook", &settings, &request("", &[], &bad, body)),
            Err(ReceiptError::Unauthenticated)
        );
        let junk = br#"{"id":"m1","status":"lost"}"#;
        let sig = crate::webhook::signature_header(b"s3cret", junk);
        let headers = pairs(&[("x-signature-256", &sig)]);
        assert!(matches!(
            parse("webhook", &settings, &request("", &[], &headers, junk)),
            Err(ReceiptError::Malformed(_))
        ));
        // Without a secret nothing can be checked, so nothing is taken.
        assert_eq!(
            parse(
                "webhook",
                &json!({"url": "https://x"}),
                &request("", &[], &headers, junk)
            ),
            Err(ReceiptError::Unsupported)
        );
    }

    #[test]
    fn aliyun_and_tencent_pushes_need_the_token_before_the_body_is_read() {
        let settings = json!({"receiptToken": "t0ken"});
        let good = pairs(&[("token", "t0ken")]);
        let bad = pairs(&[("token", "t0kem")]);
        let aliyun_body = json!([
            {"phone_number": "13800138000", "send_time": "2026-12-02 10:00:00",
             "report_time": "2026-12-02 10:00:05", "success": true, "err_code": "DELIVERED",
             "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "900001", "out_id": ""},
            {"phone_number": "13800138001", "success": false, "err_code": "MK:0001",
             "biz_id": "900002"}
        ])
        .to_string();
        let batch = parse(
            "sms-aliyun",
            &settings,
            &request("", &good, &[], aliyun_body.as_bytes()),
        )
        .unwrap();
        assert_eq!(batch.receipts.len(), 2);
        assert_eq!(batch.receipts[1].error_code.as_deref(), Some("MK:0001"));
        assert_eq!(batch.ack_body, r#"{"code":0,"msg":"成功"}"#);
        for query in [&bad[..], &[][..]] {
            assert_eq!(
                parse(
                    "sms-aliyun",
                    &settings,
                    &request("", query, &[], b"not json")
                ),
                Err(ReceiptError::Unauthenticated)
            );
        }
        let tencent_body = json!([
            {"user_receive_time": "2026-12-02 10:00:05", "nationcode": "86",
             "mobile": "13800138000", "report_status": "SUCCESS", "errmsg": "DELIVRD",
             "description": "用户短信送达成功", "sid": "2019:-1234"},
            {"mobile": "13800138001", "report_status": "FAIL", "errmsg": "MK:0005", "sid": "2019:-1235"}
        ])
        .to_string();
        let batch = parse(
            "sms-tencent",
            &settings,
            &request("", &good, &[], tencent_body.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            batch.receipts.iter().map(|r| r.state).collect::<Vec<_>>(),
            [DeliveryState::Delivered, DeliveryState::Undelivered]
        );
        assert_eq!(batch.ack_body, r#"{"result":0,"errmsg":"OK"}"#);
        assert!(matches!(
            parse("sms-tencent", &settings, &request("", &good, &[], b"{}")),
            Err(ReceiptError::Malformed(_))
        ));
        assert_eq!(
            parse("sms-tencent", &json!({}), &request("", &good, &[], b"[]")),
            Err(ReceiptError::Unsupported)
        );
        assert_eq!(
            parse("console", &json!({}), &request("", &good, &[], b"[]")),
            Err(ReceiptError::Unsupported)
        );
    }
}
