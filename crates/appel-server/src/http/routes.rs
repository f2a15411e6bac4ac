//! The REST handlers. Each one reads its input, calls the store or the token keys, and answers;
//! errors are catalogue problems through [`ApiError`].

use std::time::{Duration, SystemTime};

use appel_codes::{registry, CallingError, ResultCategory};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::extract::{invalid_request, AccessKey, JsonBody, PathParams, QueryParams, SignedIn};
use super::limits::{self, MAX_SCOPES, MAX_SCOPE_CHARS, MAX_TIME_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use crate::store::{
    rfc3339, unix_ms, CallFilter, CallPage, CallRecord, CallSummary, IdentityState,
};
use crate::tokens::{MAX_LIFETIME, MIN_LIFETIME, VOIP_SCOPE};

type ApiResult<T> = Result<T, ApiError>;

/// `GET /health`: liveness, plus the signaling settings an SDK needs before it connects (the
/// reconnect grace it applies itself when its connection drops).
pub async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let config = state.config();
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Json(serde_json::json!({
        "status": "ok",
        "signaling": {
            "protocolVersion": appel_protocol::PROTOCOL_VERSION,
            "heartbeatIntervalMs": millis(config.signaling.heartbeat_interval),
            "reconnectGraceMs": millis(config.timers.reconnect_grace),
            "maxFrameBytes": config.signaling.max_frame_bytes,
        }
    }))
}

/// How long `/ready` waits for the database before it counts it as not answering.
const READY_STORE_DEADLINE: Duration = Duration::from_secs(2);

/// `GET /ready`: whether this server can take calls now — for a load balancer or an orchestrator,
/// where `/health` only says the process answers HTTP. Not ready (503/900118, the failing parts
/// named in the detail) while it shuts down, or when the database, the controller task or the
/// records writer does not answer.
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
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
        return Ok(Json(serde_json::json!({ "status": "ready" })));
    }
    Err(CallingError::new(&registry::SERVER_NOT_READY)
        .with_context(failing.join("; "))
        .into())
}

/// The body of `POST /identities/{id}/token`; every member is optional.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    scopes: Option<Vec<String>>,
    expires_in_minutes: Option<i64>,
}

/// A signed token and when it expires.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    token: String,
    expires_on: String,
}

/// `POST /identities/{id}/token`.
pub async fn issue_token(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    JsonBody(request): JsonBody<TokenRequest>,
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
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    identity: String,
    expires_on: String,
}

/// `GET /validate`: the same check the signaling handshake makes, readable from a browser.
/// A passed check is remembered a while, so the timeline of a call the identity then fails to
/// join shows it.
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
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallsQuery {
    code: Option<u16>,
    sub_code: Option<u32>,
    category: Option<String>,
    identity: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /calls`.
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
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SummaryQuery {
    since: Option<String>,
    until: Option<String>,
    buckets: Option<usize>,
}

/// The window `GET /calls/summary` covers when given no `since`.
const DEFAULT_SUMMARY_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Slices of the window's trend when not asked.
const DEFAULT_SUMMARY_BUCKETS: usize = 24;
const MAX_SUMMARY_BUCKETS: usize = 500;

/// `GET /calls/summary`.
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
    value
        .map(|text| {
            limits::text(name, text, MAX_TIME_CHARS)?;
            humantime::parse_rfc3339_weak(text)
                .map(unix_ms)
                .map_err(|e| invalid_request(format!("{name}: an RFC 3339 time"), e.to_string()))
        })
        .transpose()
}
