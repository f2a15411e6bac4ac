//! The agent's session task: owns the signaling connection, routes server frames to calls and
//! incoming calls, sends what handles ask, keeps the token fresh, and reconnects after a drop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use appel_codes::{registry, CallEndReason, CallingError};
use appel_protocol::{parse_server_frame, CallId, ClientFrame, ServerFrame};
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
use crate::link::{AgentLink, Command};
use crate::transport::{self, Socket, Welcome};

/// How many heartbeat intervals of silence mean the connection is dead.
const SILENT_INTERVALS: u32 = 2;
/// How long closing a socket may take.
const CLOSE_WAIT: Duration = Duration::from_millis(500);
/// Shortest wait before retrying a failed token refresh.
const MIN_REFRESH_RETRY: Duration = Duration::from_millis(100);

/// What waits for an answer from the server.
enum Pending {
    Reply(oneshot::Sender<Result<(), CallingError>>),
    Start(Arc<CallShared>),
    Refresh { expires_at: Option<SystemTime> },
    Ignored,
}

/// Results of work the session started in the background.
enum Internal {
    TokenFetched(Result<String, CallingError>),
}

/// Why the connected phase ended.
enum Exit {
    Dropped(String),
    Fatal(CallingError),
    Disposed(oneshot::Sender<()>),
    HandlesGone,
}

/// Why the session stops while offline.
enum Stop {
    Disposed(oneshot::Sender<()>),
    HandlesGone,
}

/// Everything the session task owns.
pub(crate) struct Session {
    shared: Arc<AgentShared>,
    link: AgentLink,
    credential: TokenCredential,
    url: String,
    commands: mpsc::UnboundedReceiver<Command>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    pending: HashMap<u64, Pending>,
    outbox: Vec<Command>,
    heartbeat: Duration,
    token_expires_at: Option<SystemTime>,
    /// `token_expires_at` on the monotonic clock, fixed once so timer checks compare exactly.
    token_deadline: Option<Instant>,
    refresh_at: Option<Instant>,
    refreshing: bool,
    last_refresh_error: Option<CallingError>,
    disposed: Arc<AtomicBool>,
    registration: Option<Registration>,
    finished: Option<oneshot::Sender<()>>,
}

/// What the session starts from.
pub(crate) struct SessionStart {
    pub shared: Arc<AgentShared>,
    pub link: AgentLink,
    pub credential: TokenCredential,
    pub url: String,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub welcome: Welcome,
    pub disposed: Arc<AtomicBool>,
    pub registration: Registration,
    pub finished: oneshot::Sender<()>,
}

impl Session {
    pub(crate) fn new(start: SessionStart) -> Self {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let mut session = Session {
            shared: start.shared,
            link: start.link,
            credential: start.credential,
            url: start.url,
            commands: start.commands,
            internal_tx,
            internal_rx,
            pending: HashMap::new(),
            outbox: Vec::new(),
            heartbeat: start.welcome.heartbeat,
            token_expires_at: None,
            token_deadline: None,
            refresh_at: None,
            refreshing: false,
            last_refresh_error: None,
            disposed: start.disposed,
            registration: Some(start.registration),
            finished: Some(start.finished),
        };
        session.token_known(session.token_expiry(start.welcome.token_expires_at));
        session
    }

