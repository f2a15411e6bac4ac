//! The controller task: the one owner of the sans-IO [`Controller`].
//!
//! Connections, REST handlers and push tasks send [`Event`]s on a channel; the task feeds them to the
//! controller, drains its actions (frames to per-connection bounded queues, records to the batched
//! writer, push notices and registrations to their own tasks) and sleeps until the controller's next
//! timer. Nothing here awaits I/O, so a slow client or disk never holds up a call.
//!
//! In durable mode (`records.durable`) the frames that tell a party a call or a leg ended are held
//! back, with every later frame to the same endpoint, until the records writer reports that the
//! batch holding that end is committed. Only the telling waits: the controller goes on with every
//! other call, and the writer goes on batching.

use crate::media::{Command as MediaCommand, MediaHandle, MediaShell};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use appel_codes::{registry, CallEndReason, CallingError};
use appel_controller::{
    Action, CallSnapshot, Control, Controller, ControllerConfig, EndpointKey, Input, Presence,
    RecordEvent, RoomSpec,
};
use appel_protocol::{CallId, ClientFrame, IdentityId, ServerFrame, PROTOCOL_VERSION};
use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, oneshot, Notify, OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::metrics::{CallClock, Metrics};
use crate::push::PushSender;
use crate::signaling::outbox::{OutboxSender, Refused};
use crate::store::{RecordOp, RecordWriter, Room, Store};
use crate::webhooks::{EventFeed, WebhookHub};

/// How long a revocation is remembered for connections whose handshake was under way: far longer
/// than a handshake takes between its token check and its arrival here.
const FENCE_KEPT: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The fence of a deleted identity: no token generation reaches it.
const DELETED: u64 = u64::MAX;

/// Recent revocations and deletions by identity: the token generation a connection must carry to
/// come online, and since when. A connection may pass its token check just before a revocation
/// reaches the database and arrive at the controller task just after the controller ended the
/// identity's connections; the fence refuses it then. The database stays the authority: this only
/// covers that window, so entries are dropped after [`FENCE_KEPT`].
#[derive(Default)]
struct Fences(HashMap<IdentityId, (u64, Instant)>);

impl Fences {
    /// Tokens of `identity` must now be of `generation` or later ([`DELETED`]: none is).
    fn raise(&mut self, now: Instant, identity: &IdentityId, generation: u64) {
        self.0
            .retain(|_, (_, since)| now.duration_since(*since) < FENCE_KEPT);
        let entry = self.0.entry(identity.clone()).or_insert((0, now));
        *entry = (entry.0.max(generation), now);
    }

    /// Why a connection of `identity` signed in with a token of `generation` must be refused.
    fn refusal(&self, identity: &IdentityId, generation: u64) -> Option<CallingError> {
        let (fence, _) = self.0.get(identity)?;
        match *fence {
            DELETED => Some(crate::tokens::unauthenticated("identity deleted")),
            fence if generation < fence => Some(crate::tokens::unauthenticated(format!(
                "token revoked: issued in generation {generation}, the identity is at {fence}"
            ))),
            _ => None,
        }
    }
}

/// Events queued towards the controller task before senders wait.
const EVENT_QUEUE: usize = 4096;

/// What the controller task sends a connection task.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A frame to write, already serialized: the queue's byte budget counts what the socket will
    /// carry, and the text is shared with the WebSocket layer without a copy.
    Frame(Utf8Bytes),
    /// Write this error as a fatal `error` frame, then close.
    Close(Box<CallingError>),
}

impl Outgoing {
    /// A serialized frame.
    pub(crate) fn frame(frame: &ServerFrame) -> Outgoing {
        Outgoing::Frame(frame.to_json().into())
    }

    /// The bytes this takes in a connection's queue and on its socket.
    pub(crate) fn cost(&self) -> usize {
        crate::signaling::outbox::FRAME_OVERHEAD
            + match self {
                Outgoing::Frame(text) => text.len(),
                // The fatal `error` frame it becomes: an entry's message and advice.
                Outgoing::Close(_) => 1024,
            }
    }
}

/// The controller task's hold on one connection.
pub(crate) struct Link {
    /// The endpoint the connection signed in as, with the identity its token names: two
    /// identities may choose the same endpoint id without touching each other's connection.
    pub endpoint: EndpointKey,
    /// Tells this connection apart from an earlier or later one of the same endpoint.
    pub conn_id: u64,
    /// The connection's bounded queue of outgoing frames.
    pub outbox: OutboxSender,
    /// Ends the connection task at once and drops its socket (its queue is over budget: the client
    /// is too slow), even in the middle of a blocked write.
    pub kill: Arc<Notify>,
}

/// A connection that passed the handshake.
pub(crate) struct Arrival {
    pub link: Link,
    pub identity: IdentityId,
    pub ever_registered: bool,
    pub token_expires_at: Instant,
    pub token_expires_at_ms: u64,
    /// The token generation the connection signed in with.
    pub token_generation: u64,
    pub push_url: Option<String>,
    pub resume: bool,
}

