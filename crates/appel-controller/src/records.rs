//! Facts for call records. Times are the controller's `Instant`s: the shell keeps one
//! `(Instant, SystemTime)` anchor taken at start and converts with `anchor_wall + (at - anchor)`.

use std::time::Instant;

use appel_codes::CallEndReason;
use appel_protocol::{CallId, EndedBy, EndpointId, IdentityId, ParticipantId};

/// One fact the call records keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordEvent {
    /// A call was started.
    CallCreated {
        /// The call.
        call: CallId,
        /// Who started it.
        caller: IdentityId,
        /// The caller's participant.
        caller_participant: ParticipantId,
        /// The endpoint it was started from.
        caller_endpoint: EndpointId,
        /// The identities called, in order, without duplicates or the caller.
        targets: Vec<IdentityId>,
        /// Whether the caller started with video.
        video: bool,
        /// When.
        at: Instant,
    },
    /// A participant's leg began: the caller's when the call starts, a callee's when it accepts.
    LegJoined {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// The endpoint carrying the leg.
        endpoint: EndpointId,
        /// Who.
        identity: IdentityId,
        /// When.
        at: Instant,
    },
    /// A participant's leg ended, with the reason its endpoint and every other participant saw.
    LegLeft {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// The endpoint that carried the leg.
        endpoint: EndpointId,
        /// Who.
        identity: IdentityId,
        /// When.
        at: Instant,
        /// Why.
        reason: CallEndReason,
        /// The cause behind the reason, when there is one.
        raw_cause: Option<String>,
        /// Who ended the leg.
        ended_by: EndedBy,
    },
    /// Something happened in a call.
    Timeline {
        /// The call.
        call: CallId,
        /// When.
        at: Instant,
        /// What.
        kind: TimelineKind,
        /// Who or what it concerns, readable (`bob on e2`, `bob: 603/0`).
        detail: String,
    },
    /// A target will never join (declined everywhere, unreachable, timed out, cancelled…): its leg
    /// ends unanswered, with its own reason, so it can be found by identity and reason like any leg.
    TargetEnded {
        /// The call.
        call: CallId,
        /// The target's participant.
        participant: ParticipantId,
        /// Who.
        identity: IdentityId,
        /// When.
        at: Instant,
        /// Why.
        reason: CallEndReason,
        /// The cause behind the reason, when there is one.
        raw_cause: Option<String>,
        /// Who ended it (the target declining, the caller cancelling, a timer…).
        ended_by: EndedBy,
    },
    /// One endpoint of a target stopped ringing, with the reason that endpoint was given (declined
    /// here 0/0, accepted elsewhere 487/10003, not acknowledged 480/10078, the target's own end…).
    RingEnded {
        /// The call.
        call: CallId,
        /// The target's participant.
        participant: ParticipantId,
        /// The endpoint that rang.
        endpoint: EndpointId,
        /// Whose endpoint.
        identity: IdentityId,
        /// When.
        at: Instant,
        /// Why it stopped.
        reason: CallEndReason,
        /// The cause behind the reason, when there is one.
        raw_cause: Option<String>,
    },
    /// The call ended; `reason` is the caller's, or the last party's when the caller had left.
    CallEnded {
        /// The call.
        call: CallId,
        /// When.
        at: Instant,
        /// Why.
        reason: CallEndReason,
        /// Who ended the call (the act that left it with fewer than two parties, or ended it for
        /// everyone).
        ended_by: EndedBy,
    },
}

/// What a [`RecordEvent::Timeline`] entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimelineKind {
    /// `incomingCall` was sent to an endpoint.
    Delivered,
    /// An endpoint acknowledged the incoming call: it rings.
    Ringing,
    /// A push notice was requested for a target with no connected endpoint.
    PushSent,
    /// The push service answered for a target.
    PushAnswered,
    /// An endpoint accepted.
    Accepted,
    /// An endpoint declined.
    Declined,
    /// An endpoint stopped ringing without answering (its delivery was not acknowledged, it
    /// vanished, or the call was answered elsewhere).
    RingStopped,
    /// A target will not join, with its reason (declined, unreachable, timed out…).
    TargetEnded,
    /// A participant's media is connected.
    MediaReady,
    /// A participant put the call on hold.
    Hold,
    /// A participant took the call off hold.
    Resume,
    /// A participant's connection dropped; the detection window runs.
    ConnectionLost,
    /// A participant's connection came back within the window.
    ConnectionResumed,
    /// A participant joined a call in progress (by id, or a room's call).
    Joined,
    /// A target was added to a call in progress.
    Added,
    /// A participant was removed by another participant or the call-control API.
    Removed,
    /// The call-control API muted a participant.
    Muted,
    /// A participant hung up (`hangUp`, or its connection closed in order); the detail names it.
    HungUp,
    /// A client reported its media connected.
    MediaConnected,
    /// A client reported an ICE connection state change.
    IceState,
    /// A client reported a device error during the call.
    DeviceError,
    /// An endpoint in the call refreshed its token.
    TokenRefreshed,
}

impl TimelineKind {
    /// A stable camelCase name for storage and APIs.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Delivered => "delivered",
            TimelineKind::Ringing => "ringing",
            TimelineKind::PushSent => "pushSent",
            TimelineKind::PushAnswered => "pushAnswered",
            TimelineKind::Accepted => "accepted",
            TimelineKind::Declined => "declined",
            TimelineKind::RingStopped => "ringStopped",
            TimelineKind::TargetEnded => "targetEnded",
            TimelineKind::MediaReady => "mediaReady",
            TimelineKind::Hold => "hold",
            TimelineKind::Resume => "resume",
            TimelineKind::ConnectionLost => "connectionLost",
            TimelineKind::ConnectionResumed => "connectionResumed",
            TimelineKind::Joined => "joined",
            TimelineKind::Added => "added",
            TimelineKind::Removed => "removed",
            TimelineKind::Muted => "muted",
            TimelineKind::HungUp => "hungUp",
            TimelineKind::MediaConnected => "mediaConnected",
            TimelineKind::IceState => "iceState",
            TimelineKind::DeviceError => "deviceError",
            TimelineKind::TokenRefreshed => "tokenRefreshed",
        }
    }
}
