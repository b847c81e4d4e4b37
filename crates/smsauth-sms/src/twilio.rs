//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{sid}/Messages.json` with HTTP basic
//! auth, `To` in E.164 and `From` or `MessagingServiceSid`; the body is the localised text.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use smsauth_core::ports::sms::{Accepted, SendError, SmsMessage, SmsSender};

use crate::common::{Endpoint, message_text, str_setting, timeout, transport_error};

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

pub struct TwilioSender {
    http: reqwest::Client,
    endpoint: Endpoint,
    account_sid: String,
    auth_token: SecretString,
    /// `("From", number)` or `("MessagingServiceSid", sid)`.
    sender: (&'static str, String),
    /// `statusCallbackUrl`: where Twilio posts delivery receipts.
    status_callback: Option<String>,
    timeout: Duration,
    settings: Value,
}

impl TwilioSender {
    pub fn from_settings(http: reqwest::Client, s: &Value) -> Option<TwilioSender> {
        let sender = match (
            str_setting(s, "messagingServiceSid"),
            str_setting(s, "from"),
        ) {
            (Some(sid), _) => ("MessagingServiceSid", sid.to_string()),
            (None, Some(from)) => ("From", from.to_string()),
            (None, None) => return None,
        };
        Some(TwilioSender {
            http,
            endpoint: Endpoint::parse(str_setting(s, "baseUrl").unwrap_or(DEFAULT_BASE_URL))?,
            account_sid: str_setting(s, "accountSid")?.to_string(),
            auth_token: str_setting(s, "authToken")?.into(),
            sender,
            status_callback: str_setting(s, "statusCallbackUrl").map(str::to_string),
            timeout: timeout(s),
            settings: s.clone(),
        })
    }
}

/// Maps an error answer (HTTP status and Twilio error code) to the three outcomes (SPEC §12).
pub fn outcome(status: u16, code: Option<i64>) -> SendError {
    match (status, code) {
        (_, Some(21211 | 21614)) => SendError::InvalidReceiver,
        (429, _) | (_, Some(20429)) => SendError::RateLimited,
        (500..=599, _) => SendError::Transient(format!("twilio answered HTTP {status}")),
        (_, code) => SendError::Failed(format!("twilio answered HTTP {status} code {code:?}")),
    }
}

#[async_trait]
impl SmsSender for TwilioSender {
    async fn send(&self, m: &SmsMessage) -> Result<Accepted, SendError> {
        let url = self.endpoint.url(&format!(
            "/2010-04-01/Accounts/{}/Messages.json",
            self.account_sid
        ));
        let text = message_text(&self.settings, m);
        let mut form = vec![
            ("To", m.to.as_str()),
            (self.sender.0, self.sender.1.as_str()),
            ("Body", text.as_str()),
        ];
        // Twilio posts the message's delivery receipts there (docs/providers.md).
        if let Some(url) = &self.status_callback {
            form.push(("StatusCallback", url.as_str()));
        }
        let resp = self
            .http
            .post(url)
            .timeout(self.timeout)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error("twilio", &e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            tracing::debug!(to = %m.to, status, "twilio accepted the message");
            let sid = resp
                .json::<Value>()
                .await
                .ok()
                .and_then(|b| b.get("sid").and_then(Value::as_str).map(str::to_string));
            return Ok(Accepted { message_id: sid });
        }
        let code = resp
            .json::<Value>()
            .await
            .ok()
            .and_then(|b| b.get("code").and_then(Value::as_i64));
        tracing::debug!(to = %m.to, status, ?code, "twilio refused the message");
        Err(outcome(status, code))
    }
}
