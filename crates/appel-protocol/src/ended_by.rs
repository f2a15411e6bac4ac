//! Who ended a call or a participant's leg, as `callEnded`, `participantLeft`, records and webhooks
//! carry it.

use crate::ids::{IdentityId, ParticipantId};

/// Who ended a leg. On the wire an object whose `by` names the variant:
/// `{"by":"participant","participantId":"p3a…","identity":"alice"}`, `{"by":"callControl"}`,
/// `{"by":"server","cause":"timer"}`. A client compares `participantId` with its own to tell "I
/// ended it" from "another participant ended it".
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "by", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum EndedBy {
    /// A participant's own act: hanging up, declining, cancelling, closing its connection in
    /// order, removing another participant, ending the call for everyone.
    Participant {
        /// The participant who acted.
        participant_id: ParticipantId,
        /// Its identity.
        identity: IdentityId,
    },
    /// The application's backend, through the call-control API (or by revoking tokens, deleting
    /// an identity, changing a room).
    CallControl,
    /// The server on its own.
    Server {
        /// Why the server ended it.
        cause: ServerCause,
    },
}

/// Why the server ended a leg on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ServerCause {
    /// A timer ran out: ringing, delivery acknowledgement, push wait, establishment, disconnect
    /// detection, token expiry.
    Timer,
    /// The party called could not be reached at all (never registered, offline, push failed).
    Unreachable,
    /// The server is stopping.
    Shutdown,
}

impl EndedBy {
    /// A participant ended it.
    pub fn participant(participant_id: ParticipantId, identity: IdentityId) -> Self {
        EndedBy::Participant {
            participant_id,
            identity,
        }
    }

    /// A short readable form for timelines and logs: `alice (p3a…)`, `call-control API`,
    /// `server (timer)`.
    pub fn describe(&self) -> String {
        match self {
            EndedBy::Participant {
                participant_id,
                identity,
            } => format!("{identity} ({participant_id})"),
            EndedBy::CallControl => "call-control API".to_owned(),
            EndedBy::Server { cause } => format!("server ({})", cause.as_str()),
        }
    }
}

impl ServerCause {
    /// The name used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ServerCause::Timer => "timer",
            ServerCause::Unreachable => "unreachable",
            ServerCause::Shutdown => "shutdown",
        }
    }
}
