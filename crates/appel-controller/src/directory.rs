//! Who is reachable: endpoints (connections) and the identities they belong to.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::endpoint::EndpointKey;
use appel_protocol::{CallId, IdentityId, ParticipantId};

/// How many calls an endpoint remembers having rung on after they stopped, so that a late accept or
/// reject gets "no longer ringing" rather than "unknown call".
const STOPPED_RINGING_MEMORY: usize = 32;

/// Whether frames can reach an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// Its connection is up.
    Online,
    /// Its connection dropped; the detection window runs.
    Lost,
}

/// One connection of an identity, kept across a drop until the detection window ends.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) identity: IdentityId,
    pub(crate) link: Link,
    /// The calls it carries a leg of, with its participant in each.
    pub(crate) legs: HashMap<CallId, ParticipantId>,
    /// The incoming calls ringing on it.
    pub(crate) ringing: HashSet<CallId>,
    stopped_ringing: VecDeque<CallId>,
}

impl Endpoint {
    pub(crate) fn new(identity: IdentityId) -> Self {
        Endpoint {
            identity,
            link: Link::Online,
            legs: HashMap::new(),
            ringing: HashSet::new(),
            stopped_ringing: VecDeque::new(),
        }
    }

    /// Notes that `call` rang here and stopped.
    pub(crate) fn remember_stopped(&mut self, call: &CallId) {
        self.ringing.remove(call);
        if self.stopped_ringing.len() == STOPPED_RINGING_MEMORY {
            self.stopped_ringing.pop_front();
        }
        self.stopped_ringing.push_back(call.clone());
    }

    /// Whether `call` rang here and stopped, recently.
    pub(crate) fn rang_before(&self, call: &CallId) -> bool {
        self.stopped_ringing.contains(call)
    }
}

/// What the controller knows of an identity.
#[derive(Debug, Default)]
pub(crate) struct Identity {
    /// It has connected at least once (this run, or per the shell's store).
    pub(crate) ever_registered: bool,
    pub(crate) push_url: Option<String>,
    /// Its endpoints, online or within their detection window.
    pub(crate) endpoints: HashSet<EndpointKey>,
    /// Calls in which it is a target that has not answered yet.
    pub(crate) pending: HashSet<CallId>,
}

/// Endpoints and identities, indexed both ways.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub(crate) endpoints: HashMap<EndpointKey, Endpoint>,
    pub(crate) identities: HashMap<IdentityId, Identity>,
}

impl Directory {
    pub(crate) fn is_online(&self, endpoint: &EndpointKey) -> bool {
        self.endpoints
            .get(endpoint)
            .is_some_and(|e| e.link == Link::Online)
    }

    /// The identity's connected endpoints, in a stable order.
    pub(crate) fn online_endpoints(&self, identity: &IdentityId) -> Vec<EndpointKey> {
        let Some(known) = self.identities.get(identity) else {
            return Vec::new();
        };
        let mut online: Vec<EndpointKey> = known
            .endpoints
            .iter()
            .filter(|e| self.is_online(e))
            .cloned()
            .collect();
        online.sort();
        online
    }

    pub(crate) fn identity_mut(&mut self, identity: &IdentityId) -> &mut Identity {
        self.identities.entry(identity.clone()).or_default()
    }

    pub(crate) fn add_pending(&mut self, identity: &IdentityId, call: &CallId) {
        self.identity_mut(identity).pending.insert(call.clone());
    }

    pub(crate) fn remove_pending(&mut self, identity: &IdentityId, call: &CallId) {
        if let Some(known) = self.identities.get_mut(identity) {
            known.pending.remove(call);
        }
        self.forget_if_idle(identity);
    }

    /// Drops an identity the controller has nothing to remember about.
    pub(crate) fn forget_if_idle(&mut self, identity: &IdentityId) {
        let idle = self.identities.get(identity).is_some_and(|known| {
            !known.ever_registered && known.endpoints.is_empty() && known.pending.is_empty()
        });
        if idle {
            self.identities.remove(identity);
        }
    }
}
