//! Rooms as the controller knows them: who may join, with which role, and when; and what each
//! role may do in the room's call.

use std::collections::HashMap;
use std::time::Instant;

use appel_protocol::IdentityId;

/// A participant's role in a room. The server enforces what each role may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RoomRole {
    /// Speaks, shows video, shares the screen and removes participants.
    Presenter,
    /// Speaks and shows video; cannot share the screen or remove others.
    Attendee,
    /// Receives only: cannot send audio or video, share the screen or remove others.
    Consumer,
    /// Speaks, shows video and shares the screen; cannot remove others.
    Collaborator,
}

impl RoomRole {
    /// Whether the role may send audio or video.
    pub fn may_send_media(self) -> bool {
        !matches!(self, RoomRole::Consumer)
    }

    /// Whether the role may share its screen.
    pub fn may_share_screen(self) -> bool {
        matches!(self, RoomRole::Presenter | RoomRole::Collaborator)
    }

    /// Whether the role may remove other participants from the room's call.
    pub fn may_remove_participants(self) -> bool {
        matches!(self, RoomRole::Presenter)
    }
}

/// What kind of identity an id names. Phone numbers never join rooms (403/5830); a federated
/// user joins one only when its issuer's policy allows rooms, which the server checks before the
/// frame reaches the controller (docs/identities.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    /// An Appel user created through the identities API.
    User,
    /// A telephone number in E.164 form (`+33…`), as a PSTN leg presents itself.
    PhoneNumber,
    /// A user of a trusted external issuer (`federated:<issuer>:<subject>`, docs/identities.md).
    Federated,
}

impl IdentityKind {
    /// The kind an identity id denotes. Appel user ids are UUIDs, so the prefixes below can never
    /// collide with them.
    pub fn of(identity: &IdentityId) -> IdentityKind {
        let id = identity.as_str();
        if id.starts_with('+') {
            IdentityKind::PhoneNumber
        } else if id.starts_with("federated:") {
            IdentityKind::Federated
        } else {
            IdentityKind::User
        }
    }
}

/// A room: its validity window and its roster. The shell feeds it with
/// [`crate::Input::RoomUpserted`] whenever it is created or changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSpec {
    /// The room's id.
    pub id: String,
    /// Joining is refused before this moment (403/5829).
    pub valid_from: Instant,
    /// Joining is refused after this moment (403/5829).
    pub valid_until: Instant,
    /// Who may join, with which role (403/5828 for anyone else).
    pub roster: HashMap<IdentityId, RoomRole>,
}
