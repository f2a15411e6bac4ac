//! The REST handlers. Each one reads its input, calls the store or the token keys, and answers;
//! errors are catalogue problems through [`ApiError`].

use std::time::{Duration, SystemTime};

use appel_codes::{registry, CallingError, ResultCategory};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{
    invalid_request, utc_time, AccessKey, OptionalJsonBody, PathParams, QueryParams, SignedIn,
};
use super::limits::{self, MAX_SCOPES, MAX_SCOPE_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use crate::store::{
    rfc3339, unix_ms, CallFilter, CallPage, CallRecord, CallSummary, IdentityState,
};
use crate::tokens::{MAX_LIFETIME, MIN_LIFETIME, VOIP_SCOPE};

type ApiResult<T> = Result<T, ApiError>;

/// The answer of `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
    signaling: SignalingSettings,
}

/// What an SDK needs before it connects; it applies the reconnect grace itself (496/7 when it runs
/// out).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalingSettings {
    protocol_version: u32,
    heartbeat_interval_ms: u64,
    reconnect_grace_ms: u64,
    max_frame_bytes: usize,
}

/// `GET /health`: liveness, plus the signaling settings an SDK needs before it connects (the
/// reconnect grace it applies itself when its connection drops).
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let config = state.config();
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Json(Health {
        status: "ok",
        signaling: SignalingSettings {
            protocol_version: appel_protocol::PROTOCOL_VERSION.into(),
            heartbeat_interval_ms: millis(config.signaling.heartbeat_interval),
            reconnect_grace_ms: millis(config.timers.reconnect_grace),
            max_frame_bytes: config.signaling.max_frame_bytes,
        },
    })
}

/// The answer of `GET /ready` when ready.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(value_type = String, pattern = "^ready$")]
    status: &'static str,
}

/// How long `/ready` waits for the database before it counts it as not answering.
const READY_STORE_DEADLINE: Duration = Duration::from_secs(1);

/// `GET /ready`: whether this server can take calls now — for a load balancer or an orchestrator,
/// where `/health` only says the process answers HTTP. Not ready (503/900118, the failing parts
/// named in the detail) while it shuts down, or when the database, the controller task or the
/// records writer does not answer.
#[utoipa::path(get, path = "/ready", tag = "meta",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "503/900118: not ready; the detail names the failing parts"),
    ))]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Ready>> {
    let mut failing = Vec::new();
    if state.shutdown().is_triggered() {
        failing.push("shutting down".to_string());
    }
    if !state.runtime().is_running() {
        failing.push("the call controller has stopped".to_string());
    }
    if !state.records().is_running() {
        failing.push("the records writer has stopped".to_string());
    }
    match tokio::time::timeout(READY_STORE_DEADLINE, state.store().ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => failing.push(format!(
            "the database: {}",
            error.raw_cause().unwrap_or("unreadable")
        )),
        Err(_) => failing.push(format!(
            "the database did not answer within {} s",
            READY_STORE_DEADLINE.as_secs()
        )),
    }
    if failing.is_empty() {
        return Ok(Json(Ready { status: "ready" }));
    }
    Err(CallingError::new(&registry::SERVER_NOT_READY)
        .with_context(failing.join("; "))
        .into())
}

/// The body of `POST /identities/{id}/token`; every member is optional.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// The scopes of the token; the only one is `voip` (the default).
    #[schema(schema_with = scopes_schema)]
    scopes: Option<Vec<String>>,
    /// The token's lifetime in minutes, 60 to 1440 (default: tokens.default_lifetime). A number
    /// with a zero fraction (`120.0`) is the same integer.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(value_type = Option<i64>, minimum = 60, maximum = 1440)]
    expires_in_minutes: Option<i64>,
}

