//! Group operations: joining a call or a room, adding and removing participants, media claims
//! checked against room roles, room roster changes, and the server's call-control commands.

use appel_codes::{registry, CallEndReason, CallingError};
use appel_protocol::{
    CallId, CallState, EndedBy, IdentityId, ParticipantId, ParticipantState, ServerFrame,
};

use super::lifecycle::Ending;
use super::Controller;
use crate::call::{Call, Leg, Participant, Phase};
use crate::control::{CallSnapshot, Control, ParticipantSnapshot};
use crate::endpoint::EndpointKey;
use crate::records::{RecordEvent, TimelineKind};
use crate::ringing::Alerting;
use crate::rooms::{IdentityKind, RoomRole, RoomSpec};
use crate::timers::TimerKey;

/// What a participant asks to send, from a `mediaState` frame or a join with video.
pub(super) struct MediaClaim {
    pub(super) audio: bool,
    pub(super) video: bool,
    pub(super) screen_share: bool,
}

impl Controller {
    /// The participants a call counts against the limit: everyone not gone.
    fn present_count(call: &Call) -> usize {
        call.participants
            .iter()
            .filter(|p| !matches!(p.phase, Phase::Gone(_)))
            .count()
    }

    fn limit_error(&self, call: &Call) -> Option<CallingError> {
        let present = Self::present_count(call);
        (present + 1 > self.config.max_participants).then(|| {
            CallingError::new(&registry::CALL_PARTICIPANT_LIMIT).with_context(format!(
                "{} participants in call {}, {} allowed",
                present, call.id, self.config.max_participants
            ))
        })
    }

    /// `joinCall`: joins a call in progress by id. A room's call is joined as its room.
    pub(super) fn join_call(
        &mut self,
        endpoint: &EndpointKey,
        identity: IdentityId,
        request_id: u64,
        call_id: &CallId,
        video: bool,
    ) {
        let Some(call) = self.calls.get(call_id) else {
            return self.unknown_call(endpoint, Some(request_id), call_id);
        };
        if let Some(room) = call.room.clone() {
            return self.join_room(endpoint, identity, request_id, room, video);
        }
        // Refused exactly as a call that does not exist, so the id tells an outsider nothing.
        if !call.admits(&identity) {
            return self.unknown_call(endpoint, Some(request_id), call_id);
        }
        if let Some(error) = self.join_refusal(call, endpoint) {
            return self.send_error(endpoint, Some(request_id), error);
        }
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        self.add_joiner(&mut call, endpoint, identity, request_id, None, video);
        self.put_call(call);
    }

    /// Why `endpoint` may not join `call` now, if it may not.
    fn join_refusal(&self, call: &Call, endpoint: &EndpointKey) -> Option<CallingError> {
        if call.joined_on(endpoint).is_some() {
            return Some(
                CallingError::new(&registry::CALL_OPERATION_INVALID_STATE)
                    .with_context(format!("this endpoint is already in call {}", call.id)),
            );
        }
        self.limit_error(call)
    }

