//! Webhooks: call events posted to subscribed receivers, signed, retried with exponential backoff
//! for a bounded time, every attempt logged.
//!
//! Events are not queued in memory. The controller task turns records into events and hands each
//! to the records writer with the records it derives from; the writer stores it in the outbox table
//! (one row per subscriber) in the same transaction. A dispatcher reads the outbox in pages and
//! delivers each subscriber's events of one call in order, one at a time, removing a row once its
//! receiver answers 2xx (at least once: a crash between the answer and the removal sends it again).
//! Rows left by a stop or a crash are delivered after the next start. Different calls are
//! delivered side by side, so one slow call never holds up the others, and a slow or dead receiver
//! never delays a call.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use appel_codes::CallEndReason;
use appel_controller::RecordEvent;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{Notify, Semaphore};

use crate::config::Webhooks as Settings;
use crate::store::{rfc3339, unix_ms, Delivery, Lane, OutboxEvent, OutboxRow, Store, Subscription};

/// The header carrying `t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "appel-signature";
/// The header carrying the event's place among its call's events (also `sequence` in the body).
pub const SEQUENCE_HEADER: &str = "appel-sequence";
/// Every event type, in the order a call produces them.
pub const EVENT_TYPES: &[&str] = &[
    "CallStarted",
    "ParticipantJoined",
    "ParticipantLeft",
    "CallEnded",
];
/// The id of the subscription the configuration declares.
pub const CONFIG_SUBSCRIPTION: &str = "config";
/// Deliveries in flight at once, across receivers (each one call's lane of one subscriber).
const CONCURRENT_DELIVERIES: usize = 64;
/// How often the outbox is read again when nothing wakes the dispatcher: a failed read retried.
const RESCAN_EVERY: Duration = Duration::from_secs(1);

/// One event, ready to store in the outbox.
#[derive(Clone, Debug)]
pub struct WebhookEvent {
    /// Unique per event; the same across retries.
    pub id: String,
    /// One of [`EVENT_TYPES`].
    pub kind: &'static str,
    /// The call it belongs to.
    pub call_id: String,
    /// Its place among the call's events, from 1.
    pub sequence: u64,
    /// The JSON body.
    pub body: serde_json::Value,
}

impl WebhookEvent {
    /// The outbox form of the event for `subscribers`.
    pub(crate) fn into_outbox(self, subscribers: Vec<String>, at: SystemTime) -> OutboxEvent {
        OutboxEvent {
            subscribers,
            call_id: self.call_id,
            call_seq: self.sequence,
            event_id: self.id,
            event_type: self.kind,
            body: self.body.to_string(),
            at,
        }
    }
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
/// that `CallEnded` lists them all, and numbering each call's events.
#[derive(Default)]
pub(crate) struct EventFeed {
    calls: HashMap<String, CallFeed>,
}

#[derive(Default)]
struct CallFeed {
    legs: Vec<serde_json::Value>,
    sequence: u64,
}

fn reason_json(reason: CallEndReason) -> serde_json::Value {
    serde_json::json!({ "code": reason.code, "subCode": reason.subcode })
}

impl EventFeed {
    /// The event a record produces, if any; `at` is its wall-clock time.
    pub(crate) fn observe(&mut self, event: &RecordEvent, at: SystemTime) -> Option<WebhookEvent> {
        let time = rfc3339(unix_ms(at));
        let (call_id, kind, mut body, sequence) = match event {
            RecordEvent::CallCreated {
                call,
                caller,
                targets,
                ..
            } => {
                let feed = self.calls.entry(call.to_string()).or_default();
                feed.sequence += 1;
                (
                    call.to_string(),
                    "CallStarted",
                    serde_json::json!({ "callId": call, "caller": caller, "targets": targets }),
                    feed.sequence,
                )
            }
            RecordEvent::LegJoined {
                call,
                participant,
                identity,
                ..
            } => {
                let feed = self.calls.entry(call.to_string()).or_default();
                feed.sequence += 1;
                (
                    call.to_string(),
                    "ParticipantJoined",
                    serde_json::json!({ "callId": call, "participantId": participant, "identity": identity }),
                    feed.sequence,
                )
            }
            RecordEvent::LegLeft {
                call,
                participant,
                identity,
                reason,
                raw_cause,
                ended_by,
                ..
            } => {
                let leg = serde_json::json!({
                    "participantId": participant,
                    "identity": identity,
                    "reason": reason_json(*reason),
                    "endedBy": ended_by,
                });
                let feed = self.calls.entry(call.to_string()).or_default();
                feed.sequence += 1;
                feed.legs.push(leg.clone());
                let mut body = leg;
                body["callId"] = serde_json::json!(call);
                if let Some(raw) = raw_cause {
                    body["rawCause"] = serde_json::json!(raw);
                }
                (call.to_string(), "ParticipantLeft", body, feed.sequence)
            }
            RecordEvent::CallEnded {
                call,
                reason,
                ended_by,
                ..
            } => {
                let feed = self.calls.remove(call.as_str()).unwrap_or_default();
                (
                    call.to_string(),
                    "CallEnded",
                    serde_json::json!({ "callId": call, "reason": reason_json(*reason), "endedBy": ended_by, "legs": feed.legs }),
                    feed.sequence + 1,
                )
            }
            RecordEvent::TargetEnded {
                call,
                participant,
                identity,
                reason,
                raw_cause,
                ..
            } => {
                // No event of its own (subscribers filter on a fixed list of types): the target's
                // leg rides in the `legs` of the call's `CallEnded`, marked as never answered.
                let mut leg = serde_json::json!({
                    "participantId": participant,
                    "identity": identity,
                    "reason": reason_json(*reason),
                    "answered": false,
                });
                if let Some(raw) = raw_cause {
                    leg["rawCause"] = serde_json::json!(raw);
                }
                self.calls
                    .entry(call.to_string())
                    .or_default()
                    .legs
                    .push(leg);
                return None;
            }
            RecordEvent::Timeline { .. } | RecordEvent::RingEnded { .. } => return None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        body["type"] = serde_json::json!(kind);
        body["eventId"] = serde_json::json!(id);
        body["time"] = serde_json::json!(time);
        body["sequence"] = serde_json::json!(sequence);
        Some(WebhookEvent {
            id,
            kind,
            call_id,
            sequence,
            body,
        })
    }
}

/// The subscriptions in force; the dispatcher reading the outbox runs beside it. Cheap to clone.
#[derive(Clone)]
pub struct WebhookHub {
    subscriptions: Arc<RwLock<Vec<Subscription>>>,
}

impl WebhookHub {
    /// A hub with no subscription and no dispatcher, for tests of what sits beside it.
    #[cfg(test)]
    pub(crate) fn idle() -> Self {
        WebhookHub {
            subscriptions: Arc::new(RwLock::new(Vec::new())),
        }
    }

