//! What the HTTP providers share: endpoint parsing, transport-error classification, timeouts
//! and the free-text message with its per-locale templates.

use std::time::Duration;

use serde_json::Value;
use smsauth_core::ports::sms::{SendError, SmsMessage};

/// A provider endpoint: a bare host (`dysmsapi.aliyuncs.com`, HTTPS assumed) or a full URL with
/// scheme and port (`http://127.0.0.1:8080`), so operators can route through a proxy and tests
/// can point at a local fake.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base: reqwest::Url,
    /// The `Host` header exactly as reqwest sends it (port included when not the default);
    /// signatures must cover this value.
    pub host_header: String,
}

impl Endpoint {
    pub fn parse(raw: &str) -> Option<Endpoint> {
        let raw = raw.trim().trim_end_matches('/');
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("https://{raw}")
        };
        let base = reqwest::Url::parse(&with_scheme).ok()?;
        if !matches!(base.scheme(), "http" | "https") || base.query().is_some() {
            return None;
        }
        let host = base.host_str()?.to_string();
        let host_header = match base.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        Some(Endpoint { base, host_header })
    }

    /// `base` joined with an absolute path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }
}

/// The total timeout from `timeoutMs`, else the default.
pub fn timeout(settings: &Value) -> Duration {
    settings
        .get("timeoutMs")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|t| t.parse().ok()))
        })
        .map(Duration::from_millis)
        .unwrap_or(super::DEFAULT_TIMEOUT)
}

pub fn str_setting<'a>(settings: &'a Value, key: &str) -> Option<&'a str> {
    settings
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Timeouts and connection failures are transient: another provider may well succeed.
pub fn transport_error(provider: &str, e: &reqwest::Error) -> SendError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection error"
    } else {
        "request error"
    };
    SendError::Transient(format!("{provider} {kind}"))
}

/// Default texts for providers that send free text; `{{code}}` and `{{minutes}}` are filled in.
const DEFAULT_TEMPLATES: [(&str, &str); 3] = [
    (
        "en-US",
        "Your verification code is {{code}}. It expires in {{minutes}} minutes.",
    ),
    ("zh-CN", "您的验证码是 {{code}}，{{minutes}} 分钟内有效。"),
    (
        "nl-NL",
        "Uw verificatiecode is {{code}}. Geldig gedurende {{minutes}} minuten.",
    ),
];

/// The message text in the message's locale: the verifier's `templates[locale]` if set, else the
/// default; with `webOtpHost`, a final WebOTP line `@host #code` lets browsers fill the code in
/// (WICG SMS One-Time Code format).
pub fn message_text(settings: &Value, m: &SmsMessage) -> String {
    let custom = settings
        .get("templates")
        .and_then(|t| t.get(&m.locale).or_else(|| t.get("en-US")))
        .and_then(Value::as_str);
    let default = DEFAULT_TEMPLATES
        .iter()
        .find(|(l, _)| *l == m.locale)
        .unwrap_or(&DEFAULT_TEMPLATES[0])
        .1;
    let minutes = ((m.ttl_secs + 59) / 60).to_string();
    let mut text = custom
        .unwrap_or(default)
        .replace("{{code}}", m.code.expose())
        .replace("{{minutes}}", &minutes);
    if let Some(host) = str_setting(settings, "webOtpHost") {
        text.push_str(&format!("\n\n@{host} #{}", m.code.expose()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_bare_hosts_and_full_urls() {
        let e = Endpoint::parse("dysmsapi.aliyuncs.com").unwrap();
        assert_eq!(e.base.as_str(), "https://dysmsapi.aliyuncs.com/");
        assert_eq!(e.host_header, "dysmsapi.aliyuncs.com");
        let e = Endpoint::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(e.host_header, "127.0.0.1:8080");
        assert_eq!(e.url("/x"), "http://127.0.0.1:8080/x");
        assert_eq!(
            Endpoint::parse("https://sms.example.com:443")
                .unwrap()
                .host_header,
            "sms.example.com"
        );
        assert!(Endpoint::parse("ftp://x").is_none());
        assert!(Endpoint::parse("").is_none());
        assert!(Endpoint::parse("https://x/?a=b").is_none());
    }
}
