//! The identifiers frames carry: plain strings on the wire, distinct types in Rust.

use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }
    };
}

string_id!(
    /// One call, chosen by the server when the call starts.
    CallId
);
string_id!(
    /// One party of one call (an identity's presence in that call), chosen by the server.
    ParticipantId
);
string_id!(
    /// One signed-in device or tab of an identity, chosen by the client and stable across reconnects.
    EndpointId
);
string_id!(
    /// A user of the server, as named in its access token.
    IdentityId
);
