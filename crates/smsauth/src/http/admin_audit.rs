//! `admin.<resource>.<action>` audit events (SPEC §15.5) for every administrator's write, from
//! one place: the routes that change configuration or users are wrapped by [`audit_write`],
//! so no handler can forget to record itself. The event names the actor, the client address
//! and the resource key (`filterByTk`, or the created record's `id`/`name`), never a value of
//! the request: bodies may carry secrets and passwords.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;
use smsauth_core::service::sessions::Authenticated;

use super::AppState;
use super::extract::{Ctx, Params};

/// Largest answer read back for the created record's key; admin answers are far smaller.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// `/api/authenticators:create` → (`authenticators`, `create`).
fn resource_action(path: &str) -> Option<(String, String)> {
    let name = path.strip_prefix("/api/")?;
    let (resource, action) = name.split_once(':')?;
    Some((resource.to_string(), action.to_string()))
}

fn key_of(answer: &Value) -> Option<String> {
    let data = answer.get("data")?;
    ["clientId", "id", "name", "key"]
        .iter()
        .find_map(|k| match data.get(*k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

pub async fn audit_write(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(actor) = req.extensions().get::<Authenticated>().map(|a| a.user.id) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let ip = Ctx::from_request_parts(&mut parts, &app)
        .await
        .map(|c| c.client_ip.to_string())
        .unwrap_or_default();
    let tk = Params::from_request_parts(&mut parts, &app)
        .await
        .ok()
        .and_then(|p| p.get("filterByTk").map(str::to_string));
    let Some((resource, action)) = resource_action(parts.uri.path()) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let resp = next.run(Request::from_parts(parts, body)).await;
    if !resp.status().is_success() {
        return resp;
    }
    let (resp_parts, resp_body) = resp.into_parts();
    let (key, resp_body) = match tk {
        Some(tk) => (Some(tk), resp_body),
        None => match axum::body::to_bytes(resp_body, MAX_ANSWER_BYTES).await {
            Ok(bytes) => (
                serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .as_ref()
                    .and_then(key_of),
                Body::from(bytes),
            ),
            Err(_) => (None, Body::empty()),
        },
    };
    app.core
        .audit_admin_write(&resource, &action, actor, &ip, key)
        .await;
    Response::from_parts(resp_parts, resp_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_resource_and_action_and_answers_name_the_key() {
        assert_eq!(
            resource_action("/api/smsTestNumbers:create"),
            Some(("smsTestNumbers".into(), "create".into()))
        );
        assert_eq!(resource_action("/healthz"), None);
        assert_eq!(
            key_of(&serde_json::json!({"data": {"id": 7, "name": "x"}})),
            Some("7".into())
        );
        assert_eq!(
            key_of(&serde_json::json!({"data": {"name": "sms"}})),
            Some("sms".into())
        );
        assert_eq!(key_of(&serde_json::json!({"data": null})), None);
    }
}
