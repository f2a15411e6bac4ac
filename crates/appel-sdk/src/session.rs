//! The agent's session task: a thin tokio shell over the protocol core (`appel-client`). It owns
//! the socket, the clock and the tasks; the core decides everything else — which frame answers
//! which request, when a request or a call setup times out, when to refresh the token, when to
//! reconnect and when the reconnect grace ends. The shell turns the core's events into the state
//! of the handles (calls, incoming calls, connection state).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appel_client::{CallRef, Config, Core, Event, Now, Output, TokenPolicy};
use appel_codes::CallingError;
use appel_protocol::{parse_server_frame, ClientFrame};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::agent::{AgentShared, ConnectionState};
use crate::call::CallShared;
use crate::client::Registration;
use crate::credential::{FetchUse, TokenCredential};
use crate::incoming::IncomingShared;
use crate::jwt;
use crate::link::{Answer, Command};
use crate::transport::{self, Socket, Welcome};

/// How long closing a socket may take.
const CLOSE_WAIT: Duration = Duration::from_millis(500);
/// Share of each reconnect wait taken off at random, so agents cut off together spread out.
const RECONNECT_JITTER: f64 = 0.2;

/// A connection attempt under way.
type Attempt = Pin<Box<dyn Future<Output = Result<(Socket, Welcome), CallingError>> + Send>>;

/// Results of work the session started in the background.
enum Internal {
    TokenFetched(Result<String, CallingError>),
}

/// Everything the session task owns.
pub(crate) struct Session {
    core: Core,
    origin: Instant,
    shared: Arc<AgentShared>,
    credential: TokenCredential,
    url: String,
    commands: mpsc::UnboundedReceiver<Command>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    socket: Option<Socket>,
    attempt: Option<Attempt>,
    /// The handles of the calls the core knows.
    calls: HashMap<CallRef, Arc<CallShared>>,
    /// Who waits for which request's answer.
    replies: HashMap<u64, oneshot::Sender<Answer>>,
    dispose_done: Option<oneshot::Sender<()>>,
    disposed: Arc<AtomicBool>,
    registration: Option<Registration>,
    finished: Option<oneshot::Sender<()>>,
    started: Option<oneshot::Sender<()>>,
    /// Who waits for the answer to which `mediaOffer`.
    #[cfg(feature = "media")]
    media_offers: HashMap<u64, Arc<crate::media::CallMedia>>,
}

/// What the session starts from.
pub(crate) struct SessionStart {
    pub shared: Arc<AgentShared>,
    pub credential: TokenCredential,
    pub url: String,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub token: String,
    pub welcome: Welcome,
    pub disposed: Arc<AtomicBool>,
    pub registration: Registration,
    pub finished: oneshot::Sender<()>,
    /// Told once the task runs and owns the connection; creation hands the agent out only then.
    pub started: oneshot::Sender<()>,
}

impl Session {
    pub(crate) fn new(start: SessionStart, socket: Socket) -> Self {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let options = &start.shared.options;
        let config = Config {
            endpoint_id: start.shared.endpoint_id.clone(),
            push_url: options.push_url.clone(),
            manual_media_ready: options.manual_media_ready,
            call_establishment: options.timeouts.call_establishment,
            request_timeout: options.timeouts.request,
            reconnect: appel_client::ReconnectPolicy {
                grace: options.reconnect.grace,
                initial_backoff: options.reconnect.initial_backoff,
                max_backoff: options.reconnect.max_backoff,
                jitter: RECONNECT_JITTER,
            },
            token: TokenPolicy {
                can_refresh: start.credential.can_refresh(),
                proactive: start.credential.proactive(),
                lead: start.credential.lead(),
            },
            random_seed: seed(),
        };
        let origin = Instant::now();
        let now = now_since(origin);
        let welcome = core_welcome(&start.credential, &start.welcome);
        let core = Core::new(config, now, start.token, welcome);
        Session {
            core,
            origin,
            shared: start.shared,
            credential: start.credential,
            url: start.url,
            commands: start.commands,
            internal_tx,
            internal_rx,
            socket: Some(socket),
            attempt: None,
            calls: HashMap::new(),
            replies: HashMap::new(),
            dispose_done: None,
            disposed: start.disposed,
            registration: Some(start.registration),
            finished: Some(start.finished),
            started: Some(start.started),
            #[cfg(feature = "media")]
            media_offers: HashMap::new(),
        }
    }

    fn now(&self) -> Now {
        now_since(self.origin)
    }

