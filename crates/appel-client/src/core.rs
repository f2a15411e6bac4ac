//! The endpoint's state machine: one signed-in identity, its connection, requests, calls and
//! ringing calls. Fed inputs with the time; drained of [`Output`]s; woken at [`Core::poll_timeout`].

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use appel_codes::{registry, CallEndReason, CallingError};
use appel_protocol::{
    CallId, CallState, ClientFrame, EndpointId, IdentityId, ParticipantId, ParticipantInfo,
    ParticipantState, PushRegistration, ReportKind, ResumedCall, ServerFrame, PROTOCOL_VERSION,
};

use crate::ender::Ender;
use crate::reconnect::{Reconnect, ReconnectDue, ReconnectPolicy};
use crate::time::{Instant, Now};
use crate::token::{TokenDue, TokenPolicy, TokenSchedule};

/// How many heartbeat intervals of silence mean the connection is dead.
pub const SILENT_INTERVALS: u32 = 2;

/// A call of this endpoint, named before the server gives it an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// What the core is set up with.
#[derive(Clone, Debug)]
pub struct Config {
    /// This endpoint's id, kept across reconnects so calls resume.
    pub endpoint_id: EndpointId,
    /// Where the server posts push notices while no endpoint is connected.
    pub push_url: Option<String>,
    /// When `false`, `mediaReady` goes out as soon as a call is accepted or joined.
    pub manual_media_ready: bool,
    /// How long a started or joined call may wait for the server to name it (408/4506 after).
    pub call_establishment: Duration,
    /// How long a token refresh may wait for the server's answer.
    pub request_timeout: Duration,
    /// Reconnection after a drop.
    pub reconnect: ReconnectPolicy,
    /// Token renewal.
    pub token: TokenPolicy,
    /// Feeds the reconnect jitter.
    pub random_seed: u64,
}

/// Whether the signaling connection is up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Signed in.
    Connected,
    /// Between a drop and a new connection.
    Reconnecting,
    /// Disposed or closed by the server; the core does nothing more.
    Disconnected,
}

/// Why a request got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// Its timeout ran out.
    Timeout,
    /// The connection dropped after it was sent.
    ConnectionLost,
    /// The endpoint stopped.
    Disposed,
}

/// What the `welcome` of a connection said, as the shell read it.
#[derive(Clone, Debug)]
pub struct Welcome {
    /// How often the server expects a sign of life.
    pub heartbeat: Duration,
    /// When the token in use expires (the token's own claim, else what the server said).
    pub token_expires_unix_ms: u64,
    /// Calls the server kept while the connection was down.
    pub resumed_calls: Vec<ResumedCall>,
    /// Whether the server takes `report` frames (its welcome said `clientReports: true`).
    pub client_reports: bool,
}

/// Something the application hears of.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The connection's state changed.
    Connection(ConnectionState),
    /// The server answered request `request_id` (a user request: see [`Core::request`]).
    Answered {
        /// The request.
        request_id: u64,
        /// `ack` or the server's error.
        result: Result<(), CallingError>,
    },
    /// Request `request_id` will get no answer.
    NoAnswer {
        /// The request.
        request_id: u64,
        /// Why.
        why: NoAnswer,
    },
    /// The server named a started or joined call.
    CallIdAssigned {
        /// The call.
        call: CallRef,
        /// Its id.
        call_id: CallId,
        /// This endpoint's participant in it.
        participant_id: ParticipantId,
    },
    /// The server reported the call's state.
    CallState {
        /// The call.
        call: CallRef,
        /// Its state.
        state: CallState,
    },
    /// A participant joined or changed state.
    ParticipantUpdated {
        /// The call.
        call: CallRef,
        /// The participant.
        participant: ParticipantInfo,
    },
    /// A participant left.
    ParticipantLeft {
        /// The call.
        call: CallRef,
        /// Its id.
        participant_id: ParticipantId,
        /// Who it was.
        identity: IdentityId,
        /// Why its leg ended.
        reason: CallEndReason,
        /// Who ended its leg, when the server said.
        ended_by: Option<Ender>,
    },
    /// A relayed message from another participant.
    Signal {
        /// The call.
        call: CallRef,
        /// The sender.
        from: ParticipantId,
        /// As sent.
        payload: serde_json::Value,
    },
    /// The application's backend muted this participant.
    MutedByServer {
        /// The call.
        call: CallRef,
    },
    /// The call's media goes through the media server (`mediaServer`): connect there with
    /// `mediaOffer`, and close a peer-to-peer connection once media flows through the server.
    MediaServer {
        /// The call.
        call: CallRef,
    },
    /// The media server's answer to this endpoint's `mediaOffer` (its request is answered too).
    MediaAnswer {
        /// The call.
        call: CallRef,
        /// The SDP answer.
        sdp: String,
    },
    /// The media server's offer of the other participants' tracks: answer with `mediaAnswer`.
    MediaOffer {
        /// The call.
        call: CallRef,
        /// The SDP offer.
        sdp: String,
    },
    /// The call came through a reconnect; its state as the server has it (the changes it brings
    /// were told first as `ParticipantUpdated` and `CallState`).
    CallResumed {
        /// The call.
        call: CallRef,
        /// The server's view.
        resumed: ResumedCall,
    },
    /// The call ended for this endpoint; the core forgets it.
    CallEnded {
        /// The call.
        call: CallRef,
        /// Why.
        reason: CallEndReason,
        /// The protocol cause, when there is one.
        raw_cause: Option<String>,
        /// Who ended it: [`Ender::This`] for an end decided here; `None` when the server did not
        /// say (an older server).
        ended_by: Option<Ender>,
    },
    /// A call rings on this endpoint.
    Incoming {
        /// The call.
        call_id: CallId,
        /// Who calls.
        from: IdentityId,
        /// The caller's participant.
        from_participant_id: ParticipantId,
        /// This endpoint's participant.
        participant_id: ParticipantId,
        /// Whether the caller started with video.
        video: bool,
    },
    /// A call stopped ringing on this endpoint.
    IncomingStopped {
        /// The call.
        call_id: CallId,
        /// Why.
        reason: CallEndReason,
        /// The protocol cause, when there is one.
        raw_cause: Option<String>,
        /// Who stopped it ([`Ender::This`] when answered or declined here), when known.
        ended_by: Option<Ender>,
    },
    /// The server closed the connection for good with this error.
    Fatal(CallingError),
    /// The server warned that the token in use expires at `expires_unix_ms` (a refresh starts by
    /// itself when there is a refresher; an application without one may hand a new token to
    /// [`Core::refresh_token`]).
    TokenExpiring {
        /// When, in Unix milliseconds.
        expires_unix_ms: u64,
    },
}

