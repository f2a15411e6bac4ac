//! Appel's media server core: a selective forwarding unit (SFU), sans-IO.
//!
//! Like the call controller, it never touches a socket or a clock. The shell feeds it UDP
//! datagrams (with both addresses), the time and commands (a participant joins a session with its
//! SDP offer, answers a re-offer, leaves), and drains what it decided: datagrams to send
//! ([`Sfu::poll_transmit`]), events for the call controller ([`Sfu::poll_event`]) and the instant
//! it next needs to be woken ([`Sfu::poll_timeout`]). Each participant has one WebRTC peer
//! connection (a `str0m` [`str0m::Rtc`] in ICE-lite mode); every track one participant of a
//! session publishes is forwarded to every other participant of that session — of a simulcast
//! video, the one layer that fits the size each renders it at ([`Sfu::set_view`]) and what its
//! path carries — and their keyframe requests go back to the publisher. See
//! docs/architecture.md, "The media plane".

pub mod client;
mod participant;
mod sfu;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use sfu::Sfu;

/// Who a participant is: the call (or room call) it belongs to and its participant id there.
/// Media is forwarded between participants of the same session only.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantKey {
    /// The session (the call id).
    pub session: String,
    /// The participant id within the call.
    pub participant: String,
}

impl ParticipantKey {
    /// A key from its two parts.
    pub fn new(session: impl Into<String>, participant: impl Into<String>) -> Self {
        ParticipantKey {
            session: session.into(),
            participant: participant.into(),
        }
    }
}

impl fmt::Display for ParticipantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.session, self.participant)
    }
}

/// The core's timers and the address it announces.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// The address clients send their datagrams to: announced as the only ICE candidate of every
    /// answer, and the destination the core expects on what it receives.
    pub public_address: SocketAddr,
    /// How long a participant may take from its offer to a connected ICE + DTLS session before it
    /// is given up ([`MediaEvent::SetupFailed`]).
    pub setup_timeout: Duration,
    /// How long a connected participant may send nothing at all (no media, no RTCP, no ICE
    /// consent check) before it counts as lost ([`MediaEvent::Lost`]).
    pub loss_timeout: Duration,
    /// The shortest gap between two keyframe requests the core sends one publisher's video track
    /// on behalf of its subscribers (a subscriber asking every frame must not flood the sender).
    pub keyframe_request_interval: Duration,
    /// How many videos one subscriber receives at once. A publisher's video beyond it arrives
    /// paused, and a view that would exceed it is refused ([`MediaError::TooManyVideos`]).
    pub max_video_subscriptions: usize,
}

impl MediaConfig {
    /// The defaults (10 s setup, 10 s loss, one keyframe request a second, 25 videos per
    /// subscriber) for `public_address`.
    pub fn new(public_address: SocketAddr) -> Self {
        MediaConfig {
            public_address,
            setup_timeout: Duration::from_secs(10),
            loss_timeout: Duration::from_secs(10),
            keyframe_request_interval: Duration::from_secs(1),
            max_video_subscriptions: 25,
        }
    }
}

/// What the core tells the shell about a participant, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    /// ICE and DTLS completed: the participant's media can flow.
    Connected(ParticipantKey),
    /// ICE + DTLS did not complete within [`MediaConfig::setup_timeout`]. The participant is
    /// already removed from the core.
    SetupFailed(ParticipantKey),
    /// A connected participant sent nothing for [`MediaConfig::loss_timeout`], or its peer
    /// connection failed. The participant is already removed from the core.
    Lost(ParticipantKey),
    /// The first media packet of one of the participant's published tracks arrived.
    MediaFlowing(ParticipantKey),
    /// The participant's peer connection must change (tracks of others to receive were added or
    /// removed): send it this SDP offer and feed its answer to [`Sfu::accept_answer`].
    Offer {
        /// Who must answer.
        participant: ParticipantKey,
        /// The offer, as SDP text.
        sdp: String,
    },
}

/// A datagram to send from the core's socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The local address it leaves from (the core's public address).
    pub source: SocketAddr,
    /// Where to send it.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// Why a command was refused. Nothing changed in the core when one is returned, except for
/// [`MediaError::AnswerRejected`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaError {
    /// The participant already has a peer connection; it must leave first.
    AlreadyJoined(ParticipantKey),
    /// No peer connection for this participant.
    UnknownParticipant(ParticipantKey),
    /// The text is not an SDP offer or answer str0m can read, or it could not be applied.
    BadSdp(String),
    /// An answer arrived but no offer waits for one (or a newer offer replaced it).
    NoPendingOffer(ParticipantKey),
    /// The answer did not fit the offer it answered. Unlike the other refusals this one changed
    /// something: the participant's peer connection is closed (without an event) and it may join
    /// again with a new offer.
    AnswerRejected(ParticipantKey, String),
    /// A view named a publisher whose video this participant does not receive: it never
    /// published video, or it left.
    NoVideo {
        /// Who asked.
        subscriber: ParticipantKey,
        /// The publisher it named.
        publisher: String,
    },
    /// A view would make the participant receive more videos than
    /// [`MediaConfig::max_video_subscriptions`].
    TooManyVideos {
        /// Who asked.
        subscriber: ParticipantKey,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaError::AlreadyJoined(key) => write!(f, "{key} already has a media connection"),
            MediaError::UnknownParticipant(key) => write!(f, "{key} has no media connection"),
            MediaError::BadSdp(why) => write!(f, "SDP refused: {why}"),
            MediaError::NoPendingOffer(key) => {
                write!(f, "no offer to {key} waits for an answer")
            }
            MediaError::AnswerRejected(key, why) => {
                write!(f, "the answer of {key} does not fit the offer ({why}); its media connection is closed")
            }
            MediaError::NoVideo {
                subscriber,
                publisher,
            } => write!(
                f,
                "{subscriber} receives no video of {publisher:?} (it never published video, or it left)"
            ),
            MediaError::TooManyVideos { subscriber, limit } => write!(
                f,
                "{subscriber} already receives {limit} videos, the most one participant may (media.max_video_subscriptions); pause one first (width and height 0)"
            ),
        }
    }
}

impl std::error::Error for MediaError {}
