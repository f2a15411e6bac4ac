//! How a call moves: reaching targets, joining and leaving, keeping every endpoint's view in step,
//! and ending.

use std::mem;

use appel_codes::{registry, CallEndReason};
use appel_protocol::{ParticipantState, ServerFrame};

use super::Controller;
use crate::action::Action;
use crate::call::{Call, Phase};
use crate::endpoint::EndpointKey;
use crate::records::{RecordEvent, TimelineKind};
use crate::ringing::{caller_outcome, remaining_party_reason, Ring};
use crate::timers::TimerKey;

/// How a call ends.
#[derive(Clone, Copy, Debug)]
pub(super) enum Ending {
    /// Fewer than two parties are left (see [`Controller::should_end`]).
    Natural,
    /// A participant hung up for everyone: the others see 0/4097.
    ForEveryone,
    /// The server ended it: every party sees this reason.
    Server(CallEndReason),
}

impl Controller {
    /// Updates every endpoint's view of `call`, then keeps it or ends it.
    pub(super) fn put_call(&mut self, mut call: Call) {
        self.sync(&mut call);
        if self.should_end(&call) {
            self.end_call(call, Ending::Natural);
        } else {
            self.calls.insert(call.id.clone(), call);
        }
    }

    /// A call goes on while two parties are in it, or while its caller waits for targets.
    fn should_end(&self, call: &Call) -> bool {
        if call.room.is_some() {
            return call.joined_count() == 0 && call.alerting_count() == 0;
        }
        match call.joined_count() {
            0 => true,
            1 => !(call.caller_joined() && (call.alerting_count() > 0 || call.awaiting_joiners)),
            _ => false,
        }
    }

    /// Reaches target `index` when the call starts: rings its connected endpoints, or pushes to it,
    /// or ends it at once (480/10037 unknown, 480/10076 offline with no push registration).
    pub(super) fn alert_target(&mut self, call: &mut Call, index: usize) {
        let identity = call.participants[index].identity.clone();
        let online = self.directory.online_endpoints(&identity);
        if !online.is_empty() {
            self.directory.add_pending(&identity, &call.id);
            for endpoint in online {
                self.deliver(call, index, &endpoint);
            }
            return;
        }
        let known = self.directory.identities.get(&identity);
        let registered = known.is_some_and(|k| k.ever_registered);
        let push_url = known.and_then(|k| k.push_url.clone());
        match (registered, push_url) {
            (false, _) => self.resolve_target(
                call,
                index,
                CallEndReason::of(&registry::TARGET_NEVER_REGISTERED),
                None,
            ),
            (true, Some(url)) => {
                self.directory.add_pending(&identity, &call.id);
                if let Some(alerting) = call.alerting_mut(index) {
                    alerting.awaiting_push = true;
                }
                let participant = call.participants[index].id.clone();
                self.arm(
                    TimerKey::PushWait(call.id.clone(), participant),
                    self.config.push_wait,
                );
                self.out.push(Action::Push {
                    identity: identity.clone(),
                    url,
                    call: call.id.clone(),
                    from: call.participants[0].identity.clone(),
                });
                self.timeline(&call.id, TimelineKind::PushSent, identity.to_string());
            }
            (true, None) => self.resolve_target(
                call,
                index,
                CallEndReason::of(&registry::TARGET_OFFLINE),
                Some("no endpoint connected and no push registration".into()),
            ),
        }
    }

    /// Sends the incoming call to one endpoint of target `index` and waits for its acknowledgement.
    pub(super) fn deliver(&mut self, call: &mut Call, index: usize, endpoint: &EndpointKey) {
        let Some(alerting) = call.alerting_mut(index) else {
            return;
        };
        if alerting.rings.contains_key(endpoint) {
            return;
        }
        alerting.rings.insert(endpoint.clone(), Ring::Delivered);
        let was_awaiting_push = mem::replace(&mut alerting.awaiting_push, false);
        let target = &call.participants[index];
        let target_id = target.id.clone();
        let detail = format!("{} on {endpoint}", target.identity);
        if was_awaiting_push {
            self.timers
                .cancel(&TimerKey::PushWait(call.id.clone(), target_id.clone()));
        }
        if let Some(known) = self.directory.endpoints.get_mut(endpoint) {
            known.ringing.insert(call.id.clone());
        }
        let caller = &call.participants[0];
        let frame = ServerFrame::IncomingCall {
            call_id: call.id.clone(),
            from: caller.identity.clone(),
            from_participant_id: caller.id.clone(),
            participant_id: target_id,
            video: call.video,
        };
        self.send(endpoint, frame);
        self.arm(
            TimerKey::DeliveryAck(call.id.clone(), endpoint.clone()),
            self.config.delivery_ack_timeout,
        );
        self.timeline(&call.id, TimelineKind::Delivered, detail);
    }

