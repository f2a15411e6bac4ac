//! Call and participant ids. A call id grants what its holder can do with it (joining a group call
//! is done by presenting it), so its unpredictable part comes from a cryptographic generator: ChaCha20
//! seeded by the shell with 32 bytes from the operating system. The generator is seeded rather than
//! drawing from the system itself so the controller stays sans-IO and tests get the same ids on
//! every run from a fixed seed.

use appel_protocol::{CallId, ParticipantId};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

pub(crate) struct IdGenerator {
    rng: ChaCha20Rng,
    /// First half of the next call id; grows by one per call.
    call_prefix: u64,
}

impl std::fmt::Debug for IdGenerator {
    // The generator's state would let a reader of logs predict every later id.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdGenerator")
            .field("call_prefix", &self.call_prefix)
            .finish_non_exhaustive()
    }
}

impl IdGenerator {
    pub(crate) fn new(seed: [u8; 32], epoch_ms: u64) -> Self {
        IdGenerator {
            rng: ChaCha20Rng::from_seed(seed),
            // 2²⁰ calls per millisecond of the previous run's life would have to be created for a
            // restart to reuse a prefix.
            call_prefix: epoch_ms.wrapping_shl(20),
        }
    }

    /// 128 bits: at least 122 are required, as many as a version-4 UUID carries.
    fn random(&mut self) -> u128 {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        u128::from_le_bytes(bytes)
    }

    /// 16 hex digits that sort by creation (for the records' indexes), then 32 random ones.
    pub(crate) fn call_id(&mut self) -> CallId {
        self.call_prefix = self.call_prefix.wrapping_add(1);
        let (prefix, noise) = (self.call_prefix, self.random());
        CallId(format!("{prefix:016x}{noise:032x}"))
    }

    pub(crate) fn participant_id(&mut self) -> ParticipantId {
        ParticipantId(format!("p{:032x}", self.random()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_distinct_and_follow_the_seed() {
        let mut a = IdGenerator::new([7; 32], 0);
        let mut b = IdGenerator::new([7; 32], 0);
        let mut c = IdGenerator::new([8; 32], 0);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = a.participant_id();
            assert_eq!(id, b.participant_id());
            assert_ne!(id, c.participant_id());
            assert!(seen.insert(id));
        }
        let call = a.call_id();
        assert_eq!(call, b.call_id());
        assert_eq!(call.as_str().len(), 16 + 32);
        assert_eq!(a.participant_id().as_str().len(), 1 + 32);
    }

    /// With SplitMix64 one id gave away the generator's state; here, knowing every id handed out
    /// so far tells nothing of the next one's random half, which varies over all 128 bits.
    #[test]
    fn the_random_half_varies_in_every_bit() {
        let mut ids = IdGenerator::new([3; 32], 1_795_000_000_000);
        let (mut ones, mut zeros) = (0u128, 0u128);
        for _ in 0..256 {
            let id = ids.call_id();
            let noise = u128::from_str_radix(&id.as_str()[16..], 16).unwrap();
            ones |= noise;
            zeros |= !noise;
        }
        assert_eq!(ones, u128::MAX);
        assert_eq!(zeros, u128::MAX);
    }

    #[test]
    fn call_ids_sort_by_creation_within_and_across_runs() {
        let mut first = IdGenerator::new([1; 32], 1_795_000_000_000);
        let ids: Vec<_> = (0..1000).map(|_| first.call_id()).collect();
        assert!(ids
            .windows(2)
            .all(|pair| pair[0].as_str() < pair[1].as_str()));
        // A restart one millisecond later, with another seed.
        let mut next = IdGenerator::new([2; 32], 1_795_000_000_001);
        assert!(ids[999].as_str() < next.call_id().as_str());
    }
}
