//! One call: its participants, where each stands, and the states each endpoint is shown.

use std::collections::HashSet;

use appel_codes::CallEndReason;
use appel_protocol::{
    CallId, CallState, IdentityId, ParticipantId, ParticipantInfo, ParticipantMedia,
    ParticipantState,
};

use crate::endpoint::EndpointKey;
use crate::ringing::Alerting;
use crate::rooms::RoomRole;

/// Where a participant stands.
#[derive(Debug)]
pub(crate) enum Phase {
    /// A target that has not answered yet.
    Alerting(Alerting),
    /// In the call on one endpoint: the caller from the start, a callee once it accepted.
    Joined(Leg),
    /// Left, or never joined, with its reason.
    Gone(CallEndReason),
}

/// A participant's presence on one endpoint.
#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) endpoint: EndpointKey,
    /// Its media flows (a callee's `mediaReady`; the caller's once a callee is ready).
    pub(crate) media_ready: bool,
    pub(crate) held: bool,
    /// It asked for a media server connection (`mediaOffer`): the media server must forget it
    /// when the leg ends.
    pub(crate) media_server: bool,
    /// The media server reported its current connection up (ICE + DTLS): only such a
    /// connection may be replaced by `mediaRestart`, so a client cannot churn the others'
    /// negotiations faster than connections come up.
    pub(crate) media_up: bool,
    /// Its audio is not to be forwarded by the media server: its last `mediaState` had the
    /// microphone off, or the call-control API muted it since.
    pub(crate) audio_muted: bool,
    /// What its last `mediaState` declared of video (`None` before any: the call's own video
    /// flag stands for it, so a call that moves to the media server shows no false "no video"
    /// before the participants' first `mediaState`) and of screen share (false before any).
    pub(crate) video: Option<bool>,
    pub(crate) screen_share: bool,
    /// Its endpoint was told (`mediaServer`) that the call's media goes through the media server.
    pub(crate) told_media_server: bool,
    /// The call state last sent to its endpoint.
    pub(crate) shown: CallState,
}

impl Leg {
    pub(crate) fn new(endpoint: EndpointKey) -> Self {
        Leg {
            endpoint,
            media_ready: false,
            held: false,
            media_server: false,
            media_up: false,
            audio_muted: false,
            video: None,
            screen_share: false,
            told_media_server: false,
            shown: CallState::None,
        }
    }
}

/// One party of a call.
#[derive(Debug)]
pub(crate) struct Participant {
    pub(crate) id: ParticipantId,
    pub(crate) identity: IdentityId,
    pub(crate) phase: Phase,
    /// The state last sent to the other participants.
    pub(crate) shown_to_others: ParticipantState,
    /// The media last sent to the other participants (`participantUpdated.media`).
    pub(crate) media_shown_to_others: Option<ParticipantMedia>,
    /// It may end the call for everyone (the organizer: the caller).
    pub(crate) organizer: bool,
    /// Its role, in a room's call.
    pub(crate) role: Option<RoomRole>,
}

impl Participant {
    /// A participant that is neither organizer nor in a room.
    pub(crate) fn new(id: ParticipantId, identity: IdentityId, phase: Phase) -> Self {
        Participant {
            id,
            identity,
            phase,
            shown_to_others: ParticipantState::Idle,
            media_shown_to_others: None,
            organizer: false,
            role: None,
        }
    }
}

/// Counts taken once per update, so that every participant's state is found in O(1).
pub(crate) struct Summary {
    connected: usize,
    connected_held: usize,
    /// A target rings, or a callee answered and sets up its media: the caller hears ringing.
    answer_pending: bool,
}

/// One call. `participants[0]` is the caller; the others are the targets, in the order called.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) id: CallId,
    pub(crate) video: bool,
    pub(crate) participants: Vec<Participant>,
    /// A callee's media was ready at least once.
    pub(crate) ever_connected: bool,
    /// The reason the most recent participant to leave left with.
    pub(crate) last_departure: Option<CallEndReason>,
    /// The room whose call this is; such a call goes on while anyone is in it.
    pub(crate) room: Option<String>,
    /// Anyone who presents the call's id may join it (a group call started as joinable).
    pub(crate) joinable: bool,
    /// The identities admitted to `joinCall` a call that is not joinable: its caller, its targets
    /// and the identities added since (any endpoint of theirs). Removal withdraws the admission.
    pub(crate) invited: HashSet<IdentityId>,
    /// A joinable call whose caller waits for the first joiner (until the ringing timeout), so it
    /// goes on with its caller alone.
    pub(crate) awaiting_joiners: bool,
}

impl Call {
    pub(crate) fn leg(&self, index: usize) -> Option<&Leg> {
        match &self.participants[index].phase {
            Phase::Joined(leg) => Some(leg),
            _ => None,
        }
    }

    pub(crate) fn leg_mut(&mut self, index: usize) -> Option<&mut Leg> {
        match &mut self.participants[index].phase {
            Phase::Joined(leg) => Some(leg),
            _ => None,
        }
    }

    pub(crate) fn alerting_mut(&mut self, index: usize) -> Option<&mut Alerting> {
        match &mut self.participants[index].phase {
            Phase::Alerting(alerting) => Some(alerting),
            _ => None,
        }
    }

