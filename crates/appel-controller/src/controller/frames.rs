//! What each client frame does to the calls.

use std::collections::HashSet;

use appel_codes::{registry, CallEndReason, CallingError, Entry};
use appel_protocol::{
    CallId, CallState, ClientFrame, EndedBy, IdentityId, ParticipantId, ParticipantState,
    ServerFrame,
};

use super::group::MediaClaim;
use super::lifecycle::Ending;
use super::Controller;
use crate::call::{Call, Leg, Participant, Phase};
use crate::directory::Link;
use crate::endpoint::EndpointKey;
use crate::records::{RecordEvent, TimelineKind};
use crate::ringing::{Alerting, Ring};
use crate::timers::TimerKey;

/// The most characters of a client report's detail the timeline keeps.
const MAX_REPORT_DETAIL: usize = 200;

/// Which answer a frame about an incoming call gets when that call no longer rings here.
#[derive(Clone, Copy)]
enum IncomingOperation {
    Accept,
    Reject,
}

impl IncomingOperation {
    fn not_ringing(self) -> &'static Entry {
        match self {
            IncomingOperation::Accept => &registry::ACCEPT_NOT_RINGING,
            IncomingOperation::Reject => &registry::REJECT_NOT_RINGING,
        }
    }
}

impl Controller {
    /// Handles one client frame. Frames from an endpoint the controller does not know (one it
    /// closed, whose socket the shell is still draining) are dropped: no answer could reach it.
    pub(super) fn frame(&mut self, endpoint: EndpointKey, frame: ClientFrame) {
        // A lost connection sends nothing more: a frame that races its loss is dropped, as the
        // socket's later bytes would be.
        let Some(identity) = self
            .directory
            .endpoints
            .get(&endpoint)
            .filter(|e| e.link != Link::Lost)
            .map(|e| e.identity.clone())
        else {
            return;
        };
        match frame {
            ClientFrame::Hello { .. } => self.reject_request(
                &endpoint,
                None,
                &registry::HANDSHAKE_EXPECTED,
                "a second hello on a signed-in connection".into(),
            ),
            ClientFrame::Ping => self.send(&endpoint, ServerFrame::Pong),
            ClientFrame::Pong => {}
            ClientFrame::RefreshToken { request_id, .. } => self.reject_request(
                &endpoint,
                Some(request_id),
                &registry::INTERNAL_SERVER_ERROR,
                "refreshToken reached the call controller instead of the connection layer".into(),
            ),
            ClientFrame::StartCall {
                request_id,
                targets,
                video,
                joinable,
            } => self.start_call(&endpoint, identity, request_id, targets, video, joinable),
            ClientFrame::AckIncoming { call_id } => {
                self.ack_incoming(&endpoint, &identity, &call_id)
            }
            ClientFrame::Accept {
                request_id,
                call_id,
                video,
            } => self.accept(&endpoint, &identity, request_id, &call_id, video),
            ClientFrame::Reject {
                request_id,
                call_id,
            } => self.reject(&endpoint, &identity, request_id, &call_id),
            ClientFrame::HangUp {
                request_id,
                call_id,
                for_everyone,
            } => self.hang_up(&endpoint, request_id, &call_id, for_everyone),
            ClientFrame::Hold {
                request_id,
                call_id,
            } => self.set_hold(&endpoint, request_id, &call_id, true),
            ClientFrame::Resume {
                request_id,
                call_id,
            } => self.set_hold(&endpoint, request_id, &call_id, false),
            ClientFrame::MediaReady { call_id } => self.media_ready(&endpoint, &call_id),
            ClientFrame::Report {
                call_id,
                kind,
                detail,
            } => self.client_report(&endpoint, &call_id, kind, detail),
            ClientFrame::Signal {
                call_id,
                to,
                payload,
            } => self.signal(&endpoint, &call_id, to, payload),
            ClientFrame::JoinCall {
                request_id,
                call_id,
                video,
            } => self.join_call(&endpoint, identity, request_id, &call_id, video),
            ClientFrame::JoinRoom {
                request_id,
                room_id,
                video,
            } => self.join_room(&endpoint, identity, request_id, room_id, video),
            ClientFrame::AddParticipant {
                request_id,
                call_id,
                identity: target,
            } => self.add_participant(&endpoint, request_id, &call_id, target),
            ClientFrame::RemoveParticipant {
                request_id,
                call_id,
                participant_id,
            } => self.remove_participant(&endpoint, request_id, &call_id, &participant_id),
            ClientFrame::MediaState {
                request_id,
                call_id,
                audio,
                video,
                screen_share,
            } => self.media_state(
                &endpoint,
                request_id,
                &call_id,
                MediaClaim {
                    audio,
                    video,
                    screen_share,
                },
            ),
            ClientFrame::MediaOffer {
                request_id,
                call_id,
                sdp,
            } => self.media_offer(&endpoint, request_id, &call_id, sdp),
            ClientFrame::MediaRestart {
                request_id,
                call_id,
                sdp,
            } => self.media_restart(&endpoint, request_id, &call_id, sdp),
            ClientFrame::MediaAnswer { call_id, sdp } => {
                self.media_answer(&endpoint, &call_id, sdp)
            }
            ClientFrame::MediaView {
                request_id,
                call_id,
                participant,
                width,
                height,
            } => self.media_view(&endpoint, request_id, &call_id, participant, width, height),
        }
    }

