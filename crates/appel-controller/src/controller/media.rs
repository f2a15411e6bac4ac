//! Media through the media server: who may connect, and what its reports do to the calls.
//!
//! The controller never sees a packet. It admits `mediaOffer` (a participant joined to a group
//! call or a room's call), hands the SDP to the shell's media server, relays what the media server
//! answers or offers, and removes a participant the media server gave up on: 410/301004 when its
//! connection never came up, 410/301005 when it was lost. The others see it leave with the same
//! reason, as for any departure.

use appel_codes::{registry, CallEndReason, CallingError};
use appel_protocol::{CallId, ParticipantId, ServerFrame};

use super::Controller;
use crate::action::Action;
use crate::call::Call;
use crate::endpoint::EndpointKey;
use crate::input::MediaReport;

impl Controller {
    /// A one-to-one call stays peer to peer; a room's call, a joinable call and a call with more
    /// than two participants go through the media server.
    fn uses_media_server(call: &Call) -> bool {
        call.room.is_some() || call.joinable || call.participants.len() > 2
    }

    /// Tells every joined leg not yet told that the call's media goes through the media server
    /// (`mediaServer`). Called whenever a leg joins and whenever a participant is added, so a
    /// one-to-one call that gains a third participant moves its two legs there without ending.
    /// Once a group call, always one: `participants` keeps those who left.
    pub(super) fn announce_media_server(&mut self, call: &mut Call) {
        if !self.config.media_server || !Self::uses_media_server(call) {
            return;
        }
        let call_id = call.id.clone();
        for index in 0..call.participants.len() {
            let Some(leg) = call.leg_mut(index) else {
                continue;
            };
            if leg.told_media_server {
                continue;
            }
            leg.told_media_server = true;
            let endpoint = leg.endpoint.clone();
            self.send(
                &endpoint,
                ServerFrame::MediaServer {
                    call_id: call_id.clone(),
                },
            );
        }
    }

    /// `mediaOffer`: only a participant joined to the call on this endpoint may connect, once.
    pub(super) fn media_offer(
        &mut self,
        endpoint: &EndpointKey,
        request_id: u64,
        call_id: &CallId,
        sdp: String,
    ) {
        let Some((mut call, index)) = self.take_joined(endpoint, Some(request_id), call_id) else {
            return;
        };
        let refusal = if !self.config.media_server {
            Some(CallingError::new(&registry::MEDIA_SERVER_DISABLED))
        } else if !Self::uses_media_server(&call) {
            Some(
                CallingError::new(&registry::MEDIA_SERVER_NOT_FOR_THIS_CALL)
                    .with_context(format!("call {call_id} is one-to-one")),
            )
        } else if call.leg(index).is_some_and(|leg| leg.media_server) {
            Some(
                CallingError::new(&registry::MEDIA_ALREADY_CONNECTED)
                    .with_context(format!("call {call_id}")),
            )
        } else {
            None
        };
        if let Some(error) = refusal {
            self.send_error(endpoint, Some(request_id), error);
            return self.put_call(call);
        }
        let participant = &call.participants[index];
        let publish = participant.role.is_none_or(|role| role.may_send_media());
        let participant_id = participant.id.clone();
        let mut audio_muted = false;
        if let Some(leg) = call.leg_mut(index) {
            leg.media_server = true;
            audio_muted = leg.audio_muted;
        }
        self.out.push(Action::MediaJoin {
            call: call_id.clone(),
            participant: participant_id,
            request_id,
            sdp,
            publish,
            audio_muted,
        });
        self.put_call(call);
    }

    /// `mediaRestart`: the participant's connection came up, then went down on its side; the
    /// media server drops it and takes the fresh offer in its place (the others' tracks come
    /// again in new server offers). Its leg goes on meanwhile: the media server's setup timer
    /// runs for the new connection as for a first one.
    pub(super) fn media_restart(
        &mut self,
        endpoint: &EndpointKey,
        request_id: u64,
        call_id: &CallId,
        sdp: String,
    ) {
        let Some((mut call, index)) = self.take_joined(endpoint, Some(request_id), call_id) else {
            return;
        };
        let up = call
            .leg(index)
            .is_some_and(|leg| leg.media_server && leg.media_up);
        if !self.config.media_server || !Self::uses_media_server(&call) || !up {
            let error = if !self.config.media_server {
                CallingError::new(&registry::MEDIA_SERVER_DISABLED)
            } else if !Self::uses_media_server(&call) {
                CallingError::new(&registry::MEDIA_SERVER_NOT_FOR_THIS_CALL)
                    .with_context(format!("call {call_id} is one-to-one"))
            } else {
                CallingError::new(&registry::MEDIA_RESTART_NOT_CONNECTED)
                    .with_context(format!("call {call_id}"))
            };
            self.send_error(endpoint, Some(request_id), error);
            return self.put_call(call);
        }
        let participant = &call.participants[index];
        let publish = participant.role.is_none_or(|role| role.may_send_media());
        let participant_id = participant.id.clone();
        let mut audio_muted = false;
        if let Some(leg) = call.leg_mut(index) {
            leg.media_up = false;
            audio_muted = leg.audio_muted;
        }
        self.out.push(Action::MediaLeave {
            call: call_id.clone(),
            participant: participant_id.clone(),
        });
        self.out.push(Action::MediaJoin {
            call: call_id.clone(),
            participant: participant_id,
            request_id,
            sdp,
            publish,
            audio_muted,
        });
        self.put_call(call);
    }

