//! The controller's public face and its dispatch of inputs and timers.

mod connections;
mod frames;
mod group;
mod lifecycle;
mod media;
mod timeouts;

use std::collections::HashMap;
use std::time::Instant;

use appel_codes::{CallingError, Entry};
use appel_protocol::{CallId, EndedBy, IdentityId, ResumedCall, ServerCause, ServerFrame};

use crate::action::{Action, Outbox};
use crate::call::{Call, Phase};
use crate::config::ControllerConfig;
use crate::control::{CallSnapshot, Control, Presence};
use crate::directory::{Directory, Link};
use crate::endpoint::EndpointKey;
use crate::ids::IdGenerator;
use crate::input::Input;
use crate::records::{RecordEvent, TimelineKind};
use crate::rooms::RoomSpec;
use crate::timers::{TimerKey, Timers};

/// The call controller. See the crate documentation for how the shell drives it.
///
/// State lives in hash maps keyed by call and endpoint id and a B-tree of deadlines, so one event
/// costs time in proportion to the size of the calls it touches, never to the number of calls.
#[derive(Debug)]
pub struct Controller {
    config: ControllerConfig,
    ids: IdGenerator,
    calls: HashMap<CallId, Call>,
    /// Rooms by id.
    rooms: HashMap<String, RoomSpec>,
    /// The active call of each room that has one.
    room_calls: HashMap<String, CallId>,
    directory: Directory,
    timers: Timers,
    out: Outbox,
    /// The time of the input or timeout being handled.
    now: Option<Instant>,
    /// Who acts in the input or timeout being handled, for the legs it ends (`None`: nobody in
    /// particular, see [`Controller::ended_by`]).
    ender: Option<EndedBy>,
}

impl Controller {
    /// A controller with no endpoint and no call.
    pub fn new(config: ControllerConfig) -> Self {
        Controller {
            ids: IdGenerator::new(config.id_seed, config.id_epoch_ms),
            config,
            calls: HashMap::new(),
            rooms: HashMap::new(),
            room_calls: HashMap::new(),
            directory: Directory::default(),
            timers: Timers::default(),
            out: Outbox::default(),
            now: None,
            ender: None,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// Feeds one event; drain [`Controller::poll_action`] afterwards.
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.now = Some(now);
        self.ender = match &input {
            Input::HangUpAll { .. } => Some(EndedBy::Server {
                cause: ServerCause::Shutdown,
            }),
            Input::TokensRevoked { .. }
            | Input::IdentityDeleted { .. }
            | Input::RoomUpserted { .. }
            | Input::RoomDeleted { .. } => Some(EndedBy::CallControl),
            // The media server removes a participant only when its media setup or loss timer ran
            // out (410/301004, 410/301005).
            Input::Media { .. } => Some(EndedBy::Server {
                cause: ServerCause::Timer,
            }),
            _ => None,
        };
        match input {
            Input::EndpointOnline {
                endpoint,
                ever_registered,
                token_expires_at,
                push_url,
                resume,
            } => self.endpoint_online(
                endpoint,
                ever_registered,
                token_expires_at,
                push_url,
                resume,
            ),
            Input::EndpointLost { endpoint } => self.endpoint_lost(&endpoint),
            Input::EndpointClosed { endpoint } => {
                self.remove_endpoint(&endpoint, connections::Removal::Closed)
            }
            Input::Frame { endpoint, frame } => self.frame(endpoint, frame),
            Input::TokenRefreshed {
                endpoint,
                expires_at,
            } => self.token_refreshed(&endpoint, expires_at),
            Input::PushDelivered { identity, ok } => self.push_delivered(&identity, ok),
            Input::HangUpAll { call, reason } => self.hang_up_all(&call, reason),
            Input::IdentityDeleted { identity } => self.identity_deleted(&identity),
            Input::TokensRevoked { identity } => self.tokens_revoked(&identity),
            Input::RegistrationKnown { identity, push_url } => {
                self.registration_known(&identity, push_url)
            }
            Input::RoomUpserted { room } => self.room_upserted(room),
            Input::RoomDeleted { room } => self.room_deleted(&room),
            Input::Media {
                call,
                participant,
                report,
            } => self.media_report(&call, &participant, report),
        }
    }

    /// Carries out a call-control command; drain [`Controller::poll_action`] afterwards. Fails with
    /// 404/900200 for a call not in progress and 404/900506 for a participant not in it.
    pub fn control(&mut self, now: Instant, command: Control) -> Result<(), CallingError> {
        self.now = Some(now);
        self.ender = Some(EndedBy::CallControl);
        self.control_command(command)
    }

    /// Every call in progress, ordered by id.
    pub fn snapshots(&self) -> Vec<CallSnapshot> {
        let mut calls: Vec<CallSnapshot> = self.calls.values().map(Self::snapshot).collect();
        calls.sort_by(|a, b| a.id.cmp(&b.id));
        calls
    }

    /// One call in progress.
    pub fn snapshot_of(&self, call: &CallId) -> Option<CallSnapshot> {
        self.calls.get(call).map(Self::snapshot)
    }

    /// The next action decided, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop()
    }