    /// Stops `endpoint` ringing for `call` (already removed from the target's rings) and tells it
    /// why, when a reason is given.
    pub(super) fn stop_ring(
        &mut self,
        call: &Call,
        endpoint: &EndpointKey,
        tell: Option<(CallEndReason, Option<String>)>,
    ) {
        self.timers
            .cancel(&TimerKey::DeliveryAck(call.id.clone(), endpoint.clone()));
        if let Some(known) = self.directory.endpoints.get_mut(endpoint) {
            known.remember_stopped(&call.id);
        }
        if let Some((reason, raw_cause)) = &tell {
            self.ring_ended(call, endpoint, *reason, raw_cause.clone());
        }
        if let Some((reason, raw_cause)) = tell {
            self.send(
                endpoint,
                ServerFrame::CallEnded {
                    call_id: call.id.clone(),
                    reason,
                    raw_cause,
                    ended_by: Some(self.ended_by()),
                },
            );
        }
    }

    /// Records that `endpoint` stopped ringing for `call` with `reason`, as a leg of its own.
    pub(super) fn ring_ended(
        &mut self,
        call: &Call,
        endpoint: &EndpointKey,
        reason: CallEndReason,
        raw_cause: Option<String>,
    ) {
        let Some(participant) = call
            .participants
            .iter()
            .find(|p| p.identity == endpoint.identity)
            .map(|p| p.id.clone())
        else {
            return;
        };
        let at = self.now();
        self.out.record(RecordEvent::RingEnded {
            call: call.id.clone(),
            participant,
            endpoint: endpoint.endpoint.clone(),
            identity: endpoint.identity.clone(),
            at,
            reason,
            raw_cause,
        });
    }

    /// Stops every endpoint of target `index` ringing, telling each `reason`.
    pub(super) fn stop_all_rings(&mut self, call: &mut Call, index: usize, reason: CallEndReason) {
        let Some(alerting) = call.alerting_mut(index) else {
            return;
        };
        let mut rings: Vec<EndpointKey> = alerting.rings.drain().map(|(e, _)| e).collect();
        rings.sort();
        for endpoint in rings {
            self.stop_ring(call, &endpoint, Some((reason, None)));
        }
    }

    /// Target `index` will not join: it ends with `reason`, which every joined participant is told.
    pub(super) fn resolve_target(
        &mut self,
        call: &mut Call,
        index: usize,
        reason: CallEndReason,
        raw_cause: Option<String>,
    ) {
        let participant = &mut call.participants[index];
        let Phase::Alerting(alerting) = mem::replace(&mut participant.phase, Phase::Gone(reason))
        else {
            return;
        };
        participant.shown_to_others = ParticipantState::Disconnected;
        let participant_id = participant.id.clone();
        let identity = participant.identity.clone();
        let mut silenced: Vec<EndpointKey> = alerting.rings.keys().cloned().collect();
        silenced.sort();
        for endpoint in &silenced {
            self.stop_ring(call, endpoint, None);
            // Told nothing (the target's end says it all), but each still ends with that reason.
            self.ring_ended(call, endpoint, reason, raw_cause.clone());
        }
        self.timers
            .cancel(&TimerKey::PushWait(call.id.clone(), participant_id.clone()));
        self.directory.remove_pending(&identity, &call.id);
        let detail = match &raw_cause {
            Some(raw) => format!("{identity}: {reason} ({raw})"),
            None => format!("{identity}: {reason}"),
        };
        self.timeline(&call.id, TimelineKind::TargetEnded, detail);
        let ended_by = self.ended_by();
        let at = self.now();
        self.out.record(RecordEvent::TargetEnded {
            call: call.id.clone(),
            participant: participant_id.clone(),
            identity: identity.clone(),
            at,
            reason,
            raw_cause,
            ended_by: ended_by.clone(),
        });
        for endpoint in call.joined_endpoints_except(None) {
            self.send(
                &endpoint,
                ServerFrame::ParticipantLeft {
                    call_id: call.id.clone(),
                    participant_id: participant_id.clone(),
                    identity: identity.clone(),
                    reason,
                    ended_by: Some(ended_by.clone()),
                },
            );
        }
    }

    /// Ends target `index` with the reason its exhausted endpoints give, once nothing is left to wait
    /// for.
    pub(super) fn resolve_if_exhausted(&mut self, call: &mut Call, index: usize) {
        let exhausted = match &call.participants[index].phase {
            Phase::Alerting(alerting) if alerting.is_exhausted() => {
                Some(alerting.exhausted_reason())
            }
            _ => None,
        };
        if let Some(entry) = exhausted {
            self.resolve_target(call, index, CallEndReason::of(entry), None);
        }
    }

    /// Joined participant `index` leaves with `reason`: its endpoint is told when `tell_self`, every
    /// other joined participant gets `participantLeft`, and the records get the leg's end.
    pub(super) fn depart(
        &mut self,
        call: &mut Call,
        index: usize,
        reason: CallEndReason,
        raw_cause: Option<String>,
        tell_self: bool,
    ) {
        self.finish_leg(call, index, reason, raw_cause, tell_self);
        call.last_departure = Some(reason);
        let participant = &call.participants[index];
        let frame = ServerFrame::ParticipantLeft {
            call_id: call.id.clone(),
            participant_id: participant.id.clone(),
            identity: participant.identity.clone(),
            reason,
            ended_by: Some(self.ended_by()),
        };
        for endpoint in call.joined_endpoints_except(Some(index)) {
            self.send(&endpoint, frame.clone());
        }
    }

