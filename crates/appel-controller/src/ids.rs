//! Call and participant ids: deterministic for a given seed and epoch, distinct within a run; call
//! ids sort by creation.

use appel_protocol::{CallId, ParticipantId};

/// SplitMix64 over a counter: each output is a bijection of the counter, so ids never repeat within
/// a run, and a random seed per server start keeps them apart across restarts.
#[derive(Debug)]
pub(crate) struct IdGenerator {
    seed: u64,
    counter: u64,
    /// First half of the next call id; grows by one per call.
    call_prefix: u64,
}

impl IdGenerator {
    pub(crate) fn new(seed: u64, epoch_ms: u64) -> Self {
        IdGenerator {
            seed,
            counter: 0,
            // 2²⁰ calls per millisecond of the previous run's life would have to be created for a
            // restart to reuse a prefix.
            call_prefix: epoch_ms.wrapping_shl(20),
        }
    }

    fn next(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        let mut z = self
            .seed
            .wrapping_add(self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn call_id(&mut self) -> CallId {
        self.call_prefix = self.call_prefix.wrapping_add(1);
        let (prefix, noise) = (self.call_prefix, self.next());
        CallId(format!("{prefix:016x}{noise:016x}"))
    }

    pub(crate) fn participant_id(&mut self) -> ParticipantId {
        ParticipantId(format!("p{:016x}", self.next()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_distinct_and_follow_the_seed() {
        let mut a = IdGenerator::new(7, 0);
        let mut b = IdGenerator::new(7, 0);
        let mut c = IdGenerator::new(8, 0);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = a.participant_id();
            assert_eq!(id, b.participant_id());
            assert_ne!(id, c.participant_id());
            assert!(seen.insert(id));
        }
        assert_eq!(a.call_id().as_str().len(), 32);
    }

    #[test]
    fn call_ids_sort_by_creation_within_and_across_runs() {
        let mut first = IdGenerator::new(1, 1_795_000_000_000);
        let ids: Vec<_> = (0..1000).map(|_| first.call_id()).collect();
        assert!(ids
            .windows(2)
            .all(|pair| pair[0].as_str() < pair[1].as_str()));
        // A restart one millisecond later, with another seed.
        let mut next = IdGenerator::new(2, 1_795_000_000_001);
        assert!(ids[999].as_str() < next.call_id().as_str());
    }
}