enum Event {
    Online(Box<Arrival>),
    Frame {
        endpoint: EndpointKey,
        conn_id: u64,
        frame: ClientFrame,
        /// Given back to the connection once the frame was handled (or dropped unhandled).
        _in_flight: OwnedSemaphorePermit,
    },
    TokenRefreshed {
        endpoint: EndpointKey,
        conn_id: u64,
        expires_at: Instant,
    },
    Gone {
        endpoint: EndpointKey,
        conn_id: u64,
        orderly: bool,
    },
    Input(Input),
    Revoked {
        identity: IdentityId,
        generation: u64,
    },
    Room(Room),
    Control(Control, oneshot::Sender<Result<(), CallingError>>),
    Snapshots(Option<CallId>, oneshot::Sender<Vec<CallSnapshot>>),
    Presence(Vec<IdentityId>, oneshot::Sender<Vec<Presence>>),
    Shutdown(oneshot::Sender<()>),
    /// An identity passed the pre-call check (`GET /validate`), with what it was told.
    PrecallCheck {
        identity: IdentityId,
        at: SystemTime,
        result: serde_json::Value,
    },
}

/// How long a pre-call check is kept to explain a failed join that follows it.
const PRECALL_CHECK_KEPT: std::time::Duration = std::time::Duration::from_secs(600);
/// The most identities whose last check is kept; the oldest go first beyond it.
const PRECALL_CHECKS_MAX: usize = 10_000;

/// How the rest of the server talks to the controller task.
#[derive(Clone)]
pub(crate) struct RuntimeHandle {
    events: mpsc::Sender<Event>,
    webhooks: WebhookHub,
}

impl RuntimeHandle {
    /// Remembers a passed pre-call check, for the timeline of a call the identity then fails to
    /// join. Never waits: a full queue drops it, as the check itself has already been answered.
    pub(crate) fn precall_check(&self, identity: &str, result: serde_json::Value) {
        let _ = self.events.try_send(Event::PrecallCheck {
            identity: identity.into(),
            at: SystemTime::now(),
            result,
        });
    }

    /// Whether the controller task still takes events (it stops only at shutdown or on a fault).
    pub fn is_running(&self) -> bool {
        !self.events.is_closed()
    }

    /// Registers a connection that passed the handshake. `false` when the server is shutting down.
    pub async fn online(&self, arrival: Arrival) -> bool {
        self.events
            .send(Event::Online(Box::new(arrival)))
            .await
            .is_ok()
    }