/// `scopes`: 1 to [`MAX_SCOPES`] names, each of them `voip`.
fn scopes_schema() -> utoipa::openapi::Array {
    let scope = utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some([VOIP_SCOPE]))
        .max_length(Some(MAX_SCOPE_CHARS));
    utoipa::openapi::ArrayBuilder::new()
        .items(scope)
        .min_items(Some(1))
        .max_items(Some(MAX_SCOPES))
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::Array,
            utoipa::openapi::schema::Type::Null,
        ]))
        .build()
}

/// An integer, also when written with a zero fraction (JSON Schema counts `120.0` as an integer);
/// `null` reads as absent.
fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(whole) = number.as_i64() {
        return Ok(Some(whole));
    }
    match number.as_f64() {
        // Within ±2^53 a float holds every integer exactly; beyond, it is out of range anyway.
        Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Ok(Some(f as i64)),
        _ => Err(serde::de::Error::custom(format!(
            "expiresInMinutes: an integer, not {number}"
        ))),
    }
}

/// A signed token and when it expires.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// An HS256 JWT with the claims identity, scopes, iat, exp, jti and gen (the identity's token
    /// generation); docs/tokens.md.
    token: String,
    #[schema(format = DateTime)]
    expires_on: String,
}

/// `POST /identities/{id}/token`.
#[utoipa::path(post, path = "/identities/{id}/token", tag = "identities",
    summary = "Issue a user access token",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Identity id")),
    request_body(content = Option<TokenRequest>, description = "May be left out: a `voip` token of the default lifetime"),
    responses(
        (status = 200, description = "The token", body = TokenResponse),
        (status = 400, description = "400/900102: a scope other than voip, or an invalid body; 400/900103: a lifetime outside 60-1440 minutes"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900101: no such live identity"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn issue_token(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    OptionalJsonBody(request): OptionalJsonBody<TokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let scopes = request
        .scopes
        .unwrap_or_else(|| vec![VOIP_SCOPE.to_string()]);
    limits::items("scopes", &scopes, MAX_SCOPES)?;
    for (i, scope) in scopes.iter().enumerate() {
        limits::text(&format!("scopes[{i}]"), scope, MAX_SCOPE_CHARS)?;
    }
    if scopes.is_empty() || scopes.iter().any(|s| s != VOIP_SCOPE) {
        return Err(invalid_request(
            "scopes: the only scope is \"voip\"",
            format!("{scopes:?}"),
        ));
    }
    let lifetime = match request.expires_in_minutes {
        None => state.config().tokens.default_lifetime,
        Some(minutes) => {
            let allowed = MIN_LIFETIME.as_secs() / 60..=MAX_LIFETIME.as_secs() / 60;
            match u64::try_from(minutes) {
                Ok(m) if allowed.contains(&m) => Duration::from_secs(m * 60),
                _ => {
                    return Err(CallingError::new(&registry::TOKEN_LIFETIME_OUT_OF_RANGE)
                        .with_context(format!("expiresInMinutes = {minutes}"))
                        .into())
                }
            }
        }
    };
    let generation = require_live_identity(&state, &id).await?.token_generation;
    let now = SystemTime::now();
    let issued = state
        .keys()
        .issue(&id, &scopes, generation, now, now + lifetime)?;
    Ok(Json(TokenResponse {
        token: issued.token,
        expires_on: rfc3339(unix_ms(issued.claims.expires_at())),
    }))
}

/// `DELETE /identities/{id}/tokens`: every token issued so far stops working, whatever dates it
/// carries, and live connections of the identity are closed with 401/10009.
#[utoipa::path(delete, path = "/identities/{id}/tokens", tag = "identities",
    summary = "Revoke every token issued so far, whatever dates it carries; live connections are closed with 401/10009",
    description = "Bumps the identity's token generation: tokens carry the generation they were issued in (claim `gen`) and only the current one is accepted (docs/tokens.md).",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Identity id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900101: no such identity"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn revoke_tokens(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    let Some(generation) = state.store().revoke_tokens(&id).await? else {
        return Err(identity_not_found(&id));
    };
    state.runtime().tokens_revoked(&id, generation).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /identities/{id}`.
#[utoipa::path(delete, path = "/identities/{id}", tag = "identities",
    summary = "Delete an identity; its live connections are closed with 401/10009",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Identity id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900101: no such identity"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn delete_identity(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    if !state
        .store()
        .delete_identity(&id, SystemTime::now())
        .await?
    {
        return Err(identity_not_found(&id));
    }
    state.runtime().identity_deleted(&id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// What `GET /validate` says about a valid token.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    identity: String,
    #[schema(format = DateTime)]
    expires_on: String,
}

/// `GET /validate`: the same check the signaling handshake makes, readable from a browser.
/// A passed check is remembered a while, so the timeline of a call the identity then fails to
/// join shows it.
#[utoipa::path(get, path = "/validate", tag = "identities",
    summary = "Check a user token exactly as the signaling handshake would",
    security(("userToken" = [])),
    responses(
        (status = 200, description = "The token is valid", body = Validation),
        (status = 401, description = "401/10009: missing, forged, expired, not yet valid (nbf) or revoked token, a token issued in the future (iat beyond tokens.clock_leeway), or deleted identity; the problem's rawCause names which"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn validate(
    State(state): State<AppState>,
    SignedIn(claims): SignedIn,
) -> ApiResult<Json<Validation>> {
    let validation = Validation {
        identity: claims.identity.clone(),
        expires_on: rfc3339(unix_ms(claims.expires_at())),
    };
    state.runtime().precall_check(
        &claims.identity,
        serde_json::json!({ "ok": true, "expiresOn": validation.expires_on }),
    );
    Ok(Json(validation))
}

/// Default and largest page of `GET /calls`.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

/// Query parameters of `GET /calls`.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallsQuery {
    /// A leg ended with this code.
    #[param(maximum = 65535)]
    code: Option<u16>,
    /// A leg ended with this subcode.
    #[param(maximum = 4294967295_u64)]
    sub_code: Option<u32>,
    /// A leg ended with this result category.
    #[param(value_type = Option<super::openapi::ResultCategorySchema>)]
    category: Option<String>,
    /// The caller, a target or a participant.
    identity: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(format = DateTime, max_length = 64, pattern = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$")]
    since: Option<String>,
    /// Created before (RFC 3339).
    #[param(format = DateTime, max_length = 64, pattern = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$")]
    until: Option<String>,
    /// Page size, 1-500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// The `nextCursor` of the previous page.
    #[param(value_type = Option<i64>)]
    cursor: Option<String>,
}

/// `GET /calls`.
#[utoipa::path(get, path = "/calls", tag = "records",
    summary = "List call records, newest first",
    security(("accessKey" = [])),
    params(CallsQuery),
    responses(
        (status = 200, description = "A page of calls", body = CallPage),
        (status = 400, description = "400/900102: an invalid or unknown parameter; 400/900117: since or until over 64 characters"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn list_calls(
    _: AccessKey,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<CallsQuery>,
) -> ApiResult<Json<CallPage>> {
    let category = match &query.category {
        None => None,
        Some(text) => Some(ResultCategory::parse(text).ok_or_else(|| {
            invalid_request(
                "category: one of Success, ExpectedError, UnexpectedClientError, UnexpectedServerError",
                text.clone(),
            )
        })?),
    };
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(invalid_request(
            format!("limit: between 1 and {MAX_PAGE}"),
            limit.to_string(),
        ));
    }
    let cursor = match &query.cursor {
        None => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            invalid_request(
                "cursor: use the nextCursor of a previous page",
                text.clone(),
            )
        })?),
    };
    let filter = CallFilter {
        code: query.code,
        sub_code: query.sub_code,
        category,
        identity: query.identity,
        since_ms: time_param("since", query.since.as_deref())?,
        until_ms: time_param("until", query.until.as_deref())?,
        limit,
        cursor,
    };
    // Records are written off the hot path; a read first waits for what is queued.
    state.records().flush().await;
    Ok(Json(state.store().call_records(filter).await?))
}

/// Query parameters of `GET /calls/summary`.
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Legs that ended at or after (RFC 3339; default 24 hours before until). Before until.
    #[param(format = DateTime, max_length = 64, pattern = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$")]
    since: Option<String>,
    /// Legs that ended before (RFC 3339; default now).
    #[param(format = DateTime, max_length = 64, pattern = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$")]
    until: Option<String>,
    /// Equal slices of the window for the trend, 1-500 (default 24).
    #[param(minimum = 1, maximum = 500)]
    buckets: Option<usize>,
}

/// The window `GET /calls/summary` covers when given no `since`.
const DEFAULT_SUMMARY_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Slices of the window's trend when not asked.
const DEFAULT_SUMMARY_BUCKETS: usize = 24;
const MAX_SUMMARY_BUCKETS: usize = 500;

/// `GET /calls/summary`.
#[utoipa::path(get, path = "/calls/summary", tag = "records",
    summary = "Leg ends over a window: counts and shares by code/subCode and by category, and the categories over time",
    security(("accessKey" = [])),
    params(SummaryQuery),
    responses(
        (status = 200, description = "The summary", body = CallSummary),
        (status = 400, description = "400/900102: an invalid or unknown parameter, or since not before until; 400/900117: since or until over 64 characters"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn call_summary(
    _: AccessKey,
    State(state): State<AppState>,
    QueryParams(query): QueryParams<SummaryQuery>,
) -> ApiResult<Json<CallSummary>> {
    let until = time_param("until", query.until.as_deref())?
        .unwrap_or_else(|| unix_ms(std::time::SystemTime::now()) + 1);
    let since =
        time_param("since", query.since.as_deref())?.unwrap_or(until - DEFAULT_SUMMARY_WINDOW_MS);
    if since >= until {
        return Err(invalid_request(
            "since: before until",
            query.since.unwrap_or_default(),
        ));
    }
    let buckets = query.buckets.unwrap_or(DEFAULT_SUMMARY_BUCKETS);
    if !(1..=MAX_SUMMARY_BUCKETS).contains(&buckets) {
        return Err(invalid_request(
            format!("buckets: between 1 and {MAX_SUMMARY_BUCKETS}"),
            buckets.to_string(),
        ));
    }
    state.records().flush().await;
    Ok(Json(
        state.store().call_summary(since, until, buckets).await?,
    ))
}

/// `GET /metrics`: the Prometheus text exposition. Behind the access key like every operator
/// route: the counts by reason tell how a deployment's calls go.
#[utoipa::path(get, path = "/metrics", tag = "records",
    summary = "Prometheus metrics (text exposition): call and leg ends by code, subCode and category, setup latency, active calls, connected endpoints, webhook attempts, records queue depth, process (docs/operations.md)",
    security(("accessKey" = [])),
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
    ))]
pub async fn metrics(_: AccessKey, State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics().render(state.records().queued());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// `GET /calls/{id}`.
#[utoipa::path(get, path = "/calls/{id}", tag = "records",
    summary = "One call: every leg with its end reason, and the timeline",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Call id")),
    responses(
        (status = 200, description = "The call", body = CallRecord),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900104: no such call"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn get_call(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<Json<CallRecord>> {
    state.records().flush().await;
    match state.store().call_record(&id).await? {
        Some(call) => Ok(Json(call)),
        None => Err(CallingError::new(&registry::CALL_RECORD_NOT_FOUND)
            .with_context(format!("call `{id}`"))
            .into()),
    }
}

async fn require_live_identity(state: &AppState, id: &str) -> ApiResult<IdentityState> {
    match state.store().identity_state(id).await? {
        Some(identity) if !identity.deleted => Ok(identity),
        _ => Err(identity_not_found(id)),
    }
}

fn identity_not_found(id: &str) -> ApiError {
    CallingError::new(&registry::IDENTITY_NOT_FOUND)
        .with_context(format!("identity `{id}`"))
        .into()
}

fn time_param(name: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    value.map(|text| utc_time(name, text)).transpose()
}
