//! Webhooks: call events posted to subscribed receivers, signed, retried with exponential backoff
//! for a bounded time, every attempt logged.
//!
//! The controller task only translates records into events and hands them over with `try_send` on
//! a bounded queue; delivery runs on its own tasks, so a slow or dead receiver never delays a call.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use appel_codes::CallEndReason;
use appel_controller::RecordEvent;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{mpsc, Semaphore};

use crate::config::Webhooks as Settings;
use crate::store::{rfc3339, unix_ms, Delivery, Store, Subscription};

/// The header carrying `t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "appel-signature";
/// Every event type, in the order a call produces them.
pub const EVENT_TYPES: &[&str] = &[
    "CallStarted",
    "ParticipantJoined",
    "ParticipantLeft",
    "CallEnded",
];
/// The id of the subscription the configuration declares.
pub const CONFIG_SUBSCRIPTION: &str = "config";
/// Deliveries in flight at once, across receivers.
const CONCURRENT_DELIVERIES: usize = 64;

/// One event, ready to post.
#[derive(Clone, Debug)]
pub struct WebhookEvent {
    /// Unique per event; the same across retries.
    pub id: String,
    /// One of [`EVENT_TYPES`].
    pub kind: &'static str,
    /// The JSON body.
    pub body: serde_json::Value,
}