    /// A client frame for the controller. Waits while the connection has `in_flight`'s every
    /// permit out: its earlier frames are still queued, and it reads no more until they are handled.
    pub async fn frame(
        &self,
        endpoint: &EndpointKey,
        conn_id: u64,
        frame: ClientFrame,
        in_flight: &Arc<Semaphore>,
    ) {
        let permit = match Arc::clone(in_flight).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match Box::pin(Arc::clone(in_flight).acquire_owned()).await {
                Ok(permit) => permit,
                // Never closed; were it, there would be nothing to wait for.
                Err(_) => return,
            },
        };
        let event = Event::Frame {
            endpoint: endpoint.clone(),
            conn_id,
            frame,
            _in_flight: permit,
        };
        // Every connection task awaits this on its hot path, so its future is kept small: a waiting
        // send (392 bytes of state) is boxed, and only needed when the queue is full.
        match self.events.try_send(event) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                let _ = Box::pin(self.events.send(event)).await;
            }
        }
    }

    /// The connection presented a valid new token.
    pub async fn token_refreshed(&self, endpoint: &EndpointKey, conn_id: u64, expires_at: Instant) {
        self.send(Event::TokenRefreshed {
            endpoint: endpoint.clone(),
            conn_id,
            expires_at,
        })
        .await;
    }

    /// The connection ended: `orderly` for a close frame, otherwise lost.
    pub async fn gone(&self, endpoint: &EndpointKey, conn_id: u64, orderly: bool) {
        self.send(Event::Gone {
            endpoint: endpoint.clone(),
            conn_id,
            orderly,
        })
        .await;
    }

    /// Every token of the identity was revoked: tokens must now be of `generation` or later.
    pub async fn tokens_revoked(&self, identity: &str, generation: u64) {
        self.send(Event::Revoked {
            identity: identity.into(),
            generation,
        })
        .await;
    }

    /// The identity was deleted.
    pub async fn identity_deleted(&self, identity: &str) {
        self.send(Event::Input(Input::IdentityDeleted {
            identity: identity.into(),
        }))
        .await;
    }

    /// A room was created or changed (its call's participants whose role changed leave with 0/5317).
    pub async fn room_changed(&self, room: Room) {
        self.send(Event::Room(room)).await;
    }

    /// A room was deleted.
    pub async fn room_deleted(&self, room: &str) {
        self.send(Event::Input(Input::RoomDeleted { room: room.into() }))
            .await;
    }

    /// Carries out a call-control command.
    pub async fn control(&self, command: Control) -> Result<(), CallingError> {
        let (answer, wait) = oneshot::channel();
        self.send(Event::Control(command, answer)).await;
        wait.await.unwrap_or_else(|_| {
            Err(CallingError::new(&registry::SERVER_SHUTTING_DOWN)
                .with_context("the call controller has stopped"))
        })
    }

    /// The calls in progress, or the one named.
    pub async fn snapshots(&self, call: Option<CallId>) -> Vec<CallSnapshot> {
        let (answer, wait) = oneshot::channel();
        self.send(Event::Snapshots(call, answer)).await;
        wait.await.unwrap_or_default()
    }

    /// The presence of each identity, in order (offline when the task is gone).
    pub async fn presence(&self, identities: Vec<IdentityId>) -> Vec<Presence> {
        let count = identities.len();
        let (answer, wait) = oneshot::channel();
        self.send(Event::Presence(identities, answer)).await;
        wait.await
            .unwrap_or_else(|_| vec![Presence::Offline; count])
    }

    /// The webhook subscriptions and deliveries.
    pub fn webhooks(&self) -> &WebhookHub {
        &self.webhooks
    }

    /// Ends every call with 503/900300, delivers the frames, and stops the task.
    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self.events.send(Event::Shutdown(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    async fn send(&self, event: Event) {
        // Fails only once the task has stopped at shutdown, when nothing more can happen.
        let _ = self.events.send(event).await;
    }
}

/// The controller's timers and limits from the server's configuration.
pub fn controller_config(config: &Config, id_seed: [u8; 32]) -> ControllerConfig {
    ControllerConfig {
        ringing_timeout: config.timers.ringing,
        establishment_timeout: config.timers.establishment,
        delivery_ack_timeout: config.timers.delivery_ack,
        disconnect_detection: config.timers.abrupt_disconnect,
        push_wait: config.timers.push_wait,
        max_participants: config.limits.max_participants,
        max_outgoing_calls_per_identity: config.limits.max_outgoing_calls_per_identity,
        id_seed,
        id_epoch_ms: u64::try_from(crate::store::unix_ms(SystemTime::now())).unwrap_or(0),
        media_server: config.media.enabled,
    }
}

/// Starts the controller task, telling the controller first which identities registered before.
// Each argument is a distinct service the task owns; a struct bundling them would only move the
// list to its one caller.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start(
    config: &Config,
    id_seed: [u8; 32],
    registered: Vec<(String, Option<String>)>,
    rooms: Vec<Room>,
    store: Store,
    records: RecordWriter,
    webhooks: WebhookHub,
    media: Option<MediaShell>,
    metrics: Arc<Metrics>,
) -> (RuntimeHandle, tokio::task::JoinHandle<()>) {
    let (media, media_reports) = match media.map(MediaShell::start) {
        Some((handle, reports)) => (Some(handle), Some(reports)),
        None => (None, None),
    };
    let (events, receiver) = mpsc::channel(EVENT_QUEUE);
    let mut runtime = Runtime {
        controller: Controller::new(controller_config(config, id_seed)),
        links: HashMap::new(),
        fences: Fences::default(),
        anchor: (Instant::now(), SystemTime::now()),
        heartbeat_ms: u64::try_from(config.signaling.heartbeat_interval.as_millis())
            .unwrap_or(u64::MAX),
        custom_streams: config.media.custom_streams,
        store,
        records,
        push: PushSender::new(config.push.request_timeout),
        events: events.downgrade(),
        webhooks: webhooks.clone(),
        feed: EventFeed::default(),
        durable: config.records.durable,
        held: VecDeque::new(),
        held_for: HashMap::new(),
        next_mark: 1,
        unmarked: false,
        media,
        metrics,
        clock: CallClock::default(),
        checks: HashMap::new(),
    };
    let now = Instant::now();
    for (identity, push_url) in registered {
        runtime.controller.handle(
            now,
            Input::RegistrationKnown {
                identity: identity.into(),
                push_url,
            },
        );
    }
    for room in rooms {
        let room = runtime.room_spec(room);
        runtime.controller.handle(now, Input::RoomUpserted { room });
    }
    runtime.drain();
    let task = tokio::spawn(runtime.run(receiver, media_reports));
    (RuntimeHandle { events, webhooks }, task)
}

struct Runtime {
    controller: Controller,
    links: HashMap<EndpointKey, Link>,
    /// Recent revocations and deletions, for connections whose handshake was under way.
    fences: Fences,
    /// Converts the controller's instants to wall-clock times for records.
    anchor: (Instant, SystemTime),
    heartbeat_ms: u64,
    /// `media.custom_streams`, announced in every welcome.
    custom_streams: bool,
    store: Store,
    records: RecordWriter,
    push: PushSender,
    /// For push tasks to report back; weak so the task ends when every handle is gone.
    events: mpsc::WeakSender<Event>,
    webhooks: WebhookHub,
    feed: EventFeed,
    /// Whether ends are told only once committed.
    durable: bool,
    /// Frames waiting for their mark to be committed, in the order they were emitted.
    held: VecDeque<Held>,
    /// How many frames are held per endpoint: a later frame to it waits behind them.
    held_for: HashMap<EndpointKey, usize>,
    /// The mark the frames held by the current drain will carry.
    next_mark: u64,
    /// Frames carry `next_mark` but it was not sent to the writer yet.
    unmarked: bool,
    /// The media server's task, when it runs.
    media: Option<MediaHandle>,
    /// The server's metrics.
    metrics: Arc<Metrics>,
    /// When each call in progress started, for the setup latency.
    clock: CallClock,
    /// Each identity's last passed pre-call check (when, what it was told), kept a while.
    checks: HashMap<IdentityId, (SystemTime, serde_json::Value)>,
}

/// A frame (or a closing) waiting for the commit of the records it reports.
struct Held {
    mark: u64,
    endpoint: EndpointKey,
    /// The connection a closing was meant for: a newer connection of the endpoint is not closed.
    conn_id: Option<u64>,
    outgoing: Outgoing,
}