    pub(super) fn unknown_call(
        &mut self,
        endpoint: &EndpointKey,
        request_id: Option<u64>,
        call: &CallId,
    ) {
        self.reject_request(
            endpoint,
            request_id,
            &registry::CALL_OPERATION_UNKNOWN_CALL,
            format!("call {call}"),
        );
    }

    /// The calls `caller` started (from any of its endpoints) that still ring a target and that no
    /// callee answered yet. Counted from the caller's own legs, so the cost follows what the
    /// identity does, not the number of calls on the server.
    fn unanswered_calls_of(&self, caller: &IdentityId) -> usize {
        let Some(identity) = self.directory.identities.get(caller) else {
            return 0;
        };
        identity
            .endpoints
            .iter()
            .filter_map(|key| self.directory.endpoints.get(key))
            .flat_map(|known| known.legs.iter())
            .filter(|(call_id, participant)| {
                let Some(call) = self.calls.get(*call_id) else {
                    return false;
                };
                let Some((organizer, others)) = call.participants.split_first() else {
                    return false;
                };
                organizer.organizer
                    && organizer.id == **participant
                    && organizer.identity == *caller
                    && call.room.is_none()
                    && others.iter().any(|p| matches!(p.phase, Phase::Alerting(_)))
                    && !others.iter().any(|p| matches!(p.phase, Phase::Joined(_)))
            })
            .count()
    }