    pub(crate) fn index_of(&self, participant: &ParticipantId) -> Option<usize> {
        self.participants.iter().position(|p| &p.id == participant)
    }

    /// The participant joined on `endpoint`.
    pub(crate) fn joined_on(&self, endpoint: &EndpointKey) -> Option<usize> {
        (0..self.participants.len())
            .find(|&i| self.leg(i).is_some_and(|leg| &leg.endpoint == endpoint))
    }

    /// The target `identity` while `endpoint` rings for it.
    pub(crate) fn ringing_on(
        &self,
        identity: &IdentityId,
        endpoint: &EndpointKey,
    ) -> Option<usize> {
        self.participants.iter().position(|p| {
            &p.identity == identity
                && matches!(&p.phase, Phase::Alerting(a) if a.rings.contains_key(endpoint))
        })
    }

    /// Whether `identity` may join this call by its id (rooms decide by their roster instead).
    pub(crate) fn admits(&self, identity: &IdentityId) -> bool {
        self.joinable || self.invited.contains(identity)
    }

    /// Whether `identity` is a party of this call in any phase.
    pub(crate) fn involves(&self, identity: &IdentityId) -> bool {
        self.participants.iter().any(|p| &p.identity == identity)
    }

    pub(crate) fn joined_count(&self) -> usize {
        self.participants
            .iter()
            .filter(|p| matches!(p.phase, Phase::Joined(_)))
            .count()
    }

    pub(crate) fn alerting_count(&self) -> usize {
        self.participants
            .iter()
            .filter(|p| matches!(p.phase, Phase::Alerting(_)))
            .count()
    }

    pub(crate) fn caller_joined(&self) -> bool {
        self.leg(0).is_some()
    }

    /// The endpoints of every joined participant but `except`.
    pub(crate) fn joined_endpoints_except(&self, except: Option<usize>) -> Vec<EndpointKey> {
        (0..self.participants.len())
            .filter(|&i| Some(i) != except)
            .filter_map(|i| self.leg(i).map(|leg| leg.endpoint.clone()))
            .collect()
    }

    pub(crate) fn summary(&self) -> Summary {
        let mut summary = Summary {
            connected: 0,
            connected_held: 0,
            answer_pending: false,
        };
        for (index, participant) in self.participants.iter().enumerate() {
            match &participant.phase {
                Phase::Joined(leg) if leg.media_ready => {
                    summary.connected += 1;
                    summary.connected_held += usize::from(leg.held);
                }
                Phase::Joined(_) if index > 0 && self.room.is_none() => {
                    summary.answer_pending = true
                }
                Phase::Alerting(alerting) if alerting.is_ringing() => summary.answer_pending = true,
                _ => {}
            }
        }
        summary
    }

    /// How the other participants see participant `index`.
    pub(crate) fn remote_state(&self, index: usize) -> ParticipantState {
        match &self.participants[index].phase {
            Phase::Alerting(alerting) if alerting.is_ringing() => ParticipantState::Ringing,
            Phase::Alerting(_) => ParticipantState::Connecting,
            Phase::Joined(leg) if !leg.media_ready => ParticipantState::Connecting,
            Phase::Joined(leg) if leg.held => ParticipantState::Hold,
            Phase::Joined(_) => ParticipantState::Connected,
            Phase::Gone(_) => ParticipantState::Disconnected,
        }
    }

    /// The call state joined participant `index` sees: its own hold first, then the others' (every
    /// other connected participant on hold is a remote hold). Before media flows, a caller sees
    /// Ringing from the first ringing endpoint until a callee's media is ready (an answer being set
    /// up keeps it there, so the caller goes Connecting → Ringing → Connected), a callee Connecting.
    pub(crate) fn own_state(&self, index: usize, summary: &Summary) -> CallState {
        let Some(leg) = self.leg(index) else {
            return CallState::Disconnected;
        };
        if !leg.media_ready {
            return if index == 0 && summary.answer_pending {
                CallState::Ringing
            } else {
                CallState::Connecting
            };
        }
        if leg.held {
            return CallState::LocalHold;
        }
        let others = summary.connected - 1;
        let others_held = summary.connected_held;
        if others > 0 && others_held == others {
            CallState::RemoteHold
        } else {
            CallState::Connected
        }
    }

    pub(crate) fn info(&self, index: usize) -> ParticipantInfo {
        let participant = &self.participants[index];
        ParticipantInfo {
            id: participant.id.clone(),
            identity: participant.identity.clone(),
            state: self.remote_state(index),
            media: self.media(index),
        }
    }

    /// What the others are told of participant `index`'s media: only once its endpoint was told
    /// the call goes through the media server, where the server holds back muted audio, so that
    /// what the others see is what they get.
    pub(crate) fn media(&self, index: usize) -> Option<ParticipantMedia> {
        let leg = self.leg(index)?;
        leg.told_media_server.then_some(ParticipantMedia {
            audio: !leg.audio_muted,
            video: leg.video.unwrap_or(self.video),
            screen_share: leg.screen_share,
        })
    }

    /// Every participant's end reason, targets only, in the order called.
    pub(crate) fn target_reasons(&self) -> Vec<CallEndReason> {
        self.participants[1..]
            .iter()
            .filter_map(|p| match p.phase {
                Phase::Gone(reason) => Some(reason),
                _ => None,
            })
            .collect()
    }
}
