//! `/webhooks`: subscriptions to call events and the log of their deliveries.

use std::time::SystemTime;

use appel_codes::{registry, CallingError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{invalid_request, no_blanks, AccessKey, JsonBody, PathParams, QueryParams};
use super::limits::{self, MAX_EVENT_CHARS, MAX_SECRET_CHARS, MAX_URL_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use crate::store::{Delivery, Subscription};
use crate::webhooks::{CONFIG_SUBSCRIPTION, EVENT_TYPES};

type ApiResult<T> = Result<T, ApiError>;

/// The body of `POST /webhooks`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionRequest {
    /// The receiver: an absolute http or https URL.
    #[schema(
        format = "uri",
        max_length = 2048,
        pattern = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$"
    )]
    url: String,
    /// The HMAC-SHA256 key of the signature header. Default: 32 random bytes, hex.
    #[schema(min_length = 1, max_length = 256)]
    secret: Option<String>,
    /// The events to receive. Default (absent, null or empty): every event.
    #[schema(schema_with = events_schema)]
    events: Option<Vec<String>>,
}

/// `events`: names of [`EVENT_TYPES`], as many as there are types at most.
fn events_schema() -> utoipa::openapi::Array {
    let name = utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(EVENT_TYPES.iter().copied()))
        .max_length(Some(MAX_EVENT_CHARS));
    utoipa::openapi::ArrayBuilder::new()
        .items(name)
        .max_items(Some(EVENT_TYPES.len()))
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::schema::Type::Array,
            utoipa::openapi::schema::Type::Null,
        ]))
        .build()
}

/// A new subscription, with its secret (shown only here).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedSubscription {
    #[serde(flatten)]
    subscription: Subscription,
    secret: String,
}

/// The answer of `GET /webhooks`.
#[derive(Serialize, ToSchema)]
pub struct SubscriptionList {
    subscriptions: Vec<Subscription>,
}

/// The answer of `GET /webhooks/{id}/deliveries`.
#[derive(Serialize, ToSchema)]
pub struct DeliveryLog {
    deliveries: Vec<Delivery>,
}

/// The query of `GET /webhooks/{id}/deliveries`.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// At most this many attempts, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

fn not_found(id: &str) -> ApiError {
    CallingError::new(&registry::WEBHOOK_SUBSCRIPTION_NOT_FOUND)
        .with_context(format!("subscription {id}"))
        .into()
}

fn random_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        ApiError::from(
            CallingError::new(&registry::INTERNAL_SERVER_ERROR).with_raw_cause(e.to_string()),
        )
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `POST /webhooks`.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks",
    summary = "Subscribe a receiver to call events (CallStarted, ParticipantJoined, ParticipantLeft, CallEnded)",
    description = "Each POST to the receiver carries the header `appel-signature: t=<unix ms>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the secret>`; a non-2xx answer is retried with exponential backoff for `webhooks.retry_for`.",
    security(("accessKey" = [])),
    request_body = SubscriptionRequest,
    responses(
        (status = 201, description = "Subscribed; the secret is shown only here", body = CreatedSubscription),
        (status = 400, description = "400/900102: a missing or invalid body, URL, secret or event name; 400/900117: a field or the list over its limit"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn subscribe(
    _: AccessKey,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SubscriptionRequest>,
) -> ApiResult<(StatusCode, Json<CreatedSubscription>)> {
    limits::text("url", &request.url, MAX_URL_CHARS)?;
    no_blanks("url", &request.url)?;
    if let Some(secret) = &request.secret {
        limits::text("secret", secret, MAX_SECRET_CHARS)?;
    }
    if let Some(events) = &request.events {
        limits::items("events", events, EVENT_TYPES.len())?;
        for (i, event) in events.iter().enumerate() {
            limits::text(&format!("events[{i}]"), event, MAX_EVENT_CHARS)?;
        }
    }
    let url = reqwest::Url::parse(&request.url)
        .map_err(|e| invalid_request("url: an absolute http(s) URL", e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid_request(
            "url: an absolute http(s) URL",
            url.scheme().to_string(),
        ));
    }
    let events = request.events.unwrap_or_default();
    if let Some(unknown) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(invalid_request(
            format!("events: one of {}", EVENT_TYPES.join(", ")),
            unknown.clone(),
        ));
    }
    let secret = match request.secret {
        Some(secret) if !secret.is_empty() => secret,
        Some(_) => return Err(invalid_request("secret: not empty", "empty secret")),
        None => random_secret()?,
    };
    let subscription = Subscription {
        id: uuid::Uuid::new_v4().to_string(),
        url: request.url,
        secret: secret.clone(),
        events,
    };
    state
        .store()
        .save_subscription(subscription.clone(), SystemTime::now())
        .await?;
    state.runtime().webhooks().subscribe(subscription.clone());
    Ok((
        StatusCode::CREATED,
        Json(CreatedSubscription {
            subscription,
            secret,
        }),
    ))
}

/// `GET /webhooks`.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", summary = "List subscriptions",
    security(("accessKey" = [])),
    responses(
        (status = 200, description = "Subscriptions", body = SubscriptionList),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
    ))]
pub async fn list(_: AccessKey, State(state): State<AppState>) -> Json<SubscriptionList> {
    Json(SubscriptionList {
        subscriptions: state.runtime().webhooks().subscriptions(),
    })
}

/// `DELETE /webhooks/{id}`.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", summary = "Unsubscribe",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Subscription id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "400/900102: the subscription of the configuration file (`config`) is removed there"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900507: no such subscription"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn unsubscribe(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> ApiResult<StatusCode> {
    if id == CONFIG_SUBSCRIPTION {
        return Err(invalid_request(
            "the configured subscription is removed from the configuration",
            id,
        ));
    }
    let stored = state.store().delete_subscription(&id).await?;
    if !state.runtime().webhooks().unsubscribe(&id) && !stored {
        return Err(not_found(&id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /webhooks/{id}/deliveries?limit=`: the latest attempts, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "The latest delivery attempts, newest first",
    security(("accessKey" = [])),
    params(("id" = String, Path, description = "Subscription id"), DeliveryQuery),
    responses(
        (status = 200, description = "Attempts", body = DeliveryLog),
        (status = 400, description = "400/900102: an invalid or unknown parameter"),
        (status = 401, description = "401/900100: the access key is missing or wrong"),
        (status = 404, description = "404/900507: no such subscription"),
        (status = 500, description = "500: the database failed"),
    ))]
pub async fn deliveries(
    _: AccessKey,
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<DeliveryQuery>,
) -> ApiResult<Json<DeliveryLog>> {
    let known = state
        .runtime()
        .webhooks()
        .subscriptions()
        .iter()
        .any(|s| s.id == id);
    if !known {
        return Err(not_found(&id));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(invalid_request("limit: 1 to 1000", limit.to_string()));
    }
    Ok(Json(DeliveryLog {
        deliveries: state.store().deliveries(&id, limit).await?,
    }))
}
