//! SMS cost and abuse defences on the wire (SPEC §15): `smsPolicy:get/update`,
//! `smsTestNumbers:*`, `auditLogs:list` and the delivery receipt endpoint
//! `smsDelivery:report/<verifier>`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use smsauth_core::ports::audit::AuditEntry;
use smsauth_core::ports::sms::ReceiptRequest;
use smsauth_core::ports::store::PageRequest;
use smsauth_core::service::audit::AuditQuery;
use smsauth_core::service::sms_policy::TestNumberPatch;

use super::extract::{Admin, Body, Params, Values};
use super::users::{list_response, paged};
use super::{ApiError, ApiResult, AppState, data};

pub async fn policy_get(State(app): State<AppState>, _: Admin) -> ApiResult<Response> {
    Ok(data(app.core.sms_policy().await?))
}

/// The body is a patch over the policy in force: `{"budgets": {"globalPerDay": 500}}` changes
/// one value.
pub async fn policy_update(
    State(app): State<AppState>,
    Admin(me): Admin,
    Values(patch): Values,
) -> ApiResult<Response> {
    Ok(data(app.core.update_sms_policy(&me.user, patch).await?))
}

pub async fn guard_status(State(app): State<AppState>, _: Admin) -> ApiResult<Response> {
    Ok(data(app.core.guard_status().await?))
}

/// `{"prefix": "+861380013"}`, `{"country": "CN"}`, or both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UnblockBody {
    /// A number prefix as `smsGuard:status` shows it.
    prefix: Option<String>,
    /// An ISO 3166 alpha-2 country.
    country: Option<String>,
}

pub async fn guard_unblock(
    State(app): State<AppState>,
    Admin(me): Admin,
    Body(body): Body<UnblockBody>,
) -> ApiResult<Response> {
    use smsauth_core::service::pumping::Unblock;
    // Keys that name no block lift nothing; only their length is bounded.
    let given = |v: Option<String>| {
        v.map(|s| s.trim().chars().take(32).collect::<String>())
            .filter(|s| !s.is_empty())
    };
    let mut what = Vec::new();
    what.extend(given(body.prefix).map(Unblock::Prefix));
    what.extend(given(body.country).map(Unblock::Country));
    if what.is_empty() {
        return Err(ApiError::field("prefix"));
    }
    for w in what {
        app.core.guard_unblock(&me.user, w).await?;
    }
    Ok(data(Value::Null))
}

fn test_number_json(t: &smsauth_core::domain::test_number::TestNumber) -> Value {
    json!({
        "id": t.id,
        "phone": t.phone,
        "code": t.code,
        "expiresAt": t.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "note": t.note,
    })
}

pub async fn test_numbers_list(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
) -> ApiResult<Response> {
    let all: Vec<Value> = app
        .core
        .test_numbers(&me.user)
        .await?
        .iter()
        .map(test_number_json)
        .collect();
    paged(all, &params)
}

/// A test number's fields; on update, the ones given change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestNumberBody {
    /// An E.164 number (`+15550100`) or a prefix ending in `*` (`+1555010*`).
    phone: Option<String>,
    /// The fixed code, 4 to 10 digits.
    code: Option<String>,
    /// When the entry stops working (RFC 3339, `2027-01-01T00:00:00Z`).
    expires_at: Option<String>,
    note: Option<String>,
}

impl TryFrom<TestNumberBody> for TestNumberPatch {
    type Error = ApiError;
    fn try_from(b: TestNumberBody) -> Result<Self, ApiError> {
        let expires_at = b
            .expires_at
            .map(|t| {
                DateTime::parse_from_rfc3339(t.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::new(axum::http::StatusCode::BAD_REQUEST, "INVALID_TEST_NUMBER")
                            .param("field", "expiresAt")
                    })
            })
            .transpose()?;
        Ok(TestNumberPatch {
            phone: b.phone,
            code: b.code,
            expires_at,
            note: b.note,
        })
    }
}

