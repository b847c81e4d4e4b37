//! Messages (SPEC §1, §13): one catalogue per locale in `locales/<locale>.json`, embedded in
//! the binary, holding every server message and every page text with `{{name}}` placeholders.
//! The server renders error messages from it; the pages load the same files from
//! `/ui/i18n/<locale>.json`. Adding a locale is adding a file and a line in [`Locale`]; the
//! parity test below fails when any key is missing or has other placeholders in any locale.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::HeaderMap;

/// A supported locale. `ALL` lists them in the order the language switcher shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    #[default]
    EnUs,
    ZhCn,
    ZhTw,
    NlNl,
    DeDe,
    FrFr,
    EsEs,
    PtBr,
    JaJp,
    KoKr,
    RuRu,
}

/// `(locale, catalogue text)`.
const CATALOGUES: [(Locale, &str); 11] = [
    (Locale::EnUs, include_str!("locales/en-US.json")),
    (Locale::ZhCn, include_str!("locales/zh-CN.json")),
    (Locale::ZhTw, include_str!("locales/zh-TW.json")),
    (Locale::NlNl, include_str!("locales/nl-NL.json")),
    (Locale::DeDe, include_str!("locales/de-DE.json")),
    (Locale::FrFr, include_str!("locales/fr-FR.json")),
    (Locale::EsEs, include_str!("locales/es-ES.json")),
    (Locale::PtBr, include_str!("locales/pt-BR.json")),
    (Locale::JaJp, include_str!("locales/ja-JP.json")),
    (Locale::KoKr, include_str!("locales/ko-KR.json")),
    (Locale::RuRu, include_str!("locales/ru-RU.json")),
];

impl Locale {
    pub const ALL: [Locale; 11] = [
        Locale::EnUs,
        Locale::ZhCn,
        Locale::ZhTw,
        Locale::NlNl,
        Locale::DeDe,
        Locale::FrFr,
        Locale::EsEs,
        Locale::PtBr,
        Locale::JaJp,
        Locale::KoKr,
        Locale::RuRu,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::EnUs => "en-US",
            Locale::ZhCn => "zh-CN",
            Locale::ZhTw => "zh-TW",
            Locale::NlNl => "nl-NL",
            Locale::DeDe => "de-DE",
            Locale::FrFr => "fr-FR",
            Locale::EsEs => "es-ES",
            Locale::PtBr => "pt-BR",
            Locale::JaJp => "ja-JP",
            Locale::KoKr => "ko-KR",
            Locale::RuRu => "ru-RU",
        }
    }

    /// Matches a language tag loosely: `de`, `de-AT`, `de_de` all find German. Chinese is
    /// Traditional for Taiwan, Hong Kong, Macau and the `Hant` script, else Simplified.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let lower = tag.trim().to_ascii_lowercase().replace('_', "-");
        let mut parts = lower.split('-');
        let lang = parts.next()?;
        Some(match lang {
            "en" => Locale::EnUs,
            "zh" => {
                if parts.any(|p| matches!(p, "tw" | "hk" | "mo" | "hant")) {
                    Locale::ZhTw
                } else {
                    Locale::ZhCn
                }
            }
            "nl" => Locale::NlNl,
            "de" => Locale::DeDe,
            "fr" => Locale::FrFr,
            "es" => Locale::EsEs,
            "pt" => Locale::PtBr,
            "ja" => Locale::JaJp,
            "ko" => Locale::KoKr,
            "ru" => Locale::RuRu,
            _ => return None,
        })
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

    /// The catalogue file as embedded, for the pages.
    pub fn catalogue_json(self) -> &'static str {
        CATALOGUES
            .iter()
            .find(|(l, _)| *l == self)
            .map(|(_, text)| *text)
            .unwrap_or("{}")
    }
}

type Catalogue = HashMap<String, String>;

