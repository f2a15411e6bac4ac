//! `/webhooks`: subscriptions to call events and the log of their deliveries.

use std::time::SystemTime;

use appel_codes::{registry, CallingError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::extract::{invalid_request, AccessKey, JsonBody, PathParams, QueryParams};
use super::limits::{self, MAX_EVENT_CHARS, MAX_SECRET_CHARS, MAX_URL_CHARS};
use super::problem::ApiError;
use crate::state::AppState;
use crate::store::{Delivery, Subscription};
use crate::webhooks::{CONFIG_SUBSCRIPTION, EVENT_TYPES};

type ApiResult<T> = Result<T, ApiError>;

/// The body of `POST /webhooks`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscriptionRequest {
    url: String,
    secret: Option<String>,
    events: Option<Vec<String>>,
}

/// A new subscription, with its secret (shown only here).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedSubscription {
    #[serde(flatten)]
    subscription: Subscription,
    secret: String,
}

/// The answer of `GET /webhooks`.
#[derive(Serialize)]
pub struct SubscriptionList {
    subscriptions: Vec<Subscription>,
}

/// The answer of `GET /webhooks/{id}/deliveries`.
#[derive(Serialize)]
pub struct DeliveryLog {
    deliveries: Vec<Delivery>,
}

/// The query of `GET /webhooks/{id}/deliveries`.
#[derive(Deserialize)]
pub struct DeliveryQuery {
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
pub async fn subscribe(
    _: AccessKey,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SubscriptionRequest>,
) -> ApiResult<(StatusCode, Json<CreatedSubscription>)> {
    limits::text("url", &request.url, MAX_URL_CHARS)?;
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
pub async fn list(_: AccessKey, State(state): State<AppState>) -> Json<SubscriptionList> {
    Json(SubscriptionList {
        subscriptions: state.runtime().webhooks().subscriptions(),
    })
}

/// `DELETE /webhooks/{id}`.
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
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(DeliveryLog {
        deliveries: state.store().deliveries(&id, limit).await?,
    }))
}
