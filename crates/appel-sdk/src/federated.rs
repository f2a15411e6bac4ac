//! The agent of a user signed in by an identity provider the server trusts (docs/identities.md).

use std::ops::Deref;

use appel_codes::{registry, CallingError};
use appel_protocol::federated::parse_federated_identity;

use crate::agent::CallAgent;

/// A call agent whose identity is `federated:<issuer>:<subject>`: it calls, answers and joins
/// like any [`CallAgent`] (it dereferences to one), within its provider's policy: with calling
/// off, starting, joining or answering a call is 412/41056; with rooms off, joining a room is
/// 403/5830. One per federated identity per [`CallClient`](crate::CallClient) (40230).
#[derive(Debug)]
pub struct FederatedCallAgent {
    agent: CallAgent,
    issuer: String,
    subject: String,
}

impl FederatedCallAgent {
    pub(crate) fn new(agent: CallAgent) -> Result<FederatedCallAgent, CallingError> {
        let Some((issuer, subject)) = parse_federated_identity(agent.identity().as_str()) else {
            // The server signed the token in as a native identity: it was an Appel token after
            // all, so the agent is not the kind asked for.
            let identity = agent.identity().to_string();
            let agent = agent;
            tokio::spawn(async move { agent.dispose().await });
            return Err(CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
                "create_federated_call_agent: the server signed the token in as the native identity {identity}"
            )));
        };
        Ok(FederatedCallAgent {
            agent,
            issuer,
            subject,
        })
    }

    /// The identity provider (its `iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The user at that provider (its user claim, `sub` by default).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The underlying agent.
    pub fn agent(&self) -> &CallAgent {
        &self.agent
    }
}

impl Deref for FederatedCallAgent {
    type Target = CallAgent;

    fn deref(&self) -> &CallAgent {
        &self.agent
    }
}
