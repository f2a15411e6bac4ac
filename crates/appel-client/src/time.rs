//! The core's clock. `std::time::Instant` cannot be read in a browser (`now()` panics on
//! wasm32-unknown-unknown), so the shell measures time itself and hands it in as milliseconds
//! since an origin of its choosing, together with the wall clock for token expiry.

use std::ops::Add;
use std::time::Duration;

/// A point on the shell's monotonic clock, in milliseconds since the shell's origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// `millis` after the shell's origin.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis)
    }

    /// Milliseconds since the shell's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// How long after `earlier` this is; zero when it is not later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        let millis = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(millis))
    }
}

/// The time of an input: the monotonic instant, and the wall clock in Unix milliseconds (tokens
/// and `tokenExpiring` speak wall-clock time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// For every timer.
    pub at: Instant,
    /// Only to turn token expiry times into timers.
    pub unix_ms: u64,
}

impl Now {
    /// The instant at which wall-clock time `unix_ms` comes (now when already past).
    pub fn instant_of(&self, unix_ms: u64) -> Instant {
        Instant(
            self.at
                .0
                .saturating_add(unix_ms.saturating_sub(self.unix_ms)),
        )
    }

    /// The same moment `by` later on both clocks (for tests and shells that step time).
    pub fn advanced(self, by: Duration) -> Now {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        Now {
            at: self.at + by,
            unix_ms: self.unix_ms.saturating_add(millis),
        }
    }
}
