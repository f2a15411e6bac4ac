//! Who ended a call, as the endpoint that sees the end understands it.

use appel_protocol::{EndedBy, IdentityId, ParticipantId, ServerCause};

/// Who ended a call or a participant's leg, from this endpoint's point of view: the server's
/// `endedBy` with "this participant" told apart from "another participant".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ender {
    /// This participant: the application hung up or declined here, its connection closed in
    /// order, or this device gave up on the call (its network, its media, its token).
    This,
    /// Another participant: it hung up, declined, cancelled, removed this one, or ended the call
    /// for everyone.
    Participant {
        /// Its id in the call.
        participant_id: ParticipantId,
        /// Who it is.
        identity: IdentityId,
    },
    /// The application's backend, through the call-control API.
    CallControl,
    /// The server on its own (a timer, a party it could not reach, its shutdown).
    Server(ServerCause),
}

impl Ender {
    /// Reads the server's `endedBy` for an endpoint whose participant in the call is `own`.
    /// `None` when the server did not say (an older server).
    pub fn from_wire(ended_by: Option<EndedBy>, own: Option<&ParticipantId>) -> Option<Ender> {
        Some(match ended_by? {
            EndedBy::Participant {
                participant_id,
                identity,
            } => {
                if own == Some(&participant_id) {
                    Ender::This
                } else {
                    Ender::Participant {
                        participant_id,
                        identity,
                    }
                }
            }
            EndedBy::CallControl => Ender::CallControl,
            EndedBy::Server { cause } => Ender::Server(cause),
        })
    }

    /// The form both SDKs hand to applications: `{"kind":"this"}`,
    /// `{"kind":"participant","participantId":"p…","identity":"bob"}`, `{"kind":"callControl"}`,
    /// `{"kind":"server","cause":"timer"}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Ender::Participant {
                participant_id,
                identity,
            } => serde_json::json!({
                "kind": self.kind(),
                "participantId": participant_id.as_str(),
                "identity": identity.as_str(),
            }),
            Ender::Server(cause) => {
                serde_json::json!({"kind": self.kind(), "cause": cause.as_str()})
            }
            Ender::This | Ender::CallControl => serde_json::json!({"kind": self.kind()}),
        }
    }

    /// The stable name of its kind: `this`, `participant`, `callControl` or `server`.
    pub const fn kind(&self) -> &'static str {
        match self {
            Ender::This => "this",
            Ender::Participant { .. } => "participant",
            Ender::CallControl => "callControl",
            Ender::Server(_) => "server",
        }
    }
}
