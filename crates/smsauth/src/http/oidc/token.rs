//! `/oidc/token` (RFC 6749 §3.2, §4.1.3, §6; PKCE RFC 7636 §4.6), `/oidc/userinfo` (OIDC Core
//! §5.3, bearer tokens RFC 6750) and `/oidc/revoke` (RFC 7009).
//!
//! Access tokens are JWTs (`typ: at+jwt`, RFC 9068) and refresh tokens JWTs of our own type;
//! both carry the grant session's current token id, so the session store decides whether they
//! still work: every check of SPEC §5.3 applies to them.

use std::collections::HashMap;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use smsauth_core::domain::oidc::{IdTokenAlg, OidcClient, parse_scope};
use smsauth_core::domain::user::User;
use smsauth_core::service::oidc::CodeRefusal;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::oauth_error;
use crate::http::AppState;
use crate::http::layers::OwnErrorBody;
use crate::oidc_keys::TokenKind;

type Params = HashMap<String, String>;

fn bad(error: &'static str, description: &str) -> Response {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    oauth_error(status, error, description)
}

fn unavailable() -> Response {
    oauth_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the server cannot answer now; try again",
    )
}

/// Undoes the form-urlencoding RFC 6749 §2.3.1 applies to Basic credentials before base64
/// (`+` is a space, `%XX` a byte); `None` for a malformed escape or bytes that are no UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Authenticates the client of a token or revocation request (RFC 6749 §2.3): HTTP Basic,
/// or `client_id` + `client_secret` in the body, or `client_id` alone for a public client.
async fn authenticate_client(
    app: &AppState,
    headers: &HeaderMap,
    form: &Params,
) -> Result<OidcClient, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, creds)| creds.trim().to_string());
    let form_id = form.get("client_id").filter(|v| !v.is_empty());
    let form_secret = form.get("client_secret").filter(|v| !v.is_empty());
    let (client_id, secret) = match basic {
        Some(creds) => {
            if form_secret.is_some() {
                return Err(bad(
                    "invalid_request",
                    "use one client authentication method, not two",
                ));
            }
            let decoded = STANDARD
                .decode(creds)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad("invalid_client", "malformed Basic credentials"))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| bad("invalid_client", "malformed Basic credentials"))?;
            let (Some(id), Some(secret)) = (percent_decode(id), percent_decode(secret)) else {
                return Err(bad("invalid_client", "malformed Basic credentials"));
            };
            if form_id.is_some_and(|f| *f != id) {
                return Err(bad("invalid_request", "client_id does not match"));
            }
            (id, Some(secret))
        }
        None => match form_id {
            Some(id) => (id.clone(), form_secret.cloned()),
            None => return Err(bad("invalid_client", "client authentication is required")),
        },
    };
    let client = match app.core.oidc.client(&client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(bad("invalid_client", "unknown client")),
        Err(_) => return Err(unavailable()),
    };
    match (client.public, secret) {
        (true, None) => Ok(client),
        (true, Some(_)) => Err(bad(
            "invalid_client",
            "this client is public and has no secret",
        )),
        (false, Some(s)) if app.core.oidc_secret_matches(&client, &s) => Ok(client),
        (false, _) => Err(bad("invalid_client", "client authentication failed")),
    }
}