impl Runtime {
    async fn run(
        mut self,
        mut receiver: mpsc::Receiver<Event>,
        mut media_reports: Option<mpsc::UnboundedReceiver<crate::media::Report>>,
    ) {
        let mut committed = self.records.committed();
        loop {
            let deadline = self.controller.poll_timeout();
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = receiver.recv() => match event {
                    Some(Event::Shutdown(done)) => {
                        self.shut_down().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(event) => self.on_event(event),
                    None => return,
                },
                () = timer => self.controller.handle_timeout(Instant::now()),
                report = async {
                    match media_reports.as_mut() {
                        Some(reports) => reports.recv().await,
                        None => std::future::pending().await,
                    }
                } => match report {
                    Some((call, participant, report)) => self.controller.handle(
                        Instant::now(),
                        Input::Media { call, participant, report },
                    ),
                    // The media task stopped: nothing more will come from it.
                    None => media_reports = None,
                },
                changed = committed.changed(), if !self.held.is_empty() => {
                    // A writer that stopped committed what it had: nothing is left to wait for.
                    let through = match changed {
                        Ok(()) => *committed.borrow_and_update(),
                        Err(_) => u64::MAX,
                    };
                    self.release(through);
                }
            }
            self.drain();
        }
    }

    fn on_event(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Online(arrival) => self.online(now, *arrival),
            Event::Frame {
                endpoint,
                conn_id,
                frame,
                _in_flight,
            } => {
                if self.is_current(&endpoint, conn_id) {
                    self.controller
                        .handle(now, Input::Frame { endpoint, frame });
                }
            }
            Event::TokenRefreshed {
                endpoint,
                conn_id,
                expires_at,
            } => {
                if self.is_current(&endpoint, conn_id) {
                    self.controller.handle(
                        now,
                        Input::TokenRefreshed {
                            endpoint,
                            expires_at,
                        },
                    );
                }
            }
            Event::Gone {
                endpoint,
                conn_id,
                orderly,
            } => {
                if self.is_current(&endpoint, conn_id) {
                    self.links.remove(&endpoint);
                    let input = if orderly {
                        Input::EndpointClosed { endpoint }
                    } else {
                        Input::EndpointLost { endpoint }
                    };
                    self.controller.handle(now, input);
                }
            }
            Event::Revoked {
                identity,
                generation,
            } => {
                self.fences.raise(now, &identity, generation);
                self.controller
                    .handle(now, Input::TokensRevoked { identity });
            }
            Event::Input(Input::IdentityDeleted { identity }) => {
                self.fences.raise(now, &identity, DELETED);
                self.controller
                    .handle(now, Input::IdentityDeleted { identity });
            }
            Event::Input(input) => self.controller.handle(now, input),
            Event::Room(room) => {
                let room = self.room_spec(room);
                self.controller.handle(now, Input::RoomUpserted { room });
            }
            Event::Control(command, answer) => {
                let _ = answer.send(self.controller.control(now, command));
            }
            Event::Snapshots(call, answer) => {
                let snapshots = match call {
                    Some(call) => self.controller.snapshot_of(&call).into_iter().collect(),
                    None => self.controller.snapshots(),
                };
                let _ = answer.send(snapshots);
            }
            Event::Presence(identities, answer) => {
                let presence = identities
                    .iter()
                    .map(|identity| self.controller.presence(identity))
                    .collect();
                let _ = answer.send(presence);
            }
            Event::PrecallCheck {
                identity,
                at,
                result,
            } => {
                self.checks.retain(|_, (kept_at, _)| {
                    at.duration_since(*kept_at).unwrap_or_default() < PRECALL_CHECK_KEPT
                });
                if self.checks.len() >= PRECALL_CHECKS_MAX {
                    if let Some(oldest) = self
                        .checks
                        .iter()
                        .min_by_key(|(_, (kept_at, _))| *kept_at)
                        .map(|(identity, _)| identity.clone())
                    {
                        self.checks.remove(&oldest);
                    }
                }
                self.checks.insert(identity, (at, result));
            }
            // Handled by `run`, which must answer after the task's last action.
            Event::Shutdown(_) => {}
        }
    }

    fn online(&mut self, now: Instant, arrival: Arrival) {
        let Arrival {
            link,
            identity,
            ever_registered,
            token_expires_at,
            token_expires_at_ms,
            token_generation,
            push_url,
            resume,
        } = arrival;
        if let Some(error) = self.fences.refusal(&identity, token_generation) {
            // Closing through the queue lets the connection task write the fatal error itself.
            let _ = link.outbox.try_send(Outgoing::Close(Box::new(error)));
            return;
        }
        let endpoint = link.endpoint.clone();
        // A second connection of the same endpoint replaces the first, which counts as lost.
        if let Some(previous) = self.links.remove(&endpoint) {
            previous.kill.notify_one();
            self.controller.handle(
                now,
                Input::EndpointLost {
                    endpoint: endpoint.clone(),
                },
            );
            self.drain();
        }
        if let Some(url) = &push_url {
            let (store, identity, url) = (self.store.clone(), identity.to_string(), url.clone());
            tokio::spawn(async move {
                if let Err(e) = store
                    .remember_push_url(&identity, &url, SystemTime::now())
                    .await
                {
                    tracing::error!(error = %e, "push URL not stored");
                }
            });
        }
        self.controller.handle(
            now,
            Input::EndpointOnline {
                endpoint: endpoint.clone(),
                ever_registered,
                token_expires_at,
                push_url,
                resume,
            },
        );
        // The welcome goes out before anything the controller queued for this endpoint: it is the
        // first frame in the new connection's queue (the connection relies on it).
        let welcome = ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            identity,
            endpoint_id: endpoint.endpoint.clone(),
            heartbeat_interval_ms: self.heartbeat_ms,
            token_expires_at: token_expires_at_ms,
            resumed_calls: if resume {
                self.controller.resumed_calls(&endpoint)
            } else {
                Vec::new()
            },
            custom_streams: self.custom_streams,
            client_reports: true,
            media_views: true,
        };
        self.links.insert(endpoint.clone(), link);
        self.deliver(now, &endpoint, Outgoing::frame(&welcome));
    }

    /// The controller's view of a stored room: its window on the controller's clock.
    fn room_spec(&self, room: Room) -> RoomSpec {
        let instant = |ms: i64| instant_of(self.anchor, crate::store::from_unix_ms(ms));
        RoomSpec {
            id: room.id,
            valid_from: instant(room.valid_from_ms),
            valid_until: instant(room.valid_until_ms),
            roster: room
                .participants
                .into_iter()
                .map(|(identity, role)| (identity.into(), role))
                .collect(),
        }
    }

    fn is_current(&self, endpoint: &EndpointKey, conn_id: u64) -> bool {
        self.links
            .get(endpoint)
            .is_some_and(|link| link.conn_id == conn_id)
    }

    /// Carries out every pending action, including those that carrying them out causes.
    fn drain(&mut self) {
        self.metrics.set_connected_endpoints(self.links.len());
        while let Some(action) = self.controller.poll_action() {
            let now = Instant::now();
            match action {
                Action::Send { endpoint, frame } => {
                    let tells_an_end = matches!(
                        frame,
                        ServerFrame::CallEnded { .. } | ServerFrame::ParticipantLeft { .. }
                    );
                    self.send_or_hold(now, endpoint, Outgoing::frame(&frame), tells_an_end)
                }
                Action::Close { endpoint, error } => {
                    self.send_or_hold(now, endpoint, Outgoing::Close(Box::new(error)), false)
                }
                Action::Push {
                    identity,
                    url,
                    call,
                    from,
                } => {
                    let (push, events) = (self.push.clone(), self.events.clone());
                    tokio::spawn(async move {
                        let ok = push.send(&url, &identity, &call, &from).await;
                        if let Some(events) = events.upgrade() {
                            let _ = events
                                .send(Event::Input(Input::PushDelivered { identity, ok }))
                                .await;
                        }
                    });
                }
                Action::MarkRegistered { identity } => {
                    let store = self.store.clone();
                    tokio::spawn(async move {
                        if let Err(e) = store
                            .mark_registered(identity.as_str(), SystemTime::now())
                            .await
                        {
                            tracing::error!(error = %e, "registration not stored");
                        }
                    });
                }
                Action::MediaJoin {
                    call,
                    participant,
                    request_id,
                    sdp,
                    publish,
                    audio_muted,
                } => self.to_media(MediaCommand::Join {
                    call,
                    participant,
                    request_id,
                    sdp,
                    publish,
                    audio_muted,
                }),
                Action::MediaMute {
                    call,
                    participant,
                    muted,
                } => self.to_media(MediaCommand::Mute {
                    call,
                    participant,
                    muted,
                }),
                Action::MediaAnswer {
                    call,
                    participant,
                    sdp,
                } => self.to_media(MediaCommand::Answer {
                    call,
                    participant,
                    sdp,
                }),
                Action::MediaView {
                    call,
                    participant,
                    request_id,
                    publisher,
                    width,
                    height,
                } => self.to_media(MediaCommand::View {
                    call,
                    participant,
                    request_id,
                    publisher,
                    width,
                    height,
                }),
                Action::MediaLeave { call, participant } => {
                    self.to_media(MediaCommand::Leave { call, participant })
                }
                Action::Record(event) => {
                    let at = match &event {
                        RecordEvent::CallCreated { at, .. }
                        | RecordEvent::LegJoined { at, .. }
                        | RecordEvent::LegLeft { at, .. }
                        | RecordEvent::Timeline { at, .. }
                        | RecordEvent::TargetEnded { at, .. }
                        | RecordEvent::RingEnded { at, .. }
                        | RecordEvent::CallEnded { at, .. } => wall(self.anchor, *at),
                    };
                    self.clock.observe(&self.metrics, &event);
                    crate::metrics::log_call_event(&event);
                    let hook = self.feed.observe(&event, at);
                    let check = self.check_behind_failed_join(&event, at);
                    let mut ops = record_ops(event, self.anchor);
                    ops.extend(check);
                    if let Some(hook) = hook {
                        let subscribers = self.webhooks.subscribers_of(hook.kind);
                        if !subscribers.is_empty() {
                            // In the records' own transaction: the event exists exactly when the
                            // facts it reports do, whatever stops the server.
                            ops.push(RecordOp::Webhook(Box::new(
                                hook.into_outbox(subscribers, at),
                            )));
                        }
                    }
                    self.records.write_all(ops);
                }
            }
        }
        if self.unmarked {
            self.records.mark(self.next_mark);
            self.next_mark += 1;
            self.unmarked = false;
        }
        self.metrics.set_connected_endpoints(self.links.len());
    }

    /// A leg that ended in failure (any category but Success) whose identity passed the pre-call
    /// check shortly before: the check's result goes on the call's timeline, once.
    fn check_behind_failed_join(
        &mut self,
        event: &RecordEvent,
        at: SystemTime,
    ) -> Option<RecordOp> {
        let (call, identity, reason) = match event {
            RecordEvent::LegLeft {
                call,
                identity,
                reason,
                ..
            }
            | RecordEvent::TargetEnded {
                call,
                identity,
                reason,
                ..
            } => (call, identity, reason),
            _ => return None,
        };
        if reason.category() == appel_codes::ResultCategory::Success {
            return None;
        }
        let (checked_at, result) = self.checks.remove(identity)?;
        if at.duration_since(checked_at).unwrap_or_default() >= PRECALL_CHECK_KEPT {
            return None;
        }
        Some(RecordOp::Timeline {
            call_id: call.to_string(),
            at,
            kind: "preCallCheck".into(),
            detail: serde_json::json!({
                "identity": identity,
                "checkedAt": crate::store::rfc3339(crate::store::unix_ms(checked_at)),
                "result": result,
            }),
        })
    }

    /// The controller asks for media only when the server runs a media server
    /// (`ControllerConfig::media_server`), so there is always a task to hand it to.
    fn to_media(&self, command: MediaCommand) {
        match &self.media {
            Some(media) => media.send(command),
            None => tracing::error!(?command, "a media command with no media server running"),
        }
    }

    /// Sends a frame or a closing now, or, in durable mode, holds it when it tells an end or when
    /// an earlier frame to the same endpoint is held (frames never overtake one another).
    fn send_or_hold(
        &mut self,
        now: Instant,
        endpoint: EndpointKey,
        outgoing: Outgoing,
        tells_an_end: bool,
    ) {
        if self.durable && (tells_an_end || self.held_for.contains_key(&endpoint)) {
            *self.held_for.entry(endpoint.clone()).or_default() += 1;
            let conn_id = self.links.get(&endpoint).map(|link| link.conn_id);
            self.held.push_back(Held {
                mark: self.next_mark,
                endpoint,
                conn_id,
                outgoing,
            });
            self.unmarked = true;
            return;
        }
        self.put(now, &endpoint, outgoing);
    }

    /// Sends what was held under every mark up to `through`, in order.
    fn release(&mut self, through: u64) {
        let now = Instant::now();
        while self.held.front().is_some_and(|held| held.mark <= through) {
            let Some(held) = self.held.pop_front() else {
                break;
            };
            if let Some(count) = self.held_for.get_mut(&held.endpoint) {
                *count -= 1;
                if *count == 0 {
                    self.held_for.remove(&held.endpoint);
                }
            }
            let closes_a_newer_connection = matches!(held.outgoing, Outgoing::Close(_))
                && self.links.get(&held.endpoint).map(|link| link.conn_id) != held.conn_id;
            if !closes_a_newer_connection {
                self.put(now, &held.endpoint, held.outgoing);
            }
        }
    }

    fn put(&mut self, now: Instant, endpoint: &EndpointKey, outgoing: Outgoing) {
        match outgoing {
            Outgoing::Frame(_) => self.deliver(now, endpoint, outgoing),
            Outgoing::Close(error) => {
                if let Some(link) = self.links.remove(endpoint) {
                    if link.outbox.try_send(Outgoing::Close(error)).is_err() {
                        link.kill.notify_one();
                    }
                }
            }
        }
    }

    /// Queues a frame for a connection; a queue over its frame or byte budget means the client
    /// cannot keep up, and it is cut off and treated as lost rather than allowed to hold up the
    /// controller or the server's memory.
    fn deliver(&mut self, now: Instant, endpoint: &EndpointKey, outgoing: Outgoing) {
        let Some(link) = self.links.get(endpoint) else {
            return;
        };
        match link.outbox.try_send(outgoing) {
            Ok(()) => {}
            Err(Refused::Full) => {
                tracing::warn!(%endpoint, "send queue over budget: the connection is cut off and treated as lost");
                if let Some(link) = self.links.remove(endpoint) {
                    link.kill.notify_one();
                }
                self.controller.handle(
                    now,
                    Input::EndpointLost {
                        endpoint: endpoint.clone(),
                    },
                );
            }
            // The connection task ended; its `Gone` event is on its way.
            Err(Refused::Closed) => {}
        }
    }

    async fn shut_down(&mut self) {
        let now = Instant::now();
        for call in self.controller.call_ids() {
            self.controller.handle(
                now,
                Input::HangUpAll {
                    call,
                    reason: CallEndReason::of(&registry::SERVER_SHUTTING_DOWN),
                },
            );
        }
        self.drain();
        if !self.held.is_empty() {
            // Everything queued is committed once the flush returns, so every held end may go.
            self.records.flush().await;
            self.release(u64::MAX);
            self.drain();
        }
        // Dropping the links lets each connection write what is queued, then close.
        self.links.clear();
    }
}

