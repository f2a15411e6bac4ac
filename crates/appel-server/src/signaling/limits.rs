//! The limits on one connection's frames: a token bucket for every frame, with a second allowance
//! for refused frames past which the connection is cut, and for relayed `signal` frames a size cap
//! and a bucket counted in KiB.
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

/// A token bucket: `rate` tokens a second, at most `capacity` at once.
#[derive(Debug)]
struct Bucket {
    /// Tokens per second, sustained.
    rate: u64,
    /// Most tokens the bucket holds, in thousandths.
    capacity: u64,
    /// Tokens in the bucket, in thousandths.
    tokens: u64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl Bucket {
    /// A full bucket at `now`.
    fn new(rate: usize, burst: usize, now: Instant) -> Self {
        let capacity = u64::try_from(burst.max(1))
            .unwrap_or(u64::MAX / MILLI)
            .saturating_mul(MILLI);
        Bucket {
            rate: u64::try_from(rate.max(1)).unwrap_or(u64::MAX),
            capacity,
            tokens: capacity,
            updated: now,
        }
    }

    /// Takes `cost` whole tokens at `now`; when there are not enough, takes nothing and says how
    /// long until there are.
    fn take(&mut self, cost: u64, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        let cost = cost.saturating_mul(MILLI);
        if self.tokens < cost {
            return Err(Duration::from_millis((cost - self.tokens) / self.rate + 1));
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

/// The size cap and rate of one connection's signals.
#[derive(Debug)]
pub(crate) struct SignalLimiter {
    max_bytes: usize,
    bucket: Bucket,
}

impl SignalLimiter {
    /// A full bucket at `now`.
    pub(crate) fn new(max_bytes: usize, rate: usize, burst: usize, now: Instant) -> Self {
        SignalLimiter {
            max_bytes,
            bucket: Bucket::new(rate, burst, now),
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
        self.bucket.take(tokens_for(bytes), now).map_err(|wait| {
            CallingError::new(&registry::SIGNAL_RATE_EXCEEDED).with_context(format!(
                "signals worth more than {} tokens at once or {} a second (one per started KiB); \
                 this one is accepted in {} ms",
                self.bucket.capacity / MILLI,
                self.bucket.rate,
                wait.as_millis()
            ))
        })
    }
}

/// What becomes of one client frame under [`FrameLimiter`].
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Within the rate: handle it.
    Pass,
    /// Over the rate: drop it and answer with the error (429/900020). `first` is set on the first
    /// refusal after a frame passed, so that frames without a `requestId` are told once, not once
    /// each: answering every frame of a flood would double the traffic it causes.
    Refused { error: CallingError, first: bool },
    /// The connection went on sending far past the rate: close it with the error (429/900021).
    Cut(CallingError),
}

/// The rate of all of one connection's frames, whatever their type.
///
/// Frames within `rate` a second (and a `burst` on top) pass. The others are refused, each taking
/// one unit of a second allowance, `excess`, which refills at the same rate: a client that slows
/// down when told is never cut, while one that keeps sending spends the allowance in `excess`
/// refused frames more than it was given and is cut.
#[derive(Debug)]
pub(crate) struct FrameLimiter {
    frames: Bucket,
    excess: Bucket,
    refusing: bool,
}

impl FrameLimiter {
    /// Full allowances at `now`.
    pub(crate) fn new(rate: usize, burst: usize, excess: usize, now: Instant) -> Self {
        FrameLimiter {
            frames: Bucket::new(rate, burst, now),
            excess: Bucket::new(rate, excess, now),
            refusing: false,
        }
    }

    /// The fate of a frame received at `now`.
    pub(crate) fn check(&mut self, now: Instant) -> Verdict {
        let wait = match self.frames.take(1, now) {
            Ok(()) => {
                self.refusing = false;
                return Verdict::Pass;
            }
            Err(wait) => wait,
        };
        let rate = self.frames.rate;
        let burst = self.frames.capacity / MILLI;
        if self.excess.take(1, now).is_err() {
            return Verdict::Cut(
                CallingError::new(&registry::FRAME_FLOOD).with_context(format!(
                    "more than {} frames refused beyond {rate} a second and a burst of {burst}",
                    self.excess.capacity / MILLI
                )),
            );
        }
        let first = !self.refusing;
        self.refusing = true;
        Verdict::Refused {
            error: CallingError::new(&registry::FRAME_RATE_EXCEEDED).with_context(format!(
                "more than {burst} frames at once or {rate} a second; the next is accepted in {} ms",
                wait.as_millis()
            )),
            first,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(now: Instant) -> SignalLimiter {
        SignalLimiter::new(1000, 10, 5, now)
    }

    fn frames(now: Instant) -> FrameLimiter {
        // 10 a second, a burst of 5, and 20 refused frames before the cut.
        FrameLimiter::new(10, 5, 20, now)
    }

    #[test]
    fn frames_past_the_burst_are_refused_and_only_the_first_refusal_says_so() {
        let start = Instant::now();
        let mut limits = frames(start);
        for _ in 0..5 {
            assert!(matches!(limits.check(start), Verdict::Pass));
        }
        match limits.check(start) {
            Verdict::Refused { error, first } => {
                assert!(error.is(&registry::FRAME_RATE_EXCEEDED));
                assert!(first);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(matches!(
            limits.check(start),
            Verdict::Refused { first: false, .. }
        ));
        // One frame every 100 ms; a frame that passes ends the run of refusals.
        assert!(matches!(
            limits.check(start + Duration::from_millis(99)),
            Verdict::Refused { .. }
        ));
        assert!(matches!(
            limits.check(start + Duration::from_millis(100)),
            Verdict::Pass
        ));
        assert!(matches!(
            limits.check(start + Duration::from_millis(100)),
            Verdict::Refused { first: true, .. }
        ));
    }

    #[test]
    fn a_sender_that_keeps_flooding_is_cut_after_its_excess() {
        let start = Instant::now();
        let mut limits = frames(start);
        for _ in 0..5 {
            assert!(matches!(limits.check(start), Verdict::Pass));
        }
        for _ in 0..20 {
            assert!(matches!(limits.check(start), Verdict::Refused { .. }));
        }
        match limits.check(start) {
            Verdict::Cut(error) => assert!(error.is(&registry::FRAME_FLOOD)),
            other => panic!("expected the cut, got {other:?}"),
        }
    }

    #[test]
    fn a_sender_that_slows_down_when_refused_is_never_cut() {
        let start = Instant::now();
        let mut limits = frames(start);
        // Twice the rate for a minute: every other frame is refused, and the refused ones never
        // outrun the allowance, which refills as fast as the rate.
        let mut passed = 0;
        for i in 0..1200u64 {
            match limits.check(start + Duration::from_millis(50 * i)) {
                Verdict::Pass => passed += 1,
                Verdict::Refused { .. } => {}
                Verdict::Cut(error) => panic!("cut at frame {i}: {error}"),
            }
        }
        assert!((600..=606).contains(&passed), "{passed} passed");
        // A burst of refusals well under the allowance, then a pause: served again, never cut.
        let later = start + Duration::from_secs(120);
        for _ in 0..5 {
            assert!(matches!(limits.check(later), Verdict::Pass));
        }
        for _ in 0..19 {
            assert!(matches!(limits.check(later), Verdict::Refused { .. }));
        }
        let after = later + Duration::from_secs(3);
        assert!(matches!(limits.check(after), Verdict::Pass));
        for _ in 0..4 {
            assert!(matches!(limits.check(after), Verdict::Pass));
        }
        for _ in 0..20 {
            assert!(matches!(limits.check(after), Verdict::Refused { .. }));
        }
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