pub async fn test_numbers_create(
    State(app): State<AppState>,
    Admin(me): Admin,
    Body(body): Body<TestNumberBody>,
) -> ApiResult<Response> {
    let t = app
        .core
        .create_test_number(&me.user, body.try_into()?)
        .await?;
    Ok(data(test_number_json(&t)))
}

pub async fn test_numbers_update(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
    Body(body): Body<TestNumberBody>,
) -> ApiResult<Response> {
    let t = app
        .core
        .update_test_number(&me.user, params.id()?, body.try_into()?)
        .await?;
    Ok(data(test_number_json(&t)))
}

pub async fn test_numbers_destroy(
    State(app): State<AppState>,
    Admin(me): Admin,
    params: Params,
) -> ApiResult<Response> {
    app.core.delete_test_number(&me.user, params.id()?).await?;
    Ok(data(Value::Null))
}

fn entry_json(e: &AuditEntry) -> Value {
    let ev = &e.event;
    json!({
        "id": e.id,
        "time": ev.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "type": ev.kind,
        "ip": ev.ip,
        "userId": ev.user_id,
        "phone": ev.phone_masked,
        "authenticator": ev.authenticator,
        "verifier": ev.verifier,
        "detail": ev.detail,
    })
}

/// Filters come as `filter={"type":"sms.","userId":1,"phone":"+86…","since":"…","until":"…"}`
/// or as the same names in the query string.
fn audit_query(params: &Params) -> ApiResult<AuditQuery> {
    let filter: Value = match params.get("filter").filter(|s| !s.is_empty()) {
        Some(raw) => serde_json::from_str(raw).map_err(|_| ApiError::field("filter"))?,
        None => json!({}),
    };
    if !filter.is_object() {
        return Err(ApiError::field("filter"));
    }
    let text = |k: &str| -> ApiResult<Option<String>> {
        match filter.get(k) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Null) | None => Ok(params.get(k).map(str::to_string)),
            Some(_) => Err(ApiError::field(&format!("filter.{k}"))),
        }
    };
    let time = |k: &str| -> ApiResult<Option<DateTime<Utc>>> {
        text(k)?
            .filter(|s| !s.is_empty())
            .map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ApiError::field(k))
            })
            .transpose()
    };
    let user_id = match filter.get("userId") {
        Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(|| ApiError::field("userId"))?),
        Some(Value::Null) | None => params
            .get("userId")
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|_| ApiError::field("userId")))
            .transpose()?,
        Some(_) => return Err(ApiError::field("filter.userId")),
    };
    Ok(AuditQuery {
        kind_prefix: text("type")?.filter(|s| !s.is_empty()),
        user_id,
        phone: text("phone")?.filter(|s| !s.is_empty()),
        since: time("since")?,
        until: time("until")?,
    })
}

pub async fn audit_list(
    State(app): State<AppState>,
    _: Admin,
    params: Params,
) -> ApiResult<Response> {
    let (page, page_size) = params.page()?;
    let query = audit_query(&params)?;
    let (entries, count) = app
        .core
        .audit_logs(query, PageRequest { page, page_size })
        .await?;
    let items: Vec<Value> = entries.iter().map(entry_json).collect();
    Ok(list_response(items, count, page, page_size))
}

/// `POST /api/smsDelivery:report/<verifier>`: a provider's delivery receipts (SPEC §15.3). The
/// provider module authenticates them; the URL they were signed over is the public URL with
/// this path and query, as the provider requested it.
pub async fn delivery_report(
    State(app): State<AppState>,
    Path(verifier): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let query: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|_| ApiError::field("query"))?;
    let header_list: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    let url = format!(
        "{}{}",
        app.http.public_url.trim_end_matches('/'),
        path_and_query
    );
    let request = ReceiptRequest {
        url: &url,
        query: &query,
        headers: &header_list,
        body: &body,
    };
    let batch = app.core.delivery_report(&verifier, &request).await?;
    Ok((
        [(header::CONTENT_TYPE, batch.ack_content_type)],
        batch.ack_body,
    )
        .into_response())
}