    /// Starts the dispatcher with `subscriptions` (the stored ones and the configured one); `wake`
    /// is notified when the records writer commits new events.
    pub(crate) fn start(
        settings: &Settings,
        store: Store,
        subscriptions: Vec<Subscription>,
        wake: Arc<Notify>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        let hub = WebhookHub {
            subscriptions: Arc::new(RwLock::new(subscriptions)),
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
            shared: Arc::new(Shared {
                subscriptions: hub.subscriptions.clone(),
                client,
                store,
                policy: Retry {
                    initial: settings.initial_backoff,
                    max: settings.max_backoff,
                    retry_for: settings.retry_for,
                },
                active: Mutex::new(HashSet::new()),
                lane_ended: Notify::new(),
                metrics,
            }),
            slots: Arc::new(Semaphore::new(CONCURRENT_DELIVERIES)),
            page: settings.queue.max(1),
            wake,
        };
        tokio::spawn(dispatcher.run());
        hub
    }

    /// The ids of the subscriptions that receive events of type `kind`, now.
    pub(crate) fn subscribers_of(&self, kind: &str) -> Vec<String> {
        self.read()
            .iter()
            .filter(|s| s.events.is_empty() || s.events.iter().any(|e| e == kind))
            .map(|s| s.id.clone())
            .collect()
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

/// What the dispatcher and its lane tasks share.
struct Shared {
    subscriptions: Arc<RwLock<Vec<Subscription>>>,
    client: reqwest::Client,
    store: Store,
    policy: Retry,
    /// Lanes with a task delivering them: a lane is never delivered by two tasks at once, which
    /// is what keeps a call's events in order.
    active: Mutex<HashSet<Lane>>,
    /// A lane task finished: its slot is free and its lane may have new rows.
    lane_ended: Notify,
    /// Counts attempts and give-ups.
    metrics: Arc<crate::metrics::Metrics>,
}

impl Shared {
    fn subscription(&self, id: &str) -> Option<Subscription> {
        self.subscriptions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .find(|s| s.id == id)
            .cloned()
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashSet<Lane>> {
        self.active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Dispatcher {
    shared: Arc<Shared>,
    slots: Arc<Semaphore>,
    page: usize,
    wake: Arc<Notify>,
}

impl Dispatcher {
    async fn run(self) {
        loop {
            self.scan().await;
            tokio::select! {
                () = self.wake.notified() => {}
                () = self.shared.lane_ended.notified() => {}
                () = tokio::time::sleep(RESCAN_EVERY) => {}
            }
        }
    }

    /// Reads the outbox from its oldest row, a page at a time, and starts a task for each lane
    /// not being delivered, until every slot is taken or the outbox is read to its end.
    async fn scan(&self) {
        let mut after = 0;
        loop {
            if self.slots.available_permits() == 0 {
                return;
            }
            let page = match self.shared.store.outbox_page(after, self.page).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(error = %e, "the webhook outbox could not be read");
                    return;
                }
            };
            let Some((last, _)) = page.last() else { return };
            after = *last;
            let full = page.len() >= self.page;
            for (_, lane) in page {
                if self.shared.active().contains(&lane) {
                    continue;
                }
                let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                    return;
                };
                self.shared.active().insert(lane.clone());
                let shared = Arc::clone(&self.shared);
                tokio::spawn(async move {
                    deliver_lane(&shared, &lane).await;
                    shared.active().remove(&lane);
                    drop(slot);
                    shared.lane_ended.notify_one();
                });
            }
            if !full {
                return;
            }
        }
    }
}

/// Delivers a lane's events oldest first, each until accepted or given up, until none is left.
async fn deliver_lane(shared: &Shared, lane: &Lane) {
    loop {
        let row = match shared.store.outbox_next(lane).await {
            Ok(Some(row)) => row,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(error = %e, "the webhook outbox could not be read");
                return;
            }
        };
        if shared.subscription(&row.subscription_id).is_some() {
            Attempts { shared, row: &row }.run().await;
        }
        // Accepted, given up, or its subscription is gone: either way it leaves the outbox.
        if let Err(e) = shared.store.outbox_done(row.seq).await {
            tracing::error!(error = %e, "a delivered webhook event stays in the outbox");
            return;
        }
    }
}

/// Delivering one event to one subscriber, until it is accepted, given up, or the subscription
/// is removed.
struct Attempts<'a> {
    shared: &'a Shared,
    row: &'a OutboxRow,
}

impl Attempts<'_> {
    async fn run(self) {
        let started = tokio::time::Instant::now();
        let policy = self.shared.policy;
        let mut backoff = policy.initial;
        let mut attempt = 1u32;
        // Looked up again before each attempt: a removed subscription stops its retries, and a
        // changed URL or secret applies to the next attempt.
        while let Some(subscription) = self.shared.subscription(&self.row.subscription_id) {
            let (status, error) = self.post(&subscription).await;
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            self.shared.metrics.webhook_attempt(delivered);
            let record = Delivery {
                subscription_id: subscription.id.clone(),
                event_id: self.row.event_id.clone(),
                event_type: self.row.event_type.clone(),
                attempt,
                at: String::new(),
                status,
                error,
                delivered,
            };
            if let Err(e) = self
                .shared
                .store
                .log_delivery(record, SystemTime::now())
                .await
            {
                tracing::error!(error = %e, "webhook delivery not logged");
            }
            if delivered {
                return;
            }
            if started.elapsed() + backoff > policy.retry_for {
                self.shared.metrics.webhook_given_up();
                tracing::warn!(call_id = %self.row.call_id, subscription = %subscription.id, event = %self.row.event_id, "webhook given up");
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(policy.max);
            attempt += 1;
        }
    }

    async fn post(&self, subscription: &Subscription) -> (Option<u16>, Option<String>) {
        let timestamp = unix_ms(SystemTime::now());
        let request = self
            .shared
            .client
            .post(&subscription.url)
            .header("content-type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(&subscription.secret, timestamp, &self.row.body),
            )
            .header("appel-event-id", &self.row.event_id)
            .header("appel-event-type", &self.row.event_type)
            .header(SEQUENCE_HEADER, self.row.call_seq.to_string())
            .body(self.row.body.clone());
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

#[cfg(test)]
mod ended_by_tests {
    use std::time::{Instant, SystemTime};

    use appel_codes::{registry, CallEndReason};
    use appel_controller::RecordEvent;
    use appel_protocol::{EndedBy, ServerCause};

    use super::EventFeed;

    /// A receiver that shows "who hung up" must find it in the events, not guess it from the
    /// order of legs: each leg and the call's end name who ended them.
    #[test]
    fn participant_left_and_call_ended_say_who_ended_them() {
        let mut feed = EventFeed::default();
        let at = Instant::now();
        let bob = EndedBy::participant("p2".into(), "bob".into());
        let left = feed
            .observe(
                &RecordEvent::LegLeft {
                    call: "c1".into(),
                    participant: "p2".into(),
                    endpoint: "e2".into(),
                    identity: "bob".into(),
                    at,
                    reason: CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
                    raw_cause: None,
                    ended_by: bob.clone(),
                },
                SystemTime::now(),
            )
            .expect("ParticipantLeft");
        let by_bob =
            serde_json::json!({"by": "participant", "participantId": "p2", "identity": "bob"});
        assert_eq!(left.body["type"], "ParticipantLeft");
        assert_eq!(left.body["endedBy"], by_bob);
        let ended = feed
            .observe(
                &RecordEvent::CallEnded {
                    call: "c1".into(),
                    at,
                    reason: CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
                    ended_by: bob,
                },
                SystemTime::now(),
            )
            .expect("CallEnded");
        assert_eq!(ended.body["endedBy"], by_bob);
        assert_eq!(ended.body["legs"][0]["endedBy"], by_bob);

        let timer = feed
            .observe(
                &RecordEvent::CallEnded {
                    call: "c2".into(),
                    at,
                    reason: CallEndReason::of(&registry::RINGING_TIMEOUT),
                    ended_by: EndedBy::Server {
                        cause: ServerCause::Timer,
                    },
                },
                SystemTime::now(),
            )
            .expect("CallEnded");
        assert_eq!(
            timer.body["endedBy"],
            serde_json::json!({"by": "server", "cause": "timer"})
        );
    }
}
