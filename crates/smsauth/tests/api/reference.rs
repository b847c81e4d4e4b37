//! The API reference (`/api/openapi.json`) against the router it describes: every route is
//! documented, and every documented body field is parsed by its handler with the documented
//! type (a value of that type is accepted, a value of any other type is refused naming it).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::*;

async fn document(app: &TestApp) -> Value {
    let r = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn every_route_of_the_router_is_documented_and_nothing_else() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let served: BTreeSet<String> = app.paths.iter().map(|p| p.to_string()).collect();
    assert!(served.len() > 40, "the router lists its paths: {served:?}");
    let missing: Vec<_> = served.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "documented paths the router does not serve: {stale:?}"
    );
    // Every action answers GET and POST; the document says so, with unique operation ids.
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.contains(':') {
            assert!(
                item.get("get").is_some() && item.get("post").is_some(),
                "{path}"
            );
        }
        for (_, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "duplicate operationId {id}");
            assert!(op["x-smsauth-acl"].is_string(), "{path} has an ACL");
            assert!(
                op["responses"]["200"].is_object(),
                "{path} documents its answer"
            );
        }
    }
    // Signed-in actions say so and list the token errors.
    let check = &doc["paths"]["/api/auth:check"]["post"];
    assert_eq!(check["security"], json!([{ "bearer": [] }]));
    let codes = check["responses"]["401"]["x-smsauth-codes"]
        .as_array()
        .unwrap();
    assert!(codes.contains(&json!("EXPIRED_SESSION")));
    // The page that renders it is served.
    let page = app.http.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/assets/docs.js"));
}

/// The schema `$ref`s point at, resolved.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(
            doc,
            &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        ),
        None => schema,
    }
}

/// The properties of an object schema, through `allOf`.
fn properties(doc: &Value, schema: &Value) -> Vec<(String, Value)> {
    let schema = resolve(doc, schema);
    let mut out = Vec::new();
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            out.extend(properties(doc, part));
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        out.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

/// The JSON types a schema accepts; empty means any.
fn accepted(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let mut out = BTreeSet::new();
    for key in ["oneOf", "anyOf"] {
        if let Some(items) = schema.get(key).and_then(Value::as_array) {
            for item in items {
                let inner = accepted(doc, item);
                if inner.is_empty() {
                    return inner;
                }
                out.extend(inner);
            }
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => {
            out.insert(t.clone());
        }
        Some(Value::Array(ts)) => out.extend(ts.iter().filter_map(Value::as_str).map(String::from)),
        _ => {}
    }
    if !schema.get("properties").is_none_or(Value::is_null) || schema.get("allOf").is_some() {
        out.insert("object".into());
    }
    if out.contains("number") {
        out.insert("integer".into());
    }
    out
}

/// A value of a documented type (never an unknown role or the like: arrays stay empty).
fn sample(types: &BTreeSet<String>) -> Value {
    // Integers first: a string alternative may carry a pattern ("a numeric string").
    for t in ["integer", "string", "boolean", "array", "object"] {
        if types.contains(t) {
            return match t {
                "string" => json!("x"),
                "integer" => json!(1),
                "boolean" => json!(true),
                "array" => json!([]),
                _ => json!({}),
            };
        }
    }
    Value::Null
}

/// A value of a type the schema does not accept, if there is one.
fn wrong(types: &BTreeSet<String>) -> Option<Value> {
    if types.is_empty() {
        return None;
    }
    [
        ("object", json!({ "wrong": true })),
        ("integer", json!(12345)),
        ("string", json!("text")),
        ("boolean", json!(true)),
        ("array", json!([1])),
    ]
    .into_iter()
    .find(|(t, _)| !types.contains(*t))
    .map(|(_, v)| v)
}

#[tokio::test]
async fn every_documented_body_field_is_parsed_with_its_documented_type() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let token = app.admin_token().await;
    let auth = format!("Bearer {token}");
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let op = &item["post"];
        let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") else {
            continue;
        };
        let action = path.trim_start_matches("/api/");
        // Routes that act on a record get one that does not exist: the body is parsed first.
        let on_record = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "filterByTk");
        let query = if on_record { "?filterByTk=999999" } else { "" };
        let post = |body: Value| {
            let req = app
                .http
                .post(app.url(&format!("{path}{query}")))
                .header("Authorization", &auth)
                .header("X-Authenticator", "basic")
                .json(&body);
            async move { into_resp(req.send().await.unwrap()).await }
        };
        let props = properties(&doc, schema);
        assert!(!props.is_empty(), "{action} documents its fields");
        let valid: serde_json::Map<String, Value> = props
            .iter()
            .map(|(name, s)| (name.clone(), sample(&accepted(&doc, s))))
            .collect();
        let r = post(Value::Object(valid.clone())).await;
        assert!(
            !matches!(r.code(), "INVALID_FIELD" | "INVALID_JSON"),
            "{action} refused its documented types {valid:?}: {:?}",
            r.body
        );
        for (name, s) in &props {
            let Some(bad) = wrong(&accepted(&doc, s)) else {
                continue;
            };
            let mut body = valid.clone();
            body.insert(name.clone(), bad.clone());
            // `config`, when present, wins over the top-level fields: test those alone.
            if action == "tokenControlConfig:update" && name != "config" {
                body.remove("config");
            }
            let r = post(Value::Object(body)).await;
            assert_eq!(r.status, 400, "{action}.{name} = {bad}: {:?}", r.body);
            assert!(
                matches!(
                    r.code(),
                    "INVALID_FIELD" | "INVALID_TOKEN_POLICY" | "INVALID_SMS_POLICY"
                ),
                "{action}.{name} = {bad}: {:?}",
                r.body
            );
            assert!(
                r.message().contains(name.as_str()),
                "{action}.{name}: {}",
                r.message()
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} fields were checked");
}
