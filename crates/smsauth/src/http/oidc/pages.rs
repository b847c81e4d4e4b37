//! The provider's own pages: the error page for a request that cannot be sent back to its
//! application, the signed-out page, and the consent page's shell (its script is
//! `oidc-consent.js`).
//!
//! The error page is rendered here, without a script: it must work when nothing else about the
//! request can be trusted, and it never links back to the unverified redirect URI.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::layers::OwnErrorBody;
use crate::i18n::{self, Locale};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(status: StatusCode, locale: Locale, title_key: &str, body_keys: &[&str]) -> Response {
    html_with(status, locale, title_key, body_keys, "")
}

fn html_with(
    status: StatusCode,
    locale: Locale,
    title_key: &str,
    body_keys: &[&str],
    extra: &str,
) -> Response {
    let title = escape(&i18n::message(title_key, locale, &[]));
    let mut paragraphs: String = body_keys
        .iter()
        .map(|k| format!("<p>{}</p>\n", escape(&i18n::message(k, locale, &[]))))
        .collect();
    paragraphs.push_str(extra);
    let page = format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} – smsauth</title>\n<link rel=\"stylesheet\" href=\"/assets/app.css\">\n\
         </head>\n<body>\n<main id=\"app\" class=\"card\">\n<h1>{title}</h1>\n{paragraphs}</main>\n\
         </body>\n</html>\n",
        lang = locale.as_str(),
    );
    let mut resp = (status, page).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.extensions_mut().insert(OwnErrorBody);
    crate::ui::secure(resp)
}

/// Why an authorization request is answered here instead of at its redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageError {
    /// No or unknown `client_id`.
    UnknownClient,
    /// No `redirect_uri`, or one the client did not register.
    BadRedirect,
    /// The store did not answer: whether the client exists is unknown.
    Unavailable,
}

/// 400 with a translated explanation (RFC 6749 §4.1.2.1: never redirect to an unverified URI).
pub fn error_page(locale: Locale, why: PageError) -> Response {
    let (status, detail) = match why {
        PageError::UnknownClient => (StatusCode::BAD_REQUEST, "oidc.error.unknownClient"),
        PageError::BadRedirect => (StatusCode::BAD_REQUEST, "oidc.error.badRedirect"),
        PageError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "oidc.error.unavailable"),
    };
    html(
        status,
        locale,
        "oidc.error.title",
        &[detail, "oidc.error.hint"],
    )
}

/// After a logout without (a registered) `post_logout_redirect_uri`.
pub fn signed_out_page(locale: Locale) -> Response {
    html(
        StatusCode::OK,
        locale,
        "oidc.loggedOut.title",
        &["oidc.loggedOut.body"],
    )
}

/// RP-Initiated Logout 1.0 §2: without an ID token of the session in this browser, the user is
/// asked. The form posts the same parameters back with `confirm=yes` (same origin only).
///
/// A form's answer that redirects elsewhere is held to the page's `form-action` (CSP Level 3),
/// so the registered post-logout URI's origin, and only it, is added there.
pub fn confirm_logout_page(
    locale: Locale,
    params: &[(String, String)],
    then: Option<&str>,
) -> Response {
    let hidden: String = params
        .iter()
        .filter(|(k, _)| k != "confirm")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let form = format!(
        "<form method=\"post\" action=\"/oidc/logout\">\n{hidden}\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\n\
         <button type=\"submit\" class=\"wide\">{}</button>\n</form>\n",
        escape(&i18n::message("oidc.logout.confirm", locale, &[]))
    );
    let mut resp = html_with(
        StatusCode::OK,
        locale,
        "oidc.logout.title",
        &["oidc.logout.body"],
        &form,
    );
    // With the pages' usual `no-referrer`, a browser sends `Origin: null` on the form's POST
    // (Fetch standard, "append a request Origin header"); `same-origin` lets it name us.
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Some(origin) = then.and_then(origin_of) {
        let csp = crate::ui::CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        );
        if let Ok(v) = HeaderValue::from_str(&csp) {
            resp.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    resp
}

/// `scheme://host[:port]` of an absolute URI (a registered one: ASCII, no spaces).
fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// `GET /oidc/consent`: the shell of the consent page.
pub async fn consent_page(headers: HeaderMap, uri: axum::http::Uri) -> Response {
    crate::ui::page("oidc-consent", &headers, uri.query())
}
