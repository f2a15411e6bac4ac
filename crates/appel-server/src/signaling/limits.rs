//! The limits on one connection's relayed `signal` frames: a size cap and a token bucket.
//!
//! A signal costs one token per started KiB: an ICE candidate one, a 10 KiB SDP offer ten. The
//! bucket thereby bounds both the number of signals and the bytes one sender makes the server relay
//! (and hold in the controller's queue while it catches up).
//!
//! Sans-IO: the caller passes the time, so the bucket is tested on a made-up clock. One bucket per
//! connection, and a connection is one endpoint: a client that reconnects to refill it pays a
//! handshake (token check, controller registration) each time.

use std::time::{Duration, Instant};

use appel_codes::{registry, CallingError};

/// Tokens are kept in thousandths so the refill needs no floating point.
const MILLI: u64 = 1000;

/// The bytes one token pays for.
const TOKEN_BYTES: usize = 1024;

/// The tokens a signal of `bytes` costs: one per started KiB, at least one.
pub(crate) fn tokens_for(bytes: usize) -> u64 {
    u64::try_from(bytes.div_ceil(TOKEN_BYTES).max(1)).unwrap_or(u64::MAX)
}

/// The size cap and rate of one connection's signals.
#[derive(Debug)]
pub(crate) struct SignalLimiter {
    max_bytes: usize,
    /// Tokens per second, sustained.
    rate: u64,
    /// Most tokens the bucket holds, in thousandths.
    capacity: u64,
    /// Tokens in the bucket, in thousandths.
    tokens: u64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl SignalLimiter {
    /// A full bucket at `now`.
    pub(crate) fn new(max_bytes: usize, rate: usize, burst: usize, now: Instant) -> Self {
        let capacity = u64::try_from(burst.max(1))
            .unwrap_or(u64::MAX / MILLI)
            .saturating_mul(MILLI);
        SignalLimiter {
            max_bytes,
            rate: u64::try_from(rate.max(1)).unwrap_or(u64::MAX),
            capacity,
            tokens: capacity,
            updated: now,
        }
    }

    /// Whether a `signal` frame of `bytes` sent at `now` may be relayed; the error for the sender
    /// otherwise. A refused signal costs nothing, so a client that backs off is served again as
    /// soon as the bucket refills.
    pub(crate) fn check(&mut self, bytes: usize, now: Instant) -> Result<(), CallingError> {
        if bytes > self.max_bytes {
            return Err(CallingError::new(&registry::SIGNAL_TOO_LARGE)
                .with_context(format!("signal of {bytes} bytes, limit {}", self.max_bytes)));
        }
        self.refill(now);
        let cost = tokens_for(bytes).saturating_mul(MILLI);
        if self.tokens < cost {
            let wait = Duration::from_millis((cost - self.tokens) / self.rate + 1);
            return Err(
                CallingError::new(&registry::SIGNAL_RATE_EXCEEDED).with_context(format!(
                "signals worth more than {} tokens at once or {} a second (one per started KiB); \
                 this one is accepted in {} ms",
                self.capacity / MILLI,
                self.rate,
                wait.as_millis()
            )),
            );
        }
        self.tokens -= cost;
        Ok(())
    }

    fn refill(&mut self, now: Instant) {
        let millis = now.saturating_duration_since(self.updated).as_millis();
        if millis == 0 {
            return;
        }
        // `rate` tokens a second is `rate` thousandths a millisecond. The clock advances by whole
        // milliseconds only, so frequent calls lose no fraction of one.
        let millis = u64::try_from(millis).unwrap_or(u64::MAX);
        self.tokens = self
            .tokens
            .saturating_add(millis.saturating_mul(self.rate))
            .min(self.capacity);
        self.updated = if self.tokens == self.capacity {
            now
        } else {
            self.updated + Duration::from_millis(millis)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(now: Instant) -> SignalLimiter {
        SignalLimiter::new(1000, 10, 5, now)
    }

    #[test]
    fn a_signal_over_the_size_cap_is_refused_and_costs_nothing() {
        let start = Instant::now();
        let mut limits = limiter(start);
        let error = limits.check(1001, start).expect_err("too large");
        assert!(error.is(&registry::SIGNAL_TOO_LARGE));
        for _ in 0..5 {
            limits.check(1000, start).expect("the burst is intact");
        }
    }

    #[test]
    fn the_burst_passes_then_the_excess_is_refused_until_the_bucket_refills() {
        let start = Instant::now();
        let mut limits = limiter(start);
        for _ in 0..5 {
            limits.check(10, start).expect("within the burst");
        }
        let error = limits.check(10, start).expect_err("burst spent");
        assert!(error.is(&registry::SIGNAL_RATE_EXCEEDED));
        // 10 a second: one token every 100 ms, and not before.
        assert!(limits.check(10, start + Duration::from_millis(99)).is_err());
        limits
            .check(10, start + Duration::from_millis(100))
            .expect("one token back");
        assert!(limits
            .check(10, start + Duration::from_millis(100))
            .is_err());
    }

    #[test]
    fn the_sustained_rate_is_served_for_ever_and_the_bucket_never_overfills() {
        let start = Instant::now();
        let mut limits = limiter(start);
        // Ten a second for a minute, on top of the full burst spent at the start.
        for _ in 0..5 {
            limits.check(10, start).expect("burst");
        }
        for i in 1..=600u64 {
            let at = start + Duration::from_millis(100 * i);
            limits.check(10, at).expect("at the sustained rate");
        }
        // A long silence refills the bucket to the burst, not beyond.
        let later = start + Duration::from_secs(3600);
        for _ in 0..5 {
            limits.check(10, later).expect("burst again");
        }
        assert!(limits.check(10, later).is_err());
    }

    #[test]
    fn large_signals_cost_one_token_per_started_kib() {
        assert_eq!(tokens_for(0), 1);
        assert_eq!(tokens_for(200), 1);
        assert_eq!(tokens_for(1024), 1);
        assert_eq!(tokens_for(1025), 2);
        assert_eq!(tokens_for(10 * 1024), 10);
        let start = Instant::now();
        // A burst of 5 tokens: one 3 KiB signal leaves room for two small ones, not three.
        let mut limits = SignalLimiter::new(10_000, 10, 5, start);
        limits.check(3 * 1024, start).expect("3 tokens");
        limits.check(10, start).expect("1 token");
        limits.check(10, start).expect("1 token");
        assert!(limits.check(10, start).is_err());
        // A large signal waits for enough tokens, while a small one already passes.
        let later = start + Duration::from_millis(200);
        assert!(limits.check(3 * 1024, later).is_err());
        limits.check(1024, later).expect("2 tokens back, 1 spent");
    }

    #[test]
    fn a_clock_that_goes_backwards_grants_nothing() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut limits = limiter(start);
        for _ in 0..5 {
            limits.check(10, start).expect("burst");
        }
        assert!(limits.check(10, start - Duration::from_secs(5)).is_err());
    }
}
