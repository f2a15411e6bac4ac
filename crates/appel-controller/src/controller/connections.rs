//! Connections coming and going, tokens expiring or revoked, identities and push notices.

use std::time::Instant;

use appel_codes::{registry, CallEndReason, CallingError, Entry};
use appel_protocol::{CallId, EndedBy, IdentityId};

use super::lifecycle::Ending;
use super::Controller;
use crate::action::Action;
use crate::directory::{Endpoint, Link};
use crate::endpoint::EndpointKey;
use crate::records::TimelineKind;
use crate::ringing::Ring;
use crate::timers::TimerKey;

/// Why the controller forgets an endpoint; decides the reason its legs end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Removal {
    /// The connection dropped and did not come back within the detection window.
    Vanished,
    /// The endpoint connected again without resuming: its legs end as if it vanished, and the
    /// calls ringing on it ring again on the new connection.
    Replaced,
    /// The connection closed in order.
    Closed,
    /// The token expired without a refresh.
    TokenExpired,
    /// Its tokens were revoked or its identity deleted.
    Revoked,
}

impl Removal {
    /// The reason a leg of the endpoint ends with; `setting_up` is a callee that accepted and is
    /// not media-ready yet.
    fn leg_reason(self, setting_up: bool) -> &'static Entry {
        match self {
            Removal::Vanished | Removal::Replaced | Removal::Closed if setting_up => {
                &registry::CALLEE_SETUP_INCOMPLETE
            }
            Removal::Vanished | Removal::Replaced => &registry::ABRUPT_DISCONNECT,
            Removal::Closed => &registry::CALL_ENDED_LOCALLY,
            Removal::TokenExpired => &registry::TOKEN_EXPIRED_DURING_CALL,
            Removal::Revoked => &registry::UNAUTHENTICATED,
        }
    }

    /// The connection is still up and hears why its calls end (then it is closed).
    fn tells_endpoint(self) -> bool {
        matches!(self, Removal::TokenExpired | Removal::Revoked)
    }

    fn raw_cause(self) -> &'static str {
        match self {
            Removal::Vanished => "connection lost and not resumed",
            Removal::Replaced => "endpoint reconnected without resuming",
            Removal::Closed => "connection closed",
            Removal::TokenExpired => "access token expired",
            Removal::Revoked => "access token revoked",
        }
    }
}

impl Controller {
    pub(super) fn endpoint_online(
        &mut self,
        endpoint: EndpointKey,
        ever_registered: bool,
        token_expires_at: Instant,
        push_url: Option<String>,
        resume: bool,
    ) {
        let identity = endpoint.identity.clone();
        let known = self.directory.identity_mut(&identity);
        if !ever_registered && !known.ever_registered {
            self.out.push(Action::MarkRegistered {
                identity: identity.clone(),
            });
        }
        known.ever_registered = true;
        if push_url.is_some() {
            known.push_url = push_url;
        }

        // The key holds the identity: only the same identity's connection can find, replace or
        // resume this endpoint.
        let known = self.directory.endpoints.contains_key(&endpoint);
        match known {
            true if resume => self.resume_endpoint(&endpoint),
            true => {
                self.remove_endpoint(&endpoint, Removal::Replaced);
                self.add_endpoint(&endpoint, &identity);
            }
            false => self.add_endpoint(&endpoint, &identity),
        }
        self.timers
            .set(TimerKey::TokenExpiry(endpoint.clone()), token_expires_at);
        self.ring_new_endpoint(&endpoint, &identity);
    }

    fn add_endpoint(&mut self, endpoint: &EndpointKey, identity: &IdentityId) {
        self.directory
            .endpoints
            .insert(endpoint.clone(), Endpoint::new(identity.clone()));
        self.directory
            .identity_mut(identity)
            .endpoints
            .insert(endpoint.clone());
    }

    fn resume_endpoint(&mut self, endpoint: &EndpointKey) {
        self.timers.cancel(&TimerKey::Detection(endpoint.clone()));
        let Some(known) = self.directory.endpoints.get_mut(endpoint) else {
            return;
        };
        let was_lost = known.link == Link::Lost;
        known.link = Link::Online;
        if was_lost {
            let mut calls: Vec<CallId> = known.legs.keys().cloned().collect();
            calls.sort();
            for call in calls {
                self.timeline(&call, TimelineKind::ConnectionResumed, endpoint.to_string());
            }
        }
    }

