//! Message catalogue (SPEC §13) and locale negotiation. Every error code has a message in each
//! supported locale; a test checks that none is missing.

mod catalog;

use axum::http::HeaderMap;

pub use catalog::CATALOG;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    EnUs,
    ZhCn,
    NlNl,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::EnUs => "en-US",
            Locale::ZhCn => "zh-CN",
            Locale::NlNl => "nl-NL",
        }
    }

    /// Matches a language tag loosely: `zh`, `zh-CN`, `zh_cn`, `nl-BE` all find their language.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let lang = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match lang.as_str() {
            "en" => Some(Locale::EnUs),
            "zh" => Some(Locale::ZhCn),
            "nl" => Some(Locale::NlNl),
            _ => None,
        }
    }

    /// `X-Locale`, else `?locale=`, else `Accept-Language` (in the client's order of
    /// preference), else en-US.
    pub fn negotiate(headers: &HeaderMap, query: Option<&str>) -> Locale {
        if let Some(l) = headers
            .get("x-locale")
            .and_then(|v| v.to_str().ok())
            .and_then(Locale::from_tag)
        {
            return l;
        }
        if let Some(l) = query.and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "locale")
                .and_then(|(_, v)| Locale::from_tag(v))
        }) {
            return l;
        }
        if let Some(accept) = headers.get("accept-language").and_then(|v| v.to_str().ok()) {
            let mut tags: Vec<(f32, &str)> = accept
                .split(',')
                .map(|part| {
                    let mut it = part.split(';');
                    let tag = it.next().unwrap_or("").trim();
                    let q = it
                        .find_map(|p| p.trim().strip_prefix("q="))
                        .and_then(|q| q.parse().ok())
                        .unwrap_or(1.0);
                    (q, tag)
                })
                .collect();
            tags.sort_by(|a, b| b.0.total_cmp(&a.0));
            if let Some(l) = tags.iter().find_map(|(_, t)| Locale::from_tag(t)) {
                return l;
            }
        }
        Locale::EnUs
    }
}

/// The message for `key` in `locale` with `{{name}}` placeholders filled in.
pub fn message(key: &str, locale: Locale, params: &[(&str, String)]) -> String {
    let entry = CATALOG
        .iter()
        .find(|e| e.0 == key)
        .or_else(|| CATALOG.iter().find(|e| e.0 == "INTERNAL_ERROR"));
    let template = match (entry, locale) {
        (Some(e), Locale::EnUs) => e.1,
        (Some(e), Locale::ZhCn) => e.2,
        (Some(e), Locale::NlNl) => e.3,
        (None, _) => "Internal server error",
    };
    let mut out = template.to_string();
    for (name, value) in params {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_translated_and_keys_are_unique() {
        let mut keys = std::collections::HashSet::new();
        for (key, en, zh, nl) in CATALOG {
            assert!(keys.insert(key), "duplicate key {key}");
            assert!(!en.is_empty() && !zh.is_empty() && !nl.is_empty(), "{key}");
            assert_ne!(en, zh, "{key} not translated to zh-CN");
            assert_ne!(en, nl, "{key} not translated to nl-NL");
        }
    }

    #[test]
    fn negotiation_order() {
        let mut h = HeaderMap::new();
        h.insert(
            "accept-language",
            "fr;q=0.9, nl-BE;q=0.8, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(Locale::negotiate(&h, None), Locale::NlNl);
        assert_eq!(
            Locale::negotiate(&h, Some("a=b&locale=zh-CN")),
            Locale::ZhCn
        );
        h.insert("x-locale", "en-US".parse().unwrap());
        assert_eq!(Locale::negotiate(&h, Some("locale=zh-CN")), Locale::EnUs);
        assert_eq!(Locale::negotiate(&HeaderMap::new(), None), Locale::EnUs);
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            message("RateLimitLive", Locale::ZhCn, &[("time", "42".into())]),
            "请 42 秒后再试"
        );
    }
}
