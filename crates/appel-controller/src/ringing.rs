//! A target being reached: its ringing endpoints, and the reason it ends with when none answers.

use std::collections::HashMap;

use crate::endpoint::EndpointKey;
use appel_codes::{registry, CallEndReason, Entry};

/// How far an endpoint of a target got with an incoming call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ring {
    /// `incomingCall` was sent; no `ackIncoming` yet.
    Delivered,
    /// The endpoint acknowledged: it rings.
    Ringing,
}

/// A target that has not answered yet.
#[derive(Debug, Default)]
pub(crate) struct Alerting {
    /// Its endpoints still ringing (or being delivered to).
    pub(crate) rings: HashMap<EndpointKey, Ring>,
    /// A push notice was sent and no endpoint has come online since.
    pub(crate) awaiting_push: bool,
    /// Endpoints that declined.
    pub(crate) declined: u32,
    /// Endpoints that never acknowledged delivery (timed out, or vanished before acknowledging).
    pub(crate) unacknowledged: u32,
    /// Endpoints that rang and then vanished.
    pub(crate) lost_while_ringing: u32,
}

impl Alerting {
    /// Whether one of its endpoints rings.
    pub(crate) fn is_ringing(&self) -> bool {
        self.rings.values().any(|ring| *ring == Ring::Ringing)
    }

    /// Nothing is left to wait for: no endpoint rings and no push is pending.
    pub(crate) fn is_exhausted(&self) -> bool {
        self.rings.is_empty() && !self.awaiting_push
    }

    /// Why the target ends once [`Alerting::is_exhausted`]: a decline wins (one endpoint 603/0,
    /// several 487/10024); otherwise endpoints that rang and vanished mean it is offline now
    /// (480/10076); otherwise endpoints that never acknowledged mean it is unreachable (480/10078).
    pub(crate) fn exhausted_reason(&self) -> &'static Entry {
        match self.declined {
            1 => &registry::CALL_DECLINED,
            2.. => &registry::ALL_ENDPOINTS_DECLINED,
            0 if self.lost_while_ringing > 0 => &registry::TARGET_OFFLINE,
            0 if self.unacknowledged > 0 => &registry::TARGET_UNREACHABLE,
            0 => &registry::TARGET_OFFLINE,
        }
    }
}

/// Whether a target's end reason is a decline.
fn is_decline(reason: CallEndReason) -> bool {
    reason == CallEndReason::of(&registry::CALL_DECLINED)
        || reason == CallEndReason::of(&registry::ALL_ENDPOINTS_DECLINED)
}

/// The caller's end reason when no call was ever connected and no target is left to wait for,
/// from every target's own end reason (in the order they were called): one target gives its reason
/// as is; several targets that all declined give 0/5003; otherwise the first reason that is not a
/// decline, since it tells the caller something it can act on.
pub(crate) fn caller_outcome(target_reasons: &[CallEndReason]) -> CallEndReason {
    match target_reasons {
        [] => CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
        [only] => *only,
        several if several.iter().all(|r| is_decline(*r)) => {
            CallEndReason::of(&registry::ALL_TARGETS_DECLINED)
        }
        several => several
            .iter()
            .copied()
            .find(|r| !is_decline(*r))
            .unwrap_or(CallEndReason::of(&registry::ALL_TARGETS_DECLINED)),
    }
}

/// The reason the last party left in a call ends with, from the reason the party before it left
/// with. A setup failure (408/10057) and a vanished connection (0/4521) are what the table says
/// both sides see; any other departure (a hang-up, an expired or revoked token, a decline) is the
/// other side's business, so the remaining party's call simply ends normally: 0/0.
pub(crate) fn remaining_party_reason(last_departure: Option<CallEndReason>) -> CallEndReason {
    let shared = [
        CallEndReason::of(&registry::CALLEE_SETUP_INCOMPLETE),
        CallEndReason::of(&registry::ABRUPT_DISCONNECT),
    ];
    match last_departure {
        Some(reason) if shared.contains(&reason) => reason,
        _ => CallEndReason::of(&registry::CALL_ENDED_LOCALLY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(entry: &Entry) -> CallEndReason {
        CallEndReason::of(entry)
    }

    #[test]
    fn exhausted_reasons_follow_the_table() {
        let mut alerting = Alerting {
            declined: 1,
            ..Alerting::default()
        };
        assert_eq!(alerting.exhausted_reason(), &registry::CALL_DECLINED);
        alerting.declined = 3;
        assert_eq!(
            alerting.exhausted_reason(),
            &registry::ALL_ENDPOINTS_DECLINED
        );
        alerting.declined = 0;
        alerting.unacknowledged = 2;
        assert_eq!(alerting.exhausted_reason(), &registry::TARGET_UNREACHABLE);
        alerting.lost_while_ringing = 1;
        assert_eq!(alerting.exhausted_reason(), &registry::TARGET_OFFLINE);
    }

    #[test]
    fn caller_outcomes_combine_target_reasons() {
        let declined = reason(&registry::CALL_DECLINED);
        let all_declined = reason(&registry::ALL_ENDPOINTS_DECLINED);
        let timeout = reason(&registry::RINGING_TIMEOUT);
        assert_eq!(caller_outcome(&[declined]), declined);
        assert_eq!(caller_outcome(&[all_declined]), all_declined);
        assert_eq!(
            caller_outcome(&[declined, all_declined]),
            reason(&registry::ALL_TARGETS_DECLINED)
        );
        assert_eq!(caller_outcome(&[declined, timeout]), timeout);
    }

    #[test]
    fn the_remaining_party_shares_only_setup_failures_and_vanished_connections() {
        for shared in [
            &registry::CALLEE_SETUP_INCOMPLETE,
            &registry::ABRUPT_DISCONNECT,
        ] {
            assert_eq!(remaining_party_reason(Some(reason(shared))), reason(shared));
        }
        for other in [
            &registry::TOKEN_EXPIRED_DURING_CALL,
            &registry::UNAUTHENTICATED,
            &registry::CALL_ENDED_LOCALLY,
        ] {
            assert_eq!(
                remaining_party_reason(Some(reason(other))),
                reason(&registry::CALL_ENDED_LOCALLY)
            );
        }
    }
}
