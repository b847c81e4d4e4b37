//! The web pages (SPEC §14, and the SMS-defence tabs of SPEC §15): `/signin`, `/admin`,
//! `/account` and the API reference `/api/docs`
//! (SPEC §17), served from assets embedded in
//! the binary. Pages are static HTML shells whose scripts call the JSON API, so the browser and
//! any other client exercise exactly the same surface.
//!
//! CSRF: the API authenticates with a bearer token that the page's script puts in the
//! `Authorization` header; no cookie carries credentials, so a cross-site form or image cannot
//! make an authenticated request (OWASP CSRF Prevention Cheat Sheet, "token-based
//! authentication"). The pages also send a strict Content-Security-Policy: scripts only from
//! this origin, no inline code, no framing.

use crate::http::Routes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::i18n::Locale;

const SHELL: &str = include_str!("assets/shell.html");

/// `(file, content type, body)`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/i18n.js"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/common.js"),
    ),
    (
        "signin.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/signin.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin.js"),
    ),
    (
        "admin-authenticators.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-authenticators.js"),
    ),
    (
        "admin-verifiers.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-verifiers.js"),
    ),
    (
        "admin-policy.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-policy.js"),
    ),
    (
        "admin-users.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-users.js"),
    ),
    (
        "admin-sms-policy.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-sms-policy.js"),
    ),
    (
        "admin-sms-guard.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-sms-guard.js"),
    ),
    (
        "admin-test-numbers.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-test-numbers.js"),
    ),
    (
        "admin-audit.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-audit.js"),
    ),
    (
        "docs.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/docs.js"),
    ),
    (
        "admin-oidc-clients.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/admin-oidc-clients.js"),
    ),
    (
        "oidc-consent.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/oidc-consent.js"),
    ),
    (
        "account.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/account.js"),
    ),
];

pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub(crate) fn secure(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// The shell for `page`, with `lang` from `?locale=` (the OpenID Provider passes a relying
/// party's `ui_locales` so) or `Accept-Language`, so the first paint is already in the reader's
/// language (the script may switch it; a choice the reader saved wins).
pub(crate) fn page(page: &'static str, headers: &HeaderMap, query: Option<&str>) -> Response {
    let lang = Locale::negotiate(headers, query).as_str();
    let html = SHELL.replace("{{page}}", page).replace("{{lang}}", lang);
    let mut resp = html.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(resp)
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => {
            let mut resp = (*body).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            secure(resp)
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `index.json` (every locale with its own name, for the language switcher) or
/// `<locale>.json` (that locale's catalogue, the same file the server's messages come from).
async fn catalogue(Path(file): Path<String>) -> Response {
    let body = if file == "index.json" {
        let index: Vec<serde_json::Value> = Locale::ALL
            .iter()
            .map(|l| {
                let name = crate::i18n::message("lang.name", *l, &[]);
                serde_json::json!({ "locale": l.as_str(), "name": name })
            })
            .collect();
        serde_json::Value::Array(index).to_string()
    } else {
        let known = Locale::ALL
            .iter()
            .find(|l| file.strip_suffix(".json") == Some(l.as_str()));
        match known {
            Some(l) => l.catalogue_json().to_string(),
            None => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    secure(resp)
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Routes<S> {
    Routes::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route(
            "/signin",
            get(
                |h: HeaderMap, uri: axum::http::Uri| async move { page("signin", &h, uri.query()) },
            ),
        )
        .route(
            "/admin",
            get(|h: HeaderMap| async move { page("admin", &h, None) }),
        )
        .route(
            "/account",
            get(|h: HeaderMap| async move { page("account", &h, None) }),
        )
        .route(
            "/api/docs",
            get(|h: HeaderMap| async move { page("docs", &h, None) }),
        )
        .route("/assets/i18n/{file}", get(catalogue))
        .route("/assets/{file}", get(asset))
}
