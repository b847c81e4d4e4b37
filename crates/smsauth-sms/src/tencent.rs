//! Tencent Cloud SMS `SendSms` (API version 2021-01-11), signed with TC3-HMAC-SHA256. Phones go
//! in E.164; the code as `TemplateParamSet=[code]`.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use smsauth_core::ports::sms::{Accepted, SendError, SmsMessage, SmsSender};

use crate::common::{Endpoint, str_setting, timeout, transport_error};
use crate::signing::tencent;

pub const DEFAULT_ENDPOINT: &str = "sms.tencentcloudapi.com";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

pub struct TencentSender {
    http: reqwest::Client,
    endpoint: Endpoint,
    secret_id: String,
    secret_key: SecretString,
    region: String,
    sign_name: String,
    app_id: String,
    template_id: String,
    timeout: Duration,
}

impl TencentSender {
    pub fn from_settings(http: reqwest::Client, s: &Value) -> Option<TencentSender> {
        Some(TencentSender {
            http,
            endpoint: Endpoint::parse(str_setting(s, "endpoint").unwrap_or(DEFAULT_ENDPOINT))?,
            secret_id: str_setting(s, "secretId")?.to_string(),
            secret_key: str_setting(s, "secretKey")?.into(),
            region: str_setting(s, "region")?.to_string(),
            sign_name: str_setting(s, "SignName")?.to_string(),
            app_id: str_setting(s, "SmsSdkAppId")?.to_string(),
            template_id: str_setting(s, "TemplateId")?.to_string(),
            timeout: timeout(s),
        })
    }
}

/// Maps one `SendStatusSet[].Code` to the three outcomes (SPEC §12).
pub fn outcome(code: &str) -> Result<(), SendError> {
    match code {
        "Ok" => Ok(()),
        "InvalidParameterValue.IncorrectPhoneNumber" => Err(SendError::InvalidReceiver),
        c if c.starts_with("LimitExceeded.") => Err(SendError::RateLimited),
        other => Err(SendError::Failed(format!("tencent answered {other}"))),
    }
}

fn interpret(body: &Value) -> Result<(), SendError> {
    let response = body
        .get("Response")
        .ok_or_else(|| SendError::Failed("tencent answered without Response".into()))?;
    if let Some(code) = response.pointer("/Error/Code").and_then(Value::as_str) {
        // A request-level error (signature, credentials, parameters): nothing was sent.
        return Err(SendError::Failed(format!("tencent request error {code}")));
    }
    let code = response
        .pointer("/SendStatusSet/0/Code")
        .and_then(Value::as_str)
        .ok_or_else(|| SendError::Failed("tencent answered without SendStatusSet".into()))?;
    outcome(code)
}

#[async_trait]
impl SmsSender for TencentSender {
    async fn send(&self, m: &SmsMessage) -> Result<Accepted, SendError> {
        let payload = json!({
            "PhoneNumberSet": [m.to.as_str()],
            "SmsSdkAppId": self.app_id,
            "SignName": self.sign_name,
            "TemplateId": self.template_id,
            "TemplateParamSet": [m.code.expose()],
        })
        .to_string();
        let timestamp = m.now.timestamp();
        let signed = tencent::sign(
            &tencent::Tc3Request {
                method: "POST",
                query: "",
                content_type: CONTENT_TYPE,
                host: &self.endpoint.host_header,
                payload: payload.as_bytes(),
                service: "sms",
                timestamp,
            },
            &self.secret_id,
            self.secret_key.expose_secret(),
        );
        let resp = self
            .http
            .post(self.endpoint.url("/"))
            .timeout(self.timeout)
            .header("content-type", CONTENT_TYPE)
            .header("authorization", signed.authorization)
            .header("x-tc-action", "SendSms")
            .header("x-tc-version", "2021-01-11")
            .header("x-tc-timestamp", timestamp.to_string())
            .header("x-tc-region", &self.region)
            .body(payload)
            .send()
            .await
            .map_err(|e| transport_error("tencent", &e))?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(SendError::Transient(format!(
                "tencent answered HTTP {status}"
            )));
        }
        let body: Value = resp.json().await.map_err(|_| {
            SendError::Failed(format!("tencent answered HTTP {status} without JSON"))
        })?;
        let result = interpret(&body);
        tracing::debug!(to = %m.to, ok = result.is_ok(), "tencent answered");
        result?;
        Ok(Accepted {
            message_id: body
                .pointer("/Response/SendStatusSet/0/SerialNo")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}
