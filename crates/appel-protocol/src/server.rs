//! Frames the server sends to the SDK.

use appel_codes::{CallEndReason, CallingError};

use crate::ended_by::EndedBy;
use crate::ids::{CallId, EndpointId, IdentityId, ParticipantId};
use crate::state::{CallState, ParticipantInfo, ResumedCall};

fn custom_streams_default() -> bool {
    true
}

/// A frame from server to client. `type` names the variant in camelCase (`callState`, `callEnded`…).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ServerFrame {
    /// The answer to `hello`: the connection is signed in.
    Welcome {
        /// The protocol version the server speaks.
        version: u16,
        /// The identity the token names.
        identity: IdentityId,
        /// The endpoint id the client gave, echoed.
        endpoint_id: EndpointId,
        /// How often the client must send `ping` (or answer the server's) to count as connected.
        heartbeat_interval_ms: u64,
        /// When the token expires, in Unix milliseconds; refresh before then.
        token_expires_at: u64,
        /// The calls this endpoint was in and that go on (only when `hello.resume` was true).
        #[serde(default)]
        resumed_calls: Vec<ResumedCall>,
        /// Whether this server lets SDKs send a custom media stream (a `MediaStream` the page
        /// made, such as a canvas capture) as video. Added within version 1: a welcome without it
        /// means true, and a client that does not know it ignores it.
        #[serde(default = "custom_streams_default")]
        custom_streams: bool,
        /// Whether this server takes `report` frames (client-side facts for the call timeline).
        /// Added within version 1: a welcome without it (an older server) means false.
        #[serde(default)]
        client_reports: bool,
        /// Whether this server takes `mediaView` frames (the size a subscriber renders each
        /// video at). Added within version 1: a welcome without it (an older server) means false.
        #[serde(default)]
        media_views: bool,
    },
    /// A request failed (`requestId` set), or something went wrong outside any request.
    Error {
        /// The request this answers, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<u64>,
        /// The catalogue entry explaining what went wrong.
        error: CallingError,
        /// The server closes the connection right after this frame.
        #[serde(default)]
        fatal: bool,
    },
    /// Heartbeat; answered by `pong`.
    Ping,
    /// Answer to the client's `ping`.
    Pong,
    /// A request succeeded and has nothing more to say.
    Ack {
        /// The request this answers.
        request_id: u64,
    },
    /// `startCall` succeeded: the call exists and its targets are being reached.
    CallCreated {
        /// The `startCall` this answers.
        request_id: u64,
        /// The new call.
        call_id: CallId,
        /// The caller's participant in it.
        participant_id: ParticipantId,
    },
    /// A call rings on this endpoint; answer `ackIncoming` at once, then `accept` or `reject`.
    IncomingCall {
        /// The call.
        call_id: CallId,
        /// Who calls.
        from: IdentityId,
        /// The caller's participant.
        from_participant_id: ParticipantId,
        /// This identity's participant, should this endpoint accept.
        participant_id: ParticipantId,
        /// Whether the caller started with video.
        video: bool,
    },
    /// The call's state as this endpoint sees it changed.
    CallState {
        /// The call.
        call_id: CallId,
        /// The new state.
        state: CallState,
    },
    /// A remote participant appeared or changed state.
    ParticipantUpdated {
        /// The call.
        call_id: CallId,
        /// The participant as it is now.
        participant: ParticipantInfo,
    },
    /// A remote participant left the call, with its own end reason.
    ParticipantLeft {
        /// The call.
        call_id: CallId,
        /// Who left.
        participant_id: ParticipantId,
        /// Its identity.
        identity: IdentityId,
        /// Why its leg ended (the same value its own endpoint received).
        reason: CallEndReason,
        /// Who ended its leg. Added within version 1: absent from an older server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended_by: Option<EndedBy>,
    },
    /// The call ended for this endpoint (or stopped ringing on it).
    CallEnded {
        /// The call.
        call_id: CallId,
        /// Why.
        reason: CallEndReason,
        /// The protocol cause behind the reason, kept verbatim, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw_cause: Option<String>,
        /// Who ended it for this endpoint. Added within version 1: absent from an older server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended_by: Option<EndedBy>,
    },
    /// An opaque message relayed from another participant of a call.
    Signal {
        /// The call.
        call_id: CallId,
        /// The sender.
        from: ParticipantId,
        /// As sent.
        payload: serde_json::Value,
    },
    /// The connection's token expires soon; send `refreshToken` before then.
    TokenExpiring {
        /// When it expires, in Unix milliseconds.
        expires_at: u64,
    },
    /// `joinCall` or `joinRoom` succeeded: this endpoint is a participant of the call.
    CallJoined {
        /// The request this answers.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// This endpoint's participant in it.
        participant_id: ParticipantId,
    },
    /// The application's backend muted this participant through the call-control API: the SDK
    /// turns its microphone off.
    Muted {
        /// The call.
        call_id: CallId,
    },
    /// This call's media goes through the media server: the endpoint connects there with
    /// `mediaOffer` (and closes a peer-to-peer connection of the call once media flows through the
    /// server). Told once per leg: when it joins a call that already uses the media server, or
    /// when a one-to-one call it is in gains a third participant. Added within version 1.
    MediaServer {
        /// The call.
        call_id: CallId,
    },
    /// The media server's answer to this endpoint's `mediaOffer`.
    MediaAnswer {
        /// The `mediaOffer` this answers.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// The SDP answer.
        sdp: String,
    },
    /// The media server changes this endpoint's peer connection (another participant's tracks
    /// arrive or go); answer with `mediaAnswer`.
    MediaOffer {
        /// The call.
        call_id: CallId,
        /// The SDP offer.
        sdp: String,
    },
}

