//! The deadline queue: one timer per thing it guards, ordered by deadline, cancellable.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use crate::endpoint::EndpointKey;
use appel_protocol::{CallId, ParticipantId};

/// What a timer guards; at most one timer runs per key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TimerKey {
    /// The call's targets ring until then.
    Ringing(CallId),
    /// The endpoint must acknowledge the incoming call by then.
    DeliveryAck(CallId, EndpointKey),
    /// A target reached by push must have an endpoint online by then.
    PushWait(CallId, ParticipantId),
    /// A callee that accepted must be media-ready by then.
    Establishment(CallId, ParticipantId),
    /// A dropped endpoint must resume by then.
    Detection(EndpointKey),
    /// The endpoint's token expires then.
    TokenExpiry(EndpointKey),
}

/// Deadlines in a B-tree keyed by `(deadline, sequence)` (the sequence keeps equal deadlines apart
/// and in arming order), and an index from key to slot so that re-arming or cancelling is
/// O(log n) and a cancelled timer can never fire.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeMap<(Instant, u64), TimerKey>,
    armed: HashMap<TimerKey, (Instant, u64)>,
    sequence: u64,
}

impl Timers {
    /// Arms `key` for `deadline`, replacing any deadline it had.
    pub(crate) fn set(&mut self, key: TimerKey, deadline: Instant) {
        self.sequence += 1;
        let slot = (deadline, self.sequence);
        if let Some(old) = self.armed.insert(key.clone(), slot) {
            self.queue.remove(&old);
        }
        self.queue.insert(slot, key);
    }

    /// Disarms `key`; nothing happens if it was not armed.
    pub(crate) fn cancel(&mut self, key: &TimerKey) {
        if let Some(slot) = self.armed.remove(key) {
            self.queue.remove(&slot);
        }
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.queue
            .first_key_value()
            .map(|((deadline, _), _)| *deadline)
    }

    /// Removes and returns the earliest timer due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerKey> {
        let (&slot, _) = self.queue.first_key_value()?;
        if slot.0 > now {
            return None;
        }
        let key = self.queue.remove(&slot)?;
        self.armed.remove(&key);
        Some(key)
    }

    /// How many timers are armed.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn endpoint(n: u32) -> TimerKey {
        TimerKey::Detection(EndpointKey::new("someone", format!("e{n}")))
    }

    #[test]
    fn timers_fire_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(endpoint(2), t0 + Duration::from_secs(2));
        timers.set(endpoint(1), t0 + Duration::from_secs(1));
        timers.set(endpoint(3), t0 + Duration::from_secs(2));
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(timers.pop_due(t0), None);
        let due: Vec<_> =
            std::iter::from_fn(|| timers.pop_due(t0 + Duration::from_secs(2))).collect();
        assert_eq!(due, vec![endpoint(1), endpoint(2), endpoint(3)]);
        assert_eq!(timers.len(), 0);
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn cancelled_and_rearmed_timers_do_not_fire_at_their_old_deadline() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(endpoint(1), t0 + Duration::from_secs(1));
        timers.set(endpoint(2), t0 + Duration::from_secs(1));
        timers.cancel(&endpoint(1));
        timers.cancel(&endpoint(9));
        timers.set(endpoint(2), t0 + Duration::from_secs(5));
        assert_eq!(timers.pop_due(t0 + Duration::from_secs(4)), None);
        assert_eq!(timers.len(), 1);
        assert_eq!(
            timers.pop_due(t0 + Duration::from_secs(5)),
            Some(endpoint(2))
        );
    }
}