/// The wall-clock time of a controller instant.
fn wall(anchor: (Instant, SystemTime), at: Instant) -> SystemTime {
    if at >= anchor.0 {
        anchor.1 + (at - anchor.0)
    } else {
        anchor.1 - (anchor.0 - at)
    }
}

/// The controller instant of a wall-clock time. Times before the process's clock can express
/// are clamped to the anchor, which is already in the past for every check the controller makes.
fn instant_of(anchor: (Instant, SystemTime), at: SystemTime) -> Instant {
    match at.duration_since(anchor.1) {
        Ok(after) => anchor
            .0
            .checked_add(after)
            .unwrap_or(anchor.0 + std::time::Duration::from_secs(100 * 365 * 24 * 3600)),
        Err(before) => anchor.0.checked_sub(before.duration()).unwrap_or(anchor.0),
    }
}

/// The stored form of a controller record.
fn record_ops(event: RecordEvent, anchor: (Instant, SystemTime)) -> Vec<RecordOp> {
    match event {
        RecordEvent::CallCreated {
            call,
            caller,
            caller_participant,
            caller_endpoint,
            targets,
            video,
            at,
        } => vec![
            RecordOp::CallCreated {
                call_id: call.0.clone(),
                caller: caller.0,
                targets: targets.into_iter().map(|t| t.0).collect(),
                at: wall(anchor, at),
            },
            RecordOp::Timeline {
                call_id: call.0,
                at: wall(anchor, at),
                kind: "created".into(),
                detail: serde_json::json!({
                    "callerParticipant": caller_participant.0,
                    "callerEndpoint": caller_endpoint.0,
                    "video": video,
                }),
            },
        ],
        RecordEvent::LegJoined {
            call,
            participant,
            endpoint,
            identity,
            at,
        } => vec![RecordOp::LegJoined {
            call_id: call.0,
            participant_id: participant.0,
            endpoint_id: Some(endpoint.0),
            identity: identity.0,
            at: wall(anchor, at),
        }],
        RecordEvent::LegLeft {
            call,
            participant,
            endpoint,
            identity,
            at,
            reason,
            raw_cause,
            ended_by,
        } => vec![RecordOp::LegLeft {
            call_id: call.0,
            participant_id: participant.0,
            identity: identity.0,
            endpoint_id: Some(endpoint.0),
            at: wall(anchor, at),
            reason,
            raw_cause,
            ended_by: Some(ended_by_json(&ended_by)),
        }],
        RecordEvent::Timeline {
            call,
            at,
            kind,
            detail,
        } => vec![RecordOp::Timeline {
            call_id: call.0,
            at: wall(anchor, at),
            kind: kind.as_str().into(),
            detail: serde_json::Value::String(detail),
        }],
        RecordEvent::CallEnded {
            call,
            at,
            reason,
            ended_by,
        } => vec![RecordOp::CallEnded {
            call_id: call.0,
            at: wall(anchor, at),
            reason: Some(reason),
            ended_by: Some(ended_by_json(&ended_by)),
        }],
        RecordEvent::TargetEnded {
            call,
            participant,
            identity,
            at,
            reason,
            raw_cause,
            ended_by,
        } => vec![RecordOp::TargetEnded {
            call_id: call.0,
            participant_id: participant.0,
            identity: identity.0,
            at: wall(anchor, at),
            reason,
            raw_cause,
            ended_by: Some(ended_by_json(&ended_by)),
        }],
        RecordEvent::RingEnded {
            call,
            participant,
            endpoint,
            identity,
            at,
            reason,
            raw_cause,
        } => vec![RecordOp::RingEnded {
            call_id: call.0,
            participant_id: participant.0,
            endpoint_id: endpoint.0,
            identity: identity.0,
            at: wall(anchor, at),
            reason,
            raw_cause,
        }],
    }
}

