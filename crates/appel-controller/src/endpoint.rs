//! How the controller names an endpoint.

use std::fmt;

use appel_protocol::{EndpointId, IdentityId};

/// One endpoint of one identity. Clients choose their endpoint ids, so two identities may pick the
/// same one; keyed by the pair, an identity can never close, resume or receive for another's
/// endpoint. Shown as the endpoint id alone, as the identity's own clients know it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointKey {
    /// The identity the connection's token names.
    pub identity: IdentityId,
    /// The endpoint id from `hello`.
    pub endpoint: EndpointId,
}

impl EndpointKey {
    /// The endpoint `endpoint` of `identity`.
    pub fn new(identity: impl Into<IdentityId>, endpoint: impl Into<EndpointId>) -> Self {
        EndpointKey {
            identity: identity.into(),
            endpoint: endpoint.into(),
        }
    }
}

impl fmt::Display for EndpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.endpoint.as_str())
    }
}
