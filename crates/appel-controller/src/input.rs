//! What the shell feeds the controller.

use std::time::Instant;

use appel_codes::{CallEndReason, CallingError};
use appel_protocol::{CallId, ClientFrame, IdentityId, ParticipantId};

use crate::endpoint::EndpointKey;
use crate::rooms::RoomSpec;

/// One event for [`crate::Controller::handle`].
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A connection finished its handshake: the token was valid and names `endpoint.identity`. Send the
    /// `welcome` (with [`crate::Controller::resumed_calls`]) before any frame the controller queues
    /// for this endpoint.
    EndpointOnline {
        /// The identity the token names, with the endpoint id from `hello`.
        endpoint: EndpointKey,
        /// Whether the shell's store says this identity has registered before (the controller asks
        /// the shell to persist it with [`crate::Action::MarkRegistered`] otherwise).
        ever_registered: bool,
        /// When the connection's token expires.
        token_expires_at: Instant,
        /// The push URL from `hello`, if any.
        push_url: Option<String>,
        /// `hello.resume`: the endpoint continues the calls of its dropped connection.
        resume: bool,
    },
    /// The connection dropped without hanging up (socket error, heartbeat missed). Its calls go on
    /// for the detection window; if it does not come back, its legs end with 0/4521.
    EndpointLost {
        /// The endpoint.
        endpoint: EndpointKey,
    },
    /// The connection closed in order (the SDK disposed its agent). Its legs end at once (0/0, or
    /// 408/10057 for a callee still setting up).
    EndpointClosed {
        /// The endpoint.
        endpoint: EndpointKey,
    },
    /// A client frame from a signed-in connection (every frame but `hello`, `ping`, `pong` and
    /// `refreshToken`, which the shell answers itself).
    Frame {
        /// The endpoint that sent it.
        endpoint: EndpointKey,
        /// The frame.
        frame: ClientFrame,
    },
    /// The endpoint sent a valid `refreshToken`: its token now expires at `expires_at`.
    TokenRefreshed {
        /// The endpoint.
        endpoint: EndpointKey,
        /// The new expiry.
        expires_at: Instant,
    },
    /// The outcome of an [`crate::Action::Push`] to `identity`. A failure ends every call waiting on
    /// a push to that identity with 480/10076.
    PushDelivered {
        /// The identity the notice was for.
        identity: IdentityId,
        /// Whether the push service accepted the notice.
        ok: bool,
    },
    /// The server ends a call for every party with `reason` (shutdown: 503/900300; later the
    /// call-control API: 0/7000).
    HangUpAll {
        /// The call.
        call: CallId,
        /// What every party sees.
        reason: CallEndReason,
    },
    /// The identity was deleted: its connections end with 401/10009 and calls still trying to reach
    /// it end with 480/10037.
    IdentityDeleted {
        /// The identity.
        identity: IdentityId,
    },
    /// Every token of the identity was revoked: its connections end with 401/10009.
    TokensRevoked {
        /// The identity.
        identity: IdentityId,
    },
    /// The shell's store knows that `identity` has registered before (fed at start for each stored
    /// identity, so calls to identities with no connected endpoint get 480/10076 or a push rather
    /// than 480/10037).
    RegistrationKnown {
        /// The identity.
        identity: IdentityId,
        /// Its stored push URL, if any.
        push_url: Option<String>,
    },
    /// A room was created or changed (fed at start for each stored room too). Participants of its
    /// call whose role changed or who left the roster are removed with 0/5317.
    RoomUpserted {
        /// The room.
        room: RoomSpec,
    },
    /// A room was deleted: everyone in its call leaves with 0/5317.
    RoomDeleted {
        /// The room's id.
        room: String,
    },
    /// What the media server reports about a participant of `call`.
    Media {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
        /// What happened.
        report: MediaReport,
    },
}

/// What the media server reports (see [`Input::Media`]).
#[derive(Clone, Debug, PartialEq)]
pub enum MediaReport {
    /// Its `mediaOffer` (request `request_id`) was accepted with this SDP answer.
    Answered {
        /// The request to answer.
        request_id: u64,
        /// The SDP answer.
        sdp: String,
    },
    /// Its `mediaOffer` (request `request_id`) was refused.
    Refused {
        /// The request to answer.
        request_id: u64,
        /// Why.
        error: CallingError,
    },
    /// Its `mediaAnswer` was refused.
    AnswerRefused {
        /// Why.
        error: CallingError,
        /// The media server closed its peer connection: it may send a new `mediaOffer`.
        closed: bool,
    },
    /// The media server changes its peer connection: send it this SDP offer.
    Offer {
        /// The SDP offer.
        sdp: String,
    },
    /// Its `mediaView` (request `request_id`) was applied, or refused with `error` (500/43204).
    Viewed {
        /// The request to answer.
        request_id: u64,
        /// Why the media server could not serve it, if it could not.
        error: Option<CallingError>,
    },
    /// ICE and DTLS completed.
    Connected,
    /// ICE + DTLS did not complete within the media setup timer: it is removed with 410/301004.
    SetupFailed,
    /// It sent nothing for longer than the media loss timer (or its peer connection failed): it
    /// is removed with 410/301005.
    Lost,
}