/// The form body of a token or revocation request and its authenticated client.
async fn form_and_client(
    app: &AppState,
    headers: &HeaderMap,
    form: Result<Form<Params>, axum::extract::rejection::FormRejection>,
) -> Result<(Params, OidcClient), Response> {
    let Ok(Form(form)) = form else {
        return Err(bad(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    };
    let client = authenticate_client(app, headers, &form).await?;
    Ok((form, client))
}

fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    // RFC 7636 §4.1: 43–128 unreserved characters.
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The claims a scope releases (OIDC Core §5.4), for the ID token and userinfo alike.
fn scope_claims(user: &User, scopes: &[&str], amr: &str, out: &mut serde_json::Map<String, Value>) {
    if scopes.contains(&"phone")
        && let Some(phone) = &user.phone
    {
        out.insert("phone_number".into(), json!(phone));
        // Verified when this sign-in proved possession of the number (a code sent to it).
        out.insert("phone_number_verified".into(), json!(amr == "sms"));
    }
    if scopes.contains(&"profile") {
        // OIDC Core §5.3.2: a claim without a value is left out, not sent as null.
        let name = user.nickname.clone().or_else(|| user.username.clone());
        for (claim, value) in [
            ("nickname", &user.nickname),
            ("name", &name),
            ("preferred_username", &user.username),
        ] {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                out.insert(claim.into(), json!(v));
            }
        }
        out.insert("updated_at".into(), json!(user.updated_at.timestamp()));
    }
    if scopes.contains(&"email")
        && let Some(email) = &user.email
    {
        out.insert("email".into(), json!(email));
        // smsauth never proves possession of an address.
        out.insert("email_verified".into(), json!(false));
    }
}

/// Access and ID tokens live at most this long, however long the token policy lets a session
/// token live: a resource server that checks an access token's signature alone keeps honouring
/// it after a revocation until it expires. Refreshes and userinfo see a revocation at once.
const ACCESS_TOKEN_MAX_SECS: i64 = 3600;

/// What a grant's tokens say about it.
struct GrantFacts<'a> {
    client: &'a OidcClient,
    user: &'a User,
    jti: Uuid,
    /// The scope of this answer's access and ID tokens.
    scope: String,
    /// The scope of the grant, which its refresh token keeps (RFC 6749 §6).
    granted: String,
    amr: String,
    auth_time: i64,
    sid: String,
    nonce: Option<String>,
}

async fn token_answer(app: &AppState, g: GrantFacts<'_>) -> Response {
    let policy = match app.core.config.token_policy().await {
        Ok(p) => p,
        Err(_) => return unavailable(),
    };
    let now = app.core.clock.now().timestamp();
    let ttl = policy.token_ttl.min(ACCESS_TOKEN_MAX_SECS);
    let iss = app.http.public_url.as_str();
    let sub = g.user.id.to_string();
    let scopes = parse_scope(&g.scope);
    let access = json!({
        "iss": iss, "sub": sub, "aud": g.client.client_id, "client_id": g.client.client_id,
        "iat": now, "exp": now + ttl, "jti": g.jti, "scope": g.scope, "sid": g.sid,
        "auth_time": g.auth_time, "amr": [g.amr],
    });
    let mut id = serde_json::Map::new();
    for (k, v) in [
        ("iss", json!(iss)),
        ("sub", json!(sub)),
        ("aud", json!(g.client.client_id)),
        ("azp", json!(g.client.client_id)),
        ("iat", json!(now)),
        ("exp", json!(now + ttl)),
        ("auth_time", json!(g.auth_time)),
        ("amr", json!([g.amr])),
        ("sid", json!(g.sid)),
    ] {
        id.insert(k.into(), v);
    }
    if let Some(n) = &g.nonce {
        id.insert("nonce".into(), json!(n));
    }
    scope_claims(g.user, &scopes, &g.amr, &mut id);
    let keys = &app.oidc;
    let signed = (|| -> anyhow::Result<(String, String, Option<String>)> {
        let access = keys.sign(IdTokenAlg::Rs256, TokenKind::Access, &access)?;
        let id_token = keys.sign(g.client.id_token_alg, TokenKind::Id, &Value::Object(id))?;
        let refresh = if parse_scope(&g.granted).contains(&"offline_access") {
            let claims = json!({
                "iss": iss, "sub": sub, "aud": g.client.client_id, "iat": now, "jti": g.jti,
                "scope": g.granted, "sid": g.sid, "auth_time": g.auth_time, "amr": g.amr,
                "nonce": g.nonce,
            });
            Some(keys.sign(IdTokenAlg::Rs256, TokenKind::Refresh, &claims)?)
        } else {
            None
        };
        Ok((access, id_token, refresh))
    })();
    let Ok((access, id_token, refresh)) = signed else {
        return unavailable();
    };
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "id_token": id_token,
        "scope": g.scope,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    let mut resp = axum::Json(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// `POST /oidc/token`.
pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Params>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (form, client) = match form_and_client(&app, &headers, form).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&app, &client, &form).await,
        Some("refresh_token") => refresh_grant(&app, &client, &form).await,
        None | Some("") => bad("invalid_request", "grant_type is required"),
        Some(_) => bad(
            "unsupported_grant_type",
            "only authorization_code and refresh_token are supported",
        ),
    }
}