/// The signature header value of `body` sent at `timestamp_ms` with `secret`.
pub fn signature(secret: &str, timestamp_ms: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so this never fails.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 takes keys of any length");
    mac.update(format!("{timestamp_ms}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp_ms},v1={hex}")
}

/// Turns the controller's records into webhook events, remembering each call's leg reasons so
/// that `CallEnded` lists them all.
#[derive(Default)]
pub(crate) struct EventFeed {
    legs: HashMap<String, Vec<serde_json::Value>>,
}

fn reason_json(reason: CallEndReason) -> serde_json::Value {
    serde_json::json!({ "code": reason.code, "subCode": reason.subcode })
}

impl EventFeed {
    /// The event a record produces, if any; `at` is its wall-clock time.
    pub(crate) fn observe(&mut self, event: &RecordEvent, at: SystemTime) -> Option<WebhookEvent> {
        let time = rfc3339(unix_ms(at));
        let (kind, mut body) = match event {
            RecordEvent::CallCreated {
                call,
                caller,
                targets,
                ..
            } => {
                self.legs.insert(call.to_string(), Vec::new());
                (
                    "CallStarted",
                    serde_json::json!({ "callId": call, "caller": caller, "targets": targets }),
                )
            }
            RecordEvent::LegJoined {
                call,
                participant,
                identity,
                ..
            } => (
                "ParticipantJoined",
                serde_json::json!({ "callId": call, "participantId": participant, "identity": identity }),
            ),
            RecordEvent::LegLeft {
                call,
                participant,
                identity,
                reason,
                raw_cause,
                ..
            } => {
                let leg = serde_json::json!({
                    "participantId": participant,
                    "identity": identity,
                    "reason": reason_json(*reason),
                });
                self.legs
                    .entry(call.to_string())
                    .or_default()
                    .push(leg.clone());
                let mut body = leg;
                body["callId"] = serde_json::json!(call);
                if let Some(raw) = raw_cause {
                    body["rawCause"] = serde_json::json!(raw);
                }
                ("ParticipantLeft", body)
            }
            RecordEvent::CallEnded { call, reason, .. } => {
                let legs = self.legs.remove(call.as_str()).unwrap_or_default();
                (
                    "CallEnded",
                    serde_json::json!({ "callId": call, "reason": reason_json(*reason), "legs": legs }),
                )
            }
            RecordEvent::Timeline { .. } => return None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        body["type"] = serde_json::json!(kind);
        body["eventId"] = serde_json::json!(id);
        body["time"] = serde_json::json!(time);
        Some(WebhookEvent { id, kind, body })
    }
}

/// The subscriptions in force and the queue towards the delivery tasks. Cheap to clone.
#[derive(Clone)]
pub struct WebhookHub {
    subscriptions: Arc<RwLock<Vec<Subscription>>>,
    queue: mpsc::Sender<WebhookEvent>,
}

impl WebhookHub {
    /// Starts the dispatcher with `subscriptions` (the stored ones and the configured one).
    pub(crate) fn start(
        settings: &Settings,
        store: Store,
        subscriptions: Vec<Subscription>,
    ) -> Self {
        let (queue, events) = mpsc::channel(settings.queue);
        let hub = WebhookHub {
            subscriptions: Arc::new(RwLock::new(subscriptions)),
            queue,
        };
        let client = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout)
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "webhook client setup failed; using defaults");
                reqwest::Client::new()
            });
        let dispatcher = Dispatcher {
            subscriptions: hub.subscriptions.clone(),
            client,
            store,
            policy: Retry {
                initial: settings.initial_backoff,
                max: settings.max_backoff,
                retry_for: settings.retry_for,
            },
            slots: Arc::new(Semaphore::new(CONCURRENT_DELIVERIES)),
        };
        tokio::spawn(dispatcher.run(events));
        hub
    }

    /// Queues an event for every subscriber; drops it (logged) when the queue is full.
    pub(crate) fn publish(&self, event: WebhookEvent) {
        if let Err(mpsc::error::TrySendError::Full(event)) = self.queue.try_send(event) {
            tracing::warn!(event = event.kind, id = %event.id, "webhook queue full: event dropped");
        }
    }

    /// The subscriptions in force.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.read().clone()
    }

    /// Adds or replaces a subscription.
    pub fn subscribe(&self, subscription: Subscription) {
        let mut all = self.write();
        all.retain(|s| s.id != subscription.id);
        all.push(subscription);
    }

    /// Removes a subscription; `false` when there was none.
    pub fn unsubscribe(&self, id: &str) -> bool {
        let mut all = self.write();
        let before = all.len();
        all.retain(|s| s.id != id);
        all.len() != before
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Subscription>> {
        // Plain data: a panic elsewhere leaves it readable.
        self.subscriptions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Subscription>> {
        self.subscriptions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Clone, Copy)]
struct Retry {
    initial: Duration,
    max: Duration,
    retry_for: Duration,
}

struct Dispatcher {
    subscriptions: Arc<RwLock<Vec<Subscription>>>,
    client: reqwest::Client,
    store: Store,
    policy: Retry,
    slots: Arc<Semaphore>,
}

impl Dispatcher {
    async fn run(self, mut events: mpsc::Receiver<WebhookEvent>) {
        while let Some(event) = events.recv().await {
            let receivers: Vec<Subscription> = self
                .subscriptions
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .filter(|s| s.events.is_empty() || s.events.iter().any(|e| e == event.kind))
                .cloned()
                .collect();
            let body = event.body.to_string();
            for subscription in receivers {
                let Ok(slot) = self.slots.clone().acquire_owned().await else {
                    return;
                };
                let delivery = Attempts {
                    client: self.client.clone(),
                    store: self.store.clone(),
                    policy: self.policy,
                    subscription,
                    event_id: event.id.clone(),
                    kind: event.kind,
                    body: body.clone(),
                };
                tokio::spawn(async move {
                    delivery.run().await;
                    drop(slot);
                });
            }
        }
    }
}

/// Delivering one event to one subscriber, until it is accepted or the retry time is over.
struct Attempts {
    client: reqwest::Client,
    store: Store,
    policy: Retry,
    subscription: Subscription,
    event_id: String,
    kind: &'static str,
    body: String,
}

impl Attempts {
    async fn run(self) {
        let started = tokio::time::Instant::now();
        let mut backoff = self.policy.initial;
        let mut attempt = 1u32;
        loop {
            let (status, error) = self.post().await;
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            let record = Delivery {
                subscription_id: self.subscription.id.clone(),
                event_id: self.event_id.clone(),
                event_type: self.kind.to_owned(),
                attempt,
                at: String::new(),
                status,
                error,
                delivered,
            };
            if let Err(e) = self.store.log_delivery(record, SystemTime::now()).await {
                tracing::error!(error = %e, "webhook delivery not logged");
            }
            if delivered || started.elapsed() + backoff > self.policy.retry_for {
                if !delivered {
                    tracing::warn!(subscription = %self.subscription.id, event = %self.event_id, "webhook given up");
                }
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.policy.max);
            attempt += 1;
        }
    }

    async fn post(&self) -> (Option<u16>, Option<String>) {
        let timestamp = unix_ms(SystemTime::now());
        let request = self
            .client
            .post(&self.subscription.url)
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&self.subscription.secret, timestamp, &self.body),
            )
            .header("appel-event-id", &self.event_id)
            .header("appel-event-type", self.kind)
            .body(self.body.clone());
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                (Some(response.status().as_u16()), None)
            }
            Ok(response) => (
                Some(response.status().as_u16()),
                Some(format!("the receiver answered {}", response.status())),
            ),
            Err(e) => (None, Some(e.to_string())),
        }
    }
}