    /// Runs until disposed, closed by the server, or every handle is dropped.
    pub(crate) async fn run(mut self, mut socket: Socket) {
        loop {
            match self.connected(&mut socket).await {
                Exit::Dropped(cause) => {
                    tracing::info!(identity = %self.shared.identity, %cause, "signaling connection lost; reconnecting");
                    match self.reconnect().await {
                        Ok(next) => socket = next,
                        Err(Stop::Disposed(done)) => {
                            self.dispose(None).await;
                            let _ = done.send(());
                            return;
                        }
                        Err(Stop::HandlesGone) => return self.stop(),
                    }
                }
                Exit::Fatal(error) => {
                    tracing::warn!(identity = %self.shared.identity, %error, "the server closed the connection");
                    self.shared
                        .end_everything(error.as_reason(), error.raw_cause().map(str::to_owned));
                    let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(None)).await;
                    return self.stop();
                }
                Exit::Disposed(done) => {
                    self.dispose(Some(&mut socket)).await;
                    let _ = done.send(());
                    return;
                }
                Exit::HandlesGone => {
                    let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(None)).await;
                    return self.stop();
                }
            }
        }
    }

    /// The online phase: frames in, commands out, heartbeats and token timers.
    async fn connected(&mut self, socket: &mut Socket) -> Exit {
        self.shared
            .connection
            .send_replace(ConnectionState::Connected);
        for command in std::mem::take(&mut self.outbox) {
            if let Err(cause) = self.send_command(socket, command).await {
                return Exit::Dropped(cause);
            }
        }
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + self.heartbeat, self.heartbeat);
        let mut last_heard = Instant::now();
        // One timer for token refresh and expiry, re-armed only when its deadline changes: a new
        // sleep each turn of the loop cost a timer-wheel insertion and removal for every frame.
        let token_timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(token_timer);
        let mut armed: Option<Instant> = None;
        loop {
            let timer = self.next_timer();
            if timer != armed {
                if let Some(at) = timer {
                    token_timer.as_mut().reset(at);
                }
                armed = timer;
            }
            tokio::select! {
                message = socket.next() => {
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(frame))) => {
                            return Exit::Dropped(format!("closed by the server{}", frame.map(|f| format!(": {} {}", f.code, f.reason)).unwrap_or_default()));
                        }
                        Some(Ok(_)) => { last_heard = Instant::now(); continue; }
                        Some(Err(e)) => return Exit::Dropped(e.to_string()),
                        None => return Exit::Dropped("end of stream".into()),
                    };
                    last_heard = Instant::now();
                    if let Some(exit) = self.on_frame(socket, text.as_str()).await {
                        return exit;
                    }
                }
                command = self.commands.recv() => match command {
                    None => return Exit::HandlesGone,
                    Some(Command::Dispose { done }) => return Exit::Disposed(done),
                    Some(command) => if let Err(cause) = self.send_command(socket, command).await {
                        return Exit::Dropped(cause);
                    },
                },
                Some(internal) = self.internal_rx.recv() => {
                    if let Err(cause) = self.on_internal(Some(socket), internal).await {
                        return Exit::Dropped(cause);
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > self.heartbeat * SILENT_INTERVALS {
                        return Exit::Dropped(format!("nothing heard for {:?}", last_heard.elapsed()));
                    }
                    if let Err(cause) = send(socket, &ClientFrame::Ping).await {
                        return Exit::Dropped(cause);
                    }
                }
                () = &mut token_timer, if armed.is_some() => {
                    armed = None;
                    if let Err(cause) = self.on_timer(Some(socket)).await {
                        return Exit::Dropped(cause);
                    }
                }
            }
        }
    }

    /// Handles one server frame; `Some` when the connection must end.
    async fn on_frame(&mut self, socket: &mut Socket, text: &str) -> Option<Exit> {
        let frame = match parse_server_frame(text) {
            Ok(frame) => frame,
            Err(error) => {
                tracing::warn!(%error, "unreadable frame from the server");
                return None;
            }
        };
        match frame {
            ServerFrame::Ping => {
                if let Err(cause) = send(socket, &ClientFrame::Pong).await {
                    return Some(Exit::Dropped(cause));
                }
            }
            ServerFrame::Pong | ServerFrame::Welcome { .. } => {}
            ServerFrame::Ack { request_id } => self.answered(request_id, Ok(())),
            ServerFrame::Error {
                request_id,
                error,
                fatal,
            } => {
                match request_id {
                    Some(request_id) => self.answered(request_id, Err(error.clone())),
                    None => tracing::warn!(%error, "error from the server"),
                }
                if fatal {
                    return Some(Exit::Fatal(error));
                }
            }
            ServerFrame::CallJoined {
                request_id,
                call_id,
                participant_id,
            } => {
                if let Some(Pending::Start(call)) = self.pending.remove(&request_id) {
                    if call.assign_id(call_id.clone(), participant_id) {
                        self.shared.add_call(call_id.clone(), call);
                        let frame = if self.shared.options.manual_media_ready {
                            None
                        } else {
                            Some(ClientFrame::MediaReady { call_id })
                        };
                        if let Some(frame) = frame {
                            if let Err(cause) = send(socket, &frame).await {
                                return Some(Exit::Dropped(cause));
                            }
                        }
                    } else {
                        let leave = self.hang_up_frame(call_id);
                        if let Err(cause) = self.send_command(socket, Command::Send(leave)).await {
                            return Some(Exit::Dropped(cause));
                        }
                    }
                }
            }
            ServerFrame::Muted { call_id } => {
                if let Some(call) = self.shared.call(&call_id) {
                    call.muted_by_server();
                }
            }
            ServerFrame::CallCreated {
                request_id,
                call_id,
                participant_id,
            } => {
                if let Some(Pending::Start(call)) = self.pending.remove(&request_id) {
                    if call.assign_id(call_id.clone(), participant_id) {
                        self.shared.add_call(call_id, call);
                    } else {
                        // Hung up (or timed out) before the server confirmed: leave it now.
                        let leave = self.hang_up_frame(call_id);
                        if let Err(cause) = self.send_command(socket, Command::Send(leave)).await {
                            return Some(Exit::Dropped(cause));
                        }
                    }
                }
            }
            ServerFrame::IncomingCall {
                call_id,
                from,
                from_participant_id,
                participant_id,
                video,
            } => {
                let incoming = IncomingShared::new(
                    call_id.clone(),
                    from,
                    from_participant_id,
                    participant_id,
                    video,
                );
                if let Err(cause) = send(socket, &ClientFrame::AckIncoming { call_id }).await {
                    return Some(Exit::Dropped(cause));
                }
                self.shared.add_incoming(incoming);
            }
            ServerFrame::CallState { call_id, state } => {
                if let Some(call) = self.shared.call(&call_id) {
                    call.set_state(state);
                }
            }
            ServerFrame::ParticipantUpdated {
                call_id,
                participant,
            } => {
                if let Some(call) = self.shared.call(&call_id) {
                    call.participant_updated(participant);
                }
            }
            ServerFrame::ParticipantLeft {
                call_id,
                participant_id,
                identity,
                reason,
            } => {
                if let Some(call) = self.shared.call(&call_id) {
                    call.participant_left(participant_id, identity, reason);
                }
            }
            ServerFrame::CallEnded {
                call_id,
                reason,
                raw_cause,
            } => {
                if let Some(call) = self.shared.forget_call(&call_id) {
                    call.finish(reason, raw_cause.clone());
                }
                if let Some(incoming) = self.shared.forget_incoming(&call_id) {
                    incoming.stop(reason, raw_cause);
                }
            }
            ServerFrame::Signal {
                call_id,
                from,
                payload,
            } => {
                if let Some(call) = self.shared.call(&call_id) {
                    call.signal(from, payload);
                }
            }
            ServerFrame::TokenExpiring { expires_at } => {
                let at = SystemTime::UNIX_EPOCH + Duration::from_millis(expires_at);
                self.token_known(Some(at));
                self.start_refresh();
            }
        }
        None
    }

    /// Delivers the answer to request `request_id`.
    fn answered(&mut self, request_id: u64, answer: Result<(), CallingError>) {
        match self.pending.remove(&request_id) {
            Some(Pending::Reply(reply)) => {
                let _ = reply.send(answer);
            }
            Some(Pending::Start(call)) => {
                if let Err(error) = answer {
                    call.finish(error.as_reason(), error.raw_cause().map(str::to_owned));
                }
            }
            Some(Pending::Refresh { expires_at }) => {
                self.refreshing = false;
                match answer {
                    Ok(()) => {
                        self.last_refresh_error = None;
                        self.token_known(expires_at);
                    }
                    Err(error) => self.refresh_failed(error),
                }
            }
            Some(Pending::Ignored) | None => {}
        }
    }

    /// Sends what a handle asked (or queues it while offline).
    async fn send_command(&mut self, socket: &mut Socket, command: Command) -> Result<(), String> {
        let (frame, pending) = match command {
            Command::Request { frame, reply } => (frame, Pending::Reply(reply)),
            Command::StartCall { frame, call } => (frame, Pending::Start(call)),
            Command::Send(frame) => (frame, Pending::Ignored),
            Command::Dispose { done } => {
                // Handled by the loops; never queued.
                let _ = done.send(());
                return Ok(());
            }
        };
        if let Some(request_id) = frame.request_id() {
            if !matches!(pending, Pending::Ignored) {
                self.pending.insert(request_id, pending);
            }
        }
        send(socket, &frame).await
    }

    fn hang_up_frame(&self, call_id: CallId) -> ClientFrame {
        ClientFrame::HangUp {
            request_id: self.link.request_id(),
            call_id,
            for_everyone: false,
        }
    }

    /// Records the token's expiry and plans the next proactive refresh.
    fn token_known(&mut self, expires_at: Option<SystemTime>) {
        self.token_expires_at = expires_at;
        self.token_deadline = expires_at.map(instant_of);
        self.refresh_at = match expires_at {
            Some(at) if self.credential.proactive() => {
                let lead = self.credential.lead();
                let until = at.duration_since(SystemTime::now()).unwrap_or_default();
                Some(Instant::now() + until.saturating_sub(lead))
            }
            _ => None,
        };
    }

    /// The expiry of the token in use: what the token says, else what the server said.
    fn token_expiry(&self, from_server: SystemTime) -> Option<SystemTime> {
        Some(self.credential.expires_at().unwrap_or(from_server))
    }

    fn next_timer(&self) -> Option<Instant> {
        [self.refresh_at, self.token_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// A refresh or expiry time came.
    async fn on_timer(&mut self, socket: Option<&mut Socket>) -> Result<(), String> {
        let now = Instant::now();
        if self.refresh_at.is_some_and(|at| at <= now) {
            self.refresh_at = None;
            self.start_refresh();
        }
        if self.token_deadline.is_some_and(|at| at <= now) {
            self.token_expires_at = None;
            self.token_deadline = None;
            self.token_expired(socket).await?;
        }
        Ok(())
    }

    /// The token expired with no valid replacement: every call ends with 495/4507.
    async fn token_expired(&mut self, mut socket: Option<&mut Socket>) -> Result<(), String> {
        let raw_cause = Some(match &self.last_refresh_error {
            Some(error) => format!(
                "token expired; last refresh failed: {}",
                error.raw_cause().unwrap_or(error.name())
            ),
            None => "token expired and was not refreshed".to_string(),
        });
        let reason = CallEndReason::of(&registry::TOKEN_EXPIRED_DURING_CALL);
        for (call_id, call) in self.shared.calls() {
            self.shared.forget_call(&call_id);
            if call.finish(reason, raw_cause.clone()) {
                if let Some(socket) = socket.as_deref_mut() {
                    send(socket, &self.hang_up_frame(call_id)).await?;
                }
            }
        }
        Ok(())
    }

    /// Asks the refresher for a new token, in the background.
    fn start_refresh(&mut self) {
        if self.refreshing || !self.credential.can_refresh() {
            return;
        }
        self.refreshing = true;
        let credential = self.credential.clone();
        let timeout = self.shared.options.timeouts.token_fetch;
        let results = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = credential.fetch(timeout, FetchUse::Refresh).await;
            let _ = results.send(Internal::TokenFetched(result));
        });
    }

    fn refresh_failed(&mut self, error: CallingError) {
        tracing::warn!(%error, "token refresh failed");
        self.refreshing = false;
        self.last_refresh_error = Some(error);
        // Try again halfway to expiry; when it comes first, the calls end with 495/4507.
        if let Some(expires_at) = self.token_expires_at {
            let left = expires_at
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            if left / 2 >= MIN_REFRESH_RETRY {
                self.refresh_at = Some(Instant::now() + left / 2);
            }
        }
    }

    async fn on_internal(
        &mut self,
        socket: Option<&mut Socket>,
        internal: Internal,
    ) -> Result<(), String> {
        match internal {
            Internal::TokenFetched(Err(error)) => self.refresh_failed(error),
            Internal::TokenFetched(Ok(token)) => {
                let expires_at = jwt::claims(&token).expires_at;
                match socket {
                    Some(socket) => {
                        let request_id = self.link.request_id();
                        self.pending
                            .insert(request_id, Pending::Refresh { expires_at });
                        send(socket, &ClientFrame::RefreshToken { request_id, token }).await?;
                    }
                    None => {
                        // Offline: the next hello carries the new token.
                        self.refreshing = false;
                        self.last_refresh_error = None;
                        self.token_known(expires_at.or(self.token_expires_at));
                    }
                }
            }
        }
        Ok(())
    }

    /// The offline phase: tries again with backoff; after the grace, calls end with 496/7 and the
    /// agent keeps trying to sign in.
    async fn reconnect(&mut self) -> Result<Socket, Stop> {
        self.shared
            .connection
            .send_replace(ConnectionState::Reconnecting);
        // Requests sent on the dropped connection will never be answered.
        for (_, pending) in self.pending.drain() {
            if let Pending::Refresh { .. } = pending {
                self.refreshing = false;
            }
        }
        let policy = self.shared.options.reconnect.clone();
        let timeouts = self.shared.options.timeouts.clone();
        let grace_ends = Instant::now() + policy.grace;
        let mut grace_over = false;
        let mut backoff = policy.initial_backoff;
        loop {
            let wait_until = Instant::now() + backoff;
            self.offline(
                std::future::pending::<()>(),
                Some(wait_until),
                grace_ends,
                &mut grace_over,
            )
            .await?;
            backoff = (backoff * 2).min(policy.max_backoff);
            let resume = !self.shared.calls().is_empty();
            let token = self.credential.token().unwrap_or_default();
            let hello = ClientFrame::Hello {
                version: appel_protocol::PROTOCOL_VERSION,
                token,
                endpoint_id: self.shared.endpoint_id.clone(),
                push: self
                    .shared
                    .options
                    .push_url
                    .clone()
                    .map(|url| appel_protocol::PushRegistration { url }),
                resume,
            };
            let url = self.url.clone();
            let attempt = async move {
                let mut socket = transport::connect(&url, timeouts.connect).await?;
                let welcome =
                    transport::handshake(&mut socket, hello, timeouts.registration).await?;
                Ok::<_, CallingError>((socket, welcome))
            };
            match self
                .offline(attempt, None, grace_ends, &mut grace_over)
                .await?
            {
                Some(Ok((socket, welcome))) => {
                    self.resumed(welcome);
                    tracing::info!(identity = %self.shared.identity, "signaling connection back");
                    return Ok(socket);
                }
                Some(Err(error)) => {
                    tracing::info!(%error, "reconnect attempt failed");
                    if error.is(&registry::UNAUTHENTICATED) {
                        self.start_refresh();
                    }
                }
                None => {}
            }
        }
    }

    /// Runs `work` (or waits until `until`) while serving commands, token results and the grace.
    /// `None` when `until` came first.
    async fn offline<F: Future>(
        &mut self,
        work: F,
        until: Option<Instant>,
        grace_ends: Instant,
        grace_over: &mut bool,
    ) -> Result<Option<F::Output>, Stop> {
        tokio::pin!(work);
        loop {
            let timer = self.next_timer();
            tokio::select! {
                output = &mut work => return Ok(Some(output)),
                _ = sleep_until(until) => return Ok(None),
                _ = tokio::time::sleep_until(grace_ends), if !*grace_over => {
                    *grace_over = true;
                    let reason = CallEndReason::of(&registry::NETWORK_LOST);
                    let grace = self.shared.options.reconnect.grace;
                    self.shared.end_everything(reason, Some(format!("no signaling connection for {grace:?}")));
                }
                command = self.commands.recv() => match command {
                    None => return Err(Stop::HandlesGone),
                    Some(Command::Dispose { done }) => return Err(Stop::Disposed(done)),
                    Some(command) => self.outbox.push(command),
                },
                Some(internal) = self.internal_rx.recv() => {
                    let _ = self.on_internal(None, internal).await;
                }
                _ = sleep_until(timer) => {
                    let _ = self.on_timer(None).await;
                }
            }
        }
    }

    /// Applies `welcome` after a reconnect: calls the server kept go on, the others end with 496/7.
    fn resumed(&mut self, welcome: Welcome) {
        self.heartbeat = welcome.heartbeat;
        self.token_known(self.token_expiry(welcome.token_expires_at));
        for (call_id, call) in self.shared.calls() {
            match welcome.resumed_calls.iter().find(|r| r.call_id == call_id) {
                Some(resumed) => call.resumed(resumed),
                None => {
                    self.shared.forget_call(&call_id);
                    call.finish(
                        CallEndReason::of(&registry::NETWORK_LOST),
                        Some(
                            "the server did not keep the call while the connection was down".into(),
                        ),
                    );
                }
            }
        }
    }

    /// Hangs up every call, closes the connection and stops.
    async fn dispose(&mut self, socket: Option<&mut Socket>) {
        let calls = self.shared.calls();
        if let Some(socket) = socket {
            for (call_id, _) in &calls {
                let _ = send(socket, &self.hang_up_frame(call_id.clone())).await;
            }
            let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(None)).await;
        }
        self.shared.end_everything(
            CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
            Some("agent disposed".into()),
        );
        self.stop();
    }

    /// Marks the agent gone and frees its identity in the client.
    fn stop(&mut self) {
        self.disposed.store(true, Ordering::Release);
        self.shared
            .connection
            .send_replace(ConnectionState::Disconnected);
        self.shared.close_incoming_feed();
        self.pending.clear();
        self.registration.take();
        if let Some(finished) = self.finished.take() {
            let _ = finished.send(());
        }
    }
}

async fn send(socket: &mut Socket, frame: &ClientFrame) -> Result<(), String> {
    socket
        .send(Message::text(frame.to_json()))
        .await
        .map_err(|e| format!("sending {}: {e}", frame.type_name()))
}

/// Sleeps until `at`, or forever when there is no time.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The monotonic instant of a wall-clock time (now when already past).
fn instant_of(at: SystemTime) -> Instant {
    let now = Instant::now();
    match at.duration_since(SystemTime::now()) {
        Ok(ahead) => now + ahead,
        Err(_) => now,
    }
}
