//! Aliyun Dysmsapi `SendSms` (API version 2017-05-25), signed with ACS3-HMAC-SHA256. The phone
//! goes as E.164 digits without `+`; the code as `TemplateParam={"code":"…"}`.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use smsauth_core::ports::sms::{Accepted, SendError, SmsMessage, SmsSender};

use crate::common::{Endpoint, str_setting, timeout, transport_error};
use crate::signing::{aliyun, sha256_hex};

pub const DEFAULT_ENDPOINT: &str = "dysmsapi.aliyuncs.com";
const ACTION: &str = "SendSms";
const VERSION: &str = "2017-05-25";

pub struct AliyunSender {
    http: reqwest::Client,
    endpoint: Endpoint,
    access_key_id: String,
    access_key_secret: SecretString,
    sign_name: String,
    template: String,
    timeout: Duration,
}

impl AliyunSender {
    pub fn from_settings(http: reqwest::Client, s: &Value) -> Option<AliyunSender> {
        Some(AliyunSender {
            http,
            endpoint: Endpoint::parse(str_setting(s, "endpoint").unwrap_or(DEFAULT_ENDPOINT))?,
            access_key_id: str_setting(s, "accessKeyId")?.to_string(),
            access_key_secret: str_setting(s, "accessKeySecret")?.into(),
            sign_name: str_setting(s, "sign")?.to_string(),
            template: str_setting(s, "template")?.to_string(),
            timeout: timeout(s),
        })
    }
}

/// Maps Dysmsapi's `Code` to the three outcomes (SPEC §12).
pub fn outcome(code: &str) -> Result<(), SendError> {
    match code {
        "OK" => Ok(()),
        "isv.MOBILE_NUMBER_ILLEGAL" => Err(SendError::InvalidReceiver),
        "isv.BUSINESS_LIMIT_CONTROL" => Err(SendError::RateLimited),
        other => Err(SendError::Failed(format!("aliyun answered {other}"))),
    }
}

#[async_trait]
impl SmsSender for AliyunSender {
    async fn send(&self, m: &SmsMessage) -> Result<Accepted, SendError> {
        let param = json!({ "code": m.code.expose() }).to_string();
        let query = aliyun::canonical_query(&[
            ("PhoneNumbers", m.to.digits()),
            ("SignName", &self.sign_name),
            ("TemplateCode", &self.template),
            ("TemplateParam", &param),
        ]);
        let date = m.now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = uuid_hex();
        let body_hash = sha256_hex(b"");
        let headers = [
            ("host", self.endpoint.host_header.as_str()),
            ("x-acs-action", ACTION),
            ("x-acs-version", VERSION),
            ("x-acs-date", date.as_str()),
            ("x-acs-signature-nonce", nonce.as_str()),
            ("x-acs-content-sha256", body_hash.as_str()),
        ];
        let signed = aliyun::sign(
            &aliyun::Acs3Request {
                method: "POST",
                path: "/",
                query: &query,
                headers: &headers,
                body: b"",
            },
            &self.access_key_id,
            self.access_key_secret.expose_secret(),
        );
        let mut req = self
            .http
            .post(format!("{}?{query}", self.endpoint.url("/")))
            .timeout(self.timeout)
            .header("authorization", signed.authorization);
        // `host` is set by the client from the URL, to the same value that was signed.
        for (k, v) in &headers[1..] {
            req = req.header(*k, *v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error("aliyun", &e))?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(SendError::Transient(format!(
                "aliyun answered HTTP {status}"
            )));
        }
        let body: Value = resp.json().await.map_err(|_| {
            SendError::Failed(format!("aliyun answered HTTP {status} without JSON"))
        })?;
        let code = body.get("Code").and_then(Value::as_str).unwrap_or("");
        tracing::debug!(to = %m.to, code, "aliyun answered");
        outcome(code)?;
        Ok(Accepted {
            message_id: body
                .get("BizId")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// A fresh nonce: 128 random bits as hex.
fn uuid_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
