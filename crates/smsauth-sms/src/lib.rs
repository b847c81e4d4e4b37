//! SMS providers behind the core [`SmsSender`] port, and [`ProviderRegistry`], which turns a
//! verifier's `{provider, settings}` into a sender and knows each provider's settings schema.
//!
//! Providers never log a code (except `console`, which exists to print it) or a secret; phone
//! numbers are logged masked.

mod console;
mod schema;
pub mod signing;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use smsauth_core::ports::sms::{SmsProviderFactory, SmsSender};

pub use console::ConsoleSender;
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
        schema::validate(p.fields, settings)
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
        let p = provider(name)?;
        schema::validate(p.fields, settings).ok()?;
        match name {
            "console" => Some(Arc::new(ConsoleSender)),
            "webhook" => WebhookSender::from_settings(self.http.clone(), settings)
                .map(|s| Arc::new(s) as Arc<dyn SmsSender>),
            _ => None,
        }
    }
}
