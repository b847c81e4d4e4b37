//! Request extractors: the action values (JSON body), query parameters, the request context
//! (locale, client address, authenticator header) and the authenticated caller.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use smsauth_core::service::sessions::Authenticated;

use super::AppState;
use super::error::ApiError;
use crate::i18n::Locale;

/// The action's values: the JSON object in the body. Any content type is accepted and an empty
/// body is `{}`, because NocoBase's client posts `auth:signOut` with no body as form data.
#[derive(Debug, Clone, Default)]
pub struct Values(pub Value);

impl<S: Send + Sync> FromRequest<S> for Values {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Values(Value::Object(Map::new())));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v @ Value::Object(_)) => Ok(Values(v)),
            _ => Err(ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON")),
        }
    }
}

/// The action's values as the typed request `T`, parsed like [`Values`]. Unknown fields are
/// ignored (SPEC §1: clients spread whole forms into bodies); a known field of the wrong type is
/// a 400 `INVALID_FIELD` naming its path (`options.public`, `roles[0]`), never read as absent.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Values(value) = Values::from_request(req, state).await?;
        serde_path_to_error::deserialize(value)
            .map(Body)
            .map_err(|e| ApiError::field(&e.path().to_string()))
    }
}

/// A value that clients send either as a string or as its own type (NocoBase's sortable table
/// sends ids as numbers or strings).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum Loose<T> {
    Typed(T),
    Text(String),
}

impl Loose<i64> {
    pub fn id(&self) -> Option<i64> {
        match self {
            Loose::Typed(n) => Some(*n),
            Loose::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// [`Loose<i64>`] in the OpenAPI document: an integer, or a string holding one
/// (`#[schema(schema_with = loose_id)]`).
pub fn loose_id() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^\s*-?[0-9]+\s*$")),
        )
        .build()
        .into()
}

/// Query parameters (`filterByTk`, `filter`, `page`, `pageSize`, `scene`, `token`, …).
#[derive(Debug, Clone, Default)]
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(Params)
            .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST"))
    }
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// `filterByTk`, required.
    pub fn tk(&self) -> Result<&str, ApiError> {
        self.get("filterByTk")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::field("filterByTk"))
    }

    /// `filterByTk` as a numeric id.
    pub fn id(&self) -> Result<i64, ApiError> {
        self.tk()?
            .parse()
            .map_err(|_| ApiError::field("filterByTk"))
    }

    /// `(page, pageSize)` with NocoBase's defaults (1, 20) and a ceiling of 200 rows per page.
    pub fn page(&self) -> Result<(u32, u32), ApiError> {
        let num = |k: &str, default: u32| -> Result<u32, ApiError> {
            match self.get(k) {
                None | Some("") => Ok(default),
                Some(v) => v.parse::<u32>().map_err(|_| ApiError::field(k)),
            }
        };
        Ok((num("page", 1)?.max(1), num("pageSize", 20)?.clamp(1, 200)))
    }
}

/// Who is asking and in which language.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub locale: Locale,
    pub client_ip: IpAddr,
    /// `X-Authenticator`, default `basic`.
    pub authenticator: String,
    /// What the request log line may say about this request.
    pub note: Option<super::layers::RequestNote>,
}

impl Ctx {
    /// Puts the phone number a request is about into its log line, masked.
    pub fn note_phone(&self, raw: Option<&str>) {
        if let (Some(note), Some(raw)) = (&self.note, raw) {
            note.phone(raw);
        }
    }
}

impl<S> FromRequestParts<S> for Ctx
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let authenticator = parts
            .headers
            .get("x-authenticator")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or("basic")
            .to_string();
        Ok(Ctx {
            locale: parts
                .extensions
                .get::<Locale>()
                .copied()
                .unwrap_or_else(|| Locale::negotiate(&parts.headers, parts.uri.query())),
            client_ip: client_ip(peer, &parts.headers, &app.http.trusted_proxies),
            authenticator,
            note: parts
                .extensions
                .get::<super::layers::RequestNote>()
                .cloned(),
        })
    }
}

/// The TCP peer, unless the peer is a trusted proxy: then `X-Forwarded-For` is walked from the
/// right over trusted proxies, and the first entry that is not one is the client (SPEC §8).
/// Left-hand entries are client-controlled and never reached while a hop to their right is
/// untrusted, so a forged header cannot move a caller out of its rate-limit bucket.
///
/// An entry that is not a plain IP address (`198.51.100.8:5555`, `[2001:db8::8]:443`, `unknown`,
/// `198.051.100.009`) ends the walk and the last trusted hop is taken as the client: skipping it
/// would hand the choice of bucket to whatever the attacker wrote to its left.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut entries: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            // Not even text: nothing in this header can be believed.
            return peer;
        };
        entries.extend(text.split(','));
    }
    let mut client = peer;
    for entry in entries.into_iter().rev() {
        let Ok(ip) = entry.trim().parse::<IpAddr>() else {
            return client;
        };
        // An IPv4-mapped IPv6 address is the IPv4 address for every limit.
        let ip = ip.to_canonical();
        if !trusted.contains(&ip) {
            return ip;
        }
        client = ip;
    }
    client
}

/// A signed-in caller (ACL "user").
#[derive(Debug, Clone)]
pub struct Caller(pub Authenticated);

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    /// The caller `layers::authenticate` put on the request. A route outside the signed-in
    /// group that asks for a caller still gets the full check (only a renewal's header would be
    /// missing), so a routing slip can never skip authentication.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.extensions.get::<Authenticated>() {
            return Ok(Caller(auth.clone()));
        }
        tracing::error!(path = %parts.uri.path(), "a signed-in action outside the authenticated routes");
        let app = AppState::from_ref(state);
        let token = super::layers::bearer(&parts.headers, &parts.method, &parts.uri);
        Ok(Caller(app.core.authenticate(token.as_deref()).await?))
    }
}

/// A caller with role `admin` or `root` (ACL "admin"); others get 403 `FORBIDDEN`.
#[derive(Debug, Clone)]
pub struct Admin(pub Authenticated);

impl<S> FromRequestParts<S> for Admin
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(auth) = Caller::from_request_parts(parts, state).await?;
        if !auth.user.is_admin() {
            return Err(ApiError::forbidden());
        }
        Ok(Admin(auth))
    }
}
