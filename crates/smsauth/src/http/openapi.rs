//! The API reference (SPEC §17): `GET /api/openapi.json`, an OpenAPI 3.1 document built from
//! [`catalogue::ROUTES`] (what each route is, who may call it, what it answers) and from the
//! request and answer types themselves (their `utoipa::ToSchema` derives), so a field documented
//! is a field the handler parses. `/api/docs` renders it (`ui/assets/docs.js`).
//!
//! The API tests hold the document to the router: every registered route must be documented,
//! every documented body field must be accepted with its documented type and refused with another.

mod catalogue;

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::ComponentsBuilder;

pub use catalogue::{Acl, ROUTES, RouteDoc};

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

pub async fn serve() -> Response {
    let mut resp = axum::Json(document()).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn build() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut item = Map::new();
        for method in route.methods {
            item.insert(method.to_string(), operation(route, method));
        }
        paths.insert(route.path.to_string(), Value::Object(item));
    }
    let tags: Vec<Value> = catalogue::TAGS
        .iter()
        .map(|(name, description)| json!({ "name": name, "description": description }))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "smsauth",
            "version": env!("CARGO_PKG_VERSION"),
            "description": catalogue::INTRODUCTION,
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
        },
        "tags": tags,
        "paths": paths,
        "components": components(),
    })
}

/// The schemas of every request body and answer, plus the error envelope and page wrappers.
fn components() -> Value {
    use super::{
        authenticators, oidc_clients, sessions, sms_defences, sms_otp, token_policy, users,
        verifiers,
    };
    use smsauth_core::domain::{authenticator, sms_policy, token_policy as policy, user, verifier};
    // Each type and the types it refers to (`User` names `Role`).
    let mut all = Vec::new();
    macro_rules! with_dependencies {
        ($($t:ty),* $(,)?) => {$(
            all.push((<$t as ToSchema>::name().into_owned(), <$t as utoipa::PartialSchema>::schema()));
            <$t as ToSchema>::schemas(&mut all);
        )*};
    }
    with_dependencies!(
        sessions::SignInBody,
        sessions::SignUpBody,
        sessions::ChangePasswordBody,
        sms_otp::SendCodeBody,
        sms_otp::LegacySendBody,
        authenticators::AuthenticatorBody,
        authenticators::MoveBody,
        verifiers::VerifierBody,
        verifiers::BindBody,
        verifiers::UnbindBody,
        users::UserBody,
        token_policy::TokenPolicyBody,
        sms_defences::TestNumberBody,
        sms_defences::UnblockBody,
        oidc_clients::OidcClientBody,
        sms_policy::SmsPolicy,
        user::User,
        authenticator::Authenticator,
        verifier::Verifier,
        policy::TokenPolicyConfig,
    );
    let built = ComponentsBuilder::new().schemas_from_iter(all).build();
    let mut value = serde_json::to_value(&built).unwrap_or_else(|_| json!({}));
    let schemas = value.as_object_mut().and_then(|c| {
        c.entry("schemas")
            .or_insert_with(|| json!({}))
            .as_object_mut()
    });
    if let Some(schemas) = schemas {
        for (name, schema) in catalogue::extra_schemas() {
            schemas.insert(name.to_string(), schema);
        }
    }
    if let Some(c) = value.as_object_mut() {
        c.insert(
            "securitySchemes".into(),
            json!({ "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "The token from `auth:signIn`. A renewed token comes back in `X-New-Token`." } }),
        );
    }
    value
}

fn operation(route: &RouteDoc, method: &str) -> Value {
    let id = route.operation_id();
    let operation_id = if method == "post" || route.methods.len() == 1 {
        id
    } else {
        format!("{id}_{method}")
    };
    let mut op = json!({
        "tags": [route.tag],
        "summary": route.summary,
        "description": route.description(),
        "operationId": operation_id,
        "x-smsauth-acl": route.acl.as_str(),
        "security": if route.acl == Acl::Public { json!([]) } else { json!([{ "bearer": [] }]) },
        "responses": route.responses(),
    });
    let params = route.parameters();
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if let Some(body) = route.request
        && method == "post"
    {
        op["requestBody"] = json!({
            "required": false,
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body}") } } },
        });
    }
    op
}
