//! Settings schemas: which fields a provider needs and what each must look like. The same
//! description validates admin input and is what the admin form is generated from.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// An absolute `http` or `https` URL.
    Url,
    /// A positive integer of milliseconds, at most 60 000.
    Millis,
    /// An object of string values (extra HTTP headers).
    StringMap,
    /// A bare host (HTTPS assumed) or an `http(s)` URL with optional port.
    Endpoint,
    /// A host name (for the WebOTP line).
    Host,
    /// Per-locale message templates: `{"en-US": "… {{code}} …"}`; each must contain `{{code}}`.
    Templates,
}

impl FieldKind {
    fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Url => "url",
            FieldKind::Millis => "milliseconds",
            FieldKind::StringMap => "headers",
            FieldKind::Endpoint => "endpoint",
            FieldKind::Host => "host",
            FieldKind::Templates => "templates",
        }
    }
}

/// The schema as JSON, for the admin form: `[{name, type, required, secret}]`.
pub fn describe(fields: &[Field]) -> Value {
    Value::Array(
        fields
            .iter()
            .map(|f| {
                serde_json::json!({
                    "name": f.name, "type": f.kind.as_str(), "required": f.required, "secret": f.secret,
                })
            })
            .collect(),
    )
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// Masked on read and kept when the mask is sent back.
    pub secret: bool,
}

impl Field {
    pub const fn new(name: &'static str, kind: FieldKind, required: bool, secret: bool) -> Field {
        Field {
            name,
            kind,
            required,
            secret,
        }
    }
}

/// `Err(field name)` for the first missing or malformed field.
pub fn validate(fields: &[Field], settings: &Value) -> Result<(), String> {
    let empty = serde_json::Map::new();
    let obj = match settings {
        Value::Object(o) => o,
        Value::Null => &empty,
        _ => return Err("settings".into()),
    };
    for f in fields {
        let v = obj
            .get(f.name)
            .filter(|v| !v.is_null() && v.as_str() != Some(""));
        let Some(v) = v else {
            if f.required {
                return Err(f.name.into());
            }
            continue;
        };
        let ok = match f.kind {
            FieldKind::Text => v.as_str().is_some_and(|s| s.len() <= 4096),
            FieldKind::Url => v.as_str().is_some_and(|s| {
                reqwest::Url::parse(s)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            }),
            FieldKind::Millis => v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .is_some_and(|n| (1..=60_000).contains(&n)),
            FieldKind::StringMap => v.as_object().is_some_and(|m| {
                m.iter().all(|(k, v)| {
                    reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_ok()
                        && v.as_str()
                            .is_some_and(|s| reqwest::header::HeaderValue::from_str(s).is_ok())
                })
            }),
            FieldKind::Endpoint => v
                .as_str()
                .is_some_and(|s| crate::common::Endpoint::parse(s).is_some()),
            FieldKind::Host => v.as_str().is_some_and(|s| {
                !s.is_empty()
                    && s.len() <= 253
                    && s.split('.').all(|l| {
                        !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
            }),
            FieldKind::Templates => v.as_object().is_some_and(|m| {
                m.iter().all(|(k, t)| {
                    ["en-US", "zh-CN", "nl-NL"].contains(&k.as_str())
                        && t.as_str()
                            .is_some_and(|t| t.contains("{{code}}") && t.len() <= 1000)
                })
            }),
        };
        if !ok {
            return Err(f.name.into());
        }
    }
    Ok(())
}