async fn code_grant(app: &AppState, client: &OidcClient, form: &Params) -> Response {
    let Some(code) = form.get("code").filter(|c| !c.is_empty()) else {
        return bad("invalid_request", "code is required");
    };
    let (stored, grant) = match app.core.take_oidc_code(code).await {
        Ok(Ok(taken)) => taken,
        Ok(Err(CodeRefusal::Unknown)) => return bad("invalid_grant", "unknown code"),
        Ok(Err(CodeRefusal::Expired)) => return bad("invalid_grant", "the code has expired"),
        Ok(Err(CodeRefusal::Replayed | CodeRefusal::SessionEnded)) => {
            return bad(
                "invalid_grant",
                "the code was already used; the tokens issued for it are revoked",
            );
        }
        Err(_) => return unavailable(),
    };
    if stored.client_id != client.client_id {
        return bad("invalid_grant", "the code was issued to another client");
    }
    if form.get("redirect_uri") != Some(&stored.redirect_uri) {
        return bad(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        );
    }
    match (&stored.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => {}
        (Some(_), _) => return bad("invalid_grant", "code_verifier does not match"),
        // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
        (None, Some(_)) => {
            return bad(
                "invalid_grant",
                "code_verifier sent but the authorization request had no code_challenge",
            );
        }
        (None, None) => {}
    }
    let user = match app.core.users.user(stored.user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return bad("invalid_grant", "the user no longer exists"),
        Err(_) => return unavailable(),
    };
    let started = match app.core.start_oidc_grant(stored, grant).await {
        Ok(Ok(g)) => g,
        Ok(Err(CodeRefusal::SessionEnded)) => {
            return bad(
                "invalid_grant",
                "the sign-in this code was issued in has ended",
            );
        }
        Ok(Err(_)) => {
            return bad(
                "invalid_grant",
                "the code was already used; the tokens issued for it are revoked",
            );
        }
        Err(_) => return unavailable(),
    };
    let c = &started.code;
    token_answer(
        app,
        GrantFacts {
            client,
            user: &user,
            jti: started.jti,
            scope: c.scope.clone(),
            granted: c.scope.clone(),
            amr: c.amr.clone(),
            auth_time: c.auth_time.timestamp(),
            sid: c.sid.to_string(),
            nonce: c.nonce.clone(),
        },
    )
    .await
}

/// The claims of one of our refresh tokens issued to `client` by this issuer.
fn refresh_claims(app: &AppState, client: &OidcClient, token: &str) -> Option<Value> {
    let claims = app.oidc.verify(token, TokenKind::Refresh)?;
    (claims.get("iss")?.as_str()? == app.http.public_url
        && claims.get("aud")?.as_str()? == client.client_id)
        .then_some(claims)
}

async fn refresh_grant(app: &AppState, client: &OidcClient, form: &Params) -> Response {
    let Some(token) = form.get("refresh_token").filter(|t| !t.is_empty()) else {
        return bad("invalid_request", "refresh_token is required");
    };
    let Some(claims) = refresh_claims(app, client, token) else {
        return bad("invalid_grant", "unknown refresh token");
    };
    let field = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(jti), Some(user_id), Some(granted), Some(amr), Some(sid)) = (
        field("jti").and_then(|j| Uuid::parse_str(&j).ok()),
        field("sub").and_then(|s| s.parse::<i64>().ok()),
        field("scope"),
        field("amr"),
        field("sid"),
    ) else {
        return bad("invalid_grant", "unknown refresh token");
    };
    let auth_time = claims.get("auth_time").and_then(Value::as_i64).unwrap_or(0);
    let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    // A narrower scope may be asked for (RFC 6749 §6), never a wider one.
    let scope = match form.get("scope").filter(|s| !s.is_empty()) {
        None => granted.clone(),
        Some(asked) => {
            let asked = parse_scope(asked);
            if !smsauth_core::domain::oidc::covers(&granted, &asked) || !asked.contains(&"openid") {
                return bad("invalid_scope", "the scope exceeds what was granted");
            }
            asked.join(" ")
        }
    };
    // Rotation first: a token rotated before and presented again ends the grant here, even
    // though the checks below would refuse it anyway.
    let (fresh, _) = match app.core.refresh_oidc_grant(jti).await {
        Ok(Some(r)) => r,
        Ok(None) => return bad("invalid_grant", "the refresh token is no longer valid"),
        Err(_) => return unavailable(),
    };
    let user = match app
        .core
        .oidc_grant_user(user_id, fresh, iat, auth_time)
        .await
    {
        Ok(Some(u)) => u,
        Ok(None) => return bad("invalid_grant", "the grant has ended"),
        Err(_) => return unavailable(),
    };
    token_answer(
        app,
        GrantFacts {
            client,
            user: &user,
            jti: fresh,
            scope,
            granted,
            amr,
            auth_time,
            sid,
            nonce: field("nonce"),
        },
    )
    .await
}