    /// Records whether participant `index`'s audio is to be held back, and tells the media server
    /// when it has a peer connection for it.
    pub(super) fn set_audio_muted(&mut self, call: &mut Call, index: usize, muted: bool) {
        let participant = call.participants[index].id.clone();
        let Some(leg) = call.leg_mut(index) else {
            return;
        };
        leg.audio_muted = muted;
        if leg.media_server {
            self.out.push(Action::MediaMute {
                call: call.id.clone(),
                participant,
                muted,
            });
        }
    }

    /// `mediaAnswer`: the answer to the media server's last offer to this participant.
    pub(super) fn media_answer(&mut self, endpoint: &EndpointKey, call_id: &CallId, sdp: String) {
        let Some((call, index)) = self.take_joined(endpoint, None, call_id) else {
            return;
        };
        if call.leg(index).is_some_and(|leg| leg.media_server) {
            self.out.push(Action::MediaAnswer {
                call: call_id.clone(),
                participant: call.participants[index].id.clone(),
                sdp,
            });
        } else {
            self.send_error(
                endpoint,
                None,
                CallingError::new(&registry::MEDIA_SDP_REFUSED)
                    .with_context("mediaAnswer without a media connection (send mediaOffer first)"),
            );
        }
        self.put_call(call);
    }

    /// `mediaView`: the size this participant renders another's video at. Only the media
    /// server knows which videos it receives, so it answers (through [`MediaReport::Viewed`]);
    /// without a media connection there is nothing to serve: 500/43204.
    pub(super) fn media_view(
        &mut self,
        endpoint: &EndpointKey,
        request_id: u64,
        call_id: &CallId,
        publisher: ParticipantId,
        width: u32,
        height: u32,
    ) {
        let Some((call, index)) = self.take_joined(endpoint, Some(request_id), call_id) else {
            return;
        };
        if call.leg(index).is_some_and(|leg| leg.media_server) {
            self.out.push(Action::MediaView {
                call: call_id.clone(),
                participant: call.participants[index].id.clone(),
                request_id,
                publisher,
                width,
                height,
            });
        } else {
            self.send_error(
                endpoint,
                Some(request_id),
                CallingError::new(&registry::VIDEO_SUBSCRIPTION_FAILED)
                    .with_context(format!("call {call_id}"))
                    .with_raw_cause(
                        "no media connection to the media server (send mediaOffer first)",
                    ),
            );
        }
        self.put_call(call);
    }

    /// A report of the media server about `participant` of `call_id`. One about a participant
    /// that left meanwhile is dropped: its departure already told the media server. The answer
    /// to a `mediaView` is the exception: each request is answered once, even when its media
    /// connection went meanwhile.
    pub(super) fn media_report(
        &mut self,
        call_id: &CallId,
        participant: &ParticipantId,
        report: MediaReport,
    ) {
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        if let MediaReport::Viewed { request_id, error } = report {
            let endpoint = call
                .index_of(participant)
                .and_then(|i| call.leg(i))
                .map(|leg| leg.endpoint.clone());
            if let Some(endpoint) = endpoint {
                match error {
                    None => self.send(&endpoint, ServerFrame::Ack { request_id }),
                    Some(error) => self.send_error(&endpoint, Some(request_id), error),
                }
            }
            return self.put_call(call);
        }
        let Some(index) = call
            .index_of(participant)
            .filter(|&i| call.leg(i).is_some_and(|leg| leg.media_server))
        else {
            return self.put_call(call);
        };
        let endpoint = call.leg(index).map(|leg| leg.endpoint.clone());
        let Some(endpoint) = endpoint else {
            return self.put_call(call);
        };
        match report {
            MediaReport::Answered { request_id, sdp } => self.send(
                &endpoint,
                ServerFrame::MediaAnswer {
                    request_id,
                    call_id: call_id.clone(),
                    sdp,
                },
            ),
            MediaReport::Refused { request_id, error } => {
                // Nothing is left in the media server: a corrected offer may follow.
                if let Some(leg) = call.leg_mut(index) {
                    leg.media_server = false;
                }
                self.send_error(&endpoint, Some(request_id), error);
            }
            MediaReport::AnswerRefused { error, closed } => {
                if closed {
                    if let Some(leg) = call.leg_mut(index) {
                        leg.media_server = false;
                    }
                }
                self.send_error(&endpoint, None, error);
            }
            MediaReport::Offer { sdp } => self.send(
                &endpoint,
                ServerFrame::MediaOffer {
                    call_id: call_id.clone(),
                    sdp,
                },
            ),
            // Answered above.
            MediaReport::Viewed { .. } => {}
            MediaReport::Connected => {
                if let Some(leg) = call.leg_mut(index) {
                    leg.media_up = true;
                }
                // Its media flows: the same as its own `mediaReady` (the establishment timer
                // stops), and the media server is the better witness.
                self.put_call(call);
                return self.media_ready(&endpoint, call_id);
            }
            MediaReport::SetupFailed | MediaReport::Lost => {
                let (entry, cause) = if report == MediaReport::SetupFailed {
                    (
                        &registry::MEDIA_SERVER_UNREACHED_DURING_SETUP,
                        "media server: ICE and DTLS did not complete in time",
                    )
                } else {
                    (
                        &registry::MEDIA_SERVER_CONNECTION_LOST,
                        "media server: nothing received for longer than the loss timer",
                    )
                };
                // The media server already forgot it.
                if let Some(leg) = call.leg_mut(index) {
                    leg.media_server = false;
                }
                self.depart(
                    &mut call,
                    index,
                    CallEndReason::of(entry),
                    Some(cause.into()),
                    true,
                );
            }
        }
        self.put_call(call);
    }
}
