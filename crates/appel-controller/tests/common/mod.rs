//! A fake clock and a recorder of everything the controller decides, per endpoint.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use appel_codes::{CallEndReason, CallingError, Entry};
use appel_controller::{Action, Controller, ControllerConfig, EndpointKey, Input, RecordEvent};
use appel_protocol::{CallId, CallState, ClientFrame, IdentityId, ServerFrame};

pub const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

pub fn reason(entry: &Entry) -> CallEndReason {
    CallEndReason::of(entry)
}

pub struct Harness {
    pub controller: Controller,
    pub now: Instant,
    pub inbox: HashMap<EndpointKey, Vec<ServerFrame>>,
    /// The identity each endpoint name was brought online as (names are unique across identities
    /// in these tests, except where a test builds its keys itself).
    owners: HashMap<String, IdentityId>,
    pub records: Vec<RecordEvent>,
    pub pushes: Vec<(IdentityId, String, CallId)>,
    pub closes: Vec<(EndpointKey, CallingError)>,
    pub registered: Vec<IdentityId>,
    /// What the controller asked of the media server, in order.
    pub media: Vec<Action>,
    next_request: u64,
}

impl Harness {
    pub fn new() -> Self {
        Self::with(ControllerConfig {
            id_seed: [42; 32],
            ..ControllerConfig::default()
        })
    }

    pub fn with(config: ControllerConfig) -> Self {
        Harness {
            controller: Controller::new(config),
            now: Instant::now(),
            inbox: HashMap::new(),
            owners: HashMap::new(),
            records: Vec::new(),
            pushes: Vec::new(),
            closes: Vec::new(),
            registered: Vec::new(),
            media: Vec::new(),
            next_request: 1,
        }
    }

    pub fn input(&mut self, input: Input) {
        if let Input::EndpointOnline { endpoint, .. } = &input {
            // The first identity to use a name keeps it: a test that lends the name to another
            // identity addresses that one by its key.
            self.owners
                .entry(endpoint.endpoint.to_string())
                .or_insert_with(|| endpoint.identity.clone());
        }
        self.controller.handle(self.now, input);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(action) = self.controller.poll_action() {
            match action {
                Action::Send { endpoint, frame } => {
                    self.inbox.entry(endpoint).or_default().push(frame)
                }
                Action::Close { endpoint, error } => self.closes.push((endpoint, error)),
                Action::Push {
                    identity,
                    url,
                    call,
                    ..
                } => self.pushes.push((identity, url, call)),
                Action::MarkRegistered { identity } => self.registered.push(identity),
                Action::Record(event) => self.records.push(event),
                media @ (Action::MediaJoin { .. }
                | Action::MediaAnswer { .. }
                | Action::MediaMute { .. }
                | Action::MediaLeave { .. }
                | Action::MediaView { .. }) => self.media.push(media),
            }
        }
    }

    /// Carries out a call-control command at the fake clock's time.
    pub fn control(&mut self, command: appel_controller::Control) -> Result<(), CallingError> {
        let result = self.controller.control(self.now, command);
        self.drain();
        result
    }

