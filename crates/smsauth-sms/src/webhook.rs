//! The webhook provider (SPEC §12): `POST url` with a JSON body, signed with
//! `X-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>` when a secret is set (the
//! scheme GitHub uses for its webhooks, so receivers can reuse known verification code).

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;
use smsauth_core::ports::sms::{Accepted, SendError, SmsMessage, SmsSender};

use crate::common::{str_setting, timeout};

pub struct WebhookSender {
    http: reqwest::Client,
    url: reqwest::Url,
    secret: Option<SecretString>,
    timeout: Duration,
    headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// For the message templates.
    settings: Value,
}

/// The header value for `body` under `secret`: `sha256=<lowercase hex>`.
pub fn signature_header(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl WebhookSender {
    /// Builds from validated settings; `None` when they are unusable.
    pub fn from_settings(http: reqwest::Client, s: &Value) -> Option<WebhookSender> {
        let url = reqwest::Url::parse(str_setting(s, "url")?).ok()?;
        let secret = str_setting(s, "secret").map(SecretString::from);
        let headers = s
            .get("headers")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        Some((
                            reqwest::header::HeaderName::from_bytes(k.as_bytes()).ok()?,
                            reqwest::header::HeaderValue::from_str(v.as_str()?).ok()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(WebhookSender {
            http,
            url,
            secret,
            timeout: timeout(s),
            headers,
            settings: s.clone(),
        })
    }
}

#[async_trait]
impl SmsSender for WebhookSender {
    async fn send(&self, m: &SmsMessage) -> Result<Accepted, SendError> {
        let body = json!({
            "phone": m.to.as_str(),
            "code": m.code.expose(),
            "action": m.action.as_str(),
            "verifier": m.verifier,
            "locale": m.locale,
            "message": crate::common::message_text(&self.settings, m),
        })
        .to_string();
        let mut req = self
            .http
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some(secret) = &self.secret {
            req = req.header(
                "X-Signature-256",
                signature_header(secret.expose_secret().as_bytes(), body.as_bytes()),
            );
        }
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|e| crate::common::transport_error("webhook", &e))?;
        let status = resp.status().as_u16();
        tracing::debug!(to = %m.to, status, "webhook answered");
        match status {
            // The receiver may name the message (`{"id": "..."}`) for its delivery receipts.
            200..=299 => Ok(Accepted {
                message_id: resp
                    .json::<Value>()
                    .await
                    .ok()
                    .and_then(|b| b.get("id").and_then(Value::as_str).map(str::to_string))
                    .filter(|id| !id.is_empty() && id.len() <= 128),
            }),
            400 | 422 => Err(SendError::InvalidReceiver),
            429 => Err(SendError::RateLimited),
            500..=599 => Err(SendError::Transient(format!(
                "webhook answered HTTP {status}"
            ))),
            other => Err(SendError::Failed(format!("webhook answered HTTP {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_githubs_published_example() {
        // docs.github.com "Validating webhook deliveries": secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        assert_eq!(
            signature_header(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