    /// Rings a newly connected endpoint for every call still trying to reach its identity (calls
    /// that were waiting on a push, or started while it was away).
    fn ring_new_endpoint(&mut self, endpoint: &EndpointKey, identity: &IdentityId) {
        let Some(known) = self.directory.identities.get(identity) else {
            return;
        };
        let mut pending: Vec<CallId> = known.pending.iter().cloned().collect();
        pending.sort();
        for call_id in pending {
            let Some(mut call) = self.calls.remove(&call_id) else {
                continue;
            };
            let target = call.participants.iter().position(|p| {
                &p.identity == identity && matches!(p.phase, crate::call::Phase::Alerting(_))
            });
            if let Some(index) = target {
                self.deliver(&mut call, index, endpoint);
            }
            self.put_call(call);
        }
    }

    pub(super) fn endpoint_lost(&mut self, endpoint: &EndpointKey) {
        let Some(known) = self.directory.endpoints.get_mut(endpoint) else {
            return;
        };
        if known.link == Link::Lost {
            return;
        }
        known.link = Link::Lost;
        let mut calls: Vec<CallId> = known.legs.keys().cloned().collect();
        calls.sort();
        self.arm(
            TimerKey::Detection(endpoint.clone()),
            self.config.disconnect_detection,
        );
        for call in calls {
            self.timeline(&call, TimelineKind::ConnectionLost, endpoint.to_string());
        }
    }

    /// Forgets an endpoint: its legs end with the reason `removal` gives, its rings stop, and an
    /// endpoint whose token expired or was revoked is closed with 401/10009.
    pub(super) fn remove_endpoint(&mut self, endpoint: &EndpointKey, removal: Removal) {
        let Some(known) = self.directory.endpoints.get_mut(endpoint) else {
            return;
        };
        let tell = removal.tells_endpoint() && known.link == Link::Online;
        if !tell {
            // A gone or closing connection cannot hear anything more.
            known.link = Link::Lost;
        }
        let mut legs: Vec<(CallId, _)> = known
            .legs
            .iter()
            .map(|(c, p)| (c.clone(), p.clone()))
            .collect();
        legs.sort();
        let mut rings: Vec<CallId> = known.ringing.iter().cloned().collect();
        rings.sort();
        let identity = known.identity.clone();
        let outer_ender = self.ender.clone();

        for (call_id, participant) in legs {
            let Some(mut call) = self.calls.remove(&call_id) else {
                continue;
            };
            if let Some(index) = call.index_of(&participant) {
                if matches!(removal, Removal::Closed | Removal::Replaced) {
                    // Closing in order (or starting over) is the participant's own act.
                    let ender = EndedBy::participant(participant.clone(), identity.clone());
                    if removal == Removal::Closed {
                        let detail = format!("{} (connection closed)", ender.describe());
                        self.timeline(&call_id, TimelineKind::HungUp, detail);
                    }
                    self.ender = Some(ender);
                }
                let setting_up = index != 0 && call.leg(index).is_some_and(|l| !l.media_ready);
                let reason = CallEndReason::of(removal.leg_reason(setting_up));
                let raw_cause = Some(removal.raw_cause().to_owned());
                self.depart(&mut call, index, reason, raw_cause, tell);
            }
            self.put_call(call);
            self.ender = outer_ender.clone();
        }
        for call_id in rings {
            let Some(mut call) = self.calls.remove(&call_id) else {
                continue;
            };
            if let Some(index) = call.ringing_on(&identity, endpoint) {
                if removal == Removal::Replaced {
                    // The new connection of the same endpoint rings in its place.
                    if let Some(alerting) = call.alerting_mut(index) {
                        alerting.rings.remove(endpoint);
                    }
                    self.stop_ring(&call, endpoint, None);
                    self.calls.insert(call_id, call);
                    continue;
                }
                if let Some(alerting) = call.alerting_mut(index) {
                    match alerting.rings.remove(endpoint) {
                        Some(Ring::Ringing) => alerting.lost_while_ringing += 1,
                        Some(Ring::Delivered) | None => alerting.unacknowledged += 1,
                    }
                }
                self.stop_ring(&call, endpoint, None);
                self.resolve_if_exhausted(&mut call, index);
            }
            self.put_call(call);
        }

        self.timers.cancel(&TimerKey::Detection(endpoint.clone()));
        self.timers.cancel(&TimerKey::TokenExpiry(endpoint.clone()));
        self.directory.endpoints.remove(endpoint);
        if let Some(known) = self.directory.identities.get_mut(&identity) {
            known.endpoints.remove(endpoint);
        }
        self.directory.forget_if_idle(&identity);
        if tell {
            self.out.push(Action::Close {
                endpoint: endpoint.clone(),
                error: CallingError::new(&registry::UNAUTHENTICATED)
                    .with_raw_cause(removal.raw_cause()),
            });
        }
    }

