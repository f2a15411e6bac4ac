//! The limit on active remote video views per client (10 on desktop, 6 on mobile).

use appel_codes::{registry, CallingError};

/// Active remote views a desktop browser may render at once.
pub const DESKTOP_VIEW_LIMIT: usize = 10;
/// Active remote views a mobile browser may render at once.
pub const MOBILE_VIEW_LIMIT: usize = 6;

/// Counts the views a client renders; a view past the limit is refused with 43220.
#[derive(Debug)]
pub struct ViewBudget {
    limit: usize,
    active: usize,
}

impl ViewBudget {
    /// A budget for a desktop (`mobile == false`) or mobile browser.
    pub fn new(mobile: bool) -> Self {
        let limit = if mobile {
            MOBILE_VIEW_LIMIT
        } else {
            DESKTOP_VIEW_LIMIT
        };
        ViewBudget { limit, active: 0 }
    }

    /// Takes one view, or fails with `MAX_REMOTE_VIEWS_REACHED`.
    pub fn take(&mut self) -> Result<(), CallingError> {
        if self.active >= self.limit {
            return Err(CallingError::new(&registry::MAX_REMOTE_VIEWS_REACHED)
                .with_context(format!("{} active remote views", self.active)));
        }
        self.active += 1;
        Ok(())
    }

    /// Gives a view back (its renderer was disposed).
    pub fn release(&mut self) {
        self.active = self.active.saturating_sub(1);
    }

    /// Views rendering now.
    pub fn active(&self) -> usize {
        self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_past_the_limit_is_refused_until_one_is_released() {
        for (mobile, limit) in [(false, DESKTOP_VIEW_LIMIT), (true, MOBILE_VIEW_LIMIT)] {
            let mut budget = ViewBudget::new(mobile);
            for _ in 0..limit {
                budget.take().expect("within the limit");
            }
            let error = budget.take().expect_err("past the limit");
            assert!(error.is(&registry::MAX_REMOTE_VIEWS_REACHED));
            budget.release();
            assert!(budget.take().is_ok());
            assert_eq!(budget.active(), limit);
        }
    }
}