    fn start_call(
        &mut self,
        endpoint: &EndpointKey,
        caller: IdentityId,
        request_id: u64,
        targets: Vec<IdentityId>,
        video: bool,
        joinable: bool,
    ) {
        let mut seen = HashSet::new();
        let targets: Vec<IdentityId> = targets
            .into_iter()
            .filter(|t| *t != caller && seen.insert(t.clone()))
            .collect();
        if targets.is_empty() && !joinable {
            return self.reject_request(
                endpoint,
                Some(request_id),
                &registry::NO_TARGETS,
                "startCall.targets".into(),
            );
        }
        if targets.len() + 1 > self.config.max_participants {
            return self.reject_request(
                endpoint,
                Some(request_id),
                &registry::CALL_PARTICIPANT_LIMIT,
                format!(
                    "{} participants asked, {} allowed",
                    targets.len() + 1,
                    self.config.max_participants
                ),
            );
        }
        let ringing = self.unanswered_calls_of(&caller);
        if !targets.is_empty() && ringing >= self.config.max_outgoing_calls_per_identity {
            return self.reject_request(
                endpoint,
                Some(request_id),
                &registry::OUTGOING_CALLS_LIMIT,
                format!(
                    "{ringing} calls started by {caller} still ring unanswered; at most {}",
                    self.config.max_outgoing_calls_per_identity
                ),
            );
        }
        let call_id = self.ids.call_id();
        let mut participants = Vec::with_capacity(targets.len() + 1);
        let mut organizer = Participant::new(
            self.ids.participant_id(),
            caller.clone(),
            Phase::Joined(Leg::new(endpoint.clone())),
        );
        organizer.shown_to_others = ParticipantState::Connecting;
        organizer.organizer = true;
        participants.push(organizer);
        for target in &targets {
            participants.push(Participant::new(
                self.ids.participant_id(),
                target.clone(),
                Phase::Alerting(Alerting::default()),
            ));
        }
        let mut call = Call {
            id: call_id.clone(),
            video,
            participants,
            ever_connected: false,
            last_departure: None,
            room: None,
            joinable,
            invited: std::iter::once(caller.clone())
                .chain(targets.iter().cloned())
                .collect(),
            awaiting_joiners: joinable,
        };
        let caller_participant = call.participants[0].id.clone();
        if let Some(known) = self.directory.endpoints.get_mut(endpoint) {
            known
                .legs
                .insert(call_id.clone(), caller_participant.clone());
        }
        let at = self.now();
        self.out.record(RecordEvent::CallCreated {
            call: call_id.clone(),
            caller: caller.clone(),
            caller_participant: caller_participant.clone(),
            caller_endpoint: endpoint.endpoint.clone(),
            targets,
            video,
            at,
        });
        self.out.record(RecordEvent::LegJoined {
            call: call_id.clone(),
            participant: caller_participant.clone(),
            endpoint: endpoint.endpoint.clone(),
            identity: caller,
            at,
        });
        self.send(
            endpoint,
            ServerFrame::CallCreated {
                request_id,
                call_id: call_id.clone(),
                participant_id: caller_participant,
            },
        );
        self.announce_media_server(&mut call);
        // The caller learns its state and every target before any target's fate.
        self.sync(&mut call);
        self.arm(
            TimerKey::Ringing(call_id.clone()),
            self.config.ringing_timeout,
        );
        for index in 1..call.participants.len() {
            self.alert_target(&mut call, index);
        }
        self.put_call(call);
    }

    fn ack_incoming(&mut self, endpoint: &EndpointKey, identity: &IdentityId, call_id: &CallId) {
        let Some(mut call) = self.calls.remove(call_id) else {
            if !self.rang_before(endpoint, call_id) {
                self.unknown_call(endpoint, None, call_id);
            }
            return;
        };
        let Some(index) = call.ringing_on(identity, endpoint) else {
            // A late acknowledgement of a call that stopped ringing here needs no answer.
            if !self.rang_before(endpoint, call_id) && !call.involves(identity) {
                self.unknown_call(endpoint, None, call_id);
            }
            return self.put_call(call);
        };
        if let Some(alerting) = call.alerting_mut(index) {
            if let Some(ring) = alerting.rings.get_mut(endpoint) {
                if *ring == Ring::Delivered {
                    *ring = Ring::Ringing;
                    self.timers
                        .cancel(&TimerKey::DeliveryAck(call_id.clone(), endpoint.clone()));
                    self.timeline(
                        call_id,
                        TimelineKind::Ringing,
                        format!("{identity} on {endpoint}"),
                    );
                }
            }
        }
        self.put_call(call);
    }

    fn rang_before(&self, endpoint: &EndpointKey, call: &CallId) -> bool {
        self.directory
            .endpoints
            .get(endpoint)
            .is_some_and(|e| e.rang_before(call))
    }