    /// Ends participant `index`'s leg and records it, telling its endpoint when `tell_self`.
    fn finish_leg(
        &mut self,
        call: &mut Call,
        index: usize,
        reason: CallEndReason,
        raw_cause: Option<String>,
        tell_self: bool,
    ) {
        let participant = &mut call.participants[index];
        let Phase::Joined(leg) = mem::replace(&mut participant.phase, Phase::Gone(reason)) else {
            return;
        };
        participant.shown_to_others = ParticipantState::Disconnected;
        let participant_id = participant.id.clone();
        let identity = participant.identity.clone();
        self.timers.cancel(&TimerKey::Establishment(
            call.id.clone(),
            participant_id.clone(),
        ));
        if let Some(known) = self.directory.endpoints.get_mut(&leg.endpoint) {
            known.legs.remove(&call.id);
        }
        if leg.media_server {
            self.out.push(Action::MediaLeave {
                call: call.id.clone(),
                participant: participant_id.clone(),
            });
        }
        if tell_self {
            self.send(
                &leg.endpoint,
                ServerFrame::CallEnded {
                    call_id: call.id.clone(),
                    reason,
                    raw_cause: raw_cause.clone(),
                    ended_by: Some(self.ended_by()),
                },
            );
        }
        let at = self.now();
        self.out.record(RecordEvent::LegLeft {
            call: call.id.clone(),
            participant: participant_id,
            endpoint: leg.endpoint.endpoint,
            identity,
            at,
            reason,
            raw_cause,
            ended_by: self.ended_by(),
        });
    }

    /// Sends every state change since the last update: `participantUpdated` to the others for each
    /// participant whose visible state changed, and `callState` to each joined endpoint whose own
    /// state changed.
    pub(super) fn sync(&mut self, call: &mut Call) {
        for index in 0..call.participants.len() {
            if matches!(call.participants[index].phase, Phase::Gone(_)) {
                continue;
            }
            let state = call.remote_state(index);
            let media = call.media(index);
            let shown = &call.participants[index];
            if state == shown.shown_to_others && media == shown.media_shown_to_others {
                continue;
            }
            call.participants[index].shown_to_others = state;
            call.participants[index].media_shown_to_others = media;
            let participant = call.info(index);
            for endpoint in call.joined_endpoints_except(Some(index)) {
                self.send(
                    &endpoint,
                    ServerFrame::ParticipantUpdated {
                        call_id: call.id.clone(),
                        participant: participant.clone(),
                    },
                );
            }
        }
        let summary = call.summary();
        for index in 0..call.participants.len() {
            let state = call.own_state(index, &summary);
            let Some(leg) = call.leg_mut(index) else {
                continue;
            };
            if leg.shown == state {
                continue;
            }
            leg.shown = state;
            let endpoint = leg.endpoint.clone();
            self.send(
                &endpoint,
                ServerFrame::CallState {
                    call_id: call.id.clone(),
                    state,
                },
            );
        }
    }

    /// Ends the call: every joined party gets `callEnded`, every endpoint still ringing stops, every
    /// timer of the call is disarmed, and the records get the end.
    pub(super) fn end_call(&mut self, mut call: Call, ending: Ending) {
        let ring_reason = match ending {
            Ending::Server(reason) => reason,
            Ending::Natural | Ending::ForEveryone => {
                CallEndReason::of(&registry::CALL_CANCELLED_BY_CALLER)
            }
        };
        let mut summary_reason = None;
        // Legs first, so that no party is told about targets of a call that is over for it.
        for index in 0..call.participants.len() {
            if call.leg(index).is_none() {
                continue;
            }
            let reason = match ending {
                Ending::Server(reason) => reason,
                Ending::ForEveryone => CallEndReason::of(&registry::ENDED_FOR_EVERYONE),
                Ending::Natural if index == 0 && !call.ever_connected => {
                    caller_outcome(&call.target_reasons())
                }
                Ending::Natural => remaining_party_reason(call.last_departure),
            };
            self.finish_leg(&mut call, index, reason, None, true);
            summary_reason.get_or_insert(reason);
        }
        for index in 0..call.participants.len() {
            if call.alerting_mut(index).is_some() {
                self.stop_all_rings(&mut call, index, ring_reason);
                self.resolve_target(&mut call, index, ring_reason, None);
            }
        }
        self.timers.cancel(&TimerKey::Ringing(call.id.clone()));
        if let Some(room) = &call.room {
            self.room_calls.remove(room);
        }
        let reason = summary_reason
            .or(call.last_departure)
            .unwrap_or(CallEndReason::of(&registry::CALL_ENDED_LOCALLY));
        let at = self.now();
        let ended_by = self.ended_by();
        self.out.record(RecordEvent::CallEnded {
            call: call.id,
            at,
            reason,
            ended_by,
        });
    }
}
