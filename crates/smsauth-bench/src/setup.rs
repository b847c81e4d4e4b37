//! Configuring the server under test through its admin API, with the request shapes of
//! crates/smsauth/tests/api/helpers.rs: sign in as root, create (or update) a webhook
//! verifier pointing at the bench's receiver with a secret, and an enabled SMS authenticator
//! with auto sign-up that uses it. Then waits until every instance lists it. Owns nothing
//! after that.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::client::{Client, Response};

/// The bench's verifier and authenticator names.
pub const VERIFIER: &str = "bench-webhook";
pub const AUTHENTICATOR: &str = "bench-sms";

/// How long a configuration change may take to reach every instance (SPEC §6.1: 1 s).
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Signs in with a password; returns the token.
pub async fn password_token(
    client: &mut Client,
    account: &str,
    password: &str,
) -> anyhow::Result<String> {
    let body = json!({"account": account, "password": password});
    let r = client
        .post("/api/auth:signIn", serde_json::to_vec(&body)?, &[])
        .await?;
    let v = ok(&r, "auth:signIn as root")?;
    v["data"]["token"]
        .as_str()
        .map(str::to_string)
        .context("auth:signIn answered no token")
}

/// Creates or updates the webhook verifier and the SMS authenticator.
pub async fn configure(
    client: &mut Client,
    token: &str,
    webhook_url: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let options = json!({
        "provider": "webhook",
        "settings": {"url": webhook_url, "secret": secret, "timeoutMs": 5000},
    });
    let verifier = json!({
        "name": VERIFIER, "title": "Webhook SMS (smsauth-bench)", "verificationType": "sms-otp",
        "options": options,
    });
    let r = admin(client, token, "verifiers:create", &verifier).await?;
    if is_duplicate(&r) {
        let path = format!("verifiers:update?filterByTk={VERIFIER}");
        let r = admin(client, token, &path, &json!({"options": options})).await?;
        ok(&r, "verifiers:update")?;
    } else {
        ok(&r, "verifiers:create")?;
    }
    let public = json!({"public": {"verifier": VERIFIER, "autoSignup": true}});
    let authenticator = json!({
        "name": AUTHENTICATOR, "authType": "SMS", "title": "SMS (smsauth-bench)", "enabled": true,
        "options": public,
    });
    let r = admin(client, token, "authenticators:create", &authenticator).await?;
    if is_duplicate(&r) {
        let list = admin(client, token, "authenticators:list", &json!({})).await?;
        let list = ok(&list, "authenticators:list")?;
        let id = list["data"]
            .as_array()
            .and_then(|all| all.iter().find(|a| a["name"] == AUTHENTICATOR))
            .map(|a| a["id"].clone())
            .context("authenticators:list does not show the existing bench authenticator")?;
        let path = format!("authenticators:update?filterByTk={id}");
        let r = admin(
            client,
            token,
            &path,
            &json!({"enabled": true, "options": public}),
        )
        .await?;
        ok(&r, "authenticators:update")?;
    } else {
        ok(&r, "authenticators:create")?;
    }
    Ok(())
}

/// Waits until `addr`'s public list shows the bench authenticator with its verifier.
pub async fn wait_visible(addr: SocketAddr) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut client = Client::new(addr)?;
    loop {
        let r = client
            .post("/api/authenticators:publicList", b"{}".to_vec(), &[])
            .await?;
        let listed = serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| {
            v["data"].as_array().is_some_and(|all| {
                all.iter()
                    .any(|a| a["name"] == AUTHENTICATOR && a["options"]["verifier"] == VERIFIER)
            })
        });
        if listed {
            return Ok(());
        }
        if started.elapsed() > VISIBLE_TIMEOUT {
            bail!(
                "{addr} does not list the {AUTHENTICATOR} authenticator after {VISIBLE_TIMEOUT:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn admin(
    client: &mut Client,
    token: &str,
    action: &str,
    body: &Value,
) -> anyhow::Result<Response> {
    let bearer = format!("Bearer {token}");
    client
        .post(
            &format!("/api/{action}"),
            serde_json::to_vec(body)?,
            &[(hyper::header::AUTHORIZATION, &bearer)],
        )
        .await
}

/// Whether the answer is 400 `DUPLICATE` (the name exists: an earlier run on a --url server).
fn is_duplicate(r: &Response) -> bool {
    r.status == 400
        && serde_json::from_slice::<Value>(&r.body)
            .is_ok_and(|v| v["errors"][0]["code"] == "DUPLICATE")
}

/// The body of a 200 answer, or an error naming `what`.
fn ok(r: &Response, what: &str) -> anyhow::Result<Value> {
    if r.status != 200 {
        bail!("{what} answered {}: {}", r.status, r.snippet());
    }
    serde_json::from_slice(&r.body).with_context(|| format!("{what} answered no JSON"))
}