    /// When [`Controller::handle_timeout`] must be called next, if any timer runs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Fires every timer due at `now`, earliest first; drain [`Controller::poll_action`] afterwards.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        while let Some(key) = self.timers.pop_due(now) {
            self.ender = Some(EndedBy::Server {
                cause: ServerCause::Timer,
            });
            self.fire(key);
        }
    }

    /// The calls `endpoint` takes part in and that go on, as `welcome.resumedCalls` lists them. Call
    /// it right after feeding [`Input::EndpointOnline`] with `resume: true`.
    pub fn resumed_calls(&self, endpoint: &EndpointKey) -> Vec<ResumedCall> {
        let Some(known) = self.directory.endpoints.get(endpoint) else {
            return Vec::new();
        };
        let mut resumed: Vec<ResumedCall> = known
            .legs
            .iter()
            .filter_map(|(call_id, participant)| {
                let call = self.calls.get(call_id)?;
                let index = call.index_of(participant)?;
                let summary = call.summary();
                Some(ResumedCall {
                    call_id: call_id.clone(),
                    participant_id: participant.clone(),
                    state: call.own_state(index, &summary),
                    video: call.video,
                    participants: (0..call.participants.len())
                        .filter(|&i| i != index)
                        .filter(|&i| !matches!(call.participants[i].phase, Phase::Gone(_)))
                        .map(|i| call.info(i))
                        .collect(),
                })
            })
            .collect();
        resumed.sort_by(|a, b| a.call_id.cmp(&b.call_id));
        resumed
    }

    /// Whether `identity` can be reached now: in a call if any of its endpoints carries a leg of
    /// one, online if one is connected, offline otherwise.
    pub fn presence(&self, identity: &IdentityId) -> Presence {
        let Some(known) = self.directory.identities.get(identity) else {
            return Presence::Offline;
        };
        let endpoints: Vec<_> = known
            .endpoints
            .iter()
            .filter_map(|key| self.directory.endpoints.get(key))
            .collect();
        if endpoints.iter().any(|e| !e.legs.is_empty()) {
            Presence::InCall
        } else if endpoints.iter().any(|e| e.link == Link::Online) {
            Presence::Online
        } else {
            Presence::Offline
        }
    }

    /// The ids of the calls in progress (for a shutdown that ends each with [`Input::HangUpAll`]).
    pub fn call_ids(&self) -> Vec<CallId> {
        let mut ids: Vec<CallId> = self.calls.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// How many calls are in progress.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// How many endpoints the controller knows (connected, or dropped within the detection window).
    pub fn endpoint_count(&self) -> usize {
        self.directory.endpoints.len()
    }

    /// How many timers are armed.
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    fn now(&self) -> Instant {
        // Set by `handle` and `handle_timeout` before anything else runs.
        self.now
            .expect("the controller reads time only while handling an input")
    }

    /// Who ends the legs ended now. With no actor set, the input is one where a party could not
    /// be reached at all (a target unknown or offline at `startCall`, a failed push, its ringing
    /// endpoints gone): the server gave up on it.
    fn ended_by(&self) -> EndedBy {
        self.ender.clone().unwrap_or(EndedBy::Server {
            cause: ServerCause::Unreachable,
        })
    }

    /// Queues `frame` for `endpoint` if its connection is up.
    fn send(&mut self, endpoint: &EndpointKey, frame: ServerFrame) {
        if self.directory.is_online(endpoint) {
            self.out.send(endpoint, frame);
        }
    }

    fn send_error(&mut self, endpoint: &EndpointKey, request_id: Option<u64>, error: CallingError) {
        self.send(endpoint, ServerFrame::error(request_id, error));
    }

    fn reject_request(
        &mut self,
        endpoint: &EndpointKey,
        request_id: Option<u64>,
        entry: &'static Entry,
        context: String,
    ) {
        self.send_error(
            endpoint,
            request_id,
            CallingError::new(entry).with_context(context),
        );
    }

    fn timeline(&mut self, call: &CallId, kind: TimelineKind, detail: String) {
        let at = self.now();
        self.out.record(RecordEvent::Timeline {
            call: call.clone(),
            at,
            kind,
            detail,
        });
    }

    fn arm(&mut self, key: TimerKey, after: std::time::Duration) {
        let deadline = self.now() + after;
        self.timers.set(key, deadline);
    }
}