/// Every catalogue, parsed once. [`load`] runs at start-up so that a broken catalogue stops the
/// server with a message instead of showing keys to users.
fn catalogues() -> &'static Result<HashMap<Locale, Catalogue>, String> {
    static PARSED: OnceLock<Result<HashMap<Locale, Catalogue>, String>> = OnceLock::new();
    PARSED.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(locale, text)| {
                serde_json::from_str::<Catalogue>(text)
                    .map(|c| (*locale, c))
                    .map_err(|e| format!("the {} catalogue is not valid: {e}", locale.as_str()))
            })
            .collect()
    })
}

/// Parses the catalogues; called at start-up.
pub fn load() -> anyhow::Result<()> {
    catalogues()
        .as_ref()
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The message for `key` in `locale` with `{{name}}` placeholders filled in; en-US when the
/// locale lacks it (the parity test keeps that from happening), the generic internal error for
/// an unknown key.
pub fn message(key: &str, locale: Locale, params: &[(&str, String)]) -> String {
    let template = match catalogues() {
        Ok(all) => {
            let find = |l: Locale, k: &str| all.get(&l).and_then(|c| c.get(k)).map(String::as_str);
            find(locale, key)
                .or_else(|| find(Locale::EnUs, key))
                .or_else(|| find(locale, "INTERNAL_ERROR"))
                .unwrap_or("Internal server error")
        }
        Err(_) => "Internal server error",
    };
    let mut out = template.to_string();
    for (name, value) in params {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// `{{name}}` placeholders of a text, with their counts.
    fn placeholders(text: &str) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            *out.entry(after[..end].to_string()).or_insert(0) += 1;
            rest = &after[end + 2..];
        }
        out
    }

    #[test]
    fn every_locale_has_every_key_with_the_same_placeholders() {
        let all = catalogues().as_ref().unwrap();
        let en = &all[&Locale::EnUs];
        for locale in Locale::ALL {
            let cat = &all[&locale];
            let mut missing: Vec<&String> = en.keys().filter(|k| !cat.contains_key(*k)).collect();
            missing.sort();
            assert!(missing.is_empty(), "{} lacks {missing:?}", locale.as_str());
            let extra: Vec<&String> = cat.keys().filter(|k| !en.contains_key(*k)).collect();
            assert!(
                extra.is_empty(),
                "{} has unknown keys {extra:?}",
                locale.as_str()
            );
            for (key, text) in cat {
                assert!(
                    !text.trim().is_empty(),
                    "{} {key} is empty",
                    locale.as_str()
                );
                assert_eq!(
                    placeholders(text),
                    placeholders(&en[key]),
                    "{} {key}: other placeholders than en-US",
                    locale.as_str()
                );
                assert!(
                    !text
                        .replace("{{", "")
                        .replace("}}", "")
                        .contains(['{', '}']),
                    "{} {key}: a stray brace",
                    locale.as_str()
                );
            }
        }
    }

    #[test]
    fn every_locale_parses_and_names_itself() {
        assert!(load().is_ok());
        for locale in Locale::ALL {
            assert_eq!(Locale::from_tag(locale.as_str()), Some(locale));
            let name = message("lang.name", locale, &[]);
            assert!(!name.is_empty() && name != "lang.name");
        }
    }

    #[test]
    fn negotiation_order() {
        let mut h = HeaderMap::new();
        h.insert(
            "accept-language",
            "sv;q=0.9, nl-BE;q=0.8, en;q=0.5".parse().unwrap(),
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
    fn language_tags_find_their_locale() {
        for (tag, locale) in [
            ("de", Locale::DeDe),
            ("de-AT", Locale::DeDe),
            ("ja_jp", Locale::JaJp),
            ("zh-Hant-TW", Locale::ZhTw),
            ("zh-HK", Locale::ZhTw),
            ("zh-Hans", Locale::ZhCn),
            ("zh", Locale::ZhCn),
            ("pt-PT", Locale::PtBr),
            ("es-MX", Locale::EsEs),
        ] {
            assert_eq!(Locale::from_tag(tag), Some(locale), "{tag}");
        }
        assert_eq!(Locale::from_tag("sv-SE"), None);
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            message("RateLimitLive", Locale::ZhCn, &[("time", "42".into())]),
            "请 42 秒后再试"
        );
        assert_eq!(
            message("no-such-key", Locale::EnUs, &[]),
            "Internal server error"
        );
    }
}
