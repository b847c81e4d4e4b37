//! The OpenID Provider (SPEC §16) through its real endpoints: discovery, the authorization
//! endpoint with a browser session cookie, the token endpoint, userinfo, revocation, logout and
//! the client administration; every error path the specifications name, and two instances.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{PHONE, Resp, TestApp, into_resp, spawn_app, spawn_app_with};

const CB: &str = "https://rp.example/cb";
const LOGGED_OUT: &str = "https://rp.example/bye";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-pkce-verifier";

fn challenge(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    format!("{url}?{}", serde_urlencoded::to_string(params).unwrap())
}

/// A client that never follows redirects: the tests read them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Client {
    id: String,
    secret: Option<String>,
}

async fn register(app: &TestApp, admin: &str, body: Value) -> Client {
    let r = app.admin(admin, "oidcClients:create", body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    Client {
        id: r.body["data"]["clientId"].as_str().unwrap().to_string(),
        secret: r.body["data"]["clientSecret"].as_str().map(str::to_string),
    }
}

async fn confidential(app: &TestApp, admin: &str, first_party: bool) -> Client {
    register(
        app,
        admin,
        json!({"name": "Grafana", "redirectUris": [CB], "postLogoutRedirectUris": [LOGGED_OUT],
               "firstParty": first_party}),
    )
    .await
}

/// Signs `phone` in by SMS and opens the provider's browser session; returns the cookie.
async fn session(app: &TestApp, phone: &str) -> String {
    let token = app.sms_token(phone).await;
    let r = browser()
        .post(app.url("/oidc/session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("Path=/oidc") && set.contains("SameSite=Lax"));
    set.split(';').next().unwrap().to_string()
}

/// `GET /oidc/authorize` with `params`, as a browser carrying `cookie`.
async fn authorize(
    app: &TestApp,
    cookie: Option<&str>,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = browser().get(with_query(&app.url("/oidc/authorize"), params));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect: {}", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

fn query_of(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str(q).unwrap()
}

fn code_params<'a>(client: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", CB),
        ("scope", "openid phone profile offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
    ];
    p.extend_from_slice(extra);
    p
}

/// Authorizes and returns the code (asserting the redirect carries `state` and `iss`).
async fn code_for(app: &TestApp, cookie: &str, client: &str, extra: &[(&str, &str)]) -> String {
    let r = authorize(app, Some(cookie), &code_params(client, extra)).await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert!(loc.starts_with(&format!("{CB}?")), "{loc}");
    let q = query_of(&loc);
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.base);
    q["code"].clone()
}

async fn token_req(app: &TestApp, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Resp {
    let mut req = browser().post(app.url("/oidc/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    into_resp(req.send().await.unwrap()).await
}

async fn exchange(app: &TestApp, c: &Client, code: &str) -> Resp {
    token_req(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
        ],
        Some((&c.id, c.secret.as_deref().unwrap())),
    )
    .await
}

async fn refresh(app: &TestApp, c: &Client, rt: &str) -> Resp {
    token_req(
        app,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        Some((&c.id, c.secret.as_deref().unwrap())),
    )
    .await
}

async fn userinfo(app: &TestApp, access: &str) -> reqwest::Response {
    browser()
        .get(app.url("/oidc/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

#[track_caller]
fn oauth_error(r: &Resp, status: u16, error: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["error"], error, "{:?}", r.body);
    assert!(r.body["error_description"].is_string());
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// The ID token's claims, after checking its signature against the served JWKS.
async fn verified_id_token(app: &TestApp, id_token: &str, aud: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let jwks: Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("the kid is in the JWKS")
        .clone();
    let key = match header.alg {
        jsonwebtoken::Algorithm::RS256 => jsonwebtoken::DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap(),
        jsonwebtoken::Algorithm::EdDSA => {
            jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap()
        }
        other => panic!("unexpected alg {other:?}"),
    };
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[app.base.as_str()]);
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(id_token, &key, &v)
        .unwrap()
        .claims
}

#[tokio::test]
async fn discovery_names_every_endpoint_and_the_jwks_holds_both_keys() {
    let app = spawn_app().await;
    let d: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], app.base);
    assert_eq!(
        d["authorization_endpoint"],
        format!("{}/oidc/authorize", app.base)
    );
    assert_eq!(d["token_endpoint"], format!("{}/oidc/token", app.base));
    assert_eq!(d["jwks_uri"], format!("{}/.well-known/jwks.json", app.base));
    assert_eq!(
        d["end_session_endpoint"],
        format!("{}/oidc/logout", app.base)
    );
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    let jwks: Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .any(|k| k["kty"] == "RSA" && k["alg"] == "RS256" && k["kid"].is_string())
    );
    assert!(
        keys.iter()
            .any(|k| k["kty"] == "OKP" && k["alg"] == "EdDSA" && k["kid"].is_string())
    );
    // The RSA key is kept: a restart on the same data directory serves the same kid.
    assert!(app.dir.path().join("oidc-rs256.pk8").exists());
}

#[tokio::test]
async fn a_confidential_client_signs_a_user_in_and_a_replayed_code_revokes_its_tokens() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    assert!(c.secret.as_ref().is_some_and(|s| s.len() >= 43));
    let cookie = session(&app, PHONE).await;
    let code = code_for(&app, &cookie, &c.id, &[]).await;

    let r = exchange(&app, &c, &code).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body["expires_in"].as_i64().unwrap() > 0);
    assert!(
        r.body["refresh_token"].is_string(),
        "offline_access gives a refresh token"
    );
    let claims = verified_id_token(&app, r.body["id_token"].as_str().unwrap(), &c.id).await;
    assert_eq!(claims["amr"], json!(["sms"]));
    assert_eq!(claims["phone_number"], PHONE);
    assert_eq!(claims["phone_number_verified"], true);
    assert_eq!(claims["nonce"], "n-1");
    assert!(claims["auth_time"].is_i64() && claims["sid"].is_string());
    assert!(claims["sub"].is_string() && claims.get("email").is_none());
    let access = r.body["access_token"].as_str().unwrap().to_string();
    let info: Value = userinfo(&app, &access).await.json().await.unwrap();
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["phone_number"], PHONE);

    // RFC 6749 §4.1.2: a second presentation fails and revokes what the first one got.
    let again = exchange(&app, &c, &code).await;
    oauth_error(&again, 400, "invalid_grant");
    let r = userinfo(&app, &access).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // client_secret_post works as well as Basic.
    let code2 = code_for(&app, &cookie, &c.id, &[]).await;
    let r = token_req(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", CB),
            ("client_id", &c.id),
            ("client_secret", c.secret.as_deref().unwrap()),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn a_bad_client_or_redirect_uri_gets_a_translated_page_and_never_a_redirect() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    for params in [
        vec![
            ("response_type", "code"),
            ("client_id", "oc_nobody"),
            ("redirect_uri", CB),
        ],
        vec![("response_type", "code"), ("redirect_uri", CB)],
        vec![
            ("response_type", "code"),
            ("client_id", c.id.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", c.id.as_str()),
            ("redirect_uri", "https://rp.example/cb/"),
        ],
        vec![("response_type", "code"), ("client_id", c.id.as_str())],
    ] {
        let r = browser()
            .get(with_query(&app.url("/oidc/authorize"), &params))
            .header("accept-language", "zh-CN")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{params:?}");
        assert!(r.headers().get("location").is_none());
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = r.text().await.unwrap();
        let title = smsauth::i18n::message("oidc.error.title", smsauth::i18n::Locale::ZhCn, &[]);
        assert!(html.contains(&title), "{html}");
        assert!(!html.contains("evil.example"));
    }
}

#[tokio::test]
async fn other_authorization_errors_go_back_to_the_application_with_state_and_iss() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let public = register(
        &app,
        &admin,
        json!({"name": "SPA", "redirectUris": [CB], "public": true}),
    )
    .await;
    assert!(public.secret.is_none());
    let c = confidential(&app, &admin, false).await;
    let err = |r: &reqwest::Response| query_of(&location(r));

    // PKCE is required for public clients, and only S256.
    let r = authorize(&app, None, &code_params(&public.id, &[])).await;
    let q = err(&r);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], app.base);
    let ch = challenge(VERIFIER);
    let r = authorize(
        &app,
        None,
        &code_params(
            &public.id,
            &[("code_challenge", &ch), ("code_challenge_method", "plain")],
        ),
    )
    .await;
    assert_eq!(err(&r)["error"], "invalid_request");
    let r = authorize(
        &app,
        None,
        &[
            ("response_type", "token"),
            ("client_id", &c.id),
            ("redirect_uri", CB),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(err(&r)["error"], "unsupported_response_type");
    let r = authorize(
        &app,
        None,
        &[
            ("response_type", "code"),
            ("client_id", &c.id),
            ("redirect_uri", CB),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(err(&r)["error"], "invalid_scope");
    let r = authorize(&app, None, &code_params(&c.id, &[("request", "eyJ")])).await;
    assert_eq!(err(&r)["error"], "request_not_supported");

    // Without a session: prompt=none fails, otherwise the user is sent to sign in and back.
    let r = authorize(&app, None, &code_params(&c.id, &[("prompt", "none")])).await;
    assert_eq!(err(&r)["error"], "login_required");
    let r = authorize(&app, None, &code_params(&c.id, &[])).await;
    let loc = location(&r);
    assert!(loc.starts_with("/signin?redirect="), "{loc}");
    assert!(query_of(&loc)["redirect"].starts_with("/oidc/authorize?"));
    // ui_locales picks the sign-in page's language: the first one it speaks.
    let r = authorize(
        &app,
        None,
        &code_params(&c.id, &[("ui_locales", "tlh de-CH ja")]),
    )
    .await;
    assert_eq!(query_of(&location(&r))["locale"], "de-DE");
    let page = browser()
        .get(app.url(&location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<html lang="de-DE">"#), "{page}");

    // With a session but no consent for a third-party client.
    let cookie = session(&app, PHONE).await;
    let r = authorize(
        &app,
        Some(&cookie),
        &code_params(&c.id, &[("prompt", "none")]),
    )
    .await;
    assert_eq!(err(&r)["error"], "consent_required");
    let r = authorize(&app, Some(&cookie), &code_params(&c.id, &[])).await;
    assert!(location(&r).starts_with("/oidc/consent?"));

    // A cookie that is no session is no session.
    let r = authorize(
        &app,
        Some("smsauth_op=forged"),
        &code_params(&c.id, &[("prompt", "none")]),
    )
    .await;
    assert_eq!(err(&r)["error"], "login_required");
}

#[tokio::test]
async fn consent_is_asked_once_and_a_refusal_is_access_denied() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, false).await;
    let cookie = session(&app, PHONE).await;
    let query = serde_urlencoded::to_string(code_params(&c.id, &[])).unwrap();
    // The sign-in page may name the application of a request it would accept, and only then.
    let r = into_resp(
        browser()
            .get(app.url(&format!("/oidc/client?{query}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.body["data"]["name"], "Grafana", "{:?}", r.body);
    let bad = query.replace("rp.example", "evil.example");
    let r = into_resp(
        browser()
            .get(app.url(&format!("/oidc/client?{bad}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(400, "INVALID_REQUEST");

    let r = into_resp(
        browser()
            .get(app.url(&format!("/oidc/interaction?{query}")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["client"]["name"], "Grafana");
    assert_eq!(
        r.body["data"]["scopes"],
        json!(["openid", "profile", "phone", "offline_access"])
    );
    assert_eq!(r.body["data"]["user"]["phone"], PHONE);
    // Without the session: 401 in the API's envelope.
    let r = into_resp(
        browser()
            .get(app.url(&format!("/oidc/interaction?{query}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(401, "NO_SESSION");

    let decide = |allow: bool, origin: Option<&str>, json_body: bool| {
        let mut req = browser()
            .post(app.url("/oidc/interaction"))
            .header("cookie", &cookie);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let body = json!({"query": query, "allow": allow}).to_string();
        req = if json_body {
            req.header("content-type", "application/json").body(body)
        } else {
            req.header("content-type", "text/plain").body(body)
        };
        async move { into_resp(req.send().await.unwrap()).await }
    };
    // Cross-site forgeries: a form-like body, or another origin.
    decide(true, None, false)
        .await
        .assert_error(415, "INVALID_JSON");
    decide(true, Some("https://evil.example"), true)
        .await
        .assert_error(403, "FORBIDDEN");

    let r = decide(false, Some(&app.base), true).await;
    let q = query_of(r.body["data"]["redirect"].as_str().unwrap());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-1");

    let r = decide(true, Some(&app.base), true).await;
    let back = r.body["data"]["redirect"].as_str().unwrap();
    assert!(back.starts_with("/oidc/authorize?"), "{back}");
    // Consent is stored: the next authorization goes straight back with a code.
    code_for(&app, &cookie, &c.id, &[]).await;
    // A wider scope asks again.
    let r = authorize(
        &app,
        Some(&cookie),
        &[
            ("response_type", "code"),
            ("client_id", &c.id),
            ("redirect_uri", CB),
            ("scope", "openid email"),
        ],
    )
    .await;
    assert!(location(&r).starts_with("/oidc/consent?"));
}

#[tokio::test]
async fn the_token_endpoint_refuses_every_bad_request_as_oauth_defines() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let other = confidential(&app, &admin, true).await;
    let public = register(
        &app,
        &admin,
        json!({"name": "SPA", "redirectUris": [CB], "public": true, "firstParty": true}),
    )
    .await;
    let cookie = session(&app, PHONE).await;
    let secret = c.secret.clone().unwrap();

    // Client authentication.
    let code1 = code_for(&app, &cookie, &c.id, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code1.as_str()),
        ("redirect_uri", CB),
    ];
    let r = token_req(&app, &form, Some((&c.id, "wrong-secret"))).await;
    oauth_error(&r, 401, "invalid_client");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"smsauth\"")
    );
    oauth_error(
        &token_req(&app, &form, Some(("oc_nobody", "x"))).await,
        401,
        "invalid_client",
    );
    oauth_error(&token_req(&app, &form, None).await, 401, "invalid_client");
    // Secrets are compared whole: the right client with a public-client request is refused.
    let mut no_secret = form.to_vec();
    no_secret.push(("client_id", &c.id));
    oauth_error(
        &token_req(&app, &no_secret, None).await,
        401,
        "invalid_client",
    );

    // Grant types and parameters.
    oauth_error(
        &token_req(&app, &[("grant_type", "password")], Some((&c.id, &secret))).await,
        400,
        "unsupported_grant_type",
    );
    oauth_error(
        &token_req(&app, &[("code", "x")], Some((&c.id, &secret))).await,
        400,
        "invalid_request",
    );
    oauth_error(
        &token_req(
            &app,
            &[("grant_type", "authorization_code")],
            Some((&c.id, &secret)),
        )
        .await,
        400,
        "invalid_request",
    );
    oauth_error(
        &token_req(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", CB),
            ],
            Some((&c.id, &secret)),
        )
        .await,
        400,
        "invalid_grant",
    );
    let r = into_resp(
        browser()
            .post(app.url("/oidc/token"))
            .basic_auth(&c.id, Some(&secret))
            .json(&json!({"grant_type": "authorization_code"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    oauth_error(&r, 400, "invalid_request");

    // A code belongs to its client and its redirect URI; a failed presentation consumes it.
    oauth_error(&exchange(&app, &other, &code1).await, 400, "invalid_grant");
    oauth_error(&exchange(&app, &c, &code1).await, 400, "invalid_grant");
    let code2 = code_for(&app, &cookie, &c.id, &[]).await;
    let r = token_req(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", "https://rp.example/other"),
        ],
        Some((&c.id, &secret)),
    )
    .await;
    oauth_error(&r, 400, "invalid_grant");

    // Expired codes (60 s).
    let code3 = code_for(&app, &cookie, &c.id, &[]).await;
    app.advance(61);
    oauth_error(&exchange(&app, &c, &code3).await, 400, "invalid_grant");

    // PKCE: a public client with the right verifier gets tokens; a wrong one does not, and a
    // verifier without a challenge is refused.
    let cookie = session(&app, "+8613800138011").await;
    let ch = challenge(VERIFIER);
    let pkce = [
        ("code_challenge", ch.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let wrong = code_for(&app, &cookie, &public.id, &pkce).await;
    let r = token_req(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &wrong),
            ("redirect_uri", CB),
            ("client_id", &public.id),
            ("code_verifier", "x".repeat(43).as_str()),
        ],
        None,
    )
    .await;
    oauth_error(&r, 400, "invalid_grant");
    let missing = code_for(&app, &cookie, &public.id, &pkce).await;
    let r = token_req(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &missing),
            ("redirect_uri", CB),
            ("client_id", &public.id),
        ],
        None,
    )
    .await;
    oauth_error(&r, 400, "invalid_grant");
    let right = code_for(&app, &cookie, &public.id, &pkce).await;
    let r = token_req(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &right),
            ("redirect_uri", CB),
            ("client_id", &public.id),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let plain = code_for(&app, &cookie, &c.id, &[]).await;
    let r = token_req(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &plain),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ],
        Some((&c.id, &secret)),
    )
    .await;
    oauth_error(&r, 400, "invalid_grant");
    // A public client cannot present a secret it does not have.
    oauth_error(
        &token_req(
            &app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", &public.id),
                ("client_secret", "guess"),
            ],
            None,
        )
        .await,
        401,
        "invalid_client",
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_chain() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let cookie = session(&app, PHONE).await;
    let code = code_for(&app, &cookie, &c.id, &[]).await;
    let first = exchange(&app, &c, &code).await;
    let rt1 = first.body["refresh_token"].as_str().unwrap().to_string();

    app.advance(1);
    let second = refresh(&app, &c, &rt1).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    let rt2 = second.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let access2 = second.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(&app, &access2).await.status(), 200);
    // The rotated-out access token no longer works.
    let access1 = first.body["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access1).await.status(), 401);
    // A refresh token is for its own client only.
    let other = confidential(&app, &admin, true).await;
    oauth_error(&refresh(&app, &other, &rt2).await, 400, "invalid_grant");

    app.advance(1);
    oauth_error(&refresh(&app, &c, &rt1).await, 400, "invalid_grant");
    // The whole chain is gone: the newest refresh and access tokens too.
    oauth_error(&refresh(&app, &c, &rt2).await, 400, "invalid_grant");
    assert_eq!(userinfo(&app, &access2).await.status(), 401);

    // Without offline_access, no refresh token.
    let code = crate::oidc::code_for(&app, &cookie, &c.id, &[("scope", "openid")]).await;
    let r = exchange(&app, &c, &code).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("refresh_token").is_none());
    assert_eq!(r.body["scope"], "openid");
}

async fn grant(app: &TestApp, cookie: &str, c: &Client) -> (String, String) {
    let code = code_for(app, cookie, &c.id, &[]).await;
    let r = exchange(app, c, &code).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (
        r.body["access_token"].as_str().unwrap().to_string(),
        r.body["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn revoke(app: &TestApp, c: &Client, token: &str) -> u16 {
    browser()
        .post(app.url("/oidc/revoke"))
        .basic_auth(&c.id, c.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn revocation_sign_out_revoke_sessions_and_deletion_end_the_grants() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let cookie = session(&app, PHONE).await;

    // RFC 7009: revoking the refresh token ends the grant; unknown tokens get 200 too.
    let (access, rt) = grant(&app, &cookie, &c).await;
    let info: Value = userinfo(&app, &access).await.json().await.unwrap();
    let id: i64 = info["sub"].as_str().unwrap().parse().unwrap();
    assert_eq!(revoke(&app, &c, &rt).await, 200);
    assert_eq!(userinfo(&app, &access).await.status(), 401);
    oauth_error(&refresh(&app, &c, &rt).await, 400, "invalid_grant");
    assert_eq!(revoke(&app, &c, "not-a-token").await, 200);
    // An access token can be revoked too.
    let (access, rt) = grant(&app, &cookie, &c).await;
    assert_eq!(revoke(&app, &c, &access).await, 200);
    assert_eq!(userinfo(&app, &access).await.status(), 401);
    oauth_error(&refresh(&app, &c, &rt).await, 400, "invalid_grant");

    // users:revokeSessions ends the grants and the browser session.
    let (access, rt) = grant(&app, &cookie, &c).await;
    app.advance(1);
    let r = app
        .admin(
            &admin,
            &format!("users:revokeSessions?filterByTk={id}"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(userinfo(&app, &access).await.status(), 401);
    oauth_error(&refresh(&app, &c, &rt).await, 400, "invalid_grant");
    let r = authorize(
        &app,
        Some(&cookie),
        &code_params(&c.id, &[("prompt", "none")]),
    )
    .await;
    assert_eq!(query_of(&location(&r))["error"], "login_required");

    // Signing the browser session out (the NocoBase API's own sign-out) ends its grants.
    app.advance(121);
    let cookie = session(&app, PHONE).await;
    let token = cookie.trim_start_matches("smsauth_op=").to_string();
    let (access, _) = grant(&app, &cookie, &c).await;
    let r = app
        .post(
            "auth:signOut",
            json!({}),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(userinfo(&app, &access).await.status(), 401);

    // Deleting the user ends everything.
    app.advance(121);
    let cookie = session(&app, PHONE).await;
    let (_, rt) = grant(&app, &cookie, &c).await;
    let r = app
        .admin(&admin, &format!("users:destroy?filterByTk={id}"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    oauth_error(&refresh(&app, &c, &rt).await, 400, "invalid_grant");
}

#[tokio::test]
async fn logout_ends_the_session_and_returns_only_to_a_registered_uri() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let cookie = session(&app, PHONE).await;
    let code = code_for(&app, &cookie, &c.id, &[]).await;
    let r = exchange(&app, &c, &code).await;
    let id_token = r.body["id_token"].as_str().unwrap().to_string();
    let access = r.body["access_token"].as_str().unwrap().to_string();

    // A logout that is not the session's own (no cookie here, or no hint) asks first: any
    // site could send its visitors there (RP-Initiated Logout 1.0 §2).
    let params = [
        ("id_token_hint", id_token.as_str()),
        ("post_logout_redirect_uri", "https://evil.example/"),
    ];
    let r = browser()
        .get(with_query(&app.url("/oidc/logout"), &params))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-cookie").is_none());
    let page = r.text().await.unwrap();
    assert!(
        page.contains(r#"action="/oidc/logout""#) && page.contains(r#"name="confirm""#),
        "{page}"
    );
    assert_eq!(
        userinfo(&app, &access).await.status(),
        200,
        "nothing ended yet"
    );
    let r = browser()
        .get(with_query(
            &app.url("/oidc/logout"),
            &[("post_logout_redirect_uri", LOGGED_OUT)],
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains(r#"name="confirm""#));
    // The confirmation counts only from our own origin.
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("confirm", "yes"));
    let post = |origin: &str| {
        browser()
            .post(app.url("/oidc/logout"))
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&form).unwrap())
            .send()
    };
    let r = post("https://evil.example").await.unwrap();
    assert!(r.text().await.unwrap().contains(r#"name="confirm""#));
    assert_eq!(userinfo(&app, &access).await.status(), 200);
    let r = post(&app.base).await.unwrap();
    // Confirmed: the hinted session ends; an unregistered URI is not followed.
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("location").is_none());
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(userinfo(&app, &access).await.status(), 401);

    app.advance(121);
    let cookie = session(&app, PHONE).await;
    let code = crate::oidc::code_for(&app, &cookie, &c.id, &[]).await;
    let r = exchange(&app, &c, &code).await;
    let id_token = r.body["id_token"].as_str().unwrap().to_string();
    let access = r.body["access_token"].as_str().unwrap().to_string();
    let r = browser()
        .get(with_query(
            &app.url("/oidc/logout"),
            &[
                ("id_token_hint", id_token.as_str()),
                ("post_logout_redirect_uri", LOGGED_OUT),
                ("state", "bye-1"),
            ],
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), format!("{LOGGED_OUT}?state=bye-1"));
    assert_eq!(userinfo(&app, &access).await.status(), 401);
    let r = authorize(
        &app,
        Some(&cookie),
        &code_params(&c.id, &[("prompt", "none")]),
    )
    .await;
    assert_eq!(query_of(&location(&r))["error"], "login_required");
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_a_fresh_sign_in() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let cookie = session(&app, PHONE).await;
    app.advance(1);
    let r = authorize(
        &app,
        Some(&cookie),
        &code_params(&c.id, &[("prompt", "login")]),
    )
    .await;
    let loc = location(&r);
    assert!(loc.starts_with("/signin?"), "{loc}");
    let back = query_of(&loc)["redirect"].clone();
    assert!(
        back.contains("auth_after=") && !back.contains("prompt=login"),
        "{back}"
    );
    // Coming back with the older session still asks; after a new sign-in it answers.
    let back_url = format!("{}{back}", app.base);
    let r = browser()
        .get(&back_url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/signin?"));
    app.advance(121);
    let fresh = session(&app, PHONE).await;
    let r = browser()
        .get(&back_url)
        .header("cookie", &fresh)
        .send()
        .await
        .unwrap();
    assert!(
        location(&r).starts_with(&format!("{CB}?code=")),
        "{}",
        location(&r)
    );

    app.advance(10);
    let r = authorize(&app, Some(&fresh), &code_params(&c.id, &[("max_age", "5")])).await;
    assert!(location(&r).starts_with("/signin?"));
    let r = authorize(
        &app,
        Some(&fresh),
        &code_params(&c.id, &[("max_age", "3600")]),
    )
    .await;
    assert!(location(&r).starts_with(CB));
}

#[tokio::test]
async fn clients_are_administered_by_root_with_secrets_shown_once() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, false).await;
    let r = app
        .admin(
            &admin,
            &format!("oidcClients:get?filterByTk={}", c.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["name"], "Grafana");
    assert!(r.body["data"].get("clientSecret").is_none());
    assert!(!r.body.to_string().contains(c.secret.as_deref().unwrap()));
    let r = app.admin(&admin, "oidcClients:list", json!({})).await;
    assert_eq!(r.body["meta"]["count"], 1);

    for bad in [
        json!({"name": "x", "redirectUris": []}),
        json!({"name": "x", "redirectUris": ["javascript:alert(1)"]}),
        json!({"name": "x", "redirectUris": ["https://a.example/#f"]}),
        json!({"name": "", "redirectUris": [CB]}),
        json!({"name": "x", "redirectUris": [CB], "idTokenSignedResponseAlg": "none"}),
    ] {
        let r = app.admin(&admin, "oidcClients:create", bad.clone()).await;
        r.assert_error(400, "INVALID_OIDC_CLIENT");
    }
    let r = app
        .admin(
            &admin,
            "oidcClients:create",
            json!({"name": "x", "redirectUris": CB}),
        )
        .await;
    r.assert_error(400, "INVALID_FIELD");
    assert!(r.message().contains("redirectUris"), "{}", r.message());

    let r = app
        .admin(
            &admin,
            &format!("oidcClients:update?filterByTk={}", c.id),
            json!({"name": "Grafana Prod", "idTokenSignedResponseAlg": "EdDSA"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["idTokenSignedResponseAlg"], "EdDSA");
    assert_eq!(r.body["data"]["redirectUris"], json!([CB]));

    let r = app
        .admin(
            &admin,
            &format!("oidcClients:rotateSecret?filterByTk={}", c.id),
            json!({}),
        )
        .await;
    let new_secret = r.body["data"]["clientSecret"].as_str().unwrap().to_string();
    assert_ne!(Some(new_secret.as_str()), c.secret.as_deref());
    let form = [("grant_type", "refresh_token"), ("refresh_token", "x")];
    oauth_error(
        &token_req(&app, &form, Some((&c.id, c.secret.as_deref().unwrap()))).await,
        401,
        "invalid_client",
    );
    oauth_error(
        &token_req(&app, &form, Some((&c.id, &new_secret))).await,
        400,
        "invalid_grant",
    );

    // A member may not look, and an admin who is not root may not change.
    let member = app.sms_token(PHONE).await;
    app.admin(&member, "oidcClients:list", json!({}))
        .await
        .assert_error(403, "FORBIDDEN");

    let r = app
        .admin(
            &admin,
            &format!("oidcClients:destroy?filterByTk={}", c.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    app.admin(
        &admin,
        &format!("oidcClients:get?filterByTk={}", c.id),
        json!({}),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    oauth_error(
        &token_req(&app, &form, Some((&c.id, &new_secret))).await,
        401,
        "invalid_client",
    );
}

#[tokio::test]
async fn codes_and_refresh_tokens_are_single_use_across_two_instances() {
    let app = spawn_app_with(|s| s.public_url = Some("http://smsauth.test".into())).await;
    let b = app.peer().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let cookie = session(&app, PHONE).await;
    let r = authorize(&app, Some(&cookie), &code_params(&c.id, &[])).await;
    let q = query_of(&location(&r));
    assert_eq!(q["iss"], "http://smsauth.test");
    let code = q["code"].clone();
    // Authorized on A, redeemed on B, replayed on A.
    let r = exchange(&b, &c, &code).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let access = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(&app, &access).await.status(), 200);
    oauth_error(&exchange(&app, &c, &code).await, 400, "invalid_grant");
    // The replay's revocation is seen on B within the cache lifetime.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(userinfo(&b, &access).await.status(), 401);

    app.advance(121);
    let cookie = session(&app, PHONE).await;
    let r = authorize(&app, Some(&cookie), &code_params(&c.id, &[])).await;
    let code = query_of(&location(&r))["code"].clone();
    let r = exchange(&app, &c, &code).await;
    let rt1 = r.body["refresh_token"].as_str().unwrap().to_string();
    app.advance(1);
    let r = refresh(&b, &c, &rt1).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rt2 = r.body["refresh_token"].as_str().unwrap().to_string();
    app.advance(1);
    oauth_error(&refresh(&app, &c, &rt1).await, 400, "invalid_grant");
    oauth_error(&refresh(&b, &c, &rt2).await, 400, "invalid_grant");
}

#[tokio::test]
async fn concurrent_presentations_of_one_code_give_tokens_once() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let cookie = session(&app, PHONE).await;
    let code = code_for(&app, &cookie, &c.id, &[]).await;
    let tries: Vec<_> = (0..8).map(|_| exchange(&app, &c, &code)).collect();
    let answers = futures_util::future::join_all(tries).await;
    let ok: Vec<&Resp> = answers.iter().filter(|r| r.status == 200).collect();
    assert!(ok.len() <= 1, "{answers:?}");
    for r in answers.iter().filter(|r| r.status != 200) {
        oauth_error(r, 400, "invalid_grant");
    }
    // Whichever won, the replays ended its grant.
    if let Some(r) = ok.first() {
        let access = r.body["access_token"].as_str().unwrap();
        assert_eq!(userinfo(&app, access).await.status(), 401);
    }
}

#[tokio::test]
async fn the_metrics_count_the_token_endpoint_by_oauth_error() {
    let app = spawn_app_with(|s| s.metrics.enabled = true).await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let cookie = session(&app, PHONE).await;
    let code = code_for(&app, &cookie, &c.id, &[]).await;
    assert_eq!(exchange(&app, &c, &code).await.status, 200);
    oauth_error(&exchange(&app, &c, &code).await, 400, "invalid_grant");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", CB),
    ];
    oauth_error(
        &token_req(&app, &form, Some((&c.id, "wrong"))).await,
        401,
        "invalid_client",
    );
    assert_eq!(userinfo(&app, "nope").await.status(), 401);
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"smsauth_api_responses_total{action="/oidc/token",code="OK"} 1"#,
        r#"smsauth_api_responses_total{action="/oidc/token",code="invalid_grant"} 1"#,
        r#"smsauth_api_responses_total{action="/oidc/token",code="invalid_client"} 1"#,
        r#"smsauth_api_responses_total{action="/oidc/userinfo",code="invalid_token"} 1"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn codes_not_yet_redeemed_end_with_their_session() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let cookie = session(&app, PHONE).await;
    let first = code_for(&app, &cookie, &c.id, &[]).await;
    let r = exchange(&app, &c, &first).await;
    let info: Value = userinfo(&app, r.body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let id = info["sub"].as_str().unwrap();
    // A code minted before the revocation gives nothing after it.
    let pending = code_for(&app, &cookie, &c.id, &[]).await;
    app.advance(1);
    let r = app
        .admin(
            &admin,
            &format!("users:revokeSessions?filterByTk={id}"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    oauth_error(&exchange(&app, &c, &pending).await, 400, "invalid_grant");
    // The same after a sign-out of the browser session.
    app.advance(121);
    let cookie = session(&app, PHONE).await;
    let pending = code_for(&app, &cookie, &c.id, &[]).await;
    let token = cookie.trim_start_matches("smsauth_op=").to_string();
    let r = app
        .post(
            "auth:signOut",
            json!({}),
            &[("Authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, 200);
    oauth_error(&exchange(&app, &c, &pending).await, 400, "invalid_grant");
}

#[tokio::test]
async fn only_a_fresh_sign_in_opens_the_browser_session_and_prompt_login_cannot_be_skipped() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let c = confidential(&app, &admin, true).await;
    let token = app.sms_token(PHONE).await;
    app.advance(121);
    // A token that is still valid but was not just made (a leaked one) opens no session.
    let r = into_resp(
        browser()
            .post(app.url("/oidc/session"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(401, "INVALID_TOKEN");
    let cookie = session(&app, "+8613800138012").await;
    // auth_after is ours: a client sending it with prompt=login still gets a fresh sign-in.
    let r = authorize(
        &app,
        Some(&cookie),
        &code_params(&c.id, &[("prompt", "login"), ("auth_after", "0")]),
    )
    .await;
    assert!(location(&r).starts_with("/signin?"), "{}", location(&r));
    // max_age=0 asks for a sign-in after now, not for one younger than zero seconds.
    app.advance(2);
    let r = authorize(
        &app,
        Some(&cookie),
        &code_params(&c.id, &[("max_age", "0")]),
    )
    .await;
    let back = query_of(&location(&r))["redirect"].clone();
    assert!(
        back.contains("auth_after=") && !back.contains("max_age"),
        "{back}"
    );
    app.advance(121);
    let fresh = session(&app, "+8613800138012").await;
    let r = browser()
        .get(format!("{}{back}", app.base))
        .header("cookie", &fresh)
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with(CB), "{}", location(&r));
}
