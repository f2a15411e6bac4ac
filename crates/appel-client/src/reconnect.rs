//! When to try the connection again, and when the calls' reconnect grace runs out.

use std::time::Duration;

use crate::time::Instant;

/// How the endpoint comes back after its signaling connection drops.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectPolicy {
    /// How long calls survive without a connection; when it runs out they end with 496/7.
    pub grace: Duration,
    /// Wait before the first new attempt; doubled after each failure.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// Up to this fraction (0 to 1) of each wait is taken off at random, so that endpoints cut off
    /// together do not all come back in the same millisecond. A wait is never made longer.
    pub jitter: f64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            grace: Duration::from_secs(120),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            jitter: 0.0,
        }
    }
}

/// What came due in the offline phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconnectDue {
    /// Open a new connection now.
    Attempt,
    /// The grace ran out: calls end with 496/7 (the attempts go on).
    GraceOver,
}

/// The offline phase's two timers: the next attempt (after a backoff that doubles up to a ceiling,
/// shortened by jitter drawn from a seeded generator) and the end of the grace.
#[derive(Clone, Debug)]
pub struct Reconnect {
    policy: ReconnectPolicy,
    random: SplitMix,
    backoff: Duration,
    next_attempt: Option<Instant>,
    grace_ends: Option<Instant>,
    offline: bool,
}

impl Reconnect {
    /// `seed` feeds the jitter; tests fix it, shells draw it from the OS.
    pub fn new(policy: ReconnectPolicy, seed: u64) -> Self {
        Reconnect {
            backoff: policy.initial_backoff,
            policy,
            random: SplitMix(seed),
            next_attempt: None,
            grace_ends: None,
            offline: false,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ReconnectPolicy {
        &self.policy
    }

    /// The connection dropped at `now`: the grace starts and the first attempt is planned.
    pub fn lost(&mut self, now: Instant) {
        self.offline = true;
        self.backoff = self.policy.initial_backoff;
        self.grace_ends = Some(now + self.policy.grace);
        self.plan(now);
    }

    /// An attempt failed at `now`: the next one waits twice as long, up to the ceiling.
    pub fn failed(&mut self, now: Instant) {
        if self.offline {
            self.plan(now);
        }
    }

    /// The connection is back: no timer is left.
    pub fn connected(&mut self) {
        self.offline = false;
        self.next_attempt = None;
        self.grace_ends = None;
        self.backoff = self.policy.initial_backoff;
    }

    /// Whether the endpoint is between a drop and a new connection.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// The earliest of the two timers.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.next_attempt, self.grace_ends]
            .into_iter()
            .flatten()
            .min()
    }

    /// What came due by `now`, at most one thing per call (call again until `None`).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<ReconnectDue> {
        if self.grace_ends.is_some_and(|at| at <= now) {
            self.grace_ends = None;
            return Some(ReconnectDue::GraceOver);
        }
        if self.next_attempt.is_some_and(|at| at <= now) {
            self.next_attempt = None;
            return Some(ReconnectDue::Attempt);
        }
        None
    }

    fn plan(&mut self, now: Instant) {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(self.policy.max_backoff);
        let jitter = self.policy.jitter.clamp(0.0, 1.0);
        let cut = if jitter > 0.0 {
            wait.mul_f64(jitter * self.random.unit())
        } else {
            Duration::ZERO
        };
        self.next_attempt = Some(now + wait.saturating_sub(cut));
    }
}

/// A small seeded generator: jitter needs spread, not secrecy.
#[derive(Clone, Debug)]
struct SplitMix(u64);

impl SplitMix {
    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn policy(jitter: f64) -> ReconnectPolicy {
        ReconnectPolicy {
            grace: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(1),
            jitter,
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_ceiling_and_restarts_after_a_connection() {
        let mut r = Reconnect::new(policy(0.0), 7);
        assert_eq!(r.poll_timeout(), None);
        r.lost(at(0));
        assert_eq!(r.poll_timeout(), Some(at(250)));
        assert_eq!(r.handle_timeout(at(249)), None);
        assert_eq!(r.handle_timeout(at(250)), Some(ReconnectDue::Attempt));
        r.failed(at(300));
        assert_eq!(r.poll_timeout(), Some(at(800)));
        r.failed(at(800));
        assert_eq!(r.poll_timeout(), Some(at(1800)));
        r.failed(at(1800));
        assert_eq!(r.poll_timeout(), Some(at(2800)), "capped at max_backoff");
        r.connected();
        assert_eq!(r.poll_timeout(), None);
        r.lost(at(5000));
        assert_eq!(
            r.poll_timeout(),
            Some(at(5250)),
            "a new drop starts from the first wait"
        );
    }

    #[test]
    fn the_grace_runs_out_once_while_attempts_go_on() {
        let mut r = Reconnect::new(policy(0.0), 7);
        r.lost(at(0));
        let mut now = at(0);
        let mut grace_over = 0;
        while now < at(12_000) {
            now = r.poll_timeout().unwrap();
            while let Some(due) = r.handle_timeout(now) {
                match due {
                    ReconnectDue::GraceOver => {
                        assert_eq!(now, at(10_000));
                        grace_over += 1;
                    }
                    ReconnectDue::Attempt => r.failed(now),
                }
            }
        }
        assert_eq!(grace_over, 1);
        assert!(
            r.poll_timeout().is_some(),
            "attempts continue after the grace"
        );
    }

    #[test]
    fn jitter_only_shortens_the_wait_and_the_seed_fixes_it() {
        let waits = |seed| {
            let mut r = Reconnect::new(policy(0.5), seed);
            r.lost(at(0));
            let first = r.poll_timeout().unwrap().as_millis();
            r.failed(at(0));
            (first, r.poll_timeout().unwrap().as_millis())
        };
        let (a, b) = waits(1);
        assert!((125..=250).contains(&a), "{a}");
        assert!((250..=500).contains(&b), "{b}");
        assert_eq!(waits(1), (a, b), "same seed, same waits");
        let spread: std::collections::HashSet<_> = (0..20).map(waits).collect();
        assert!(spread.len() > 10, "different seeds spread the attempts");
    }
}