    /// `joinRoom`: checks the identity's kind, the roster and the validity window, then joins the
    /// room's call, starting it when nobody is in it.
    pub(super) fn join_room(
        &mut self,
        endpoint: &EndpointKey,
        identity: IdentityId,
        request_id: u64,
        room_id: String,
        video: bool,
    ) {
        let refusal = |entry, context: String| CallingError::new(entry).with_context(context);
        let now = self.now();
        let role = match self.rooms.get(&room_id) {
            None => Err(refusal(
                &registry::ROOM_NOT_FOUND,
                format!("room {room_id}"),
            )),
            // A federated user got here only if its issuer allows rooms (checked by the server).
            Some(_) if IdentityKind::of(&identity) == IdentityKind::PhoneNumber => Err(refusal(
                &registry::ROOM_USER_KIND_NOT_ALLOWED,
                format!("{identity} is a phone number, not a user"),
            )),
            Some(room) => match room.roster.get(&identity) {
                None => Err(refusal(
                    &registry::ROOM_NOT_INVITED,
                    format!("{identity} is not on the roster of room {room_id}"),
                )),
                Some(_) if now < room.valid_from || now > room.valid_until => Err(refusal(
                    &registry::ROOM_OUTSIDE_VALIDITY,
                    format!("room {room_id} is not open now"),
                )),
                Some(role) => Ok(*role),
            },
        };
        let role = match role {
            Ok(role) => role,
            Err(error) => return self.send_error(endpoint, Some(request_id), error),
        };
        let claim = MediaClaim {
            audio: false,
            video,
            screen_share: false,
        };
        if let Err(error) = Self::check_claim(role, &claim) {
            return self.send_error(endpoint, Some(request_id), error);
        }
        let existing = self.room_calls.get(&room_id).cloned();
        let mut call = match existing.and_then(|id| self.calls.remove(&id)) {
            Some(call) => {
                if let Some(error) = self.join_refusal(&call, endpoint) {
                    self.calls.insert(call.id.clone(), call);
                    return self.send_error(endpoint, Some(request_id), error);
                }
                call
            }
            None => {
                let call_id = self.ids.call_id();
                self.room_calls.insert(room_id.clone(), call_id.clone());
                let participant = self.ids.participant_id();
                let at = self.now();
                self.out.record(RecordEvent::CallCreated {
                    call: call_id.clone(),
                    caller: identity.clone(),
                    caller_participant: participant.clone(),
                    caller_endpoint: endpoint.endpoint.clone(),
                    targets: Vec::new(),
                    video,
                    at,
                });
                let mut call = Call {
                    id: call_id,
                    video,
                    participants: Vec::new(),
                    ever_connected: false,
                    last_departure: None,
                    room: Some(room_id.clone()),
                    joinable: false,
                    invited: Default::default(),
                    awaiting_joiners: false,
                };
                self.join_as(
                    &mut call,
                    endpoint,
                    identity,
                    request_id,
                    Some(role),
                    participant,
                );
                return self.put_call(call);
            }
        };
        self.add_joiner(&mut call, endpoint, identity, request_id, Some(role), video);
        self.put_call(call);
    }

    fn add_joiner(
        &mut self,
        call: &mut Call,
        endpoint: &EndpointKey,
        identity: IdentityId,
        request_id: u64,
        role: Option<RoomRole>,
        video: bool,
    ) {
        let participant = self.ids.participant_id();
        call.awaiting_joiners = false;
        let media = if video { "video" } else { "audio" };
        self.timeline(
            &call.id,
            TimelineKind::Joined,
            format!("{identity} on {endpoint} ({media})"),
        );
        self.join_as(call, endpoint, identity, request_id, role, participant);
    }

    /// Adds `identity` on `endpoint` to `call` as a joined participant that sets up its media.
    fn join_as(
        &mut self,
        call: &mut Call,
        endpoint: &EndpointKey,
        identity: IdentityId,
        request_id: u64,
        role: Option<RoomRole>,
        participant_id: ParticipantId,
    ) {
        let mut leg = Leg::new(endpoint.clone());
        leg.shown = CallState::Connecting;
        let mut participant =
            Participant::new(participant_id.clone(), identity.clone(), Phase::Joined(leg));
        participant.role = role;
        call.participants.push(participant);
        if let Some(known) = self.directory.endpoints.get_mut(endpoint) {
            known.legs.insert(call.id.clone(), participant_id.clone());
        }
        self.send(
            endpoint,
            ServerFrame::CallJoined {
                request_id,
                call_id: call.id.clone(),
                participant_id: participant_id.clone(),
            },
        );
        self.send(
            endpoint,
            ServerFrame::CallState {
                call_id: call.id.clone(),
                state: CallState::Connecting,
            },
        );
        self.announce_media_server(call);
        let index = call.participants.len() - 1;
        for other in 0..index {
            if !matches!(call.participants[other].phase, Phase::Gone(_)) {
                let participant = call.info(other);
                self.send(
                    endpoint,
                    ServerFrame::ParticipantUpdated {
                        call_id: call.id.clone(),
                        participant,
                    },
                );
            }
        }
        let at = self.now();
        self.out.record(RecordEvent::LegJoined {
            call: call.id.clone(),
            participant: participant_id.clone(),
            endpoint: endpoint.endpoint.clone(),
            identity,
            at,
        });
        self.arm(
            TimerKey::Establishment(call.id.clone(), participant_id),
            self.config.establishment_timeout,
        );
    }

