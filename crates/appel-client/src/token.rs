//! When to refresh the token and when it lapses.

use std::time::Duration;

use appel_codes::CallingError;

use crate::time::{Instant, Now};

/// Shortest wait before retrying a failed refresh.
pub const MIN_REFRESH_RETRY: Duration = Duration::from_millis(100);

/// How the application renews its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Whether the application has a refresher at all.
    pub can_refresh: bool,
    /// Whether to refresh `lead` ahead of expiry rather than only when the server asks.
    pub proactive: bool,
    /// How long before expiry a proactive refresh happens.
    pub lead: Duration,
}

/// What came due on the token's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenDue {
    /// Ask the refresher for a new token.
    Refresh,
    /// The token lapsed with no valid replacement: calls end with 495/4507.
    Expired,
}

/// The token's schedule: its expiry, the next refresh (proactive, or a retry halfway to expiry
/// after a failure), and whether a refresh is under way.
#[derive(Clone, Debug)]
pub struct TokenSchedule {
    policy: TokenPolicy,
    expires_unix_ms: Option<u64>,
    deadline: Option<Instant>,
    refresh_at: Option<Instant>,
    refreshing: bool,
    last_error: Option<CallingError>,
}

impl TokenSchedule {
    /// A schedule with no known expiry yet.
    pub fn new(policy: TokenPolicy) -> Self {
        TokenSchedule {
            policy,
            expires_unix_ms: None,
            deadline: None,
            refresh_at: None,
            refreshing: false,
            last_error: None,
        }
    }

    /// The token in use expires at `expires_unix_ms` (or its expiry is unknown).
    pub fn known(&mut self, now: Now, expires_unix_ms: Option<u64>) {
        self.expires_unix_ms = expires_unix_ms;
        self.deadline = expires_unix_ms.map(|at| now.instant_of(at));
        self.refresh_at = match self.deadline {
            Some(deadline) if self.policy.proactive && self.policy.can_refresh => {
                let until = deadline.saturating_duration_since(now.at);
                Some(now.at + until.saturating_sub(self.policy.lead))
            }
            _ => None,
        };
    }

    /// The expiry in Unix milliseconds, when known.
    pub fn expires_unix_ms(&self) -> Option<u64> {
        self.expires_unix_ms
    }

    /// Starts a refresh unless one is under way or there is no refresher; `true` when the shell
    /// must now call the refresher.
    pub fn start_refresh(&mut self) -> bool {
        if self.refreshing || !self.policy.can_refresh {
            return false;
        }
        self.refreshing = true;
        true
    }

    /// Whether a refresh is under way.
    pub fn is_refreshing(&self) -> bool {
        self.refreshing
    }

    /// The refresh succeeded: the new token expires at `expires_unix_ms`.
    pub fn refreshed(&mut self, now: Now, expires_unix_ms: Option<u64>) {
        self.refreshing = false;
        self.last_error = None;
        self.known(now, expires_unix_ms);
    }

    /// The refresh failed: try again halfway to expiry (when that leaves time), else let it lapse.
    pub fn failed(&mut self, now: Now, error: CallingError) {
        self.refreshing = false;
        self.last_error = Some(error);
        if let Some(deadline) = self.deadline {
            let half = deadline.saturating_duration_since(now.at) / 2;
            if half >= MIN_REFRESH_RETRY {
                self.refresh_at = Some(now.at + half);
            }
        }
    }

    /// A refresh ended without an answer (its connection dropped): another may start.
    pub fn abandoned(&mut self) {
        self.refreshing = false;
    }

    /// Why the last refresh failed, if it did.
    pub fn last_error(&self) -> Option<&CallingError> {
        self.last_error.as_ref()
    }

