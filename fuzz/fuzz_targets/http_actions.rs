//! Every action through the real router and a real SQLite store, with arbitrary query strings
//! and bodies, anonymously, as a member and as an admin: no answer is a 5xx, nothing panics,
//! and every error carries the `{"errors":[{message, code}]}` envelope.
//!
//! Input: byte 0 picks the action, byte 1 the caller, byte 2 the method; the rest is the query
//! string and the body, split at the first newline.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use smsauth::configuration::Settings;
use smsauth::startup::Application;
use smsauth_core::ports::clock::ManualClock;
use tower::ServiceExt;

const ACTIONS: &[&str] = &[
    "authenticators:publicList", "authenticators:listTypes", "authenticators:list",
    "authenticators:get", "authenticators:create", "authenticators:update",
    "authenticators:destroy", "authenticators:move", "smsOTP:publicCreate", "smsOTP:create",
    "verifications:create", "smsOTPProviders:list", "auth:signIn", "auth:signUp", "auth:check",
    "auth:signOut", "auth:changePassword", "verifiers:listTypes", "verifiers:listByScene",
    "verifiers:list", "verifiers:get", "verifiers:create", "verifiers:update", "verifiers:destroy",
    "verifiers:listByUser", "verifiers:listForVerify", "verifiers:bind", "verifiers:unbind",
    "tokenControlConfig:get", "tokenControlConfig:update", "users:list", "users:get",
    "users:create", "users:update", "users:destroy", "users:revokeSessions",
];

struct World {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    member: String,
    admin: String,
    _dir: tempfile::TempDir,
}

async fn call(router: &axum::Router, req: Request<Body>) -> (u16, serde_json::Value) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

async fn post(router: &axum::Router, action: &str, token: Option<&str>, body: serde_json::Value) -> serde_json::Value {
    let mut req = Request::post(format!("/api/{action}")).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let (status, body) = call(router, req.body(Body::from(body.to_string())).unwrap()).await;
    assert_eq!(status, 200, "set-up {action}: {body}");
    body
}

/// A server with a console SMS verifier, an SMS authenticator with auto sign-up, a member and
/// a (non-root) admin. Root's token is not used by the fuzzer: root may configure providers,
/// and a fuzzed provider URL must never be called.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings { listen: "127.0.0.1:0".into(), data_dir: dir.path().into(), default_region: Some("CN".into()), ..Settings::default() };
        settings.init_root.password = Some("fuzz-root-password".into());
        let (router, member, admin) = rt.block_on(async {
            let app = Application::build(settings, std::sync::Arc::new(ManualClock::starting_now())).await.unwrap();
            let router = app.router();
            let root = post(&router, "auth:signIn", None, serde_json::json!({"account": "root", "password": "fuzz-root-password"})).await;
            let root = root["data"]["token"].as_str().unwrap().to_string();
            post(&router, "verifiers:create", Some(&root), serde_json::json!({"name": "console", "verificationType": "sms-otp", "options": {"provider": "console", "settings": {}}})).await;
            post(&router, "authenticators:create", Some(&root), serde_json::json!({"name": "sms", "authType": "SMS", "enabled": true, "options": {"public": {"verifier": "console", "autoSignup": true}}})).await;
            for (name, role) in [("member", "member"), ("admin", "admin")] {
                post(&router, "users:create", Some(&root), serde_json::json!({"username": name, "password": "fuzz-user-password", "roles": [role]})).await;
            }
            let token = |name: &'static str| {
                let router = router.clone();
                async move {
                    let r = post(&router, "auth:signIn", None, serde_json::json!({"account": name, "password": "fuzz-user-password"})).await;
                    r["data"]["token"].as_str().unwrap().to_string()
                }
            };
            let (member, admin) = (token("member").await, token("admin").await);
            (router, member, admin)
        });
        World { rt, router, member, admin, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let w = world();
    let action = ACTIONS[data[0] as usize % ACTIONS.len()];
    let method = if data[2] % 2 == 0 { Method::POST } else { Method::GET };
    let rest = &data[3..];
    let (query, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let query = String::from_utf8_lossy(query);
    let uri = format!("/api/{action}?{query}");
    let uri = if uri.parse::<axum::http::Uri>().is_ok() { uri } else { format!("/api/{action}") };
    let mut req = Request::builder().method(method).uri(uri);
    match data[1] % 3 {
        1 => req = req.header("authorization", format!("Bearer {}", w.member)),
        2 => req = req.header("authorization", format!("Bearer {}", w.admin)),
        _ => {}
    }
    if data[1] & 0x80 != 0 {
        req = req.header("x-authenticator", "sms");
    }
    let req = req.body(Body::from(body.to_vec())).unwrap();
    let (status, json) = w.rt.block_on(call(&w.router, req));
    assert!(status < 500, "{action}: {status} {json}");
    if status >= 400 {
        let e = &json["errors"][0];
        assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{action}: {json}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{action}: {json}");
    }
});
