//! SMS providers behind the core [`SmsSender`] port, and [`ProviderRegistry`], which turns a
//! verifier's `{provider, settings}` into a sender and knows each provider's settings schema.
//!
//! Providers never log a code (except `console`, which exists to print it) or a secret; phone
//! numbers are logged masked.

mod aliyun;
mod common;
mod console;
pub mod receipts;
mod schema;
pub mod signing;
mod tencent;
mod twilio;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use smsauth_core::ports::sms::{
    ReceiptBatch, ReceiptError, ReceiptRequest, SmsProviderFactory, SmsSender,
};

pub use aliyun::AliyunSender;
pub use common::Endpoint;
pub use console::ConsoleSender;
pub use tencent::TencentSender;
pub use twilio::TwilioSender;
pub use webhook::{WebhookSender, signature_header};

use schema::{Field, FieldKind};

/// Default total timeout of one provider call (SPEC §8).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The registry of provider types. Holds one HTTP client so connections are pooled across sends.
#[derive(Clone)]
pub struct ProviderRegistry {
    http: reqwest::Client,
}

struct ProviderType {
    name: &'static str,
    title: &'static str,
    fields: &'static [Field],
}

/// Settings every free-text provider accepts: per-locale templates and the WebOTP host.
const TEXT_FIELDS: [Field; 2] = [
    Field::new("templates", FieldKind::Templates, false, false),
    Field::new("webOtpHost", FieldKind::Host, false, false),
];

const PROVIDERS: &[ProviderType] = &[
    ProviderType {
        name: "console",
        title: "Console (development: prints codes to the log)",
        fields: &[],
    },
    ProviderType {
        name: "webhook",
        title: "Webhook (HTTPS POST, HMAC-signed)",
        fields: &[
            Field::new("url", FieldKind::Url, true, false),
            Field::new("secret", FieldKind::Text, false, true),
            Field::new("timeoutMs", FieldKind::Millis, false, false),
            Field::new("headers", FieldKind::StringMap, false, false),
            TEXT_FIELDS[0],
            TEXT_FIELDS[1],
        ],
    },
    ProviderType {
        name: "sms-aliyun",
        title: "Aliyun SMS (Dysmsapi)",
        fields: &[
            Field::new("accessKeyId", FieldKind::Text, true, false),
            Field::new("accessKeySecret", FieldKind::Text, true, true),
            Field::new("endpoint", FieldKind::Endpoint, false, false),
            Field::new("sign", FieldKind::Text, true, false),
            Field::new("template", FieldKind::Text, true, false),
            Field::new("timeoutMs", FieldKind::Millis, false, false),
            Field::new("receiptToken", FieldKind::Text, false, true),
        ],
    },
    ProviderType {
        name: "sms-tencent",
        title: "Tencent Cloud SMS",
        fields: &[
            Field::new("secretId", FieldKind::Text, true, false),
            Field::new("secretKey", FieldKind::Text, true, true),
            Field::new("region", FieldKind::Text, true, false),
            Field::new("endpoint", FieldKind::Endpoint, false, false),
            Field::new("SignName", FieldKind::Text, true, false),
            Field::new("SmsSdkAppId", FieldKind::Text, true, false),
            Field::new("TemplateId", FieldKind::Text, true, false),
            Field::new("timeoutMs", FieldKind::Millis, false, false),
            Field::new("receiptToken", FieldKind::Text, false, true),
        ],
    },
    ProviderType {
        name: "twilio",
        title: "Twilio",
        fields: &[
            Field::new("accountSid", FieldKind::Text, true, false),
            Field::new("authToken", FieldKind::Text, true, true),
            Field::new("from", FieldKind::Text, false, false),
            Field::new("messagingServiceSid", FieldKind::Text, false, false),
            Field::new("baseUrl", FieldKind::Endpoint, false, false),
            Field::new("statusCallbackUrl", FieldKind::Url, false, false),
            Field::new("timeoutMs", FieldKind::Millis, false, false),
            TEXT_FIELDS[0],
            TEXT_FIELDS[1],
        ],
    },
];

fn provider(name: &str) -> Option<&'static ProviderType> {
    PROVIDERS.iter().find(|p| p.name == name)
}

impl ProviderRegistry {
    pub fn new() -> anyhow::Result<ProviderRegistry> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(DEFAULT_TIMEOUT)
            .user_agent(concat!("smsauth/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ProviderRegistry { http })
    }
}

impl SmsProviderFactory for ProviderRegistry {
    fn provider_types(&self) -> Vec<(String, String)> {
        PROVIDERS
            .iter()
            .map(|p| (p.name.to_string(), p.title.to_string()))
            .collect()
    }

    fn validate(&self, name: &str, settings: &Value) -> Result<(), String> {
        let p = provider(name).ok_or_else(|| "provider".to_string())?;
        schema::validate(p.fields, settings)?;
        // Twilio needs a sender: a number or a messaging service.
        if name == "twilio"
            && common::str_setting(settings, "from").is_none()
            && common::str_setting(settings, "messagingServiceSid").is_none()
        {
            return Err("from".into());
        }
        Ok(())
    }

    fn schema(&self, name: &str) -> Option<Value> {
        provider(name).map(|p| schema::describe(p.fields))
    }

    fn secret_fields(&self, name: &str) -> Vec<&'static str> {
        provider(name)
            .map(|p| {
                p.fields
                    .iter()
                    .filter(|f| f.secret)
                    .map(|f| f.name)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn build(&self, name: &str, settings: &Value) -> Option<Arc<dyn SmsSender>> {
        self.validate(name, settings).ok()?;
        let http = self.http.clone();
        match name {
            "console" => Some(Arc::new(ConsoleSender)),
            "webhook" => WebhookSender::from_settings(http, settings).map(|s| Arc::new(s) as _),
            "sms-aliyun" => AliyunSender::from_settings(http, settings).map(|s| Arc::new(s) as _),
            "sms-tencent" => TencentSender::from_settings(http, settings).map(|s| Arc::new(s) as _),
            "twilio" => TwilioSender::from_settings(http, settings).map(|s| Arc::new(s) as _),
            _ => None,
        }
    }

    fn receipts(
        &self,
        name: &str,
        settings: &Value,
        request: &ReceiptRequest<'_>,
    ) -> Result<ReceiptBatch, ReceiptError> {
        receipts::parse(name, settings, request)
    }
}