    /// Finds the target `endpoint` rings for in `call_id`, or answers the request with why it
    /// cannot act: "no longer ringing" when the call rang here or involves this identity,
    /// "unknown call" otherwise.
    fn take_ringing(
        &mut self,
        endpoint: &EndpointKey,
        identity: &IdentityId,
        request_id: u64,
        call_id: &CallId,
        operation: IncomingOperation,
    ) -> Option<(Call, usize)> {
        let Some(call) = self.calls.remove(call_id) else {
            if self.rang_before(endpoint, call_id) {
                self.reject_request(
                    endpoint,
                    Some(request_id),
                    operation.not_ringing(),
                    format!("call {call_id} has ended"),
                );
            } else {
                self.unknown_call(endpoint, Some(request_id), call_id);
            }
            return None;
        };
        if let Some(index) = call.ringing_on(identity, endpoint) {
            return Some((call, index));
        }
        if self.rang_before(endpoint, call_id) || call.involves(identity) {
            self.reject_request(
                endpoint,
                Some(request_id),
                operation.not_ringing(),
                format!("call {call_id} does not ring on this endpoint"),
            );
        } else {
            self.unknown_call(endpoint, Some(request_id), call_id);
        }
        self.calls.insert(call_id.clone(), call);
        None
    }

    fn accept(
        &mut self,
        endpoint: &EndpointKey,
        identity: &IdentityId,
        request_id: u64,
        call_id: &CallId,
        video: bool,
    ) {
        let Some((mut call, index)) = self.take_ringing(
            endpoint,
            identity,
            request_id,
            call_id,
            IncomingOperation::Accept,
        ) else {
            return;
        };
        // Only one endpoint per identity may connect: the others stop with 487/10003, ended by
        // the callee's own answer.
        let participant = &call.participants[index];
        self.ender = Some(EndedBy::participant(
            participant.id.clone(),
            participant.identity.clone(),
        ));
        let others: Vec<EndpointKey> = call
            .alerting_mut(index)
            .map(|alerting| {
                alerting.rings.remove(endpoint);
                let mut others: Vec<EndpointKey> = alerting.rings.drain().map(|(e, _)| e).collect();
                others.sort();
                others
            })
            .unwrap_or_default();
        let elsewhere = CallEndReason::of(&registry::CALL_ACCEPTED_ELSEWHERE);
        for other in &others {
            self.stop_ring(
                &call,
                other,
                Some((elsewhere, Some(format!("accepted on {endpoint}")))),
            );
        }
        self.timers
            .cancel(&TimerKey::DeliveryAck(call_id.clone(), endpoint.clone()));
        let participant_id = call.participants[index].id.clone();
        self.timers
            .cancel(&TimerKey::PushWait(call_id.clone(), participant_id.clone()));
        if let Some(known) = self.directory.endpoints.get_mut(endpoint) {
            known.ringing.remove(call_id);
            known.legs.insert(call_id.clone(), participant_id.clone());
        }
        self.directory.remove_pending(identity, call_id);
        let mut leg = Leg::new(endpoint.clone());
        leg.shown = CallState::Connecting;
        call.participants[index].phase = Phase::Joined(leg);

        self.send(endpoint, ServerFrame::Ack { request_id });
        self.send(
            endpoint,
            ServerFrame::CallState {
                call_id: call_id.clone(),
                state: CallState::Connecting,
            },
        );
        self.announce_media_server(&mut call);
        for other in 0..call.participants.len() {
            if other != index && !matches!(call.participants[other].phase, Phase::Gone(_)) {
                let participant = call.info(other);
                self.send(
                    endpoint,
                    ServerFrame::ParticipantUpdated {
                        call_id: call_id.clone(),
                        participant,
                    },
                );
            }
        }
        let at = self.now();
        self.out.record(RecordEvent::LegJoined {
            call: call_id.clone(),
            participant: participant_id.clone(),
            endpoint: endpoint.endpoint.clone(),
            identity: identity.clone(),
            at,
        });
        let media = if video { "video" } else { "audio" };
        self.timeline(
            call_id,
            TimelineKind::Accepted,
            format!("{identity} on {endpoint} ({media})"),
        );
        self.arm(
            TimerKey::Establishment(call_id.clone(), participant_id),
            self.config.establishment_timeout,
        );
        self.put_call(call);
    }