    /// Rings `identity` into `call` as a new target, with every outcome of a call started to it
    /// (checked first with [`Controller::check_ring_into`]).
    fn ring_into(&mut self, call: &mut Call, identity: IdentityId) {
        call.invited.insert(identity.clone());
        call.participants.push(Participant::new(
            self.ids.participant_id(),
            identity.clone(),
            Phase::Alerting(Alerting::default()),
        ));
        self.timeline(&call.id, TimelineKind::Added, identity.to_string());
        // A one-to-one call that gains a third participant moves to the media server now, while
        // the new one rings, so its media is there when it answers.
        self.announce_media_server(call);
        // The added target rings for a full ringing period (the call's timer restarts).
        self.arm(
            TimerKey::Ringing(call.id.clone()),
            self.config.ringing_timeout,
        );
        self.sync(call);
        let index = call.participants.len() - 1;
        self.alert_target(call, index);
    }

    /// `addParticipant` from a participant of the call.
    pub(super) fn add_participant(
        &mut self,
        endpoint: &EndpointKey,
        request_id: u64,
        call_id: &CallId,
        identity: IdentityId,
    ) {
        let Some((mut call, _)) = self.take_joined(endpoint, Some(request_id), call_id) else {
            return;
        };
        // The answer goes first, so that a target that cannot be reached arrives after it.
        let refusal = self.check_ring_into(&call, &identity);
        match refusal {
            Some(error) => self.send_error(endpoint, Some(request_id), error),
            None => {
                self.send(endpoint, ServerFrame::Ack { request_id });
                self.ring_into(&mut call, identity);
            }
        }
        self.put_call(call);
    }

    fn check_ring_into(&self, call: &Call, identity: &IdentityId) -> Option<CallingError> {
        if call.room.is_some()
            || call
                .participants
                .iter()
                .any(|p| &p.identity == identity && !matches!(p.phase, Phase::Gone(_)))
        {
            return Some(
                CallingError::new(&registry::CALL_OPERATION_INVALID_STATE).with_context(
                    if call.room.is_some() {
                        "a room's call is joined, not rung: add the identity to the room's roster"
                            .to_owned()
                    } else {
                        format!("{identity} is already in call {}", call.id)
                    },
                ),
            );
        }
        self.limit_error(call)
    }

    /// Removes participant `target` from `call` with `reason` (it sees that reason; the others see
    /// it leave with the same).
    fn remove_from(
        &mut self,
        call: &mut Call,
        target: &ParticipantId,
        reason: CallEndReason,
        by: &str,
    ) -> Result<(), CallingError> {
        let Some(index) = call
            .index_of(target)
            .filter(|&i| !matches!(call.participants[i].phase, Phase::Gone(_)))
        else {
            return Err(CallingError::new(&registry::PARTICIPANT_NOT_FOUND)
                .with_context(format!("participant {target} in call {}", call.id)));
        };
        let identity = call.participants[index].identity.clone();
        // A removed identity may not come back by the call's id unless it is added again.
        call.invited.remove(&identity);
        self.timeline(
            &call.id,
            TimelineKind::Removed,
            format!("{identity} by {by}"),
        );
        if call.leg(index).is_some() {
            self.depart(call, index, reason, Some(format!("removed by {by}")), true);
        } else {
            self.stop_all_rings(call, index, reason);
            self.resolve_target(call, index, reason, None);
        }
        Ok(())
    }

