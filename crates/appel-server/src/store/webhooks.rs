//! Webhook subscriptions and the log of every delivery attempt.

use std::time::SystemTime;

use appel_codes::CallingError;
use rusqlite::params;

use super::{rfc3339, unix_ms, Store};

/// A webhook subscription: where events are posted and the secret that signs them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Its id.
    pub id: String,
    /// The receiver's URL.
    pub url: String,
    /// The HMAC-SHA256 key of the signature header (never listed back).
    #[serde(skip)]
    pub secret: String,
    /// The event types it receives; empty means all.
    pub events: Vec<String>,
}

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The subscription.
    pub subscription_id: String,
    /// The event's id (the same across attempts).
    pub event_id: String,
    /// `CallStarted`, `ParticipantJoined`, `ParticipantLeft` or `CallEnded`.
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the attempt finished (RFC 3339).
    pub at: String,
    /// The receiver's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the attempt failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the receiver accepted the event (a 2xx answer).
    pub delivered: bool,
}

impl Store {
    /// Stores a subscription (replacing one with the same id).
    pub async fn save_subscription(
        &self,
        subscription: Subscription,
        now: SystemTime,
    ) -> Result<(), CallingError> {
        self.run("storing a webhook subscription", move |db| {
            db.execute(
                "INSERT OR REPLACE INTO webhook_subscriptions (id, url, secret, events, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    subscription.id,
                    subscription.url,
                    subscription.secret,
                    subscription.events.join(","),
                    unix_ms(now)
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Every subscription, oldest first.
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, CallingError> {
        self.run("listing webhook subscriptions", |db| {
            db.prepare(
                "SELECT id, url, secret, events FROM webhook_subscriptions ORDER BY created_ms, id",
            )?
            .query_map([], |r| {
                let events: String = r.get(3)?;
                Ok(Subscription {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    secret: r.get(2)?,
                    events: events
                        .split(',')
                        .filter(|e| !e.is_empty())
                        .map(str::to_owned)
                        .collect(),
                })
            })?
            .collect()
        })
        .await
    }

    /// Deletes a subscription; `false` when there was none.
    pub async fn delete_subscription(&self, id: &str) -> Result<bool, CallingError> {
        let id = id.to_owned();
        self.run("deleting a webhook subscription", move |db| {
            Ok(db.execute("DELETE FROM webhook_subscriptions WHERE id = ?1", [id])? == 1)
        })
        .await
    }

    /// Logs one delivery attempt.
    pub async fn log_delivery(
        &self,
        delivery: Delivery,
        at: SystemTime,
    ) -> Result<(), CallingError> {
        self.run("logging a webhook delivery", move |db| {
            db.execute(
                "INSERT INTO webhook_deliveries
                 (subscription_id, event_id, event_type, attempt, at_ms, status, error, delivered)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    delivery.subscription_id,
                    delivery.event_id,
                    delivery.event_type,
                    delivery.attempt,
                    unix_ms(at),
                    delivery.status,
                    delivery.error,
                    delivery.delivered
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The latest `limit` delivery attempts of a subscription, newest first.
    pub async fn deliveries(
        &self,
        subscription: &str,
        limit: u32,
    ) -> Result<Vec<Delivery>, CallingError> {
        let subscription = subscription.to_owned();
        self.run("reading webhook deliveries", move |db| {
            db.prepare(
                "SELECT subscription_id, event_id, event_type, attempt, at_ms, status, error, delivered
                 FROM webhook_deliveries WHERE subscription_id = ?1 ORDER BY seq DESC LIMIT ?2",
            )?
            .query_map(params![subscription, limit], |r| {
                Ok(Delivery {
                    subscription_id: r.get(0)?,
                    event_id: r.get(1)?,
                    event_type: r.get(2)?,
                    attempt: r.get(3)?,
                    at: rfc3339(r.get(4)?),
                    status: r.get(5)?,
                    error: r.get(6)?,
                    delivered: r.get(7)?,
                })
            })?
            .collect()
        })
        .await
    }
}