fn ended_by_json(ended_by: &appel_protocol::EndedBy) -> String {
    // Strings and enums with string tags always serialize.
    serde_json::to_string(ended_by).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_connection_checked_before_a_revocation_is_fenced_out_after_it() {
        let now = Instant::now();
        let alice: IdentityId = "alice".into();
        let bob: IdentityId = "bob".into();
        let mut fences = Fences::default();
        assert!(fences.refusal(&alice, 0).is_none());
        fences.raise(now, &alice, 2);
        let error = fences
            .refusal(&alice, 1)
            .expect("an older generation is refused");
        assert!(error.is(&registry::UNAUTHENTICATED));
        assert!(error
            .raw_cause()
            .is_some_and(|c| c.starts_with("token revoked")));
        assert!(
            fences.refusal(&alice, 2).is_none(),
            "the current generation"
        );
        assert!(fences.refusal(&bob, 0).is_none(), "another identity");
        // A late, lower revocation never lowers the fence.
        fences.raise(now, &alice, 1);
        assert!(fences.refusal(&alice, 1).is_some());
        fences.raise(now, &bob, DELETED);
        assert!(fences
            .refusal(&bob, u64::MAX - 1)
            .and_then(|e| e.raw_cause().map(str::to_string))
            .is_some_and(|c| c == "identity deleted"));
        // Old fences are forgotten when a new one goes up.
        let later = now + FENCE_KEPT + Duration::from_secs(1);
        fences.raise(later, &"carol".into(), 1);
        assert!(fences.refusal(&alice, 0).is_none());
        assert!(fences.refusal(&bob, 0).is_none());
    }

    #[tokio::test]
    async fn a_connection_stops_reading_while_its_frames_wait_for_the_controller() {
        use futures_util::FutureExt;
        let (events, mut receiver) = mpsc::channel(EVENT_QUEUE);
        let handle = RuntimeHandle {
            events,
            webhooks: WebhookHub::idle(),
        };
        let flooder = EndpointKey::new("mallory", "phone");
        let other = EndpointKey::new("bob", "phone");
        let (mine, theirs) = (Arc::new(Semaphore::new(2)), Arc::new(Semaphore::new(2)));
        // The controller task is busy elsewhere: two frames go in, the third waits.
        for _ in 0..2 {
            handle
                .frame(&flooder, 1, ClientFrame::Ping, &mine)
                .now_or_never()
                .expect("within the allowance");
        }
        let third = handle.frame(&flooder, 1, ClientFrame::Ping, &mine);
        tokio::pin!(third);
        assert!(third.as_mut().now_or_never().is_none(), "a third waits");
        // Another connection is not held back by the flooder's allowance.
        handle
            .frame(&other, 2, ClientFrame::Ping, &theirs)
            .now_or_never()
            .expect("another connection's frame goes in");
        // The controller handles one of the flooder's frames: the waiting one goes in.
        drop(receiver.recv().await.expect("an event"));
        third
            .now_or_never()
            .expect("a frame was handled, one more goes in");
        assert_eq!(mine.available_permits(), 0);
        while let Ok(event) = receiver.try_recv() {
            drop(event);
        }
        assert_eq!(
            mine.available_permits(),
            2,
            "handled frames give their place back"
        );
        assert_eq!(theirs.available_permits(), 2);
    }

    #[test]
    fn instants_map_to_wall_clock_on_both_sides_of_the_anchor() {
        let anchor = (
            Instant::now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1000),
        );
        assert_eq!(
            wall(anchor, anchor.0 + Duration::from_millis(1500)),
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_001_500)
        );
        if let Some(before) = anchor.0.checked_sub(Duration::from_secs(1)) {
            assert_eq!(
                wall(anchor, before),
                SystemTime::UNIX_EPOCH + Duration::from_secs(999)
            );
        }
    }
}