fn bearer_error(error: Option<&str>) -> Response {
    let challenge = match error {
        Some(e) => format!("Bearer realm=\"smsauth\", error=\"{e}\""),
        None => "Bearer realm=\"smsauth\"".to_string(),
    };
    // A body with its content type: the connection layer takes a bare 4xx head for hyper's own
    // answer to an unreadable request (`serve::io`).
    let body = match error {
        Some(e) => json!({ "error": e, "error_description": "the access token is not valid" }),
        None => {
            json!({ "error": "invalid_request", "error_description": "a bearer access token is required" })
        }
    };
    let mut resp = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp.extensions_mut().insert(OwnErrorBody);
    resp.extensions_mut().insert(crate::http::ApiError::new(
        StatusCode::UNAUTHORIZED,
        if error.is_some() {
            "invalid_token"
        } else {
            "invalid_request"
        },
    ));
    resp
}

/// `GET|POST /oidc/userinfo` with a bearer access token.
pub async fn userinfo(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let Some(token) = token else {
        return bearer_error(None);
    };
    let now = app.core.clock.now().timestamp();
    let Some(claims) = app.oidc.verify(&token, TokenKind::Access) else {
        return bearer_error(Some("invalid_token"));
    };
    let field = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
    let num = |k: &str| claims.get(k).and_then(Value::as_i64).unwrap_or(0);
    let (Some(jti), Some(user_id), Some(scope)) = (
        field("jti").and_then(|j| Uuid::parse_str(&j).ok()),
        field("sub").and_then(|s| s.parse::<i64>().ok()),
        field("scope"),
    ) else {
        return bearer_error(Some("invalid_token"));
    };
    if field("iss").as_deref() != Some(app.http.public_url.as_str()) || num("exp") <= now {
        return bearer_error(Some("invalid_token"));
    }
    let user = match app
        .core
        .oidc_grant_user(user_id, jti, num("iat"), num("auth_time"))
        .await
    {
        Ok(Some(u)) => u,
        Ok(None) => return bearer_error(Some("invalid_token")),
        Err(_) => return unavailable(),
    };
    let amr = claims
        .get("amr")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .unwrap_or("pwd")
        .to_string();
    let mut out = serde_json::Map::new();
    out.insert("sub".into(), json!(user.id.to_string()));
    scope_claims(&user, &parse_scope(&scope), &amr, &mut out);
    let mut resp = axum::Json(Value::Object(out)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `POST /oidc/revoke` (RFC 7009): ends the grant of a refresh or access token issued to the
/// authenticated client. Unknown, foreign and already revoked tokens get the same 200 (§2.2),
/// so the endpoint tells nothing about tokens the caller does not hold.
pub async fn revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Params>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (form, client) = match form_and_client(&app, &headers, form).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return bad("invalid_request", "token is required");
    };
    let claims = refresh_claims(&app, &client, token).or_else(|| {
        app.oidc
            .verify(token, TokenKind::Access)
            .filter(|c| c.get("client_id").and_then(Value::as_str) == Some(&client.client_id))
    });
    if let Some(claims) = claims {
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .and_then(|j| Uuid::parse_str(j).ok());
        let user = claims
            .get("sub")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<i64>().ok());
        if let (Some(jti), Some(user)) = (jti, user)
            && app.core.end_oidc_grant(user, jti).await.is_err()
        {
            return unavailable();
        }
    }
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