    /// Moves the fake clock and fires every timer due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.controller.handle_timeout(self.now);
        self.drain();
    }

    /// The key of the endpoint named `endpoint`, as its identity brought it online.
    pub fn key(&self, endpoint: &str) -> EndpointKey {
        let identity = self
            .owners
            .get(endpoint)
            .cloned()
            .unwrap_or_else(|| IdentityId::from("nobody"));
        EndpointKey::new(identity, endpoint)
    }

    pub fn online(&mut self, endpoint: &str, identity: &str) {
        self.online_with(endpoint, identity, None, false);
    }

    pub fn online_with(
        &mut self,
        endpoint: &str,
        identity: &str,
        push: Option<&str>,
        resume: bool,
    ) {
        self.input(Input::EndpointOnline {
            endpoint: EndpointKey::new(identity, endpoint),
            ever_registered: true,
            token_expires_at: self.now + TOKEN_LIFETIME,
            push_url: push.map(str::to_owned),
            resume,
        });
    }

    pub fn frame(&mut self, endpoint: &str, frame: ClientFrame) {
        self.input(Input::Frame {
            endpoint: self.key(endpoint),
            frame,
        });
    }

    pub fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    /// Starts a call and returns its id (panics if the controller refused it).
    pub fn start(&mut self, endpoint: &str, targets: &[&str]) -> CallId {
        self.start_with(endpoint, targets, false)
    }

    /// Starts a call, joinable by anyone with its id when `joinable`, and returns its id.
    pub fn start_with(&mut self, endpoint: &str, targets: &[&str], joinable: bool) -> CallId {
        let request_id = self.request_id();
        self.frame(
            endpoint,
            ClientFrame::StartCall {
                request_id,
                targets: targets.iter().map(|t| IdentityId::from(*t)).collect(),
                video: false,
                joinable,
            },
        );
        self.frames(endpoint)
            .iter()
            .find_map(|f| match f {
                ServerFrame::CallCreated {
                    request_id: r,
                    call_id,
                    ..
                } if *r == request_id => Some(call_id.clone()),
                _ => None,
            })
            .expect("the call was created")
    }

    pub fn ack(&mut self, endpoint: &str, call: &CallId) {
        self.frame(
            endpoint,
            ClientFrame::AckIncoming {
                call_id: call.clone(),
            },
        );
    }

    /// Sends a request frame built from a fresh request id and returns the id.
    pub fn request(&mut self, endpoint: &str, build: impl FnOnce(u64) -> ClientFrame) -> u64 {
        let request_id = self.request_id();
        self.frame(endpoint, build(request_id));
        request_id
    }

    pub fn accept(&mut self, endpoint: &str, call: &CallId) -> u64 {
        let call_id = call.clone();
        self.request(endpoint, |request_id| ClientFrame::Accept {
            request_id,
            call_id,
            video: false,
        })
    }

    pub fn reject(&mut self, endpoint: &str, call: &CallId) -> u64 {
        let call_id = call.clone();
        self.request(endpoint, |request_id| ClientFrame::Reject {
            request_id,
            call_id,
        })
    }

    pub fn hang_up(&mut self, endpoint: &str, call: &CallId) -> u64 {
        let call_id = call.clone();
        self.request(endpoint, |request_id| ClientFrame::HangUp {
            request_id,
            call_id,
            for_everyone: false,
        })
    }

    pub fn hold(&mut self, endpoint: &str, call: &CallId) -> u64 {
        let call_id = call.clone();
        self.request(endpoint, |request_id| ClientFrame::Hold {
            request_id,
            call_id,
        })
    }

    pub fn resume(&mut self, endpoint: &str, call: &CallId) -> u64 {
        let call_id = call.clone();
        self.request(endpoint, |request_id| ClientFrame::Resume {
            request_id,
            call_id,
        })
    }

    pub fn media_ready(&mut self, endpoint: &str, call: &CallId) {
        self.frame(
            endpoint,
            ClientFrame::MediaReady {
                call_id: call.clone(),
            },
        );
    }

    /// A connected 1:1 call from `caller` to `callee` (each endpoint named after its identity).
    pub fn connected_call(&mut self, caller: &str, callee: &str) -> CallId {
        let call = self.start(caller, &[callee]);
        self.ack(callee, &call);
        self.accept(callee, &call);
        self.media_ready(callee, &call);
        call
    }

    pub fn frames(&self, endpoint: &str) -> &[ServerFrame] {
        self.inbox
            .get(&self.key(endpoint))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    pub fn clear(&mut self) {
        self.inbox.clear();
    }

    /// The reasons of every `callEnded` the endpoint got for `call`.
    pub fn ends(&self, endpoint: &str, call: &CallId) -> Vec<CallEndReason> {
        self.frames(endpoint)
            .iter()
            .filter_map(|f| match f {
                ServerFrame::CallEnded {
                    call_id, reason, ..
                } if call_id == call => Some(*reason),
                _ => None,
            })
            .collect()
    }

    /// The one `callEnded` the endpoint got for `call`.
    pub fn ended(&self, endpoint: &str, call: &CallId) -> CallEndReason {
        let ends = self.ends(endpoint, call);
        assert_eq!(
            ends.len(),
            1,
            "{endpoint} got {ends:?} for {call}: {:#?}",
            self.frames(endpoint)
        );
        ends[0]
    }

    /// The reason of the `participantLeft` the endpoint got for `identity` in `call`.
    pub fn left(&self, endpoint: &str, call: &CallId, identity: &str) -> CallEndReason {
        let reasons: Vec<CallEndReason> = self
            .frames(endpoint)
            .iter()
            .filter_map(|f| match f {
                ServerFrame::ParticipantLeft {
                    call_id,
                    identity: who,
                    reason,
                    ..
                } if call_id == call && who.as_str() == identity => Some(*reason),
                _ => None,
            })
            .collect();
        assert_eq!(
            reasons.len(),
            1,
            "{endpoint} got {reasons:?} about {identity}: {:#?}",
            self.frames(endpoint)
        );
        reasons[0]
    }

    /// The call states the endpoint was shown for `call`, in order.
    pub fn states(&self, endpoint: &str, call: &CallId) -> Vec<CallState> {
        self.frames(endpoint)
            .iter()
            .filter_map(|f| match f {
                ServerFrame::CallState { call_id, state } if call_id == call => Some(*state),
                _ => None,
            })
            .collect()
    }

    /// The error answering `request_id`.
    pub fn error(&self, endpoint: &str, request_id: u64) -> CallingError {
        self.frames(endpoint)
            .iter()
            .find_map(|f| match f {
                ServerFrame::Error {
                    request_id: Some(r),
                    error,
                    ..
                } if *r == request_id => Some(error.clone()),
                _ => None,
            })
            .unwrap_or_else(|| {
                panic!(
                    "no error for request {request_id}: {:#?}",
                    self.frames(endpoint)
                )
            })
    }

    /// The errors sent outside any request.
    pub fn unsolicited_errors(&self, endpoint: &str) -> Vec<CallingError> {
        self.frames(endpoint)
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Error {
                    request_id: None,
                    error,
                    ..
                } => Some(error.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn acked(&self, endpoint: &str, request_id: u64) -> bool {
        self.frames(endpoint)
            .iter()
            .any(|f| matches!(f, ServerFrame::Ack { request_id: r } if *r == request_id))
    }

    pub fn incoming(&self, endpoint: &str, call: &CallId) -> usize {
        self.frames(endpoint)
            .iter()
            .filter(|f| matches!(f, ServerFrame::IncomingCall { call_id, .. } if call_id == call))
            .count()
    }
}