    pub(super) fn token_refreshed(&mut self, endpoint: &EndpointKey, expires_at: Instant) {
        let Some(known) = self.directory.endpoints.get(endpoint) else {
            return;
        };
        // On the timeline of each call the endpoint is in: a later 495/4507 reads differently
        // when a refresh had happened than when none had.
        let mut calls: Vec<CallId> = known.legs.keys().cloned().collect();
        calls.sort();
        self.timers
            .set(TimerKey::TokenExpiry(endpoint.clone()), expires_at);
        let who = format!("{} on {endpoint}", endpoint.identity);
        for call in calls {
            self.timeline(&call, TimelineKind::TokenRefreshed, who.clone());
        }
    }

    /// A failed push ends every target still waiting on a push to `identity` with 480/10076 (no
    /// endpoint is connected and none can be woken).
    pub(super) fn push_delivered(&mut self, identity: &IdentityId, ok: bool) {
        let Some(known) = self.directory.identities.get(identity) else {
            return;
        };
        let mut pending: Vec<CallId> = known.pending.iter().cloned().collect();
        pending.sort();
        for call_id in pending {
            let Some(mut call) = self.calls.remove(&call_id) else {
                continue;
            };
            let waiting = call.participants.iter().position(|p| {
                &p.identity == identity
                    && matches!(&p.phase, crate::call::Phase::Alerting(a) if a.awaiting_push)
            });
            if let Some(index) = waiting {
                let outcome = if ok { "accepted" } else { "failed" };
                self.timeline(
                    &call_id,
                    TimelineKind::PushAnswered,
                    format!("{identity}: {outcome}"),
                );
                if !ok {
                    if let Some(alerting) = call.alerting_mut(index) {
                        alerting.awaiting_push = false;
                    }
                    if call.alerting_mut(index).is_some_and(|a| a.is_exhausted()) {
                        self.resolve_target(
                            &mut call,
                            index,
                            CallEndReason::of(&registry::TARGET_OFFLINE),
                            Some("push notice not delivered".into()),
                        );
                    }
                }
            }
            self.put_call(call);
        }
    }

    pub(super) fn hang_up_all(&mut self, call_id: &CallId, reason: CallEndReason) {
        if let Some(call) = self.calls.remove(call_id) {
            self.end_call(call, Ending::Server(reason));
        }
    }

    pub(super) fn tokens_revoked(&mut self, identity: &IdentityId) {
        let Some(known) = self.directory.identities.get(identity) else {
            return;
        };
        let mut endpoints: Vec<EndpointKey> = known.endpoints.iter().cloned().collect();
        endpoints.sort();
        for endpoint in endpoints {
            self.remove_endpoint(&endpoint, Removal::Revoked);
        }
    }

    /// The identity no longer exists: calls trying to reach it end for it with 480/10037, and its
    /// connections close with 401/10009.
    pub(super) fn identity_deleted(&mut self, identity: &IdentityId) {
        let Some(known) = self.directory.identities.get(identity) else {
            return;
        };
        let mut pending: Vec<CallId> = known.pending.iter().cloned().collect();
        pending.sort();
        let gone = CallEndReason::of(&registry::TARGET_NEVER_REGISTERED);
        for call_id in pending {
            let Some(mut call) = self.calls.remove(&call_id) else {
                continue;
            };
            let target = call.participants.iter().position(|p| {
                &p.identity == identity && matches!(p.phase, crate::call::Phase::Alerting(_))
            });
            if let Some(index) = target {
                self.stop_all_rings(&mut call, index, gone);
                self.resolve_target(&mut call, index, gone, Some("identity deleted".into()));
            }
            self.put_call(call);
        }
        self.tokens_revoked(identity);
        self.directory.identities.remove(identity);
    }

    pub(super) fn registration_known(&mut self, identity: &IdentityId, push_url: Option<String>) {
        let known = self.directory.identity_mut(identity);
        known.ever_registered = true;
        if push_url.is_some() {
            known.push_url = push_url;
        }
    }
}
