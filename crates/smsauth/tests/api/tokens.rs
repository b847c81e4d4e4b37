//! Token checks in the order of SPEC §5.3, renewal (§5.4) and sign-out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use crate::helpers::{PHONE, spawn_app, spawn_app_with};
use crate::send_code::futures_join;

fn forge(
    token: &str,
    header: &serde_json::Value,
    tweak: impl FnOnce(&mut serde_json::Value),
) -> String {
    let mut parts = token.split('.');
    let (_, payload, sig) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    tweak(&mut claims);
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        sig
    )
}

#[tokio::test]
async fn missing_malformed_tampered_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    app.get("auth:check", &[])
        .await
        .assert_error(401, "EMPTY_TOKEN");
    let zh = app.get("auth:check", &[("X-Locale", "zh-CN")]).await;
    assert_eq!(zh.message(), "未认证。请登录以继续。");
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let bad = [
        "garbage".to_string(),
        format!("{token}x"),
        forge(&token, &header, |c| c["userId"] = json!(1)),
        forge(&token, &json!({"alg": "none", "typ": "JWT"}), |_| {}),
        forge(&token, &json!({"alg": "HS256", "typ": "JWT"}), |_| {}),
        forge(&token, &json!({"alg": "RS256", "typ": "JWT"}), |_| {}),
        forge(&token, &json!({"alg": "none"}), |_| {})
            .trim_end_matches(|c| c != '.')
            .to_string(),
    ];
    for t in &bad {
        let r = app.check(t).await;
        r.assert_error(401, "INVALID_TOKEN");
        assert_eq!(
            r.message(),
            "Your session has expired. Please sign in again."
        );
    }
    // A token signed by another installation (its own key) is refused as well.
    let other = spawn_app().await;
    other.setup_sms(true).await;
    let foreign = other.sms_token(PHONE).await;
    app.check(&foreign).await.assert_error(401, "INVALID_TOKEN");
    // `?token=` works on GET.
    let r = app.get(&format!("auth:check?token={token}"), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn hs256_tokens_are_pinned_to_hs256() {
    let app = spawn_app_with(|s| s.jwt.algorithm = "HS256".into()).await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    assert_eq!(app.check(&token).await.status, 200);
    app.check(&forge(&token, &json!({"alg": "HS512"}), |_| {}))
        .await
        .assert_error(401, "INVALID_TOKEN");
    let jwks = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    // The shared secret is never published: only the OpenID Provider's public keys are there.
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    for k in keys {
        assert!(matches!(k["kty"].as_str(), Some("OKP" | "RSA")), "{k}");
        assert!(k.get("k").is_none() && k.get("d").is_none(), "{k}");
    }
}

#[tokio::test]
async fn eddsa_public_key_is_published_as_jwks() {
    let app = spawn_app().await;
    let jwks = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(jwks["keys"][0]["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
}

#[tokio::test]
async fn sign_out_blacklists_the_token_and_tolerates_nocobase_client_requests() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    // Exactly what @nocobase/sdk sends: POST, no body, form content type, X-Authenticator.
    let r = app
        .http
        .post(app.url("/api/auth:signOut"))
        .header("Authorization", format!("Bearer {token}"))
        .header("X-Authenticator", "sms")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Content-Length", "0")
        .header("X-Role", "member")
        .header("X-Timezone", "+08:00")
        .header("X-Hostname", "localhost")
        .send()
        .await
        .unwrap();
    let r = crate::helpers::into_resp(r).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"data": null}));
    app.check(&token).await.assert_error(401, "BLOCKED_TOKEN");
}

#[tokio::test]
async fn deleted_user_is_not_exist_user() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    let id = app.check(&token).await.body["data"]["id"].clone();
    let r = app
        .admin(&admin, &format!("users:destroy?filterByTk={id}"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.check(&token).await.assert_error(401, "NOT_EXIST_USER");
}

#[tokio::test]
async fn expired_token_is_renewed_once_concurrent_renewals_agree_and_late_reuse_ends_the_session() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    app.advance(86_400 + 5);
    let results = futures_join(8, || app.check(&token)).await;
    let new_tokens: Vec<&str> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.header("x-new-token").unwrap()
        })
        .collect();
    assert!(
        new_tokens.iter().all(|t| *t == new_tokens[0]),
        "{new_tokens:?}"
    );
    assert_ne!(new_tokens[0], token);
    let fresh = new_tokens[0].to_string();
    assert_eq!(app.check(&fresh).await.status, 200);
    assert!(app.check(&fresh).await.header("x-new-token").is_none());
    // Within the window the old token still answers with the same new token…
    app.advance(9);
    let r = app.check(&token).await;
    assert_eq!(r.header("x-new-token"), Some(fresh.as_str()));
    // …after it, the old token is refused, and since it was copied (SPEC §5.5) the whole
    // session ends: the token it was renewed into stops working too.
    app.advance(2);
    app.check(&token)
        .await
        .assert_error(401, "TOKEN_RENEW_FAILED");
    app.check(&fresh).await.assert_error(401, "INVALID_TOKEN");
}

#[tokio::test]
async fn expiry_beyond_renew_limit_and_session_lifetime_is_expired_session() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    app.advance(2 * 86_400 + 1);
    app.check(&token).await.assert_error(401, "EXPIRED_SESSION");

    let app = spawn_app().await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    // Renew every day: the session still ends after 7 days.
    let mut current = token;
    for _ in 0..6 {
        app.advance(86_400 + 1);
        let r = app.check(&current).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        current = r.header("x-new-token").unwrap().to_string();
    }
    app.advance(86_400);
    let r = app.check(&current).await;
    r.assert_error(401, "EXPIRED_SESSION");
    assert_eq!(
        r.message(),
        "Your session has expired. Please sign in again."
    );
}

#[tokio::test]
async fn token_policy_changes_apply_to_new_tokens() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let r = app.admin(&admin, "tokenControlConfig:update?filterByTk=token-policy-config", json!({"config": {"tokenExpirationTime": "10m", "sessionExpirationTime": "1d", "expiredTokenRenewLimit": "30m"}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = app.sms_token(PHONE).await;
    app.advance(11 * 60);
    let r = app.check(&token).await;
    assert!(r.header("x-new-token").is_some(), "{:?}", r.body);
    app.advance(60 * 60);
    app.check(&token).await.assert_error(401, "EXPIRED_SESSION");
}

#[tokio::test]
async fn an_admin_can_revoke_a_users_sessions() {
    let app = spawn_app().await;
    let admin = app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    let id = app.check(&token).await.body["data"]["id"].clone();
    app.advance(1);
    let r = app
        .admin(
            &admin,
            &format!("users:revokeSessions?filterByTk={id}"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.check(&token).await.assert_error(401, "INVALID_TOKEN");
    // Even after expiry it cannot be renewed; a new sign-in works.
    app.advance(86_400 + 10);
    app.check(&token).await.assert_error(401, "INVALID_TOKEN");
    app.advance(121);
    let fresh = app.sms_token(PHONE).await;
    assert_eq!(app.check(&fresh).await.status, 200);
    app.admin(&admin, "users:revokeSessions?filterByTk=999", json!({}))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn browsers_may_read_the_renewed_token_across_origins() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    app.advance(86_400 + 1);
    let r = app
        .get(
            "auth:check",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Origin", "https://app.example.com"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.header("x-new-token").is_some());
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(exposed.contains("x-new-token"), "{exposed}");
}