    /// Runs until disposed, closed by the server, or every handle is dropped.
    pub(crate) async fn run(mut self) {
        // The one fault-injection point of the SDK (a no-op unless the `fail` crate's
        // `failpoints` feature is on, which only the test build turns on): a task that dies here
        // takes the path an unexpected failure of the session task would, see `client.rs`.
        fail::fail_point!("appel-sdk::session::start");
        if let Some(started) = self.started.take() {
            let _ = started.send(());
        }
        // One timer for every deadline of the core, re-armed only when the deadline changes: a new
        // sleep each turn of the loop would cost a timer-wheel insertion and removal per frame.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        let mut armed: Option<appel_client::Instant> = None;
        loop {
            self.drain().await;
            if self.core.is_stopped() {
                return self.stop().await;
            }
            let next = self.core.poll_timeout();
            if next != armed {
                if let Some(at) = next {
                    timer
                        .as_mut()
                        .reset(self.origin + Duration::from_millis(at.as_millis()));
                }
                armed = next;
            }
            tokio::select! {
                message = next_message(&mut self.socket) => self.on_message(message),
                command = self.commands.recv() => match command {
                    None => return self.stop().await,
                    Some(command) => self.on_command(command),
                },
                Some(internal) = self.internal_rx.recv() => {
                    let Internal::TokenFetched(result) = internal;
                    let expires = result.as_ref().ok().and_then(|token| jwt::claims(token).expires_at).map(unix_ms);
                    let now = self.now();
                    self.core.token_fetched(now, result, expires);
                }
                result = attempt(&mut self.attempt) => {
                    self.attempt = None;
                    let now = self.now();
                    match result {
                        Ok((socket, welcome)) => {
                            tracing::info!(identity = %self.shared.identity, "signaling connection back");
                            self.socket = Some(socket);
                            self.core.connected(now, core_welcome(&self.credential, &welcome));
                        }
                        Err(error) => {
                            tracing::info!(%error, "reconnect attempt failed");
                            self.core.connect_failed(now, &error);
                        }
                    }
                }
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    let now = self.now();
                    self.core.handle_timeout(now);
                }
            }
        }
    }

    fn on_message(&mut self, message: Option<Result<Message, String>>) {
        let now = self.now();
        match message {
            Some(Ok(Message::Text(text))) => match parse_server_frame(text.as_str()) {
                Ok(frame) => {
                    #[cfg(feature = "media")]
                    self.route_media(&frame);
                    self.core.frame(now, frame)
                }
                Err(error) => {
                    tracing::warn!(%error, "unreadable frame from the server");
                    self.core.heard(now);
                }
            },
            Some(Ok(Message::Close(frame))) => {
                let cause = frame
                    .map(|f| format!(": {} {}", f.code, f.reason))
                    .unwrap_or_default();
                self.lost(format!("closed by the server{cause}"));
            }
            Some(Ok(_)) => self.core.heard(now),
            Some(Err(cause)) => self.lost(cause),
            None => self.lost("end of stream".into()),
        }
    }

    /// The connection is gone: the core plans the reconnect and keeps the calls for the grace.
    fn lost(&mut self, cause: String) {
        tracing::info!(identity = %self.shared.identity, %cause, "signaling connection lost; reconnecting");
        self.socket = None;
        let now = self.now();
        self.core.connection_lost(now);
    }

    fn on_command(&mut self, command: Command) {
        let now = self.now();
        match command {
            Command::Request {
                build,
                timeout,
                reply,
            } => {
                let request_id = self.core.request(now, timeout, build);
                self.replies.insert(request_id, reply);
            }
            Command::StartCall { build, call } => {
                let call_ref = self.core.start_call(now, build);
                call.set_core_ref(call_ref);
                self.calls.insert(call_ref, call);
            }
            Command::Accept {
                call_id,
                video,
                call,
                timeout,
                reply,
            } => match self.core.accept(now, &call_id, video, timeout) {
                Ok((call_ref, request_id)) => {
                    call.set_core_ref(call_ref);
                    self.shared.add_call(call_id, call.clone());
                    self.calls.insert(call_ref, call);
                    self.replies.insert(request_id, reply);
                }
                Err(error) => {
                    let _ = reply.send(Ok(Err(error)));
                }
            },
            Command::Reject {
                call_id,
                timeout,
                reply,
            } => match self.core.reject(now, &call_id, timeout) {
                Ok(request_id) => {
                    self.replies.insert(request_id, reply);
                }
                Err(error) => {
                    let _ = reply.send(Ok(Err(error)));
                }
            },
            Command::Ended(call) => {
                if let Some(call_ref) = call.core_ref() {
                    self.core.end_locally(call_ref);
                }
            }
            Command::Send(frame) => self.core.send(frame),
            #[cfg(feature = "media")]
            Command::MediaOffer {
                call_id,
                sdp,
                media,
            } => {
                // The core hands out the id but does not wait for this answer: `mediaAnswer`
                // is no `ack`, so the media task times the wait and the session only routes.
                self.media_offers.retain(|_, waiting| !waiting.is_closed());
                let request_id = self.core.request_id();
                self.media_offers.insert(request_id, media);
                self.core.send(ClientFrame::MediaOffer {
                    request_id,
                    call_id,
                    sdp,
                });
            }
            #[cfg(feature = "media")]
            Command::Report { call, kind, detail } => {
                if let Some(call_ref) = call.core_ref() {
                    self.core.report(call_ref, kind, detail);
                }
            }
            Command::Dispose { done } => {
                self.dispose_done = Some(done);
                self.core.dispose();
            }
        }
    }

    /// Hands the media frames to the call's media task; the core sees every frame too (it keeps
    /// the connection's liveness and ignores these).
    #[cfg(feature = "media")]
    fn route_media(&mut self, frame: &appel_protocol::ServerFrame) {
        use appel_protocol::ServerFrame;
        match frame {
            ServerFrame::MediaAnswer {
                request_id, sdp, ..
            } => {
                if let Some(media) = self.media_offers.remove(request_id) {
                    media.deliver(crate::media::Inbound::Answer(Ok(sdp.clone())));
                }
            }
            ServerFrame::Error {
                request_id: Some(request_id),
                error,
                ..
            } => {
                if let Some(media) = self.media_offers.remove(request_id) {
                    media.deliver(crate::media::Inbound::Answer(Err(error.clone())));
                }
            }
            ServerFrame::MediaOffer { call_id, sdp } => {
                let media = self.shared.call(call_id).and_then(|c| c.media().cloned());
                if let Some(media) = media {
                    media.deliver(crate::media::Inbound::Offer(sdp.clone()));
                }
            }
            _ => {}
        }
    }

    /// Carries out what the core asks, in order.
    async fn drain(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Send(frame) => {
                    if let Some(socket) = self.socket.as_mut() {
                        if let Err(cause) = send(socket, &frame).await {
                            self.lost(cause);
                        }
                    }
                }
                Output::Connect(hello) => {
                    let url = self.url.clone();
                    let timeouts = self.shared.options.timeouts.clone();
                    self.attempt = Some(Box::pin(async move {
                        let mut socket = transport::connect(&url, timeouts.connect).await?;
                        let welcome =
                            transport::handshake(&mut socket, hello, timeouts.registration).await?;
                        Ok((socket, welcome))
                    }));
                }
                Output::Disconnect => {
                    if let Some(mut socket) = self.socket.take() {
                        let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(None)).await;
                    }
                }
                Output::FetchToken => {
                    let credential = self.credential.clone();
                    let timeout = self.shared.options.timeouts.token_fetch;
                    let results = self.internal_tx.clone();
                    tokio::spawn(async move {
                        let result = credential.fetch(timeout, FetchUse::Refresh).await;
                        let _ = results.send(Internal::TokenFetched(result));
                    });
                }
                Output::Event(event) => self.on_event(event),
            }
        }
    }

    /// Brings the handles up to date.
    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connection(state) => {
                let state = match state {
                    appel_client::ConnectionState::Connected => ConnectionState::Connected,
                    appel_client::ConnectionState::Reconnecting => ConnectionState::Reconnecting,
                    appel_client::ConnectionState::Disconnected => ConnectionState::Disconnected,
                };
                self.shared.connection.send_replace(state);
            }
            Event::Answered { request_id, result } => {
                if let Some(reply) = self.replies.remove(&request_id) {
                    let _ = reply.send(Ok(result));
                }
            }
            Event::NoAnswer { request_id, why } => {
                if let Some(reply) = self.replies.remove(&request_id) {
                    let _ = reply.send(Err(why));
                }
            }
            Event::CallIdAssigned {
                call,
                call_id,
                participant_id,
            } => {
                if let Some(shared) = self.calls.get(&call).cloned() {
                    if shared.assign_id(call_id.clone(), participant_id) {
                        self.shared.add_call(call_id, shared);
                    } else {
                        // Hung up (or timed out) before the server confirmed: leave it now.
                        self.core.leave(call);
                    }
                }
            }
            Event::CallState { call, state } => {
                if let Some(shared) = self.calls.get(&call) {
                    shared.set_state(state);
                }
            }
            Event::ParticipantUpdated { call, participant } => {
                if let Some(shared) = self.calls.get(&call) {
                    shared.participant_updated(participant);
                }
            }
            Event::ParticipantLeft {
                call,
                participant_id,
                identity,
                reason,
                ended_by,
            } => {
                if let Some(shared) = self.calls.get(&call) {
                    shared.participant_left(participant_id, identity, reason, ended_by);
                }
            }
            Event::Signal {
                call,
                from,
                payload,
            } => {
                if let Some(shared) = self.calls.get(&call) {
                    shared.signal(from, payload);
                }
            }
            Event::MutedByServer { call } => {
                if let Some(shared) = self.calls.get(&call) {
                    shared.muted_by_server();
                }
            }
            // The native SDK carries no media of its own yet: the application that connects to
            // the media server reads these frames itself (docs/protocol.md, `mediaServer`).
            Event::MediaServer { .. } | Event::MediaAnswer { .. } | Event::MediaOffer { .. } => {}
            // What the reconnect changed came just before, as participant and state events.
            Event::CallResumed { .. } => {}
            // The credential's refresher is already under way (the core asked for it).
            Event::TokenExpiring { .. } => {}
            Event::CallEnded {
                call,
                reason,
                raw_cause,
                ended_by,
            } => {
                if let Some(shared) = self.calls.remove(&call) {
                    if let Some(call_id) = shared.id() {
                        self.shared.forget_call(&call_id);
                    }
                    shared.finish_by(reason, raw_cause, ended_by);
                }
            }
            Event::Incoming {
                call_id,
                from,
                from_participant_id,
                participant_id,
                video,
            } => {
                self.shared.add_incoming(IncomingShared::new(
                    call_id,
                    from,
                    from_participant_id,
                    participant_id,
                    video,
                ));
            }
            Event::IncomingStopped {
                call_id,
                reason,
                raw_cause,
                ended_by,
            } => {
                if let Some(incoming) = self.shared.forget_incoming(&call_id) {
                    incoming.stop_by(reason, raw_cause, ended_by);
                }
            }
            Event::Fatal(error) => {
                tracing::warn!(identity = %self.shared.identity, %error, "the server closed the connection");
            }
        }
    }

    /// Closes the connection, marks the agent gone and frees its identity in the client.
    async fn stop(mut self) {
        if let Some(mut socket) = self.socket.take() {
            let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(None)).await;
        }
        self.disposed.store(true, Ordering::Release);
        self.shared
            .connection
            .send_replace(ConnectionState::Disconnected);
        self.shared.close_incoming_feed();
        self.replies.clear();
        self.registration.take();
        if let Some(finished) = self.finished.take() {
            let _ = finished.send(());
        }
        if let Some(done) = self.dispose_done.take() {
            let _ = done.send(());
        }
    }
}