#[cfg(test)]
mod record_tests {
    use super::*;
    use appel_controller::TimelineKind;
    use appel_protocol::EndedBy;
    use std::time::Duration;

    /// The records one answered call leaves, as the controller reports them: the caller's and the
    /// callee's legs, ringing and answering on the timeline, and the call's end.
    fn answered_call(start: Instant) -> Vec<RecordEvent> {
        let call: CallId = "c1".into();
        let later = |ms| start + Duration::from_millis(ms);
        let alice = EndedBy::participant("p1".into(), "alice".into());
        let left = |participant: &str, identity: &str, at| RecordEvent::LegLeft {
            call: call.clone(),
            participant: participant.into(),
            endpoint: format!("{identity}-phone").as_str().into(),
            identity: identity.into(),
            at,
            reason: CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
            raw_cause: None,
            ended_by: alice.clone(),
        };
        vec![
            RecordEvent::CallCreated {
                call: call.clone(),
                caller: "alice".into(),
                caller_participant: "p1".into(),
                caller_endpoint: "alice-phone".into(),
                targets: vec!["bob".into()],
                video: false,
                at: start,
            },
            RecordEvent::LegJoined {
                call: call.clone(),
                participant: "p1".into(),
                endpoint: "alice-phone".into(),
                identity: "alice".into(),
                at: start,
            },
            RecordEvent::Timeline {
                call: call.clone(),
                at: later(5),
                kind: TimelineKind::Ringing,
                detail: "bob-phone".into(),
            },
            RecordEvent::LegJoined {
                call: call.clone(),
                participant: "p2".into(),
                endpoint: "bob-phone".into(),
                identity: "bob".into(),
                at: later(10),
            },
            left("p2", "bob", later(50)),
            left("p1", "alice", later(50)),
            RecordEvent::CallEnded {
                call: call.clone(),
                at: later(50),
                reason: CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
                ended_by: alice.clone(),
            },
        ]
    }

