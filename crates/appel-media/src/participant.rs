//! One participant's peer connection and the tracks it sends and receives.

use std::time::{Duration, Instant};

use str0m::change::SdpPendingOffer;
use str0m::media::{MediaKind, Mid, Rid};
use str0m::Rtc;

use crate::ParticipantKey;

/// The core's maps. They are looked up several times per forwarded packet (the source address,
/// then the publisher and each subscriber by slot, the session by name), so they hash with
/// foldhash rather than the standard SipHash; still seeded per process, so a sender cannot pick
/// keys that collide.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Index of a participant in the core; never reused, so a stale one finds nobody.
pub(crate) type Slot = u64;

/// How long the core measures a layer's incoming bytes before it takes them as its rate.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// One encoding of a published video: the whole track when it is not layered (`rid` none), or
/// one simulcast layer.
#[derive(Debug)]
pub(crate) struct Layer {
    pub(crate) rid: Option<Rid>,
    /// The picture size its last keyframe announced, when the codec says (VP8 does).
    pub(crate) size: Option<(u32, u32)>,
    /// Bits a second over the last complete window.
    pub(crate) rate: u64,
    window_start: Instant,
    window_bytes: u64,
    /// When its last frame arrived (never, for a keyframe request made before any did).
    pub(crate) last_seen: Option<Instant>,
    /// Packets of it received so far, as the last statistics counted them, and when.
    pub(crate) ingress_packets: u64,
    pub(crate) ingress_at: Option<Instant>,
    /// When the core last asked the publisher for a keyframe of this layer.
    pub(crate) last_keyframe_request: Option<Instant>,
}

impl Layer {
    pub(crate) fn new(rid: Option<Rid>, now: Instant) -> Self {
        Layer {
            rid,
            size: None,
            rate: 0,
            window_start: now,
            window_bytes: 0,
            last_seen: None,
            ingress_packets: 0,
            ingress_at: None,
            last_keyframe_request: None,
        }
    }

    /// Counts a frame of `bytes`.
    pub(crate) fn count(&mut self, now: Instant, bytes: usize) {
        self.window_bytes += bytes as u64;
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < RATE_WINDOW {
            return;
        }
        self.rate = self.window_bytes * 8 * 1000 / (elapsed.as_millis().max(1) as u64);
        self.window_start = now;
        self.window_bytes = 0;
    }
}

/// A track the participant publishes (an m-line it sends on).
#[derive(Debug)]
pub(crate) struct TrackIn {
    pub(crate) mid: Mid,
    pub(crate) kind: MediaKind,
    /// The encodings seen so far (video only), in arrival order. A keyframe request made before
    /// any arrived is kept as the throttle of `None`.
    pub(crate) layers: Vec<Layer>,
    /// When its first frame arrived.
    pub(crate) first_frame: Option<Instant>,
}

impl TrackIn {
    pub(crate) fn layer_mut(&mut self, rid: Option<Rid>, now: Instant) -> &mut Layer {
        let index = match self.layers.iter().position(|l| l.rid == rid) {
            Some(index) => index,
            None => {
                self.layers.push(Layer::new(rid, now));
                self.layers.len() - 1
            }
        };
        &mut self.layers[index]
    }

    /// The layers that carry media, as opposed to the bare throttle entry of an unlayered track
    /// (both are rid `None`; what tells them apart is whether anything was counted).
    pub(crate) fn is_layered(&self) -> bool {
        self.layers.iter().any(|l| l.rid.is_some())
    }
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
    /// Nothing is forwarded on it: the subscriber rendered it at 0×0, or it arrived beyond the
    /// subscriber's video limit and was never viewed.
    pub(crate) paused: bool,
    /// Whether a first frame was written; until then (and after a pause) only a keyframe starts
    /// it, as the subscriber's decoder could do nothing with anything else.
    pub(crate) started: bool,
    /// The layer forwarded now (`None` for an unlayered track).
    pub(crate) current: Option<Rid>,
    /// The layer that fits the subscriber; becomes `current` at its next keyframe.
    pub(crate) target: Option<Rid>,
    /// Added to the publisher's media time of the current layer, so the subscriber's timeline
    /// runs on across a layer switch (each layer has its own RTP clock origin).
    pub(crate) time_offset: i64,
    /// The media time and arrival of the last frame written.
    pub(crate) last_written: Option<(u64, Instant)>,
    /// The highest layer rate (bits a second) the subscriber's path is trusted with for now,
    /// after it was found congested.
    pub(crate) ceiling: Option<u64>,
}

impl TrackOut {
    pub(crate) fn new(origin: Slot, origin_id: String, mid_in: Mid, kind: MediaKind) -> Self {
        TrackOut {
            origin,
            origin_id,
            mid_in,
            kind,
            state: OutState::ToOpen,
            origin_gone: false,
            paused: false,
            started: false,
            current: None,
            target: None,
            time_offset: 0,
            last_written: None,
            ceiling: None,
        }
    }

    /// A video that is (or will be) forwarded: what the subscription limit counts.
    pub(crate) fn is_active_video(&self) -> bool {
        self.kind == MediaKind::Video && !self.origin_gone && !self.paused
    }

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
    /// The size it renders each publisher's video at (by publisher id), as it last said.
    pub(crate) views: HashMap<String, (u32, u32)>,
    /// What its receiver estimates its path carries (REMB), bits a second (none yet).
    pub(crate) estimate: Option<u64>,
    /// The largest share of packets lost it reported on a video since the last look.
    pub(crate) loss: Option<f32>,
    pub(crate) congestion: Congestion,
}

/// Where a subscriber's path stands after congestion.
#[derive(Debug, Default)]
pub(crate) struct Congestion {
    /// The wait before the layers above are tried again; grows each time.
    pub(crate) backoff: Option<Duration>,
    /// When the ceilings go.
    pub(crate) retry_at: Option<Instant>,
    /// When the layers last moved for congestion (down or back up).
    pub(crate) last_step: Option<Instant>,
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