    fn reject(
        &mut self,
        endpoint: &EndpointKey,
        identity: &IdentityId,
        request_id: u64,
        call_id: &CallId,
    ) {
        let Some((mut call, index)) = self.take_ringing(
            endpoint,
            identity,
            request_id,
            call_id,
            IncomingOperation::Reject,
        ) else {
            return;
        };
        if let Some(alerting) = call.alerting_mut(index) {
            alerting.rings.remove(endpoint);
            alerting.declined += 1;
        }
        let participant = &call.participants[index];
        self.ender = Some(EndedBy::participant(
            participant.id.clone(),
            participant.identity.clone(),
        ));
        self.send(endpoint, ServerFrame::Ack { request_id });
        // The endpoint that declined ended its own incoming call: 0/0.
        let own = CallEndReason::of(&registry::CALL_ENDED_LOCALLY);
        self.stop_ring(&call, endpoint, Some((own, None)));
        self.timeline(
            call_id,
            TimelineKind::Declined,
            format!("{identity} on {endpoint}"),
        );
        self.resolve_if_exhausted(&mut call, index);
        self.put_call(call);
    }

    /// Finds the participant joined on `endpoint` in `call_id`, or answers "unknown call".
    pub(super) fn take_joined(
        &mut self,
        endpoint: &EndpointKey,
        request_id: Option<u64>,
        call_id: &CallId,
    ) -> Option<(Call, usize)> {
        let joined = self
            .calls
            .get(call_id)
            .and_then(|call| call.joined_on(endpoint));
        match joined {
            Some(index) => self.calls.remove(call_id).map(|call| (call, index)),
            None => {
                self.unknown_call(endpoint, request_id, call_id);
                None
            }
        }
    }

    fn hang_up(&mut self, endpoint: &EndpointKey, request_id: u64, call_id: &CallId, all: bool) {
        let Some((mut call, index)) = self.take_joined(endpoint, Some(request_id), call_id) else {
            return;
        };
        if all {
            if let Some(error) = Self::end_for_everyone_refusal(&call, index) {
                self.send_error(endpoint, Some(request_id), error);
                return self.put_call(call);
            }
        }
        self.send(endpoint, ServerFrame::Ack { request_id });
        let participant = &call.participants[index];
        let ender = EndedBy::participant(participant.id.clone(), participant.identity.clone());
        let scope = if all { " for everyone" } else { "" };
        self.timeline(
            call_id,
            TimelineKind::HungUp,
            format!("{}{scope}", ender.describe()),
        );
        self.ender = Some(ender);
        let own = CallEndReason::of(&registry::CALL_ENDED_LOCALLY);
        self.depart(&mut call, index, own, None, true);
        if all {
            self.end_call(call, Ending::ForEveryone);
        } else {
            self.put_call(call);
        }
    }

    fn set_hold(&mut self, endpoint: &EndpointKey, request_id: u64, call_id: &CallId, hold: bool) {
        let Some((mut call, index)) = self.take_joined(endpoint, Some(request_id), call_id) else {
            return;
        };
        let allowed = call
            .leg(index)
            .is_some_and(|leg| leg.media_ready && leg.held != hold);
        if !allowed {
            let state = call
                .leg(index)
                .map_or(CallState::Disconnected, |leg| leg.shown);
            let operation = if hold { "hold" } else { "resume" };
            self.reject_request(
                endpoint,
                Some(request_id),
                &registry::CALL_OPERATION_INVALID_STATE,
                format!("{operation} while the call is {state:?}"),
            );
            return self.put_call(call);
        }
        if let Some(leg) = call.leg_mut(index) {
            leg.held = hold;
        }
        self.send(endpoint, ServerFrame::Ack { request_id });
        let (kind, who) = (
            if hold {
                TimelineKind::Hold
            } else {
                TimelineKind::Resume
            },
            call.participants[index].identity.to_string(),
        );
        self.timeline(call_id, kind, who);
        self.put_call(call);
    }

