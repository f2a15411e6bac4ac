//! Frames the SDK sends to the server.

use crate::ids::{CallId, EndpointId, IdentityId, ParticipantId};

/// Where the server may post a push notice for this endpoint's identity while none of its endpoints
/// is connected (an incoming call).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushRegistration {
    /// The URL the server POSTs the notice to.
    pub url: String,
}

/// A fact about a call that only the client can see, for the call's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReportKind {
    /// Media flows both ways (the peer connection is connected).
    MediaConnected,
    /// The ICE connection state changed (`detail`: the new state).
    IceState,
    /// A camera, microphone or speaker failed during the call (`detail`: the error).
    DeviceError,
}

impl ReportKind {
    /// The name on the wire and on the timeline.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReportKind::MediaConnected => "mediaConnected",
            ReportKind::IceState => "iceState",
            ReportKind::DeviceError => "deviceError",
        }
    }
}

/// A frame from client to server. `type` names the variant in camelCase (`startCall`, `ackIncoming`…).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ClientFrame {
    /// The handshake; must be the first frame of a connection and is answered by `welcome`.
    Hello {
        /// The protocol version the client speaks ([`crate::PROTOCOL_VERSION`]).
        version: u16,
        /// The identity's access token.
        token: String,
        /// This device's or tab's id, chosen by the client and kept across reconnects so calls can
        /// resume.
        endpoint_id: EndpointId,
        /// Where push notices reach this identity when it has no connected endpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        push: Option<PushRegistration>,
        /// Whether this connection resumes the calls of a connection that dropped (same endpoint id).
        #[serde(default)]
        resume: bool,
    },
    /// Heartbeat; answered by `pong`.
    Ping,
    /// Answer to the server's `ping`.
    Pong,
    /// A fresh access token for this connection; answered by `ack` or `error`.
    RefreshToken {
        /// Echoed in the answer.
        request_id: u64,
        /// The new token (same identity).
        token: String,
    },
    /// Starts a call to one or more identities; answered by `callCreated` or `error`.
    StartCall {
        /// Echoed in the answer.
        request_id: u64,
        /// The identities to call (the caller itself and duplicates are ignored).
        targets: Vec<IdentityId>,
        /// Whether the caller starts with video.
        video: bool,
        /// Whether anyone who presents the call's id may `joinCall` it (a group call). Otherwise
        /// only the caller, the targets and the identities added later are admitted. A joinable
        /// call may have no target.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        joinable: bool,
    },
    /// Confirms that an `incomingCall` reached this endpoint and is ringing.
    AckIncoming {
        /// The incoming call.
        call_id: CallId,
    },
    /// Answers an incoming call; answered by `ack` or `error` (41006 when it no longer rings).
    Accept {
        /// Echoed in the answer.
        request_id: u64,
        /// The incoming call.
        call_id: CallId,
        /// Whether to answer with video.
        video: bool,
    },
    /// Declines an incoming call on this endpoint; answered by `ack` or `error` (41007 when it no
    /// longer rings).
    Reject {
        /// Echoed in the answer.
        request_id: u64,
        /// The incoming call.
        call_id: CallId,
    },
    /// Leaves a call (or cancels it while it rings); answered by `ack` or `error`.
    HangUp {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// Ends the call for every participant (they see 0/4097).
        #[serde(default)]
        for_everyone: bool,
    },
    /// Puts the call on hold; answered by `ack` or `error`.
    Hold {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
    },
    /// Takes the call off hold; answered by `ack` or `error`.
    Resume {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
    },
    /// This endpoint finished connecting its side of the call (media flows).
    MediaReady {
        /// The call.
        call_id: CallId,
    },
    /// An opaque message (SDP, ICE candidate) for the other participants of a call.
    Signal {
        /// The call.
        call_id: CallId,
        /// One participant, or every other participant when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<ParticipantId>,
        /// Relayed untouched.
        payload: serde_json::Value,
    },
    /// Joins a call in progress by its id (a group call); answered by `callJoined` or `error`.
    JoinCall {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// Whether to join with video.
        #[serde(default)]
        video: bool,
    },
    /// Joins the call of a room (starting it when nobody is in it); answered by `callJoined` or
    /// `error` (403/5828 not on the roster, 403/5829 outside the validity window, 403/5830 not a
    /// user identity).
    JoinRoom {
        /// Echoed in the answer.
        request_id: u64,
        /// The room.
        room_id: String,
        /// Whether to join with video (refused for a Consumer).
        #[serde(default)]
        video: bool,
    },
    /// Rings another identity into a call this endpoint is in; answered by `ack` (the target's
    /// fate then comes as for a call started to it: `participantUpdated`, `participantLeft`).
    AddParticipant {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// Who to ring.
        identity: IdentityId,
    },
    /// Removes another participant from the call (it sees 0/5000); answered by `ack` or `error`.
    RemoveParticipant {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// The participant to remove.
        participant_id: ParticipantId,
    },
    /// Declares what this endpoint sends, before it starts sending it; answered by `ack`, or by
    /// `error` when its room role forbids it.
    MediaState {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// Whether the microphone is on.
        audio: bool,
        /// Whether the camera is on.
        video: bool,
        /// Whether the screen is shared.
        #[serde(default)]
        screen_share: bool,
    },
    /// Connects this participant's media to the media server (a group call's or a room's): the
    /// SDP offer of its one peer connection, with the tracks it publishes; answered by
    /// `mediaAnswer` or `error`. Others' tracks then come in the server's `mediaOffer`s.
    MediaOffer {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// The SDP offer.
        sdp: String,
    },
    /// Replaces this participant's media-server connection, which came up and then went down on
    /// the client's side, with a fresh one (the SDP offer of a new peer connection, as in
    /// `mediaOffer`); answered by `mediaAnswer` or `error`. Added within version 1: an older
    /// server answers 400/900003.
    MediaRestart {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// The SDP offer.
        sdp: String,
    },
    /// The answer to the server's `mediaOffer`.
    MediaAnswer {
        /// The call.
        call_id: CallId,
        /// The SDP answer.
        sdp: String,
    },
    /// The size this endpoint renders `participant`'s video at, in pixels, so the media server
    /// sends the one simulcast layer that fits; 0 for either pauses that video (nothing of it is
    /// sent until a later `mediaView` with a size). Answered by `ack`, or by `error` 500/43204
    /// when the media server cannot serve it (no such video, or the subscriber's video limit).
    /// Sent only to a server whose `welcome` says `mediaViews: true`.
    MediaView {
        /// Echoed in the answer.
        request_id: u64,
        /// The call.
        call_id: CallId,
        /// The publisher whose video this is.
        participant: ParticipantId,
        /// Rendered width in pixels.
        width: u32,
        /// Rendered height in pixels.
        height: u32,
    },
    /// A client-side fact for the call's timeline; no answer. Sent only to a server whose
    /// `welcome` says `clientReports: true` (an older one does not know the type).
    Report {
        /// The call.
        call_id: CallId,
        /// What happened.
        kind: ReportKind,
        /// Details (an ICE state, a device error's name); the server keeps the first 200 chars.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

impl ClientFrame {
    /// Every `type` a client frame may have.
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "ping",
        "pong",
        "refreshToken",
        "startCall",
        "ackIncoming",
        "accept",
        "reject",
        "hangUp",
        "hold",
        "resume",
        "mediaReady",
        "signal",
        "joinCall",
        "joinRoom",
        "addParticipant",
        "removeParticipant",
        "mediaState",
        "mediaOffer",
        "mediaRestart",
        "mediaAnswer",
        "report",
        "mediaView",
    ];

    /// The frame's `type` on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientFrame::Hello { .. } => "hello",
            ClientFrame::Ping => "ping",
            ClientFrame::Pong => "pong",
            ClientFrame::RefreshToken { .. } => "refreshToken",
            ClientFrame::StartCall { .. } => "startCall",
            ClientFrame::AckIncoming { .. } => "ackIncoming",
            ClientFrame::Accept { .. } => "accept",
            ClientFrame::Reject { .. } => "reject",
            ClientFrame::HangUp { .. } => "hangUp",
            ClientFrame::Hold { .. } => "hold",
            ClientFrame::Resume { .. } => "resume",
            ClientFrame::MediaReady { .. } => "mediaReady",
            ClientFrame::Signal { .. } => "signal",
            ClientFrame::JoinCall { .. } => "joinCall",
            ClientFrame::JoinRoom { .. } => "joinRoom",
            ClientFrame::AddParticipant { .. } => "addParticipant",
            ClientFrame::RemoveParticipant { .. } => "removeParticipant",
            ClientFrame::MediaState { .. } => "mediaState",
            ClientFrame::MediaOffer { .. } => "mediaOffer",
            ClientFrame::MediaRestart { .. } => "mediaRestart",
            ClientFrame::MediaAnswer { .. } => "mediaAnswer",
            ClientFrame::Report { .. } => "report",
            ClientFrame::MediaView { .. } => "mediaView",
        }
    }

    /// The `requestId` the answer must echo, for frames that expect one.
    pub fn request_id(&self) -> Option<u64> {
        match self {
            ClientFrame::RefreshToken { request_id, .. }
            | ClientFrame::StartCall { request_id, .. }
            | ClientFrame::Accept { request_id, .. }
            | ClientFrame::Reject { request_id, .. }
            | ClientFrame::HangUp { request_id, .. }
            | ClientFrame::Hold { request_id, .. }
            | ClientFrame::Resume { request_id, .. }
            | ClientFrame::JoinCall { request_id, .. }
            | ClientFrame::JoinRoom { request_id, .. }
            | ClientFrame::AddParticipant { request_id, .. }
            | ClientFrame::RemoveParticipant { request_id, .. }
            | ClientFrame::MediaState { request_id, .. }
            | ClientFrame::MediaOffer { request_id, .. }
            | ClientFrame::MediaView { request_id, .. }
            | ClientFrame::MediaRestart { request_id, .. } => Some(*request_id),
            ClientFrame::Hello { .. }
            | ClientFrame::Ping
            | ClientFrame::Pong
            | ClientFrame::AckIncoming { .. }
            | ClientFrame::MediaReady { .. }
            | ClientFrame::Signal { .. }
            | ClientFrame::MediaAnswer { .. }
            | ClientFrame::Report { .. } => None,
        }
    }

    /// The call the frame acts on, if any.
    pub fn call_id(&self) -> Option<&CallId> {
        match self {
            ClientFrame::AckIncoming { call_id }
            | ClientFrame::Accept { call_id, .. }
            | ClientFrame::Reject { call_id, .. }
            | ClientFrame::HangUp { call_id, .. }
            | ClientFrame::Hold { call_id, .. }
            | ClientFrame::Resume { call_id, .. }
            | ClientFrame::MediaReady { call_id }
            | ClientFrame::Signal { call_id, .. }
            | ClientFrame::JoinCall { call_id, .. }
            | ClientFrame::AddParticipant { call_id, .. }
            | ClientFrame::RemoveParticipant { call_id, .. }
            | ClientFrame::MediaState { call_id, .. }
            | ClientFrame::MediaOffer { call_id, .. }
            | ClientFrame::MediaRestart { call_id, .. }
            | ClientFrame::MediaAnswer { call_id, .. }
            | ClientFrame::Report { call_id, .. }
            | ClientFrame::MediaView { call_id, .. } => Some(call_id),
            ClientFrame::JoinRoom { .. }
            | ClientFrame::Hello { .. }
            | ClientFrame::Ping
            | ClientFrame::Pong
            | ClientFrame::RefreshToken { .. }
            | ClientFrame::StartCall { .. } => None,
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        // Strings, numbers, bools, lists and JSON values with string keys always serialize.
        serde_json::to_string(self).expect("client frames always serialize")
    }
}