    /// The earliest of the refresh time and the expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.refresh_at, self.deadline].into_iter().flatten().min()
    }

    /// What came due by `now`, at most one thing per call (call again until `None`).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TokenDue> {
        if self.refresh_at.is_some_and(|at| at <= now) {
            self.refresh_at = None;
            return Some(TokenDue::Refresh);
        }
        if self.deadline.is_some_and(|at| at <= now) {
            self.deadline = None;
            self.expires_unix_ms = None;
            return Some(TokenDue::Expired);
        }
        None
    }

    /// The raw cause given with 495/4507.
    pub fn expiry_cause(&self) -> String {
        match &self.last_error {
            Some(error) => format!(
                "token expired; last refresh failed: {}",
                error.raw_cause().unwrap_or(error.name())
            ),
            None => "token expired and was not refreshed".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use appel_codes::registry;

    fn start() -> Now {
        Now {
            at: Instant::from_millis(1_000),
            unix_ms: 1_700_000_000_000,
        }
    }

    fn policy(proactive: bool) -> TokenPolicy {
        TokenPolicy {
            can_refresh: true,
            proactive,
            lead: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_proactive_refresh_comes_lead_before_expiry_then_the_expiry() {
        let now = start();
        let mut t = TokenSchedule::new(policy(true));
        t.known(now, Some(now.unix_ms + 300_000));
        assert_eq!(
            t.poll_timeout(),
            Some(Instant::from_millis(1_000 + 240_000))
        );
        assert_eq!(t.handle_timeout(Instant::from_millis(240_999)), None);
        assert_eq!(
            t.handle_timeout(Instant::from_millis(241_000)),
            Some(TokenDue::Refresh)
        );
        assert!(t.start_refresh());
        assert!(!t.start_refresh(), "one refresh at a time");
        assert_eq!(t.poll_timeout(), Some(Instant::from_millis(301_000)));
        assert_eq!(
            t.handle_timeout(Instant::from_millis(301_000)),
            Some(TokenDue::Expired)
        );
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(t.expiry_cause(), "token expired and was not refreshed");
    }

    #[test]
    fn without_proactive_refresh_only_the_expiry_is_timed() {
        let now = start();
        let mut t = TokenSchedule::new(policy(false));
        t.known(now, Some(now.unix_ms + 300_000));
        assert_eq!(t.poll_timeout(), Some(Instant::from_millis(301_000)));
        let mut static_token = TokenSchedule::new(TokenPolicy {
            can_refresh: false,
            proactive: true,
            lead: Duration::from_secs(60),
        });
        static_token.known(now, Some(now.unix_ms + 300_000));
        assert_eq!(
            static_token.poll_timeout(),
            Some(Instant::from_millis(301_000))
        );
        assert!(!static_token.start_refresh(), "nothing to refresh with");
    }

    #[test]
    fn a_failed_refresh_is_retried_halfway_to_expiry_until_too_close() {
        let now = start();
        let mut t = TokenSchedule::new(policy(false));
        t.known(now, Some(now.unix_ms + 1_000));
        assert!(t.start_refresh());
        let error = CallingError::new(&registry::TOKEN_EXPIRED_DURING_CALL).with_raw_cause("down");
        t.failed(now, error.clone());
        assert_eq!(t.poll_timeout(), Some(Instant::from_millis(1_500)));
        let later = now.advanced(Duration::from_millis(500));
        assert_eq!(t.handle_timeout(later.at), Some(TokenDue::Refresh));
        assert!(t.start_refresh());
        t.failed(later, error.clone());
        assert_eq!(t.poll_timeout(), Some(Instant::from_millis(1_750)));
        let close = now.advanced(Duration::from_millis(900));
        assert_eq!(t.handle_timeout(close.at), Some(TokenDue::Refresh));
        assert!(t.start_refresh());
        t.failed(close, error);
        assert_eq!(
            t.poll_timeout(),
            Some(Instant::from_millis(2_000)),
            "50 ms to go is too close to retry: only the expiry is left"
        );
        assert_eq!(t.expiry_cause(), "token expired; last refresh failed: down");
    }

    #[test]
    fn a_successful_refresh_moves_both_timers() {
        let now = start();
        let mut t = TokenSchedule::new(policy(true));
        t.known(now, Some(now.unix_ms + 120_000));
        assert!(t.start_refresh());
        t.refreshed(now, Some(now.unix_ms + 3_600_000));
        assert!(!t.is_refreshing());
        assert_eq!(
            t.poll_timeout(),
            Some(Instant::from_millis(1_000 + 3_540_000))
        );
        assert_eq!(t.expires_unix_ms(), Some(now.unix_ms + 3_600_000));
    }
}
