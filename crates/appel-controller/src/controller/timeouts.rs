//! What each timer does when it fires.

use appel_codes::{registry, CallEndReason};
use appel_protocol::{CallId, ParticipantId};

use super::connections::Removal;
use super::Controller;
use crate::call::Phase;
use crate::endpoint::EndpointKey;
use crate::ringing::Ring;
use crate::timers::TimerKey;

impl Controller {
    pub(super) fn fire(&mut self, key: TimerKey) {
        match key {
            TimerKey::Ringing(call) => self.ringing_timed_out(&call),
            TimerKey::DeliveryAck(call, endpoint) => self.delivery_timed_out(&call, &endpoint),
            TimerKey::PushWait(call, participant) => self.push_wait_over(&call, &participant),
            TimerKey::Establishment(call, participant) => {
                self.establishment_timed_out(&call, &participant)
            }
            TimerKey::Detection(endpoint) => self.remove_endpoint(&endpoint, Removal::Vanished),
            TimerKey::TokenExpiry(endpoint) => {
                self.remove_endpoint(&endpoint, Removal::TokenExpired)
            }
        }
    }

    /// Nobody answered in time: every endpoint still ringing, and every target still being reached,
    /// ends with 487/10004 (and so does a caller nobody answered).
    fn ringing_timed_out(&mut self, call_id: &CallId) {
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        let timeout = CallEndReason::of(&registry::RINGING_TIMEOUT);
        for index in 1..call.participants.len() {
            if call.alerting_mut(index).is_some() {
                self.stop_all_rings(&mut call, index, timeout);
                self.resolve_target(&mut call, index, timeout, None);
            }
        }
        // A joinable call nobody joined: its caller waited long enough.
        if std::mem::take(&mut call.awaiting_joiners)
            && call.joined_count() == 1
            && call.caller_joined()
        {
            let raw = Some("nobody joined the call".to_owned());
            self.depart(&mut call, 0, timeout, raw, true);
        }
        self.put_call(call);
    }

    /// The endpoint never acknowledged the incoming call: it stops, and its target is unreachable
    /// (480/10078) if no other endpoint of it is left.
    fn delivery_timed_out(&mut self, call_id: &CallId, endpoint: &EndpointKey) {
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        let identity = self
            .directory
            .endpoints
            .get(endpoint)
            .map(|e| e.identity.clone());
        let target = identity.and_then(|identity| call.ringing_on(&identity, endpoint));
        if let Some(index) = target {
            let undelivered = call.alerting_mut(index).is_some_and(|alerting| {
                if alerting.rings.get(endpoint) == Some(&Ring::Delivered) {
                    alerting.rings.remove(endpoint);
                    alerting.unacknowledged += 1;
                    true
                } else {
                    false
                }
            });
            if undelivered {
                let unreachable = CallEndReason::of(&registry::TARGET_UNREACHABLE);
                let raw = Some("incoming call not acknowledged".to_owned());
                self.stop_ring(&call, endpoint, Some((unreachable, raw)));
                self.resolve_if_exhausted(&mut call, index);
            }
        }
        self.put_call(call);
    }

    /// A push was sent and no endpoint of the target came online: 480/10077.
    fn push_wait_over(&mut self, call_id: &CallId, participant: &ParticipantId) {
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        if let Some(index) = call.index_of(participant) {
            if let Some(alerting) = call.alerting_mut(index) {
                alerting.awaiting_push = false;
                if alerting.rings.is_empty() {
                    self.resolve_target(
                        &mut call,
                        index,
                        CallEndReason::of(&registry::TARGET_OFFLINE_AFTER_PUSH),
                        None,
                    );
                }
            }
        }
        self.put_call(call);
    }

    /// A callee accepted and never became media-ready: its leg ends with 408/10057 (and so does a
    /// 1:1 call, for the caller too).
    fn establishment_timed_out(&mut self, call_id: &CallId, participant: &ParticipantId) {
        let Some(mut call) = self.calls.remove(call_id) else {
            return;
        };
        if let Some(index) = call.index_of(participant) {
            if matches!(&call.participants[index].phase, Phase::Joined(leg) if !leg.media_ready) {
                self.depart(
                    &mut call,
                    index,
                    CallEndReason::of(&registry::CALLEE_SETUP_INCOMPLETE),
                    Some("mediaReady not received".into()),
                    true,
                );
            }
        }
        self.put_call(call);
    }
}
