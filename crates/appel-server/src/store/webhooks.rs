//! Webhook subscriptions, the outbox of events not yet accepted by their receivers, and the log of
//! every delivery attempt.

use std::time::SystemTime;

use appel_codes::CallingError;
use rusqlite::{params, OptionalExtension};

use super::{rfc3339, unix_ms, Store};

/// A webhook subscription: where events are posted and the secret that signs them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
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
    #[schema(format = DateTime)]
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

/// A webhook event as the records writer stores it: one outbox row per subscriber, in the same
/// transaction as the records it derives from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEvent {
    /// The subscriptions that receive it (those whose filter matched when it happened).
    pub subscribers: Vec<String>,
    /// The call it belongs to.
    pub call_id: String,
    /// Its place among the call's events: 1 for `CallStarted`, then one more per event.
    pub call_seq: u64,
    /// Unique per event; the same across retries and subscribers.
    pub event_id: String,
    /// One of the webhook event types.
    pub event_type: &'static str,
    /// The JSON body, as posted.
    pub body: String,
    /// When it happened.
    pub at: SystemTime,
}

/// One event waiting for one subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    /// Its row: deleted once the receiver accepts it.
    pub seq: i64,
    /// The subscriber.
    pub subscription_id: String,
    /// The call.
    pub call_id: String,
    /// Its place among the call's events.
    pub call_seq: i64,
    /// The event's id.
    pub event_id: String,
    /// Its type.
    pub event_type: String,
    /// The JSON body.
    pub body: String,
}

/// Where a subscriber's events of one call wait: delivered one after the other, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lane {
    /// The subscriber.
    pub subscription_id: String,
    /// The call.
    pub call_id: String,
}

impl Store {
    /// Up to `limit` outbox rows after `after` (oldest first), as the lanes they belong to with
    /// the row's number; the dispatcher pages through the outbox with it.
    pub async fn outbox_page(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Lane)>, CallingError> {
        self.run("reading the webhook outbox", move |db| {
            db.prepare_cached(
                "SELECT seq, subscription_id, call_id FROM webhook_outbox
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?
            .query_map(params![after, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    Lane {
                        subscription_id: r.get(1)?,
                        call_id: r.get(2)?,
                    },
                ))
            })?
            .collect()
        })
        .await
    }

    /// The oldest event waiting in a lane.
    pub async fn outbox_next(&self, lane: &Lane) -> Result<Option<OutboxRow>, CallingError> {
        let lane = lane.clone();
        self.run("reading the webhook outbox", move |db| {
            db.prepare_cached(
                "SELECT seq, subscription_id, call_id, call_seq, event_id, event_type, body
                 FROM webhook_outbox WHERE subscription_id = ?1 AND call_id = ?2
                 ORDER BY seq LIMIT 1",
            )?
            .query_row(params![lane.subscription_id, lane.call_id], |r| {
                Ok(OutboxRow {
                    seq: r.get(0)?,
                    subscription_id: r.get(1)?,
                    call_id: r.get(2)?,
                    call_seq: r.get(3)?,
                    event_id: r.get(4)?,
                    event_type: r.get(5)?,
                    body: r.get(6)?,
                })
            })
            .optional()
        })
        .await
    }

    /// Removes an event from the outbox (accepted by its receiver, or given up).
    pub async fn outbox_done(&self, seq: i64) -> Result<(), CallingError> {
        self.run("removing a delivered webhook event", move |db| {
            db.prepare_cached("DELETE FROM webhook_outbox WHERE seq = ?1")?
                .execute([seq])?;
            Ok(())
        })
        .await
    }

    /// Removes the events of subscriptions that no longer exist (a configured receiver taken out
    /// of the configuration between two runs); how many.
    pub async fn outbox_keep_only(
        &self,
        subscriptions: Vec<String>,
    ) -> Result<usize, CallingError> {
        self.run("pruning the webhook outbox", move |db| {
            let known = serde_json::to_string(&subscriptions).unwrap_or_else(|_| "[]".into());
            db.execute(
                "DELETE FROM webhook_outbox
                 WHERE subscription_id NOT IN (SELECT value FROM json_each(?1))",
                [known],
            )
        })
        .await
    }

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
            let tx = db.transaction()?;
            let deleted =
                tx.execute("DELETE FROM webhook_subscriptions WHERE id = ?1", [&id])? == 1;
            tx.execute(
                "DELETE FROM webhook_outbox WHERE subscription_id = ?1",
                [&id],
            )?;
            tx.commit()?;
            Ok(deleted)
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
