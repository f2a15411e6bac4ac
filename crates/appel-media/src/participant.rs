//! One participant's peer connection and the tracks it sends and receives.

use std::time::Instant;

use str0m::change::SdpPendingOffer;
use str0m::media::{MediaKind, Mid};
use str0m::Rtc;

use crate::ParticipantKey;

/// Index of a participant in the core; never reused, so a stale one finds nobody.
pub(crate) type Slot = u64;

/// A track the participant publishes (an m-line it sends on).
#[derive(Debug)]
pub(crate) struct TrackIn {
    pub(crate) mid: Mid,
    pub(crate) kind: MediaKind,
    /// When the core last asked the publisher for a keyframe on this track.
    pub(crate) last_keyframe_request: Option<Instant>,
}

/// Where an outgoing track stands in the SDP exchange with its subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutState {
    /// Not offered yet.
    ToOpen,
    /// Offered as `mid`, the answer has not come.
    Negotiating(Mid),
    /// Agreed: media is written on `mid`.
    Open(Mid),
    /// Its publisher left: `mid` is to be stopped in the next offer.
    ToStop(Mid),
    /// Offered as stopped; dropped once answered.
    NegotiatingStop(Mid),
}

/// Another participant's track, forwarded to this one.
#[derive(Debug)]
pub(crate) struct TrackOut {
    pub(crate) origin: Slot,
    /// The publisher's participant id: the stream id of the m-line, so the subscriber knows whose
    /// track it receives.
    pub(crate) origin_id: String,
    pub(crate) mid_in: Mid,
    pub(crate) kind: MediaKind,
    pub(crate) state: OutState,
    /// The publisher left; the m-line goes once it can be renegotiated.
    pub(crate) origin_gone: bool,
}

impl TrackOut {
    pub(crate) fn open_mid(&self) -> Option<Mid> {
        match self.state {
            OutState::Open(mid) => Some(mid),
            _ => None,
        }
    }

    pub(crate) fn mid(&self) -> Option<Mid> {
        match self.state {
            OutState::ToOpen => None,
            OutState::Negotiating(m)
            | OutState::Open(m)
            | OutState::ToStop(m)
            | OutState::NegotiatingStop(m) => Some(m),
        }
    }
}

pub(crate) struct Participant {
    pub(crate) key: ParticipantKey,
    pub(crate) rtc: Rtc,
    /// Whether its tracks are forwarded (a room role that may not send media subscribes only).
    pub(crate) publish: bool,
    pub(crate) joined_at: Instant,
    pub(crate) connected: bool,
    /// When the last datagram from it arrived (or when it connected).
    pub(crate) last_heard: Instant,
    pub(crate) tracks_in: Vec<TrackIn>,
    pub(crate) tracks_out: Vec<TrackOut>,
    /// The core's offer that waits for this participant's answer.
    pub(crate) pending: Option<SdpPendingOffer>,
    /// The instant its `Rtc` asked to be woken at.
    pub(crate) rtc_timeout: Instant,
    /// `MediaFlowing` was reported.
    pub(crate) flowing: bool,
    /// Its audio is not forwarded (it declared its microphone off, or the application muted it).
    pub(crate) audio_muted: bool,
}

impl Participant {
    /// The earliest instant this participant needs the core's attention.
    pub(crate) fn deadline(
        &self,
        setup: std::time::Duration,
        loss: std::time::Duration,
    ) -> Instant {
        let own = if self.connected {
            self.last_heard + loss
        } else {
            self.joined_at + setup
        };
        own.min(self.rtc_timeout)
    }
}