    pub(super) fn media_ready(&mut self, endpoint: &EndpointKey, call_id: &CallId) {
        let Some((mut call, index)) = self.take_joined(endpoint, None, call_id) else {
            return;
        };
        // The caller's side is ready when a callee's is; its own report adds nothing.
        let newly_ready = (index != 0 || call.room.is_some())
            && call.leg_mut(index).is_some_and(|leg| {
                let newly = !leg.media_ready;
                leg.media_ready = true;
                newly
            });
        if newly_ready {
            let participant = call.participants[index].id.clone();
            self.timers
                .cancel(&TimerKey::Establishment(call_id.clone(), participant));
            call.ever_connected = true;
            if call.room.is_none() {
                if let Some(caller) = call.leg_mut(0) {
                    caller.media_ready = true;
                }
            }
            let who = call.participants[index].identity.to_string();
            self.timeline(call_id, TimelineKind::MediaReady, who);
        }
        self.put_call(call);
    }

    /// A client-side fact from a participant joined in the call, put on the timeline with who
    /// reported it. Reports for a call the endpoint is not in get the usual unknown-call error.
    fn client_report(
        &mut self,
        endpoint: &EndpointKey,
        call_id: &CallId,
        kind: appel_protocol::ReportKind,
        detail: Option<String>,
    ) {
        let Some((call, index)) = self.take_joined(endpoint, None, call_id) else {
            return;
        };
        let who = call.participants[index].identity.to_string();
        // The timeline keeps a bounded, single-line detail whatever the client sends.
        let detail: String = detail
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_REPORT_DETAIL)
            .collect();
        let line = if detail.is_empty() {
            format!("{who} on {endpoint}")
        } else {
            format!("{who} on {endpoint}: {detail}")
        };
        let kind = match kind {
            appel_protocol::ReportKind::MediaConnected => TimelineKind::MediaConnected,
            appel_protocol::ReportKind::IceState => TimelineKind::IceState,
            appel_protocol::ReportKind::DeviceError => TimelineKind::DeviceError,
        };
        self.timeline(call_id, kind, line);
        self.put_call(call);
    }

    fn signal(
        &mut self,
        endpoint: &EndpointKey,
        call_id: &CallId,
        to: Option<ParticipantId>,
        payload: serde_json::Value,
    ) {
        let Some((call, index)) = self.take_joined(endpoint, None, call_id) else {
            return;
        };
        let from = call.participants[index].id.clone();
        let recipients = match &to {
            None => call.joined_endpoints_except(Some(index)),
            Some(to) => match call.index_of(to).filter(|&i| i != index) {
                Some(target) => call
                    .leg(target)
                    .map(|l| l.endpoint.clone())
                    .into_iter()
                    .collect(),
                None => Vec::new(),
            },
        };
        if let (Some(to), true) = (&to, recipients.is_empty()) {
            self.send_error(
                endpoint,
                None,
                CallingError::new(&registry::INVALID_ARGUMENT)
                    .with_context(format!("signal.to: {to} is not in call {call_id}")),
            );
        }
        for recipient in recipients {
            self.send(
                &recipient,
                ServerFrame::Signal {
                    call_id: call_id.clone(),
                    from: from.clone(),
                    payload: payload.clone(),
                },
            );
        }
        self.calls.insert(call_id.clone(), call);
    }
}