impl ServerFrame {
    /// Every `type` a server frame may have.
    pub const TYPES: &'static [&'static str] = &[
        "welcome",
        "error",
        "ping",
        "pong",
        "ack",
        "callCreated",
        "incomingCall",
        "callState",
        "participantUpdated",
        "participantLeft",
        "callEnded",
        "signal",
        "tokenExpiring",
        "callJoined",
        "muted",
        "mediaAnswer",
        "mediaOffer",
        "mediaServer",
    ];

    /// The frame's `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ServerFrame::Welcome { .. } => "welcome",
            ServerFrame::Error { .. } => "error",
            ServerFrame::Ping => "ping",
            ServerFrame::Pong => "pong",
            ServerFrame::Ack { .. } => "ack",
            ServerFrame::CallCreated { .. } => "callCreated",
            ServerFrame::IncomingCall { .. } => "incomingCall",
            ServerFrame::CallState { .. } => "callState",
            ServerFrame::ParticipantUpdated { .. } => "participantUpdated",
            ServerFrame::ParticipantLeft { .. } => "participantLeft",
            ServerFrame::CallEnded { .. } => "callEnded",
            ServerFrame::Signal { .. } => "signal",
            ServerFrame::TokenExpiring { .. } => "tokenExpiring",
            ServerFrame::CallJoined { .. } => "callJoined",
            ServerFrame::Muted { .. } => "muted",
            ServerFrame::MediaAnswer { .. } => "mediaAnswer",
            ServerFrame::MediaOffer { .. } => "mediaOffer",
            ServerFrame::MediaServer { .. } => "mediaServer",
        }
    }

    /// An error answering request `request_id` (or none), not fatal.
    pub fn error(request_id: Option<u64>, error: CallingError) -> Self {
        ServerFrame::Error {
            request_id,
            error,
            fatal: false,
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        // Every field is a string, number, bool, list or JSON value with string keys, which
        // serde_json always serializes.
        serde_json::to_string(self).expect("server frames always serialize")
    }
}