    #[tokio::test]
    async fn who_ended_a_leg_is_written_by_the_statement_that_ends_it() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("store");
        // One batch per call, as under load: every start meets its end in the same transaction.
        let writer = RecordWriter::start(store.path(), 1000, Duration::from_secs(60))
            .expect("the records writer starts");
        let anchor = (Instant::now(), SystemTime::now());
        let ops: Vec<RecordOp> = answered_call(anchor.0)
            .into_iter()
            .flat_map(|event| record_ops(event, anchor))
            .collect();
        writer.write_all(ops);
        writer.flush().await;
        // The "last alive" stamp, the call (created and ended: one row), its two legs (joined and
        // left: one row each), and two timeline lines (created, ringing). Writing each ender with
        // an UPDATE of its own took three more.
        assert_eq!(writer.statements(), 6);
        let record = store
            .call_record("c1")
            .await
            .expect("read")
            .expect("the call is stored");
        let json = serde_json::to_value(&record).expect("json");
        let alice =
            serde_json::json!({"by": "participant", "participantId": "p1", "identity": "alice"});
        assert_eq!(json["endedBy"], alice, "{json}");
        let legs = json["legs"].as_array().expect("legs");
        assert_eq!(legs.len(), 2, "{json}");
        for leg in legs {
            assert_eq!(leg["endedBy"], alice, "{leg}");
        }
        writer.close().await;
    }
}
