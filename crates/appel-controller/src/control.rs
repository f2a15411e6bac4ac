//! The server's call-control commands and the view of active calls it lists.

use appel_protocol::{CallId, IdentityId, ParticipantId, ParticipantState};

use crate::rooms::RoomRole;

/// A command of the application's backend on an active call (the call-control API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// Rings `identity` into the call, with every outcome of a call started to it.
    AddParticipant {
        /// The call.
        call: CallId,
        /// Who to ring.
        identity: IdentityId,
    },
    /// Removes a participant: it sees 0/5300, the others see it leave with 0/5300.
    RemoveParticipant {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
    },
    /// Asks a participant's SDK to turn its microphone off (`muted` frame).
    Mute {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
    },
    /// Grants a participant the capability to end the call for everyone (as the organizer has).
    GrantEndForEveryone {
        /// The call.
        call: CallId,
        /// The participant.
        participant: ParticipantId,
    },
    /// Ends the call for everyone with 0/7000.
    HangUpAll {
        /// The call.
        call: CallId,
    },
}

impl Control {
    /// The call the command acts on.
    pub fn call(&self) -> &CallId {
        match self {
            Control::AddParticipant { call, .. }
            | Control::RemoveParticipant { call, .. }
            | Control::Mute { call, .. }
            | Control::GrantEndForEveryone { call, .. }
            | Control::HangUpAll { call } => call,
        }
    }
}

/// An active call as the call-control API lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ActiveCall))]
#[serde(rename_all = "camelCase")]
pub struct CallSnapshot {
    /// The call.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CallId,
    /// The room whose call it is, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Whether it was started with video.
    pub video: bool,
    /// Everyone in it or being reached.
    pub participants: Vec<ParticipantSnapshot>,
}

/// One participant of a [`CallSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ActiveParticipant))]
#[serde(rename_all = "camelCase")]
pub struct ParticipantSnapshot {
    /// Its id in the call.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ParticipantId,
    /// Who it is.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub identity: IdentityId,
    /// Where it stands (`Idle`, `Connecting`, `Ringing`, `Connected`, `Hold`, `InLobby`,
    /// `EarlyMedia`, `Disconnected`).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub state: ParticipantState,
    /// Whether it may end the call for everyone.
    pub organizer: bool,
    /// Its room role, in a room's call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<RoomRole>,
}

/// Whether an identity can be reached now, as a directory of people shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    /// No endpoint of the identity is connected.
    Offline,
    /// An endpoint is connected and none takes part in a call.
    Online,
    /// An endpoint takes part in a call (including one that is still being set up, and one whose
    /// connection dropped within its reconnect window).
    InCall,
}