    /// `removeParticipant` from a participant of the call: the removed one sees 0/5000. In a room,
    /// only a Presenter may.
    pub(super) fn remove_participant(
        &mut self,
        endpoint: &EndpointKey,
        request_id: u64,
        call_id: &CallId,
        target: &ParticipantId,
    ) {
        let Some((mut call, index)) = self.take_joined(endpoint, Some(request_id), call_id) else {
            return;
        };
        let remover = &call.participants[index];
        let refusal = if remover
            .role
            .is_some_and(|role| !role.may_remove_participants())
        {
            Some(
                CallingError::new(&registry::ROOM_ROLE_CANNOT_REMOVE_PARTICIPANTS)
                    .with_context(format!("{} is {:?}", remover.identity, remover.role)),
            )
        } else if &remover.id == target {
            Some(
                CallingError::new(&registry::INVALID_ARGUMENT)
                    .with_context("removeParticipant.participantId: to leave, hang up"),
            )
        } else {
            None
        };
        if let Some(error) = refusal {
            self.send_error(endpoint, Some(request_id), error);
            return self.put_call(call);
        }
        let remover = &call.participants[index];
        let by = remover.identity.to_string();
        self.ender = Some(EndedBy::participant(
            remover.id.clone(),
            remover.identity.clone(),
        ));
        let reason = CallEndReason::of(&registry::REMOVED_BY_PARTICIPANT);
        match self.remove_from(&mut call, target, reason, &by) {
            Ok(()) => self.send(endpoint, ServerFrame::Ack { request_id }),
            Err(error) => self.send_error(endpoint, Some(request_id), error),
        }
        self.put_call(call);
    }

    fn check_claim(role: RoomRole, claim: &MediaClaim) -> Result<(), CallingError> {
        if (claim.audio || claim.video) && !role.may_send_media() {
            return Err(CallingError::new(&registry::ROOM_ROLE_CANNOT_SEND_MEDIA)
                .with_context(format!("role {role:?}")));
        }
        if claim.screen_share && !role.may_share_screen() {
            return Err(CallingError::new(&registry::ROOM_ROLE_CANNOT_SCREEN_SHARE)
                .with_context(format!("role {role:?}")));
        }
        Ok(())
    }

    /// `mediaState`: a participant declares what it is about to send; its room role decides.
    pub(super) fn media_state(
        &mut self,
        endpoint: &EndpointKey,
        request_id: u64,
        call_id: &CallId,
        claim: MediaClaim,
    ) {
        let Some((mut call, index)) = self.take_joined(endpoint, Some(request_id), call_id) else {
            return;
        };
        let verdict = match call.participants[index].role {
            Some(role) => Self::check_claim(role, &claim),
            None => Ok(()),
        };
        match verdict {
            Ok(()) => {
                if let Some(leg) = call.leg_mut(index) {
                    leg.video = Some(claim.video);
                    leg.screen_share = claim.screen_share;
                }
                self.set_audio_muted(&mut call, index, !claim.audio);
                self.send(endpoint, ServerFrame::Ack { request_id })
            }
            Err(error) => self.send_error(endpoint, Some(request_id), error),
        }
        self.put_call(call);
    }

    /// Whether participant `index` may end `call` for everyone, or why not.
    pub(super) fn end_for_everyone_refusal(call: &Call, index: usize) -> Option<CallingError> {
        if call.room.is_some() {
            return Some(
                CallingError::new(&registry::ROOM_END_FOR_EVERYONE_REFUSED)
                    .with_context(format!("call {} is a room's call", call.id)),
            );
        }
        (!call.participants[index].organizer).then(|| {
            CallingError::new(&registry::END_FOR_EVERYONE_NOT_ALLOWED).with_context(format!(
                "{} is not the organizer of call {}",
                call.participants[index].identity, call.id
            ))
        })
    }

    /// A room was created or changed: participants of its call whose role changed, or who left
    /// the roster, are removed with 0/5317.
    pub(super) fn room_upserted(&mut self, room: RoomSpec) {
        let room_id = room.id.clone();
        let roster = room.roster.clone();
        self.rooms.insert(room_id.clone(), room);
        let Some(mut call) = self
            .room_calls
            .get(&room_id)
            .cloned()
            .and_then(|id| self.calls.remove(&id))
        else {
            return;
        };
        let reason = CallEndReason::of(&registry::REMOVED_ROLE_CHANGED);
        for index in 0..call.participants.len() {
            let participant = &call.participants[index];
            let changed = call.leg(index).is_some()
                && participant.role != roster.get(&participant.identity).copied();
            if changed {
                let cause = match roster.get(&participant.identity) {
                    Some(role) => format!("role changed to {role:?}"),
                    None => "removed from the room's roster".to_owned(),
                };
                self.depart(&mut call, index, reason, Some(cause), true);
            }
        }
        self.put_call(call);
    }