/// What the shell must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send this frame on the open connection.
    Send(ClientFrame),
    /// Open a new connection and send this `hello`; answer with [`Core::connected`] or
    /// [`Core::connect_failed`].
    Connect(ClientFrame),
    /// Close the connection (the core already treats it as gone).
    Disconnect,
    /// Call the application's token refresher; answer with [`Core::token_fetched`].
    FetchToken,
    /// Tell the application.
    Event(Event),
}

enum Pending {
    /// The application waits for the answer.
    User,
    /// `startCall`, `joinCall` or `joinRoom` of this call.
    Start(CallRef),
    /// `accept` of this call.
    Accept(CallRef),
    /// `reject` of this ringing call.
    Reject(CallId),
    /// `refreshToken` of a token expiring then.
    Refresh(Option<u64>),
    /// `refreshToken` of a token the application handed over itself, expiring then; the
    /// application waits for the answer.
    UserRefresh(Option<u64>),
}

struct Request {
    pending: Pending,
    deadline: Option<Instant>,
    sent: bool,
}

struct CallEntry {
    id: Option<CallId>,
    /// This endpoint's participant in the call, once the server named it.
    participant: Option<ParticipantId>,
    establish_by: Option<Instant>,
    state: CallState,
    remotes: Vec<Remote>,
}

/// Another participant of a call, as this endpoint last heard of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// Its id in the call.
    pub id: ParticipantId,
    /// Who it is.
    pub identity: IdentityId,
    /// Where it stands (`Disconnected` once it left).
    pub state: ParticipantState,
    /// Why its leg ended, once it left.
    pub end_reason: Option<CallEndReason>,
    /// What the server last said it forwards of it (`participantUpdated.media`).
    pub media: Option<appel_protocol::ParticipantMedia>,
}

struct Online {
    heartbeat: Duration,
    last_heard: Instant,
    next_ping: Instant,
}

enum Phase {
    Online(Online),
    /// Waiting for the next attempt, or for an attempt's outcome.
    Offline {
        attempting: bool,
    },
    Stopped,
}

/// The client's protocol core.
pub struct Core {
    config: Config,
    phase: Phase,
    token: Option<String>,
    schedule: TokenSchedule,
    reconnect: Reconnect,
    next_request: u64,
    next_call: u64,
    requests: HashMap<u64, Request>,
    outbox: Vec<ClientFrame>,
    calls: HashMap<CallRef, CallEntry>,
    by_id: HashMap<CallId, CallRef>,
    ringing: HashMap<CallId, ParticipantId>,
    out: VecDeque<Output>,
    /// What the last welcome said of `report` frames.
    client_reports: bool,
}

impl Core {
    /// A core for a connection that just got `welcome` (the shell opens the first connection, so
    /// that creating an endpoint fails with the handshake's own error).
    pub fn new(config: Config, now: Now, token: String, welcome: Welcome) -> Self {
        let mut core = Core {
            schedule: TokenSchedule::new(config.token.clone()),
            reconnect: Reconnect::new(config.reconnect.clone(), config.random_seed),
            config,
            phase: Phase::Stopped,
            token: Some(token),
            next_request: 1,
            next_call: 1,
            requests: HashMap::new(),
            outbox: Vec::new(),
            calls: HashMap::new(),
            by_id: HashMap::new(),
            ringing: HashMap::new(),
            out: VecDeque::new(),
            client_reports: false,
        };
        core.go_online(now, &welcome);
        core.out.clear();
        core
    }