/// The next message of the connection, or never while there is none.
async fn next_message(socket: &mut Option<Socket>) -> Option<Result<Message, String>> {
    match socket {
        Some(socket) => socket
            .next()
            .await
            .map(|message| message.map_err(|e| e.to_string())),
        None => std::future::pending().await,
    }
}

/// The outcome of the connection attempt, or never while there is none.
async fn attempt(attempt: &mut Option<Attempt>) -> Result<(Socket, Welcome), CallingError> {
    match attempt {
        Some(attempt) => attempt.await,
        None => std::future::pending().await,
    }
}

async fn send(socket: &mut Socket, frame: &ClientFrame) -> Result<(), String> {
    socket
        .send(Message::text(frame.to_json()))
        .await
        .map_err(|e| format!("sending {}: {e}", frame.type_name()))
}

/// The core's welcome: the expiry of the token in use is what the token says, else what the
/// server said.
fn core_welcome(credential: &TokenCredential, welcome: &Welcome) -> appel_client::Welcome {
    appel_client::Welcome {
        heartbeat: welcome.heartbeat,
        token_expires_unix_ms: unix_ms(credential.expires_at().unwrap_or(welcome.token_expires_at)),
        resumed_calls: welcome.resumed_calls.clone(),
        client_reports: welcome.client_reports,
    }
}

fn now_since(origin: Instant) -> Now {
    let elapsed = Instant::now().saturating_duration_since(origin);
    Now {
        at: appel_client::Instant::from_millis(
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        ),
        unix_ms: unix_ms(SystemTime::now()),
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A seed for the reconnect jitter; spread matters, not secrecy.
fn seed() -> u64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ])
}
