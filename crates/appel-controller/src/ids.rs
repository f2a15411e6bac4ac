//! Call and participant ids: deterministic for a given seed, distinct within a run.

use appel_protocol::{CallId, ParticipantId};

/// SplitMix64 over a counter: each output is a bijection of the counter, so ids never repeat within
/// a run, and a random seed per server start keeps them apart across restarts.
#[derive(Debug)]
pub(crate) struct IdGenerator {
    seed: u64,
    counter: u64,
}

impl IdGenerator {
    pub(crate) fn new(seed: u64) -> Self {
        IdGenerator { seed, counter: 0 }
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
        CallId(format!("{:016x}{:016x}", self.next(), self.next()))
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
        let mut a = IdGenerator::new(7);
        let mut b = IdGenerator::new(7);
        let mut c = IdGenerator::new(8);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = a.participant_id();
            assert_eq!(id, b.participant_id());
            assert_ne!(id, c.participant_id());
            assert!(seen.insert(id));
        }
        assert_eq!(a.call_id().as_str().len(), 32);
    }
}