    /// A fresh request id (the shell may build frames with it).
    pub fn request_id(&mut self) -> u64 {
        let id = self.next_request;
        self.next_request += 1;
        id
    }

    /// The next output, if any. Drain after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Core::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = [self.schedule.poll_timeout(), self.reconnect.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let mut take = |at: Option<Instant>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        if let Phase::Online(online) = &self.phase {
            take(Some(online.next_ping));
        }
        if matches!(self.phase, Phase::Stopped) {
            return None;
        }
        for request in self.requests.values() {
            take(request.deadline);
        }
        for call in self.calls.values() {
            take(call.establish_by);
        }
        next
    }

    /// The connection state.
    pub fn connection_state(&self) -> ConnectionState {
        match self.phase {
            Phase::Online(_) => ConnectionState::Connected,
            Phase::Offline { .. } => ConnectionState::Reconnecting,
            Phase::Stopped => ConnectionState::Disconnected,
        }
    }

    /// Whether the core stopped (disposed, or closed by the server).
    pub fn is_stopped(&self) -> bool {
        matches!(self.phase, Phase::Stopped)
    }

    /// The id of a call, once the server named it.
    pub fn call_id(&self, call: CallRef) -> Option<CallId> {
        self.calls.get(&call).and_then(|c| c.id.clone())
    }

    /// A call's state as this endpoint sees it (`None` once it ended).
    pub fn call_state(&self, call: CallRef) -> Option<CallState> {
        self.calls.get(&call).map(|c| c.state)
    }

    /// Every remote participant of a call heard of, including those that left.
    pub fn remote_participants(&self, call: CallRef) -> Vec<Remote> {
        self.calls
            .get(&call)
            .map(|c| c.remotes.clone())
            .unwrap_or_default()
    }

    /// The calls in progress.
    pub fn calls(&self) -> Vec<CallRef> {
        let mut calls: Vec<_> = self.calls.keys().copied().collect();
        calls.sort();
        calls
    }

    // ---- the connection ----

    /// A connection asked for by [`Output::Connect`] is signed in.
    pub fn connected(&mut self, now: Now, welcome: Welcome) {
        if !matches!(self.phase, Phase::Offline { attempting: true }) {
            return;
        }
        self.go_online(now, &welcome);
        for (call_ref, _) in self.calls_by_id() {
            let call_id = self.calls[&call_ref].id.clone();
            let kept = call_id
                .as_ref()
                .and_then(|id| welcome.resumed_calls.iter().find(|r| &r.call_id == id));
            match kept {
                Some(resumed) => {
                    let resumed = resumed.clone();
                    for participant in &resumed.participants {
                        self.participant_updated(call_ref, participant.clone());
                    }
                    self.set_state(call_ref, resumed.state);
                    self.event(Event::CallResumed {
                        call: call_ref,
                        resumed,
                    });
                }
                None if call_id.is_some() => self.end_call(
                    call_ref,
                    CallEndReason::of(&registry::NETWORK_LOST),
                    Some("the server did not keep the call while the connection was down".into()),
                ),
                None => {}
            }
        }
        for frame in std::mem::take(&mut self.outbox) {
            self.transmit(frame);
        }
    }

    /// An attempt asked for by [`Output::Connect`] failed; a refused token starts a refresh.
    pub fn connect_failed(&mut self, now: Now, error: &CallingError) {
        if !matches!(self.phase, Phase::Offline { attempting: true }) {
            return;
        }
        self.phase = Phase::Offline { attempting: false };
        self.reconnect.failed(now.at);
        if error.is(&registry::UNAUTHENTICATED) {
            self.start_refresh();
        }
    }

    /// The open connection dropped (closed, broken, silent).
    pub fn connection_lost(&mut self, now: Now) {
        if !matches!(self.phase, Phase::Online(_)) {
            return;
        }
        self.go_offline(now);
    }

    /// Something that is not a frame came on the connection (a WebSocket ping, an unreadable
    /// frame): the connection is alive all the same.
    pub fn heard(&mut self, now: Now) {
        if let Phase::Online(online) = &mut self.phase {
            online.last_heard = now.at;
        }
    }

    /// A frame from the server.
    pub fn frame(&mut self, now: Now, frame: ServerFrame) {
        let Phase::Online(online) = &mut self.phase else {
            return;
        };
        online.last_heard = now.at;
        match frame {
            ServerFrame::Ping => self.transmit(ClientFrame::Pong),
            ServerFrame::Pong | ServerFrame::Welcome { .. } => {}
            ServerFrame::Ack { request_id } => self.answered(now, request_id, Ok(())),
            ServerFrame::Error {
                request_id,
                error,
                fatal,
            } => {
                if let Some(request_id) = request_id {
                    self.answered(now, request_id, Err(error.clone()));
                }
                if fatal {
                    self.fatal(error);
                }
            }
            ServerFrame::CallCreated {
                request_id,
                call_id,
                participant_id,
            } => self.named(request_id, call_id, participant_id, false),
            ServerFrame::CallJoined {
                request_id,
                call_id,
                participant_id,
            } => self.named(request_id, call_id, participant_id, true),
            ServerFrame::IncomingCall {
                call_id,
                from,
                from_participant_id,
                participant_id,
                video,
            } => {
                // Acknowledged every time (a repeat costs the server nothing), told once.
                self.transmit(ClientFrame::AckIncoming {
                    call_id: call_id.clone(),
                });
                if !self.ringing.contains_key(&call_id) {
                    self.ringing.insert(call_id.clone(), participant_id.clone());
                    self.event(Event::Incoming {
                        call_id,
                        from,
                        from_participant_id,
                        participant_id,
                        video,
                    });
                }
            }
            ServerFrame::CallState { call_id, state } => {
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    self.set_state(call, state);
                }
            }
            ServerFrame::ParticipantUpdated {
                call_id,
                participant,
            } => {
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    self.participant_updated(call, participant);
                }
            }
            ServerFrame::ParticipantLeft {
                call_id,
                participant_id,
                identity,
                reason,
                ended_by,
            } => {
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    let own = self.calls.get(&call).and_then(|c| c.participant.clone());
                    let ended_by = Ender::from_wire(ended_by, own.as_ref());
                    self.participant_left(call, participant_id, identity, reason, ended_by);
                }
            }
            ServerFrame::CallEnded {
                call_id,
                reason,
                raw_cause,
                ended_by,
            } => {
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    let own = self.calls.get(&call).and_then(|c| c.participant.clone());
                    let ender = Ender::from_wire(ended_by.clone(), own.as_ref());
                    self.end_call_by(call, reason, raw_cause.clone(), ender);
                }
                if let Some(own) = self.ringing.remove(&call_id) {
                    self.event(Event::IncomingStopped {
                        call_id,
                        reason,
                        raw_cause,
                        ended_by: Ender::from_wire(ended_by, Some(&own)),
                    });
                }
            }
            ServerFrame::Signal {
                call_id,
                from,
                payload,
            } => {
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    self.event(Event::Signal {
                        call,
                        from,
                        payload,
                    });
                }
            }
            ServerFrame::Muted { call_id } => {
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    self.event(Event::MutedByServer { call });
                }
            }
            ServerFrame::TokenExpiring { expires_at } => {
                self.schedule.known(now, Some(expires_at));
                self.event(Event::TokenExpiring {
                    expires_unix_ms: expires_at,
                });
                self.start_refresh();
            }
            ServerFrame::MediaServer { call_id } => {
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    self.event(Event::MediaServer { call });
                }
            }
            ServerFrame::MediaOffer { call_id, sdp } => {
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    self.event(Event::MediaOffer { call, sdp });
                }
            }
            ServerFrame::MediaAnswer {
                request_id,
                call_id,
                sdp,
            } => {
                // The SDP first, so that the request's answer finds it applied or applying.
                if let Some(call) = self.by_id.get(&call_id).copied() {
                    self.event(Event::MediaAnswer { call, sdp });
                }
                self.answered(now, request_id, Ok(()));
            }
        }
    }

    /// The time came (or passed) for [`Core::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Now) {
        if self.is_stopped() {
            return;
        }
        if let Phase::Online(online) = &mut self.phase {
            if online.next_ping <= now.at {
                let silence = now.at.saturating_duration_since(online.last_heard);
                if silence > online.heartbeat * SILENT_INTERVALS {
                    self.out.push_back(Output::Disconnect);
                    self.go_offline(now);
                } else {
                    online.next_ping = now.at + online.heartbeat;
                    self.transmit(ClientFrame::Ping);
                }
            }
        }
        while let Some(due) = self.reconnect.handle_timeout(now.at) {
            match due {
                ReconnectDue::GraceOver => {
                    let grace = self.reconnect.policy().grace;
                    self.end_everything(
                        CallEndReason::of(&registry::NETWORK_LOST),
                        Some(format!("no signaling connection for {grace:?}")),
                    );
                }
                ReconnectDue::Attempt => {
                    self.phase = Phase::Offline { attempting: true };
                    let hello = self.hello();
                    self.out.push_back(Output::Connect(hello));
                }
            }
        }
        while let Some(due) = self.schedule.handle_timeout(now.at) {
            match due {
                TokenDue::Refresh => self.start_refresh(),
                TokenDue::Expired => self.token_expired(),
            }
        }
        let expired: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, r)| r.deadline.is_some_and(|at| at <= now.at))
            .map(|(id, _)| *id)
            .collect();
        for request_id in expired {
            if let Some(request) = self.requests.remove(&request_id) {
                self.no_answer(now, request_id, request.pending, NoAnswer::Timeout);
            }
        }
        let unnamed: Vec<CallRef> = self
            .calls
            .iter()
            .filter(|(_, c)| c.establish_by.is_some_and(|at| at <= now.at))
            .map(|(call, _)| *call)
            .collect();
        for call in unnamed {
            let within = self.config.call_establishment;
            self.end_call(
                call,
                CallEndReason::of(&registry::CALL_SETUP_TIMEOUT),
                Some(format!("no confirmation within {within:?}")),
            );
        }
    }

    // ---- the token ----

    /// The refresher answered. The new token goes to the server at once, or with the next
    /// `hello` while offline.
    pub fn token_fetched(
        &mut self,
        now: Now,
        result: Result<String, CallingError>,
        expires_unix_ms: Option<u64>,
    ) {
        match result {
            Err(error) => self.schedule.failed(now, error),
            Ok(token) => {
                self.token = Some(token.clone());
                if matches!(self.phase, Phase::Online(_)) {
                    let request_id = self.request_id();
                    let deadline = now.at + self.config.request_timeout;
                    self.requests.insert(
                        request_id,
                        Request {
                            pending: Pending::Refresh(expires_unix_ms),
                            deadline: Some(deadline),
                            sent: true,
                        },
                    );
                    self.transmit(ClientFrame::RefreshToken { request_id, token });
                } else {
                    let expiry = expires_unix_ms.or(self.schedule.expires_unix_ms());
                    self.schedule.refreshed(now, expiry);
                }
            }
        }
    }

    /// The application hands over a new token itself (rather than through the refresher): it
    /// signs every later `hello` and goes to the server in a `refreshToken` now (queued while
    /// offline). Its answer is an [`Event::Answered`] or [`Event::NoAnswer`] for the returned id;
    /// once confirmed, the token's schedule follows `expires_unix_ms`.
    pub fn refresh_token(
        &mut self,
        now: Now,
        token: String,
        expires_unix_ms: Option<u64>,
        timeout: Duration,
    ) -> u64 {
        if !self.is_stopped() {
            self.token = Some(token.clone());
        }
        self.waited_request(
            now,
            timeout,
            Pending::UserRefresh(expires_unix_ms),
            |request_id| ClientFrame::RefreshToken { request_id, token },
        )
    }

    // ---- what the application does ----

    /// Starts a call (`startCall`, `joinCall` or `joinRoom`, built from a fresh request id). The
    /// call ends with 408/4506 when the server does not name it within the establishment time,
    /// with the server's error when it refuses.
    pub fn start_call(&mut self, now: Now, frame: impl FnOnce(u64) -> ClientFrame) -> CallRef {
        let call = self.new_call(None, Some(now.at + self.config.call_establishment));
        let request_id = self.request_id();
        self.send_request(request_id, frame(request_id), Pending::Start(call), None);
        call
    }

    /// Answers a ringing call; the call exists (with its id) before the frame leaves so its first
    /// events find it. 41006 when it no longer rings. The answer is an [`Event::Answered`] or
    /// [`Event::NoAnswer`] for the returned request id.
    pub fn accept(
        &mut self,
        now: Now,
        call_id: &CallId,
        video: bool,
        timeout: Duration,
    ) -> Result<(CallRef, u64), CallingError> {
        if !self.ringing.contains_key(call_id) {
            return Err(CallingError::new(&registry::ACCEPT_NOT_RINGING)
                .with_context(format!("call {call_id}")));
        }
        let call = self.new_call(Some(call_id.clone()), None);
        if let Some(entry) = self.calls.get_mut(&call) {
            entry.participant = self.ringing.get(call_id).cloned();
        }
        let request_id = self.request_id();
        let frame = ClientFrame::Accept {
            request_id,
            call_id: call_id.clone(),
            video,
        };
        self.send_request(
            request_id,
            frame,
            Pending::Accept(call),
            Some(now.at + timeout),
        );
        Ok((call, request_id))
    }

    /// Declines a ringing call; it stops ringing (0/0) once the server confirms. 41007 when it no
    /// longer rings.
    pub fn reject(
        &mut self,
        now: Now,
        call_id: &CallId,
        timeout: Duration,
    ) -> Result<u64, CallingError> {
        if !self.ringing.contains_key(call_id) {
            return Err(CallingError::new(&registry::REJECT_NOT_RINGING)
                .with_context(format!("call {call_id}")));
        }
        let request_id = self.request_id();
        let frame = ClientFrame::Reject {
            request_id,
            call_id: call_id.clone(),
        };
        self.send_request(
            request_id,
            frame,
            Pending::Reject(call_id.clone()),
            Some(now.at + timeout),
        );
        Ok(request_id)
    }

    /// A request the application waits on (`hangUp`, `hold`…), built from a fresh
    /// request id; queued while offline. Its answer is an [`Event::Answered`] or, after `timeout`,
    /// an [`Event::NoAnswer`].
    pub fn request(
        &mut self,
        now: Now,
        timeout: Duration,
        frame: impl FnOnce(u64) -> ClientFrame,
    ) -> u64 {
        self.waited_request(now, timeout, Pending::User, frame)
    }

    /// A request the application waits on, answered with [`Event::Answered`] or
    /// [`Event::NoAnswer`] (at once when stopped).
    fn waited_request(
        &mut self,
        now: Now,
        timeout: Duration,
        pending: Pending,
        frame: impl FnOnce(u64) -> ClientFrame,
    ) -> u64 {
        let request_id = self.request_id();
        if self.is_stopped() {
            self.event(Event::NoAnswer {
                request_id,
                why: NoAnswer::Disposed,
            });
            return request_id;
        }
        self.send_request(
            request_id,
            frame(request_id),
            pending,
            Some(now.at + timeout),
        );
        request_id
    }

    /// The application forgets the answer to `request_id` (it stopped waiting).
    pub fn forget_request(&mut self, request_id: u64) {
        if matches!(
            self.requests.get(&request_id).map(|r| &r.pending),
            Some(Pending::User)
        ) {
            self.requests.remove(&request_id);
        }
    }

    /// A ringing call was answered or declined here: it stops ringing with 0/0.
    pub fn stop_ringing(&mut self, call_id: &CallId, raw_cause: &str) {
        if self.ringing.remove(call_id).is_some() {
            self.event(Event::IncomingStopped {
                call_id: call_id.clone(),
                reason: CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
                raw_cause: Some(raw_cause.to_owned()),
                ended_by: Some(Ender::This),
            });
        }
    }

    /// Whether `call_id` still rings here.
    pub fn is_ringing(&self, call_id: &CallId) -> bool {
        self.ringing.contains_key(call_id)
    }

    /// Sends a frame that has no answer (`mediaReady`, `signal`); queued while offline.
    pub fn send(&mut self, frame: ClientFrame) {
        if !self.is_stopped() {
            self.transmit(frame);
        }
    }

    /// Tells the server a client-side fact about `call` for its timeline (media connected, an
    /// ICE state, a device error). Sent only while connected to a server that takes reports and
    /// once the call has an id; otherwise dropped, since a fact reported late says less than none.
    pub fn report(&mut self, call: CallRef, kind: ReportKind, detail: Option<String>) {
        if !self.client_reports || !matches!(self.phase, Phase::Online(_)) {
            return;
        }
        if let Some(call_id) = self.call_id(call) {
            self.transmit(ClientFrame::Report {
                call_id,
                kind,
                detail,
            });
        }
    }

    /// The application hung up `call` (0/0). A call the server has not named yet is left as soon
    /// as it is.
    pub fn end_locally(&mut self, call: CallRef) {
        self.end_call(call, CallEndReason::of(&registry::CALL_ENDED_LOCALLY), None);
    }

    /// The application gave up `call` without the server's word (it refused the call's name, or
    /// dropped it): it ends with 0/0 and is left (`hangUp`) if the server named it, or as soon as
    /// it does.
    pub fn leave(&mut self, call: CallRef) {
        let call_id = self.call_id(call);
        self.end_locally(call);
        if let Some(call_id) = call_id {
            if !self.is_stopped() {
                let leave = self.leave_frame(call_id);
                self.transmit(leave);
            }
        }
    }

    /// Hangs up every call, closes the connection and stops: every call ends with 0/0.
    pub fn dispose(&mut self) {
        if self.is_stopped() {
            return;
        }
        if matches!(self.phase, Phase::Online(_)) {
            for (_, call_id) in self.calls_by_id() {
                if let Some(call_id) = call_id {
                    let leave = self.leave_frame(call_id);
                    self.transmit(leave);
                }
            }
        }
        self.end_everything(
            CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
            Some("agent disposed".into()),
        );
        self.stop();
    }

    // ---- inside ----

    fn go_online(&mut self, now: Now, welcome: &Welcome) {
        self.client_reports = welcome.client_reports;
        self.phase = Phase::Online(Online {
            heartbeat: welcome.heartbeat,
            last_heard: now.at,
            next_ping: now.at + welcome.heartbeat,
        });
        self.reconnect.connected();
        self.schedule
            .known(now, Some(welcome.token_expires_unix_ms));
        self.event(Event::Connection(ConnectionState::Connected));
    }

    fn go_offline(&mut self, now: Now) {
        self.phase = Phase::Offline { attempting: false };
        self.reconnect.lost(now.at);
        // What was sent on the dropped connection will never be answered.
        let sent: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, r)| r.sent)
            .map(|(id, _)| *id)
            .collect();
        for request_id in sent {
            if let Some(request) = self.requests.remove(&request_id) {
                self.no_answer(now, request_id, request.pending, NoAnswer::ConnectionLost);
            }
        }
        self.event(Event::Connection(ConnectionState::Reconnecting));
    }

    fn fatal(&mut self, error: CallingError) {
        self.out.push_back(Output::Disconnect);
        self.end_everything(error.as_reason(), error.raw_cause().map(str::to_owned));
        self.event(Event::Fatal(error));
        self.stop();
    }

    fn stop(&mut self) {
        self.phase = Phase::Stopped;
        self.reconnect.connected();
        let left: Vec<_> = self.requests.drain().collect();
        for (request_id, request) in left {
            if let Pending::User
            | Pending::Accept(_)
            | Pending::Reject(_)
            | Pending::UserRefresh(_) = request.pending
            {
                self.event(Event::NoAnswer {
                    request_id,
                    why: NoAnswer::Disposed,
                });
            }
        }
        self.outbox.clear();
        self.event(Event::Connection(ConnectionState::Disconnected));
    }

    fn hello(&self) -> ClientFrame {
        ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            token: self.token.clone().unwrap_or_default(),
            endpoint_id: self.config.endpoint_id.clone(),
            push: self
                .config
                .push_url
                .clone()
                .map(|url| PushRegistration { url }),
            resume: self.calls.values().any(|c| c.id.is_some()),
        }
    }

    fn new_call(&mut self, id: Option<CallId>, establish_by: Option<Instant>) -> CallRef {
        let call = CallRef(self.next_call);
        self.next_call += 1;
        if let Some(id) = &id {
            self.by_id.insert(id.clone(), call);
        }
        self.calls.insert(
            call,
            CallEntry {
                id,
                participant: None,
                establish_by,
                state: CallState::Connecting,
                remotes: Vec::new(),
            },
        );
        call
    }

    fn calls_by_id(&self) -> Vec<(CallRef, Option<CallId>)> {
        let mut calls: Vec<_> = self
            .calls
            .iter()
            .map(|(call, entry)| (*call, entry.id.clone()))
            .collect();
        calls.sort_by_key(|(call, _)| *call);
        calls
    }

    fn send_request(
        &mut self,
        request_id: u64,
        frame: ClientFrame,
        pending: Pending,
        deadline: Option<Instant>,
    ) {
        let online = matches!(self.phase, Phase::Online(_));
        self.requests.insert(
            request_id,
            Request {
                pending,
                deadline,
                sent: online,
            },
        );
        if online {
            self.out.push_back(Output::Send(frame));
        } else {
            self.outbox.push(frame);
        }
    }

    /// Sends now, or keeps for the next connection; requests queued offline count as sent then.
    fn transmit(&mut self, frame: ClientFrame) {
        if matches!(self.phase, Phase::Online(_)) {
            if let Some(request) = frame.request_id().and_then(|id| self.requests.get_mut(&id)) {
                request.sent = true;
            }
            self.out.push_back(Output::Send(frame));
        } else if !matches!(frame, ClientFrame::Ping | ClientFrame::Pong) {
            self.outbox.push(frame);
        }
    }

    fn leave_frame(&mut self, call_id: CallId) -> ClientFrame {
        ClientFrame::HangUp {
            request_id: self.request_id(),
            call_id,
            for_everyone: false,
        }
    }

    fn named(
        &mut self,
        request_id: u64,
        call_id: CallId,
        participant_id: ParticipantId,
        joined: bool,
    ) {
        let Some(Request {
            pending: Pending::Start(call),
            ..
        }) = self.requests.remove(&request_id)
        else {
            return;
        };
        match self.calls.get_mut(&call) {
            Some(entry) => {
                entry.id = Some(call_id.clone());
                entry.participant = Some(participant_id.clone());
                entry.establish_by = None;
                self.by_id.insert(call_id.clone(), call);
                self.event(Event::CallIdAssigned {
                    call,
                    call_id: call_id.clone(),
                    participant_id,
                });
                if joined && !self.config.manual_media_ready {
                    self.transmit(ClientFrame::MediaReady { call_id });
                }
            }
            None => {
                // Ended here before the server named it: leave it now.
                let leave = self.leave_frame(call_id);
                self.transmit(leave);
            }
        }
    }

    fn answered(&mut self, now: Now, request_id: u64, result: Result<(), CallingError>) {
        let Some(request) = self.requests.remove(&request_id) else {
            return;
        };
        match request.pending {
            Pending::User => self.event(Event::Answered { request_id, result }),
            Pending::Start(call) => {
                if let Err(error) = result {
                    self.end_call(
                        call,
                        error.as_reason(),
                        error.raw_cause().map(str::to_owned),
                    );
                }
            }
            Pending::Accept(call) => {
                let call_id = self.calls.get(&call).and_then(|c| c.id.clone());
                match &result {
                    Ok(()) => {
                        if let Some(call_id) = call_id {
                            self.stop_ringing(&call_id, "accepted here");
                            if !self.config.manual_media_ready {
                                self.transmit(ClientFrame::MediaReady { call_id });
                            }
                        }
                    }
                    Err(error) => self.end_call(
                        call,
                        error.as_reason(),
                        error.raw_cause().map(str::to_owned),
                    ),
                }
                self.event(Event::Answered { request_id, result });
            }
            Pending::Reject(call_id) => {
                if result.is_ok() {
                    self.stop_ringing(&call_id, "rejected here");
                }
                self.event(Event::Answered { request_id, result });
            }
            Pending::Refresh(expires) => match result {
                Ok(()) => self.schedule.refreshed(now, expires),
                Err(error) => self.schedule.failed(now, error),
            },
            Pending::UserRefresh(expires) => {
                if result.is_ok() {
                    self.schedule.refreshed(now, expires);
                }
                self.event(Event::Answered { request_id, result });
            }
        }
    }

    fn no_answer(&mut self, now: Now, request_id: u64, pending: Pending, why: NoAnswer) {
        match pending {
            Pending::User | Pending::Reject(_) | Pending::UserRefresh(_) => {
                self.event(Event::NoAnswer { request_id, why })
            }
            // The call keeps waiting for its establishment time.
            Pending::Start(_) => {}
            Pending::Accept(call) => {
                let call_id = self.calls.get(&call).and_then(|c| c.id.clone());
                self.end_locally(call);
                // The server may have taken the answer after all; leave rather than linger.
                if let Some(call_id) = call_id {
                    let leave = self.leave_frame(call_id);
                    self.transmit(leave);
                }
                self.event(Event::NoAnswer { request_id, why });
            }
            Pending::Refresh(_) => match why {
                NoAnswer::Timeout => self.schedule.failed(
                    now,
                    CallingError::new(&registry::TOKEN_EXPIRED_DURING_CALL)
                        .with_context("refreshToken")
                        .with_raw_cause("no answer from the server"),
                ),
                _ => self.schedule.abandoned(),
            },
        }
    }

    fn start_refresh(&mut self) {
        if self.schedule.start_refresh() {
            self.out.push_back(Output::FetchToken);
        }
    }

    fn token_expired(&mut self) {
        let reason = CallEndReason::of(&registry::TOKEN_EXPIRED_DURING_CALL);
        let cause = self.schedule.expiry_cause();
        let online = matches!(self.phase, Phase::Online(_));
        for (call, call_id) in self.calls_by_id() {
            self.end_call(call, reason, Some(cause.clone()));
            if let (true, Some(call_id)) = (online, call_id) {
                let leave = self.leave_frame(call_id);
                self.transmit(leave);
            }
        }
    }

    /// A state the call was not in already; `Disconnected` comes only with the end reason.
    fn set_state(&mut self, call: CallRef, state: CallState) {
        let Some(entry) = self.calls.get_mut(&call) else {
            return;
        };
        if entry.state == state || state == CallState::Disconnected {
            return;
        }
        entry.state = state;
        self.event(Event::CallState { call, state });
    }

    /// A participant that is new, or whose state changed (a repeat says nothing new).
    fn participant_updated(&mut self, call: CallRef, participant: ParticipantInfo) {
        let Some(entry) = self.calls.get_mut(&call) else {
            return;
        };
        match entry.remotes.iter_mut().find(|r| r.id == participant.id) {
            Some(known) if known.state == participant.state && known.media == participant.media => {
                return
            }
            Some(known) => {
                known.state = participant.state;
                known.media = participant.media;
                known.end_reason = None;
            }
            None => entry.remotes.push(Remote {
                id: participant.id.clone(),
                identity: participant.identity.clone(),
                state: participant.state,
                end_reason: None,
                media: participant.media,
            }),
        }
        self.event(Event::ParticipantUpdated { call, participant });
    }

    /// A participant left, told once with its reason.
    fn participant_left(
        &mut self,
        call: CallRef,
        participant_id: ParticipantId,
        identity: IdentityId,
        reason: CallEndReason,
        ended_by: Option<Ender>,
    ) {
        let Some(entry) = self.calls.get_mut(&call) else {
            return;
        };
        match entry.remotes.iter_mut().find(|r| r.id == participant_id) {
            Some(known) if known.state == ParticipantState::Disconnected => return,
            Some(known) => {
                known.state = ParticipantState::Disconnected;
                known.end_reason = Some(reason);
            }
            None => entry.remotes.push(Remote {
                id: participant_id.clone(),
                identity: identity.clone(),
                state: ParticipantState::Disconnected,
                end_reason: Some(reason),
                media: None,
            }),
        }
        self.event(Event::ParticipantLeft {
            call,
            participant_id,
            identity,
            reason,
            ended_by,
        });
    }

    /// Ends `call` for a reason decided here (the application, this device's network or media, a
    /// refused request): this participant ended it.
    fn end_call(&mut self, call: CallRef, reason: CallEndReason, raw_cause: Option<String>) {
        self.end_call_by(call, reason, raw_cause, Some(Ender::This));
    }

    fn end_call_by(
        &mut self,
        call: CallRef,
        reason: CallEndReason,
        raw_cause: Option<String>,
        ended_by: Option<Ender>,
    ) {
        let Some(entry) = self.calls.remove(&call) else {
            return;
        };
        if let Some(id) = entry.id {
            self.by_id.remove(&id);
        }
        self.event(Event::CallEnded {
            call,
            reason,
            raw_cause,
            ended_by,
        });
    }

    fn end_everything(&mut self, reason: CallEndReason, raw_cause: Option<String>) {
        for (call, _) in self.calls_by_id() {
            self.end_call(call, reason, raw_cause.clone());
        }
        let mut ringing: Vec<CallId> = self.ringing.drain().map(|(id, _)| id).collect();
        ringing.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        for call_id in ringing {
            self.event(Event::IncomingStopped {
                call_id,
                reason,
                raw_cause: raw_cause.clone(),
                ended_by: Some(Ender::This),
            });
        }
    }

    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }
}