    /// A room was deleted: everyone in its call leaves with 0/5317.
    pub(super) fn room_deleted(&mut self, room_id: &str) {
        self.rooms.remove(room_id);
        if let Some(call) = self
            .room_calls
            .get(room_id)
            .cloned()
            .and_then(|id| self.calls.remove(&id))
        {
            self.end_call(
                call,
                Ending::Server(CallEndReason::of(&registry::REMOVED_ROLE_CHANGED)),
            );
        }
    }

    /// Carries out a call-control command of the application's backend.
    pub(super) fn control_command(&mut self, command: Control) -> Result<(), CallingError> {
        let call_id = command.call().clone();
        let Some(mut call) = self.calls.remove(&call_id) else {
            return Err(CallingError::new(&registry::CALL_OPERATION_UNKNOWN_CALL)
                .with_context(format!("call {call_id}")));
        };
        let result = match command {
            Control::HangUpAll { .. } => {
                self.end_call(
                    call,
                    Ending::Server(CallEndReason::of(&registry::ENDED_BY_SERVER)),
                );
                return Ok(());
            }
            Control::AddParticipant { identity, .. } => {
                match self.check_ring_into(&call, &identity) {
                    Some(error) => Err(error),
                    None => {
                        self.ring_into(&mut call, identity);
                        Ok(())
                    }
                }
            }
            Control::RemoveParticipant { participant, .. } => {
                let reason = CallEndReason::of(&registry::REMOVED_BY_SERVER);
                self.remove_from(&mut call, &participant, reason, "the call-control API")
            }
            Control::GrantEndForEveryone { participant, .. } => {
                let index = call
                    .index_of(&participant)
                    .filter(|&i| !matches!(call.participants[i].phase, Phase::Gone(_)));
                match index {
                    Some(_) if call.room.is_some() => {
                        Err(CallingError::new(&registry::ROOM_END_FOR_EVERYONE_REFUSED)
                            .with_context(format!("call {call_id} is a room's call")))
                    }
                    Some(index) => {
                        call.participants[index].organizer = true;
                        Ok(())
                    }
                    None => Err(CallingError::new(&registry::PARTICIPANT_NOT_FOUND)
                        .with_context(format!("participant {participant} in call {call_id}"))),
                }
            }
            Control::Mute { participant, .. } => {
                let index = call.index_of(&participant);
                let endpoint = index
                    .and_then(|i| call.leg(i))
                    .map(|leg| leg.endpoint.clone());
                match (endpoint, index) {
                    (Some(endpoint), Some(index)) => {
                        // Enforced, not only asked of the SDK: a client that goes on sending is
                        // not heard through the media server.
                        self.set_audio_muted(&mut call, index, true);
                        self.send(
                            &endpoint,
                            ServerFrame::Muted {
                                call_id: call_id.clone(),
                            },
                        );
                        self.timeline(&call_id, TimelineKind::Muted, participant.to_string());
                        Ok(())
                    }
                    _ => Err(CallingError::new(&registry::PARTICIPANT_NOT_FOUND)
                        .with_context(format!("participant {participant} in call {call_id}"))),
                }
            }
        };
        self.put_call(call);
        result
    }

    pub(super) fn snapshot(call: &Call) -> CallSnapshot {
        CallSnapshot {
            id: call.id.clone(),
            room: call.room.clone(),
            video: call.video,
            participants: (0..call.participants.len())
                .filter(|&i| !matches!(call.participants[i].phase, Phase::Gone(_)))
                .map(|i| {
                    let p = &call.participants[i];
                    ParticipantSnapshot {
                        id: p.id.clone(),
                        identity: p.identity.clone(),
                        state: match call.remote_state(i) {
                            ParticipantState::Idle => ParticipantState::Connecting,
                            state => state,
                        },
                        organizer: p.organizer,
                        role: p.role,
                    }
                })
                .collect(),
        }
    }
}
