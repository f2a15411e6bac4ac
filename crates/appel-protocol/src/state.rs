//! The states a call and its participants go through, and the summaries frames carry.

use crate::ids::{CallId, IdentityId, ParticipantId};

/// The state of a call as seen by one endpoint (`callState` frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CallState {
    /// Not started yet.
    None,
    /// Started (or accepted) and being set up; nobody is ringing yet, or media is not ready.
    Connecting,
    /// At least one endpoint of a target is ringing.
    Ringing,
    /// Media flows before the answer (not produced by 1:1 calls between Appel endpoints).
    EarlyMedia,
    /// Talking.
    Connected,
    /// This endpoint put the call on hold.
    LocalHold,
    /// Every other connected participant put the call on hold.
    RemoteHold,
    /// Waiting to be admitted (rooms).
    InLobby,
    /// Ending.
    Disconnecting,
    /// Ended; a `callEnded` frame carries the reason.
    Disconnected,
}

/// The state of a remote participant (`participantUpdated` frames).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ParticipantState {
    /// Known but not contacted yet.
    Idle,
    /// Being reached (delivery, push notice) or setting up its media after accepting.
    Connecting,
    /// At least one of its endpoints is ringing.
    Ringing,
    /// Talking.
    Connected,
    /// It put the call on hold.
    Hold,
    /// Waiting to be admitted (rooms).
    InLobby,
    /// Media flows before the answer.
    EarlyMedia,
    /// It left; a `participantLeft` frame carries its reason.
    Disconnected,
}

/// A remote participant as frames describe it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantInfo {
    /// Its id in this call.
    pub id: ParticipantId,
    /// Who it is.
    pub identity: IdentityId,
    /// Where it stands.
    pub state: ParticipantState,
    /// What the server forwards of it, in a call through the media server (absent otherwise, and
    /// from an older server). Added within version 1: optional both ways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<ParticipantMedia>,
}

/// A participant's media as the server holds it: what the media server forwards of its audio
/// (false while it is muted, by its own `mediaState` or the call-control API), and what it last
/// declared of its video and screen share. The server's word, not the participant's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantMedia {
    /// Its audio reaches the others.
    pub audio: bool,
    /// It declared a camera (or custom stream) on.
    pub video: bool,
    /// It declared a screen share.
    pub screen_share: bool,
}

/// A call an endpoint was part of when its connection dropped and that goes on after it resumed
/// (listed in `welcome.resumedCalls`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumedCall {
    /// The call.
    pub call_id: CallId,
    /// This endpoint's participant in it.
    pub participant_id: ParticipantId,
    /// The call's state as this endpoint sees it now.
    pub state: CallState,
    /// Whether the call was started or accepted with video.
    pub video: bool,
    /// The other participants still in the call (or still being reached).
    pub participants: Vec<ParticipantInfo>,
}
